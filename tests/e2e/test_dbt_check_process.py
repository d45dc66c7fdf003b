"""`seg check --dbt` as the dbt repository's CI runs it (issue 16): `seg serve` on a free port,
the seg workspace applied to it from another directory, then `seg check --dbt` as a process in
a dbt repository that holds no seg.yaml at all, with SEG_API_URL, SEG_WORKSPACE and a read
token in the environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from tests.dbt_repo import MART, write_workspace
from tests.dbt_tool import copy_dbt_example
from tests.e2e.processes import Server, run

SLUG = "shop"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(f"sqlite:///{tmp_path / 'cp.db'}", tmp_path, SLUG)
    yield srv
    srv.stop()


def test_a_pull_request_of_the_dbt_repository_is_blocked_with_an_annotation(
    server: Server, tmp_path: Path
) -> None:
    ws = tmp_path / "seg-repo" / "seg"  # the seg workspace's repository (a copy of the project
    write_workspace(ws)  # beside it for seg validate)
    copy_dbt_example(ws.parent / "analytics")
    git.Repo.init(ws.parent, initial_branch="main")
    seg_yaml = ws / "seg.yaml"
    seg_yaml.write_text(seg_yaml.read_text().replace("path: ..", "path: ../analytics"))
    env = server.client_env(WAREHOUSE_PASSWORD="pw", BRAZE_API_KEY="braze-key")
    applied = run("apply", "-w", str(ws), "--auto-approve", env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    made = run("server", "token", "create", "--scope", "workspace:read", "--description",
               "dbt repository CI", "--slug", SLUG, "-o", "json", env=server.env)  # fmt: skip
    assert made.returncode == 0, made.stderr
    read_token = json.loads(made.stdout)["token"]

    dbt = tmp_path / "dbt-repo"
    copy_dbt_example(dbt)
    repo = git.Repo.init(dbt, initial_branch="main")
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", "seg tests")
        cfg.set_value("user", "email", "tests@example.com")
    repo.git.add("-A")
    repo.index.commit("dbt")
    repo.git.checkout("-b", "feature")
    mart = dbt / MART
    mart.write_text(mart.read_text().replace("    u.plan,\n", "    u.plan,\n    u.created_at,\n"))
    repo.git.add("-A")
    repo.index.commit("users: created_at")
    assert not list(dbt.rglob("seg.yaml"))

    check_env = {**server.env, "SEG_API_URL": server.url, "SEG_WORKSPACE": SLUG,
                 "SEG_TOKEN": read_token, "GITHUB_ACTIONS": "true",
                 "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}  # fmt: skip
    done = run("check", "--dbt", ".", "--base", "main", "--head", "HEAD", env=check_env, cwd=dbt)
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"::error file={MART},line=1,title=seg check: dbt model users::model " in done.stdout
    assert "is in use by warehouse/braze/users-to-braze" in done.stdout
    assert "Traceback" not in done.stderr
    assert "| `users` | modified | **blocked** |" in (tmp_path / "summary.md").read_text()

    refused = run("check", "--dbt", ".", "--base", "main", cwd=dbt,
                  env={**check_env, "SEG_TOKEN": "not-a-token"})  # fmt: skip
    assert refused.returncode not in (0, 3) and "Traceback" not in refused.stderr
