"""`seg check` on real temporary git repositories: both policies, live and offline state."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seg.commands.app import app
from seg.embedded import open_embedded
from tests.git_repos import commit_all, new_repo
from tests.helpers import replace_in
from tests.repo_files import copy_repo_dir

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "reverse-etl"


class Repo:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.ws = path / "workspace"
        copy_repo_dir(EXAMPLE, self.ws)
        self.git = new_repo(path)
        self.commit("initial workspace")
        self.git.git.checkout("-b", "feature")

    def edit(self, rel: str, old: str, new: str) -> None:
        replace_in(self.ws / rel, old, new)

    def commit(self, message: str) -> None:
        commit_all(self.git, message)

    def check(self, *args: str, env: dict[str, str] | None = None):
        result = CliRunner().invoke(app, ["check", "-w", str(self.ws), "--base", "main", *args],
                                    env=env)  # fmt: skip
        assert "Traceback" not in result.output
        return result

    def apply_live(self) -> None:
        result = CliRunner().invoke(app, ["apply", "-w", str(self.ws), "--auto-approve"])
        assert result.exit_code == 0, result.output


@pytest.fixture
def repo(tmp_path: Path, check_env: None) -> Repo:
    return Repo(tmp_path / "repo")


ADD_COLUMN = ("  u.first_name,\n", "  u.first_name,\n  u.country,\n")


def test_editing_in_use_model_sql_fails_naming_the_mapping(repo: Repo) -> None:
    repo.apply_live()
    repo.edit("models/users.sql", *ADD_COLUMN)
    repo.commit("add a column to users")
    result = repo.check()
    assert result.exit_code == 3, result.output
    assert (
        "BLOCKED  Model warehouse/users (modified) at workspace/models/users.yaml:6:15"
        in result.output
    )
    assert "in use by warehouse/braze/users-to-braze" in result.output
    assert "query file: workspace/models/users.sql" in result.output


def test_same_edit_with_the_mapping_disabled_in_the_same_commit_passes(repo: Repo) -> None:
    repo.apply_live()
    repo.edit("models/users.sql", *ADD_COLUMN)
    repo.edit("mappings/braze.yaml", "  enabled: true\n", "  enabled: false\n")
    repo.commit("disable the sync, then change the model")
    result = repo.check()
    assert result.exit_code == 0, result.output
    assert "ok       Model warehouse/users (modified): not in use" in result.output


def test_model_without_active_mapping_passes(repo: Repo) -> None:
    repo.apply_live()
    repo.edit("models/accounts.yaml", "WHERE mrr > 0", "WHERE mrr > 100")
    repo.commit("accounts only")
    assert repo.check().exit_code == 0


def test_live_state_decides_in_use(repo: Repo) -> None:
    repo.apply_live()
    client = open_embedded(repo.ws, "retl")  # someone disabled the sync in the control plane
    body = {"mapping": {"enabled": False}, "update_mask": {"paths": ["mapping.enabled"]}}
    url = "/v1beta/workspaces/retl/sources/warehouse/destinations/braze/mappings/users-to-braze"
    assert client.http.patch(url, json=body).status_code == 200
    client.close()
    repo.edit("models/users.sql", *ADD_COLUMN)
    repo.commit("edit")
    assert repo.check().exit_code == 0


def test_several_commits_renames_and_uncommitted_changes(repo: Repo) -> None:
    repo.apply_live()
    repo.git.git.mv("workspace/models/users.sql", "workspace/models/people.sql")
    repo.edit("models/users.yaml", "query_file: users.sql", "query_file: people.sql")
    repo.commit("rename the SQL file")
    repo.git.git.mv("workspace/models/users.yaml", "workspace/models/people.yaml")
    repo.commit("rename the YAML file")
    result = repo.check()
    assert result.exit_code == 0 and "No model changes." in result.output, result.output
    (repo.ws / "models/people.sql").write_text("SELECT nonsense")  # not committed: not read
    assert repo.check().exit_code == 0
    repo.git.git.checkout("--", ".")
    repo.edit("models/people.sql", *ADD_COLUMN)
    repo.commit("now really change it")
    assert repo.check().exit_code == 3
    assert repo.check("--head", "HEAD~1").exit_code == 0


def test_deleted_models(repo: Repo) -> None:
    repo.apply_live()
    (repo.ws / "models/users.yaml").unlink()
    (repo.ws / "models/users.sql").unlink()
    repo.commit("delete the model but keep its mapping")
    kept = repo.check()
    assert (
        kept.exit_code == 1
        and "refers to model 'warehouse/users', which is not declared" in kept.output
    )
    (repo.ws / "mappings/braze.yaml").unlink()
    repo.commit("and delete the mapping")
    gone = repo.check()
    assert gone.exit_code == 0 and "Model warehouse/users (deleted)" in gone.output


def test_deleting_an_in_use_model_offline(repo: Repo) -> None:
    repo.edit("mappings/braze.yaml", "  model: users\n", "  model: accounts\n")
    (repo.ws / "models/users.yaml").unlink()
    repo.commit("move the mapping to accounts and delete users")
    result = repo.check("--offline")  # the mapping no longer reads users: released
    assert result.exit_code == 0, result.output
    assert "ok       Model warehouse/users (deleted)" in result.output
    (repo.ws / "mappings/braze.yaml").write_text(
        (EXAMPLE / "mappings/braze.yaml").read_text().replace("model: users", "model: accounts")
    )
    repo.git.git.checkout("main", "--", "workspace/models/users.yaml")
    repo.edit("mappings/braze.yaml", "model: accounts", "model: users")
    (repo.ws / "models/users.yaml").unlink()
    repo.commit("delete users while its mapping stays")
    assert repo.check("--offline").exit_code == 1  # the head itself is invalid (dangling)


def test_github_annotations_step_summary_and_json(repo: Repo, tmp_path: Path) -> None:
    repo.edit("models/users.sql", *ADD_COLUMN)
    repo.commit("edit")
    summary = tmp_path / "summary.md"
    env = {"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)}
    result = repo.check("--offline", env=env)
    assert result.exit_code == 3
    assert (
        "::error file=workspace/models/users.yaml,line=6,title=seg check%3A model warehouse/users::"
        in result.output
    )
    text = summary.read_text()
    assert (
        "| `warehouse/users` | modified | **blocked** | `warehouse/braze/users-to-braze` |" in text
    )
    data = json.loads(repo.check("--offline", "-o", "json").stdout)
    (finding,) = data["findings"]
    assert finding["blocked"] and finding["mappings"] == ["warehouse/braze/users-to-braze"]
    assert finding["file"] == "workspace/models/users.yaml" and finding["line"] == 6


@pytest.mark.parametrize(
    ("edit", "code", "expected"),
    [
        (ADD_COLUMN, 0, "not in use"),
        (("  u.email,\n", ""), 3, "maps email, which the new query no longer returns"),
        (
            ("  u.first_name,\n", "  u.first_name AS given_name,\n"),
            3,
            "maps first_name, which the new query",
        ),
        (("SELECT", "SELEC"), 3, "cannot be parsed, so seg fails closed"),
    ],
)
def test_breaking_policy(repo: Repo, edit, code: int, expected: str) -> None:
    repo.edit(
        "../workspace/seg.yaml", "model_change_policy: strict", "model_change_policy: breaking"
    )
    repo.commit("switch to the breaking policy")
    repo.git.git.branch("-f", "main", "HEAD")
    repo.edit("models/users.sql", *edit)
    repo.commit("edit users.sql")
    result = repo.check("--offline")
    assert result.exit_code == code, result.output
    if code:
        assert expected in result.output
    else:
        assert (
            "ok       Model warehouse/users" in result.output and "breaking policy" in result.output
        )


def test_identifier_column_change_fails_under_breaking(repo: Repo) -> None:
    repo.edit(
        "../workspace/seg.yaml", "model_change_policy: strict", "model_change_policy: breaking"
    )
    repo.edit("models/users.sql", "  u.email,\n", "  u.email,\n  u.uuid,\n")
    repo.commit("prepare")
    repo.git.git.branch("-f", "main", "HEAD")
    repo.edit("models/users.yaml", "identifier_column: user_id", "identifier_column: uuid")
    repo.commit("re-key")
    result = repo.check("--offline")
    assert result.exit_code == 3 and "identifier column changes (user_id → uuid)" in result.output


def test_errors_are_one_line(repo: Repo, tmp_path: Path) -> None:
    bad_rev = repo.check("--offline", "--head", "nope")
    assert bad_rev.exit_code == 1 and "unknown git revision 'nope'" in bad_rev.output
    outside = CliRunner().invoke(app, ["check", "-w", str(tmp_path), "--base", "main"])
    assert outside.exit_code == 1 and "not inside a git repository" in outside.output
