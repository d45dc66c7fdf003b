"""Models in use through `seg plan`/`seg apply` on the Reverse ETL example (embedded)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seg.commands.app import app
from seg.embedded import open_embedded
from tests.repo_files import copy_repo_dir

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "reverse-etl"


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("WAREHOUSE_PASSWORD", "pw")
    monkeypatch.setenv("BRAZE_API_KEY", "braze-key")
    for var in ("SEG_API_URL", "SEG_TOKEN", "SEG_WORKSPACE", "SEG_ENV"):
        monkeypatch.delenv(var, raising=False)
    target = tmp_path / "retl"
    copy_repo_dir(EXAMPLE, target)
    result = CliRunner().invoke(app, ["apply", "-w", str(target), "--auto-approve"])
    assert result.exit_code == 0, result.output
    return target


def seg(root: Path, *args: str):
    return CliRunner().invoke(app, [args[0], "-w", str(root), *args[1:]])


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_editing_an_in_use_models_sql_is_blocked(root: Path) -> None:
    edit(root / "models/users.sql", "  u.first_name,\n", "  u.first_name,\n  u.country,\n")
    plan = seg(root, "plan")
    assert plan.exit_code == 3, plan.output
    assert "! Model warehouse/users" in plan.output
    assert "in use by warehouse/braze/users-to-braze" in plan.output
    assert "+   u.country," in plan.output  # the SQL shown as a line diff
    applied = seg(root, "apply", "--auto-approve")
    assert applied.exit_code == 3 and "nothing was applied" in applied.output


def test_unused_model_changes_and_metadata_changes_pass(root: Path) -> None:
    edit(root / "models/accounts.yaml", "WHERE mrr > 0", "WHERE mrr > 10")
    edit(root / "models/users.yaml", "Active users with their plan", "Active users")
    plan = json.loads(seg(root, "plan", "-o", "json").stdout)
    assert {(c["address"], c["action"]) for c in plan["changes"]} == {
        ("warehouse/accounts", "update"), ("warehouse/users", "update")}  # fmt: skip
    assert seg(root, "apply", "--auto-approve").exit_code == 0


def test_disabling_the_mapping_in_the_same_change_orders_disable_first(root: Path) -> None:
    edit(root / "models/users.sql", "  u.first_name,\n", "  u.first_name,\n  u.country,\n")
    edit(root / "mappings/braze.yaml", "  enabled: true\n", "  enabled: false\n")
    applied = seg(root, "apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    lines = [line for line in applied.output.splitlines() if line.startswith("updated")]
    assert lines == [
        "updated Mapping warehouse/braze/users-to-braze",
        "updated Model warehouse/users",
    ]
    assert seg(root, "plan", "--detailed-exitcode").exit_code == 0


def test_enabling_a_mapping_waits_for_its_model_change(root: Path) -> None:
    edit(root / "models/accounts.yaml", "WHERE mrr > 0", "WHERE mrr > 5")
    edit(
        root / "mappings/salesforce.yaml",
        "  model: accounts\n",
        "  enabled: true\n  model: accounts\n",
    )
    applied = seg(root, "apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    lines = [line for line in applied.output.splitlines() if line.startswith("updated")]
    assert lines == ["updated Model warehouse/accounts",
                     "updated Mapping warehouse/salesforce/accounts-to-salesforce"]  # fmt: skip


def test_breaking_policy_lets_additive_changes_through(root: Path) -> None:
    client = open_embedded(root, "retl")
    body = {"workspace": {"model_change_policy": "breaking"},
            "update_mask": {"paths": ["workspace.model_change_policy"]}}  # fmt: skip
    assert client.http.patch("/v1beta/workspaces/retl", json=body).status_code == 200
    client.close()
    edit(root / "seg.yaml", "model_change_policy: strict", "model_change_policy: breaking")
    edit(root / "models/users.sql", "  u.first_name,\n", "  u.first_name,\n  u.country,\n")
    assert seg(root, "apply", "--auto-approve").exit_code == 0
    edit(root / "models/users.sql", "  u.email,\n", "")
    plan = seg(root, "plan")
    assert (
        plan.exit_code == 3 and "maps email, which the new query no longer returns" in plan.output
    )


def test_server_policy_wins_when_stricter(root: Path) -> None:
    edit(root / "seg.yaml", "model_change_policy: strict", "model_change_policy: breaking")
    edit(root / "models/users.sql", "  u.first_name,\n", "  u.first_name,\n  u.country,\n")
    plan = seg(root, "plan")  # the workspace on the server is still strict
    assert plan.exit_code == 3 and "policy strict" in plan.output


def test_model_rules_in_validate(root: Path) -> None:
    edit(root / "models/users.yaml", "identifier_column: user_id", "identifier_column: uid")
    edit(root / "mappings/salesforce.yaml", "model: accounts", "model: acounts")
    result = seg(root, "validate")
    assert result.exit_code == 1
    assert "models/users.yaml:7:22: error: identifier column 'uid' is not among" in result.output
    assert (
        "refers to model 'warehouse/acounts', which is not declared (did you mean 'warehouse/accounts'?)"
        in result.output
    )
