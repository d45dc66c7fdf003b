"""dbt-linked models through the seg CLI (issue 16): `seg validate` checks a model's link and
columns against the dbt project seg.yaml names (from a real manifest, else from the SQL);
`seg plan`/`seg apply` and `seg check` block a new link of a model in use; `seg export` keeps
the link.

Each test works on a copy of `examples/dbt` made a git repository (the dbt project at its
root, the seg workspace in `seg/`, as in the example). dbt runs once for the module.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from seg.embedded import open_embedded
from tests.conftest import run_cli
from tests.dbt_tool import compile_manifest, copy_dbt_example
from tests.git_repos import new_repo
from tests.helpers import error_body, replace_in

ERROR_OR_WARNING = (": error: ", ": warning: ")


@pytest.fixture(scope="module")
def compiled(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example's manifest from a real `dbt compile` (once for the module)."""
    project = copy_dbt_example(tmp_path_factory.mktemp("dbt") / "analytics")
    return compile_manifest(project, project / "target")


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_seg_env: None) -> Iterator[Path]:
    """A git repository holding a copy of examples/dbt (no manifest); tests run from it."""
    monkeypatch.setenv("WAREHOUSE_PASSWORD", "pw")
    monkeypatch.setenv("BRAZE_API_KEY", "braze-key")
    root = copy_dbt_example(tmp_path / "repo")
    new_repo(root)
    (root / ".gitignore").write_text(".seg/\ntarget/\nlogs/\n")
    monkeypatch.chdir(root)
    yield root


def with_manifest(root: Path, manifest: Path) -> None:
    (root / "target").mkdir(exist_ok=True)
    shutil.copy(manifest, root / "target" / "manifest.json")


def problems(output: str) -> list[str]:
    return [line for line in output.splitlines() if any(s in line for s in ERROR_OR_WARNING)]


def validate(code: int) -> list[str]:
    result = run_cli("validate", "-w", "seg")
    assert result.exit_code == code, result.output
    return problems(result.output)


# --- validate --------------------------------------------------------------------------------


def test_the_example_is_valid_with_and_without_a_manifest(repo: Path, compiled: Path) -> None:
    assert validate(0) == []
    with_manifest(repo, compiled)
    assert validate(0) == []


def test_a_dbt_project_inside_the_workspace_is_not_read_as_seg_documents(repo: Path) -> None:
    """dbt's YAML (dbt_project.yml, schema.yml, sources.yml) under a ``path:`` project inside
    the workspace is dbt's, not seg resource documents."""
    inner = repo / "seg" / "dbt"
    copy_dbt_example(inner, workspace=False)
    replace_in(repo / "seg/seg.yaml", "path: ..", "path: dbt")
    assert validate(0) == []
    replace_in(repo / "seg/models.yaml", "identifier_column: user_id", "identifier_column: id")
    (line,) = validate(1)  # the project is still read for the link
    assert "identifier column 'id' is not among the columns of dbt model users" in line


def test_identifier_column_from_the_manifest_and_from_yaml(repo: Path, compiled: Path) -> None:
    replace_in(repo / "seg/models.yaml", "identifier_column: user_id", "identifier_column: id")
    [line] = validate(1)
    assert line.startswith("seg/models.yaml:7:22: error: identifier column 'id' is not among "
                           "the columns of dbt model users (user_id, email, plan, orders, "
                           "lifetime_value; from the columns documented in YAML (the SQL "
                           "cannot be read: line 6 uses Jinja that only dbt can render")  # fmt: skip
    with_manifest(repo, compiled)
    assert validate(1) == [
        "seg/models.yaml:7:22: error: identifier column 'id' is not among the columns of dbt "
        "model users (user_id, email, plan, orders, lifetime_value; from the compiled SQL in "
        "the manifest) [model/identifier]"]  # fmt: skip


def test_mapped_columns_from_the_manifest(repo: Path, compiled: Path) -> None:
    with_manifest(repo, compiled)
    # the manifest wins over the YAML: a column documented but not returned is refused
    replace_in(repo / "models/schema.yml", "      - name: orders\n",
         "      - name: orders\n      - name: country\n")  # fmt: skip
    replace_in(repo / "seg/mappings.yaml", "email: email", "email: country")
    assert validate(1) == [
        "seg/mappings.yaml:13:12: error: column 'country' is not among the columns of dbt "
        "model users (user_id, email, plan, orders, lifetime_value; from the compiled SQL in "
        "the manifest) [mapping/dbt-columns]"]  # fmt: skip


def test_columns_from_the_sql_with_refs_rendered_and_star_expanded(repo: Path) -> None:
    """Without a manifest: stg_users' SQL gives its columns (its YAML documents only two),
    and a model selecting * from it gets the same through the ref."""
    (repo / "models/marts/everyone.sql").write_text(
        "{{ config(materialized='view') }}\n-- all users\nselect * from {{ ref('stg_users') }}\n")
    replace_in(repo / "seg/models.yaml", "dbt_model: users", "dbt_model: everyone")
    replace_in(repo / "seg/models.yaml", "identifier_column: user_id", "identifier_column: created_at")
    replace_in(repo / "seg/mappings.yaml", "email: email", "email: plan")
    assert validate(0) == []
    replace_in(repo / "seg/mappings.yaml", "email: plan", "email: lifetime_value")
    assert validate(1) == [
        "seg/mappings.yaml:13:12: error: column 'lifetime_value' is not among the columns of "
        "dbt model everyone (user_id, email, plan, created_at; from the SQL with ref() and "
        "source() rendered) [mapping/dbt-columns]"]  # fmt: skip


def test_a_macro_without_a_manifest_or_yaml_columns_is_a_warning(repo: Path) -> None:
    replace_in(repo / "models/schema.yml", "  - name: users\n", "  - name: users_undocumented\n")
    assert validate(0) == [
        "seg/models.yaml:6:14: warning: the columns of dbt model users cannot be determined "
        "(the SQL cannot be read: line 6 uses Jinja that only dbt can render (run dbt compile "
        "for a manifest)); its identifier column and mapped columns are not checked "
        "[model/dbt-columns]"]  # fmt: skip


def test_an_unknown_dbt_model_gets_a_did_you_mean(repo: Path) -> None:
    replace_in(repo / "seg/models.yaml", "dbt_model: users", "dbt_model: user")
    assert validate(1) == [
        "seg/models.yaml:6:14: error: dbt project analytics has no model 'user' (did you mean "
        "'users'?) [model/dbt-model]"]  # fmt: skip


def test_an_unknown_dbt_project(repo: Path) -> None:
    replace_in(repo / "seg/models.yaml", "dbt_model: users", "dbt_model: users\n  dbt_project: analytic")
    assert validate(1) == [
        "seg/models.yaml:7:16: error: unknown dbt project 'analytic' (seg.yaml names "
        "analytics) (did you mean 'analytics'?) [model/dbt-project]"]  # fmt: skip


def test_several_projects_need_dbt_project(repo: Path) -> None:
    other = repo / "other"
    other.mkdir()
    (other / "dbt_project.yml").write_text("name: other\nconfig-version: 2\n")
    replace_in(repo / "seg/seg.yaml", "    path: ..   # the dbt project this workspace sits in "
         "(examples/dbt)\n", "    path: ..\n  other:\n    path: ../other\n")  # fmt: skip
    assert validate(1) == [
        "seg/models.yaml:6:14: error: give dbt_project: seg.yaml names several dbt projects "
        "(analytics, other) [model/dbt-project]"]  # fmt: skip
    replace_in(repo / "seg/models.yaml", "dbt_model: users", "dbt_model: users\n  dbt_project: analytics")
    assert validate(0) == []


def test_a_project_named_otherwise_in_seg_yaml(repo: Path) -> None:
    replace_in(repo / "seg/seg.yaml", "  analytics:\n", "  shop:\n")
    assert validate(1) == [
        "seg/seg.yaml:7:3: error: dbt project shop: its dbt_project.yml names it 'analytics'; "
        "name it so in seg.yaml (seg check --dbt matches models by that name) [config/dbt]"]  # fmt: skip


def test_a_path_that_is_not_a_dbt_project(repo: Path) -> None:
    replace_in(repo / "seg/seg.yaml", "path: ..", "path: ../models")
    assert validate(1) == [
        "seg/seg.yaml:7:3: error: models/dbt_project.yml does not exist [config/dbt]"]
    replace_in(repo / "seg/seg.yaml", "path: ../models", "path: ../nowhere")
    assert validate(1) == [
        "seg/seg.yaml:7:3: error: dbt project analytics: ../nowhere is not a directory "
        "[config/dbt]"]  # fmt: skip


# --- plan, apply and check on a model in use -------------------------------------------------


def applied(repo: Path, policy: str = "strict") -> None:
    """The example applied, with the control plane's policy ``policy`` (and seg.yaml's)."""
    result = run_cli("apply", "-w", "seg", "--auto-approve")
    assert result.exit_code == 0, result.output
    client = open_embedded(repo / "seg", "dbt-retl")
    body = {"workspace": {"model_change_policy": policy},
            "update_mask": {"paths": ["workspace.model_change_policy"]}}  # fmt: skip
    assert client.http.patch("/v1beta/workspaces/dbt-retl", json=body).status_code == 200
    client.close()
    replace_in(repo / "seg/seg.yaml", "model_change_policy: breaking", f"model_change_policy: {policy}")


def live_model(repo: Path) -> dict:
    client = open_embedded(repo / "seg", "dbt-retl")
    try:
        got = client.http.get("/v1beta/workspaces/dbt-retl/sources/warehouse/models/users")
        return dict(got.json())
    finally:
        client.close()


def blocked(reason: str) -> None:
    plan = run_cli("plan", "-w", "seg")
    assert plan.exit_code == 3, plan.output
    assert "! Model warehouse/users" in plan.output
    assert (f"reason: model warehouse/users is in use by warehouse/braze/users-to-braze: "
            f"{reason}") in plan.output  # fmt: skip
    apply = run_cli("apply", "-w", "seg", "--auto-approve")
    assert apply.exit_code == 3 and "nothing was applied" in apply.output, apply.output


@pytest.mark.parametrize("policy", ["strict", "breaking"])
def test_a_new_dbt_model_of_a_model_in_use_is_blocked(repo: Path, policy: str) -> None:
    applied(repo, policy)
    replace_in(repo / "seg/models.yaml", "dbt_model: users", "dbt_model: stg_users")
    reason = "it would read dbt model stg_users instead of dbt model users"
    blocked(reason)
    # the control plane refuses the same change with the same message
    client = open_embedded(repo / "seg", "dbt-retl")
    try:
        body = {"model": {"dbt_model": "stg_users"}, "update_mask": {"paths": ["model.dbt_model"]}}
        refused = client.http.patch("/v1beta/workspaces/dbt-retl/sources/warehouse/models/users",
                                    json=body)  # fmt: skip
    finally:
        client.close()
    assert refused.status_code == 409 and error_body(refused) == {"code": 9, "error": (
        f"model warehouse/users is in use by warehouse/braze/users-to-braze: {reason}")}  # fmt: skip
    replace_in(repo / "seg/models.yaml", "dbt_model: stg_users", "dbt_model: users\n  dbt_project: shop")
    replace_in(repo / "seg/seg.yaml", "  analytics:\n", "  shop:\n")  # renamed in seg.yaml too
    plan = run_cli("plan", "-w", "seg")  # as validate: the project's name is analytics
    assert plan.exit_code == 1 and "names it 'analytics'" in plan.output, plan.output
    assert live_model(repo)["dbt_model"] == "users"


@pytest.mark.parametrize("policy", ["strict", "breaking"])
def test_switching_to_a_query_and_back_while_in_use_is_blocked(repo: Path, policy: str) -> None:
    applied(repo, policy)
    replace_in(repo / "seg/models.yaml", "dbt_model: users",
         "query: SELECT id AS user_id, email FROM app.users")  # fmt: skip
    blocked("it would read its SQL instead of dbt model users")
    assert "query" not in live_model(repo)


def test_the_identifier_column_of_a_linked_model_in_use_is_blocked(repo: Path) -> None:
    applied(repo, "breaking")
    replace_in(repo / "seg/models.yaml", "identifier_column: user_id", "identifier_column: email")
    blocked("identifier column changes (user_id → email)")


def test_a_description_change_passes(repo: Path) -> None:
    applied(repo)
    replace_in(repo / "seg/models.yaml", "(the dbt model users)", "(dbt)")
    result = run_cli("apply", "-w", "seg", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert live_model(repo)["description"] == "One row per user with their orders (dbt)"


def test_a_switch_with_the_mapping_disabled_goes_through_in_order(repo: Path) -> None:
    """To a query and back to the dbt model, the mapping disabled in the same change: the
    mapping first, then the model; the field left behind is really gone on the server."""
    applied(repo)
    replace_in(repo / "seg/mappings.yaml", "  enabled: true\n", "  enabled: false\n")
    replace_in(repo / "seg/models.yaml", "dbt_model: users",
         "query: SELECT id AS user_id, email FROM app.users")  # fmt: skip
    result = run_cli("apply", "-w", "seg", "--auto-approve")
    assert result.exit_code == 0, result.output
    lines = [line for line in result.output.splitlines() if line.startswith("updated")]
    assert lines == ["updated Mapping warehouse/braze/users-to-braze",
                     "updated Model warehouse/users"]  # fmt: skip
    live = live_model(repo)
    assert live["query"].startswith("SELECT") and "dbt_model" not in live
    replace_in(repo / "seg/models.yaml", "query: SELECT id AS user_id, email FROM app.users",
         "dbt_model: users\n  dbt_project: analytics")  # fmt: skip
    assert run_cli("apply", "-w", "seg", "--auto-approve").exit_code == 0
    live = live_model(repo)
    assert (live["dbt_model"], live["dbt_project"]) == ("users", "analytics")
    assert "query" not in live
    assert run_cli("plan", "-w", "seg", "--detailed-exitcode").exit_code == 0


def test_deleting_a_linked_model_in_use_is_blocked(repo: Path) -> None:
    applied(repo)
    client = open_embedded(repo / "seg", "dbt-retl")
    try:
        gone = client.http.delete("/v1beta/workspaces/dbt-retl/sources/warehouse/models/users")
    finally:
        client.close()
    assert gone.status_code == 409, gone.text
    assert gone.json()["error"] == ("model warehouse/users is deleted while in use by "
                                    "warehouse/braze/users-to-braze")  # fmt: skip


def test_seg_check_blocks_a_new_link_of_a_model_in_use(repo: Path) -> None:
    applied(repo)
    made = git.Repo(repo)
    made.git.add("-A")
    made.index.commit("dbt example")
    made.git.update_ref("refs/remotes/origin/main", "HEAD")
    unchanged = run_cli("check", "-w", "seg", "--base", "origin/main")
    assert unchanged.exit_code == 0, unchanged.output
    made.git.switch("-q", "-c", "relink")
    replace_in(repo / "seg/models.yaml", "dbt_model: users", "dbt_model: stg_users")
    made.git.commit("-qam", "users: from stg_users")
    checked = run_cli("check", "-w", "seg", "--base", "origin/main", "-o", "json")
    assert checked.exit_code == 3, checked.output
    report = json.loads(checked.stdout)
    assert "it would read dbt model stg_users instead of dbt model users" in json.dumps(report)


# --- export ----------------------------------------------------------------------------------


def test_export_keeps_the_link_and_round_trips(repo: Path, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:  # fmt: skip
    monkeypatch.setenv("SEG_SECRET_WAREHOUSE_SETTINGS_PASSWORD", "pw")
    monkeypatch.setenv("SEG_SECRET_WAREHOUSE_BRAZE_SETTINGS_API_KEY", "braze-key")
    applied(repo)
    out = repo / "exported"
    out.mkdir()
    shutil.copy(repo / "seg/seg.yaml", out / "seg.yaml")
    shutil.copytree(repo / "seg/.seg", out / ".seg")
    result = run_cli("export", "-w", "exported", "--merge")
    assert result.exit_code == 0, result.output
    exported = (out / "models/warehouse.users.yaml").read_text()
    assert "dbt_model: users\n" in exported and "query" not in exported
    assert not list(out.rglob("*.sql"))
    # the exported tree in the workspace's place: valid, and nothing to change
    shutil.rmtree(repo / "seg")
    shutil.move(out, repo / "seg")
    assert validate(0) == []
    plan = run_cli("plan", "-w", "seg", "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output


def test_a_model_switched_to_a_query_in_the_ui_is_linked_again(repo: Path) -> None:
    """Someone turns the (unused) model into a query on the control plane: seg never set that
    query, yet declaring dbt_model clears it (query and dbt_model exclude each other)."""
    replace_in(repo / "seg/mappings.yaml", "  enabled: true\n", "  enabled: false\n")
    applied(repo)
    client = open_embedded(repo / "seg", "dbt-retl")
    try:
        body = {"model": {"query": "SELECT 1 AS user_id"}, "update_mask": {
            "paths": ["model.query", "model.dbt_model", "model.dbt_project"]}}  # fmt: skip
        ui = client.http.patch("/v1beta/workspaces/dbt-retl/sources/warehouse/models/users",
                               json=body)  # fmt: skip
        assert ui.status_code == 200, ui.text
    finally:
        client.close()
    result = run_cli("apply", "-w", "seg", "--auto-approve")
    assert result.exit_code == 0, result.output
    assert '~ query: "SELECT 1 AS user_id" → (cleared)' in result.output
    live = live_model(repo)
    assert live["dbt_model"] == "users" and "query" not in live
    assert run_cli("plan", "-w", "seg", "--detailed-exitcode").exit_code == 0
