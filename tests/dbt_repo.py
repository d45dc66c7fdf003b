"""A git repository holding the example dbt project at its top and a seg workspace in `seg/`
linking a Model to the dbt model `users` (the tests of `seg check --dbt` share it)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from seg.commands.app import app
from seg.embedded import open_embedded
from tests.dbt_tool import copy_dbt_example
from tests.git_repos import commit_all, new_repo
from tests.helpers import replace_in

__all__ = ["MACRO", "MAPPING_URL", "MART", "WORKSPACE", "DbtRepo", "write_workspace"]

WORKSPACE = "shop"
SEG_YAML = f"""\
version: seg/v1
workspace: {WORKSPACE}
model_change_policy: breaking
dbt_projects:
  analytics:
    path: ..
"""
SOURCES = """\
kind: Source
name: warehouse
spec:
  catalog: postgres
  settings:
    host: db.internal
    database: analytics
    password: ${env:WAREHOUSE_PASSWORD}
---
kind: Destination
name: braze
spec:
  source: warehouse
  catalog: braze
  enabled: true
  settings:
    api_key: ${env:BRAZE_API_KEY}
"""
MODELS = """\
kind: Model
name: users
spec:
  source: warehouse
  description: One row per user, from the dbt mart
  dbt_project: analytics
  dbt_model: users
  identifier_column: user_id
"""
MAPPING = """\
kind: Mapping
name: users-to-braze
spec:
  destination: warehouse/braze
  action: updateUserProfile
  enabled: true
  model: users
  schedule:
    strategy: PERIODIC
    config: {interval: 1h}
  fields:
    external_id: user_id
    email: email
"""
MART = "models/marts/users.sql"
MACRO = "macros/cents_to_dollars.sql"
MAPPING_URL = (f"/v1beta/workspaces/{WORKSPACE}/sources/warehouse/destinations/braze/"
               "mappings/users-to-braze")  # fmt: skip


def write_workspace(seg: Path) -> None:
    for rel, text in (("seg.yaml", SEG_YAML), ("sources/warehouse.yaml", SOURCES),
                      ("models/users.yaml", MODELS), ("mappings/braze.yaml", MAPPING)):  # fmt: skip
        (seg / rel).parent.mkdir(parents=True, exist_ok=True)
        (seg / rel).write_text(text)


class DbtRepo:
    """The dbt project at the top of a git repository (or in its directory ``project``), the
    seg workspace in ``seg/``; ``path`` is the project's directory."""

    def __init__(self, top: Path, project: str = "") -> None:
        self.path = top / project if project else top
        copy_dbt_example(self.path, workspace=False)
        (top / ".gitignore").write_text("target/\nlogs/\n")
        self.seg = top / "seg"
        write_workspace(self.seg)
        if project:
            seg_yaml = self.seg / "seg.yaml"
            seg_yaml.write_text(seg_yaml.read_text().replace("path: ..", f"path: ../{project}"))
        self.git = new_repo(top)
        self.commit("dbt project and the seg workspace")
        self.git.git.checkout("-b", "feature")

    def edit(self, rel: str, old: str, new: str) -> None:
        replace_in(self.path / rel, old, new)

    def commit(self, message: str) -> None:
        commit_all(self.git, message)

    def apply_live(self) -> None:
        result = CliRunner().invoke(app, ["apply", "-w", str(self.seg), "--auto-approve"])
        assert result.exit_code == 0, result.output

    def control(self, method: str, url: str, body: dict) -> None:
        client = open_embedded(self.seg, WORKSPACE)
        try:
            assert client.http.request(method, url, json=body).status_code == 200
        finally:
            client.close()

    def server_policy(self, policy: str) -> None:
        self.control("PATCH", f"/v1beta/workspaces/{WORKSPACE}",
                     {"workspace": {"model_change_policy": policy},
                      "update_mask": {"paths": ["model_change_policy"]}})  # fmt: skip

    def check(self, *args: str, env: dict[str, str] | None = None):
        result = CliRunner().invoke(app, ["check", "--dbt", str(self.path), "--base", "main",
                                          "-w", str(self.seg), *args], env=env)  # fmt: skip
        assert "Traceback" not in result.output
        return result
