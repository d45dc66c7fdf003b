"""`seg check --dbt` on real git repositories holding the example dbt project (issue 16, item
3): a seg workspace in `seg/` of the same repository links a Model to the dbt model `users`
and is applied to its embedded control plane; dbt changes are committed on a branch and
checked against the live state. Manifests come from real `dbt compile` runs.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import git
import pytest
from typer.testing import CliRunner

from seg.commands.app import app
from tests.dbt_repo import MACRO, MAPPING_URL, MART, DbtRepo
from tests.dbt_tool import compile_manifest, copy_dbt_example


@pytest.fixture
def repo(tmp_path: Path, check_env: None) -> DbtRepo:
    made = DbtRepo(tmp_path / "repo")
    made.apply_live()
    return made


@pytest.fixture(scope="module")
def base_manifest(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example project's manifest: the base revision of every test here (dbt compile
    once; the compiled SQL names relations, never the directory it ran in)."""
    tmp = tmp_path_factory.mktemp("base")
    return compile_manifest(copy_dbt_example(tmp / "project", workspace=False), tmp / "target")


ADD_COLUMN = ("    u.plan,\n", "    u.plan,\n    u.created_at,\n")
DROP_EMAIL = ("    u.email,\n", "")
DROP_ID = ("select\n    u.user_id,\n", "select\n")
DOCUMENTED_ID = "      - name: user_id\n        data_tests: [unique, not_null]\n"


def test_a_column_added_passes_under_breaking(repo: DbtRepo, base_manifest: Path,
                                              tmp_path: Path) -> None:  # fmt: skip
    repo.server_policy("breaking")
    repo.edit(MART, *ADD_COLUMN)
    repo.commit("users: add created_at")
    head_manifest = compile_manifest(repo.path, tmp_path / "head-target")
    result = repo.check("--base-manifest", str(base_manifest),
                        "--head-manifest", str(head_manifest))  # fmt: skip
    assert result.exit_code == 0, result.output
    flat = " ".join(result.output.split())
    assert ("ok dbt model users (modified): SQL, compiled SQL changed; model warehouse/users "
            "is in use by warehouse/braze/users-to-braze; the change keeps its identifier and "
            "mapped columns (columns from the compiled SQL in the manifest)") in flat, flat  # fmt: skip
    assert "seg check (breaking policy): 1 changed dbt model, 0 blocked." in result.output


def test_columns_only_documented_in_yaml_fail_closed_under_breaking(repo: DbtRepo) -> None:
    """Without manifests the mart (it calls a macro) has only the columns its YAML documents:
    docs say what a model should return, not what it does, so breaking fails closed."""
    repo.server_policy("breaking")
    repo.edit(MART, *ADD_COLUMN)
    repo.commit("users: add created_at")
    result = repo.check()
    assert result.exit_code == 3, result.output
    flat = " ".join(result.output.split())
    assert ("its output columns cannot be read from its SQL, so seg fails closed (the columns "
            "documented in YAML (the SQL cannot be read: line 7 uses Jinja that only dbt can "
            "render") in flat, flat  # fmt: skip
    assert "seg check (breaking policy): 1 changed dbt model, 1 blocked." in result.output


def test_a_column_added_is_blocked_under_strict(repo: DbtRepo) -> None:
    repo.edit(MART, *ADD_COLUMN)  # the server says strict, seg.yaml breaking: strict wins
    repo.commit("users: add created_at")
    result = repo.check()
    assert result.exit_code == 3, result.output
    assert f"BLOCKED  dbt model users (modified) at {MART}:1:1" in result.output
    assert ("model warehouse/users (dbt model users) is in use by "
            "warehouse/braze/users-to-braze: its SQL change (policy strict blocks any "
            "change)") in result.output  # fmt: skip
    assert "Disable the mappings named above in seg first" in result.output


def test_a_mapped_column_removed_is_blocked(repo: DbtRepo, base_manifest: Path,
                                            tmp_path: Path) -> None:  # fmt: skip
    repo.server_policy("breaking")
    repo.edit(MART, *DROP_EMAIL)
    repo.edit(MART, "group by u.user_id, u.email, u.plan", "group by u.user_id, u.plan")
    repo.commit("users: no email")
    head_manifest = compile_manifest(repo.path, tmp_path / "head-target")
    result = repo.check("--base-manifest", str(base_manifest),
                        "--head-manifest", str(head_manifest))  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "note:" not in result.output
    assert "warehouse/braze/users-to-braze maps email, which it no longer returns" in result.output


def test_the_identifier_column_removed_is_blocked_under_breaking(
    repo: DbtRepo, base_manifest: Path, tmp_path: Path
) -> None:
    repo.server_policy("breaking")
    repo.edit(MART, *DROP_ID)
    repo.edit("models/schema.yml", DOCUMENTED_ID, "")
    repo.commit("users: no user_id")
    head_manifest = compile_manifest(repo.path, tmp_path / "head-target")
    result = repo.check("--base-manifest", str(base_manifest),
                        "--head-manifest", str(head_manifest))  # fmt: skip
    assert result.exit_code == 3, result.output
    assert "identifier column user_id is no longer among its columns" in result.output


def test_a_renamed_model_is_blocked_and_says_renamed(repo: DbtRepo) -> None:
    repo.server_policy("breaking")
    repo.git.git.mv(MART, "models/marts/customers.sql")
    repo.edit("models/schema.yml", "  - name: users\n", "  - name: customers\n")
    repo.commit("rename users to customers")
    result = repo.check()
    assert result.exit_code == 3, result.output
    assert "BLOCKED  dbt model users (renamed) at models/marts/customers.sql:1:1" in result.output
    assert "the dbt model is renamed to customers" in result.output


def test_a_project_in_a_sub_directory_is_read_and_pointed_at_from_the_repository_top(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, repo: DbtRepo
) -> None:
    mono = DbtRepo(tmp_path / "mono", "analytics")
    mono.apply_live()
    mono.git.git.mv(f"analytics/{MART}", "analytics/models/marts/customers.sql")
    mono.commit("rename users to customers")
    monkeypatch.setenv("GITHUB_ACTIONS", "true")
    result = mono.check()
    assert result.exit_code == 3, result.output
    assert ("::error file=analytics/models/marts/customers.sql,line=1,title=seg check%3A dbt "
            "model users::model warehouse/users (dbt model users) is in use by "
            "warehouse/braze/users-to-braze: the dbt model is renamed to customers"
            ) in result.output  # fmt: skip


def test_a_moved_model_file_keeps_its_name_and_is_a_change(repo: DbtRepo) -> None:
    (repo.path / "models/reverse_etl").mkdir()
    repo.git.git.mv(MART, "models/reverse_etl/users.sql")
    repo.commit("move the mart")
    result = repo.check()
    assert result.exit_code == 3, result.output  # strict: its config (materialized) changes
    assert "file (models/marts/users.sql → models/reverse_etl/users.sql)" in result.output


def test_an_unused_model_changed_passes(repo: DbtRepo) -> None:
    repo.edit("models/staging/stg_orders.sql", "    ordered_at\n", "    ordered_at,\n    status\n")
    repo.commit("stg_orders: status")
    result = repo.check()
    assert result.exit_code == 0, result.output
    assert ("ok       dbt model stg_orders (modified): SQL changed; not linked to a seg model"
            in result.output)  # fmt: skip


def test_a_macro_change_is_caught_through_the_manifests(repo: DbtRepo, base_manifest: Path,
                                                        tmp_path: Path) -> None:  # fmt: skip
    repo.edit(MACRO, "/ 100.0, 2)", "/ 100.0, 4)")
    repo.commit("more precision")
    head_manifest = compile_manifest(repo.path, tmp_path / "head-target")
    with_manifests = repo.check("--base-manifest", str(base_manifest),
                                "--head-manifest", str(head_manifest))  # fmt: skip
    assert with_manifests.exit_code == 3, with_manifests.output
    assert "its compiled SQL change (policy strict blocks any change)" in with_manifests.output
    assert "note:" not in with_manifests.output
    parsed = repo.check()  # no manifest: the raw SQL of users did not change
    assert parsed.exit_code == 0, parsed.output
    assert "No dbt model changes." in parsed.output
    assert ("note: no manifest for the base and head revisions: compiled SQL is not compared "
            "and macros are not expanded") in " ".join(parsed.output.split())  # fmt: skip


def test_the_head_manifest_in_the_working_tree_is_the_default(
    repo: DbtRepo, base_manifest: Path
) -> None:
    repo.edit(MACRO, "/ 100.0, 2)", "/ 100.0, 4)")
    repo.commit("more precision")
    compile_manifest(repo.path, repo.path / "target")  # what the workflow's dbt compile leaves
    result = repo.check("--base-manifest", str(base_manifest))
    assert result.exit_code == 3 and "compiled SQL change" in result.output, result.output


def test_a_missing_manifest_falls_back_to_parsing_with_a_note(
    repo: DbtRepo, base_manifest: Path
) -> None:
    repo.server_policy("breaking")
    repo.edit(MART, *DROP_ID)
    repo.edit("models/schema.yml", DOCUMENTED_ID, "")
    repo.commit("users: no user_id")
    result = repo.check("--base-manifest", str(base_manifest))
    assert result.exit_code == 3, result.output  # the head's SQL needs a macro: fails closed
    flat = " ".join(result.output.split())
    assert "its output columns cannot be read from its SQL, so seg fails closed" in flat
    assert "note: no manifest for the head revision: compiled SQL is not compared" in flat


def test_a_mapping_disabled_on_the_live_control_plane_passes(repo: DbtRepo) -> None:
    repo.control("PATCH", MAPPING_URL, {"mapping": {"enabled": False},
                                        "update_mask": {"paths": ["mapping.enabled"]}})  # fmt: skip
    repo.edit(MART, *DROP_ID)
    repo.commit("users: no user_id")
    result = repo.check()
    assert result.exit_code == 0, result.output
    assert "linked to model warehouse/users, not in use by an active mapping" in result.output


def test_a_model_linked_from_another_project_name_is_ignored(repo: DbtRepo) -> None:
    repo.edit(MART, *DROP_ID)
    repo.commit("users: no user_id")
    assert repo.check().exit_code == 3
    result = repo.check("--dbt-project", "marketing")  # seg's Model names analytics
    assert result.exit_code == 0, result.output
    assert "dbt model users (modified): SQL changed; not linked to a seg model" in result.output


def test_json_output_shape(repo: DbtRepo, tmp_path: Path) -> None:
    repo.edit(MART, *ADD_COLUMN)
    repo.edit("models/staging/stg_users.sql", "    plan,\n", "    plan,\n    country,\n")
    repo.commit("two models")
    result = repo.check("-o", "json")
    assert result.exit_code == 3
    data = json.loads(result.stdout)
    assert data["format_version"] == "1.0" and data["policy"] == "strict"
    assert data["blocked"] == 1 and len(data["notes"]) == 1
    assert data["notes"][0].startswith("no manifest for the base and head revisions")
    users, stg = sorted(data["findings"], key=lambda f: f["model"] != "users")
    assert users == {
        "model": "users", "subject": "dbt model", "change": "modified", "blocked": True,
        "message": "model warehouse/users (dbt model users) is in use by "
                   "warehouse/braze/users-to-braze: its SQL change (policy strict blocks any "
                   "change)",
        "mappings": ["warehouse/braze/users-to-braze"], "file": MART, "line": 1,
        "query_files": [],
    }  # fmt: skip
    assert stg["model"] == "stg_users" and not stg["blocked"] and stg["mappings"] == []


def test_github_annotations_and_step_summary(repo: DbtRepo, tmp_path: Path) -> None:
    repo.edit(MART, *ADD_COLUMN)
    repo.commit("users: add created_at")
    summary = tmp_path / "summary.md"
    result = repo.check(env={"GITHUB_ACTIONS": "true", "GITHUB_STEP_SUMMARY": str(summary)})
    assert result.exit_code == 3
    assert f"::error file={MART},line=1,title=seg check%3A dbt model users::" in result.output
    assert "::notice title=seg check::no manifest for the base and head revisions" in result.output
    text = summary.read_text()
    assert "| `users` | modified | **blocked** | `warehouse/braze/users-to-braze` |" in text
    assert "> note: no manifest" in text


def test_the_project_in_a_sub_directory_points_annotations_at_repository_paths(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A monorepo: the dbt project in ``analytics/``; no seg workspace given, no control
    plane in the environment → one line."""
    top = tmp_path / "mono"
    copy_dbt_example(top / "analytics", workspace=False)
    repo = git.Repo.init(top, initial_branch="main")
    repo.git.add("-A")
    repo.index.commit("dbt")
    for var in ("SEG_API_URL", "SEG_TOKEN", "SEG_WORKSPACE"):
        monkeypatch.delenv(var, raising=False)
    result = CliRunner().invoke(app, ["check", "--dbt", str(top / "analytics"), "--base", "main"])
    assert result.exit_code == 1
    assert "no control plane to ask which dbt models are in use" in result.output
    assert "Traceback" not in result.output and len(result.output.strip().splitlines()) <= 2


def test_models_only_in_the_head_and_a_new_project_are_no_change(repo: DbtRepo) -> None:
    (repo.path / "models/marts/accounts.sql").write_text("select 1 as account_id\n")
    repo.commit("a new mart")
    result = repo.check()
    assert result.exit_code == 0 and "No dbt model changes." in result.output, result.output
    shutil.rmtree(repo.path / "target", ignore_errors=True)
