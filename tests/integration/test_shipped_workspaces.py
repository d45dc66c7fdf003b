"""The repository's own workspace and the examples load, and the quick start works."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from seg.commands.app import app
from seg.workspace import load_workspace
from tests.repo_files import EXAMPLE_WORKSPACES, copy_repo_dir

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("root", [REPO / "workspace", *EXAMPLE_WORKSPACES])
@pytest.mark.parametrize("env", [None, "dev", "prod"])
def test_shipped_workspaces_are_valid(root: Path, env: str | None) -> None:
    config = (root / "seg.yaml").read_text()
    if env is not None and f"  {env}:" not in config:
        return
    variables = {"AMPLITUDE_API_KEY": "k", "WAREHOUSE_PASSWORD": "p", "BRAZE_API_KEY": "b"}
    ws = load_workspace(root, env, variables)
    assert ws.resources


def test_quick_start_plans_and_applies_the_repo_workspace(tmp_path, monkeypatch) -> None:
    root = tmp_path / "workspace"
    copy_repo_dir("workspace", root)
    monkeypatch.setenv("AMPLITUDE_API_KEY", "demo-key")
    monkeypatch.delenv("SEG_API_URL", raising=False)
    monkeypatch.chdir(tmp_path)  # -w defaults to ./workspace
    runner = CliRunner()
    plan = runner.invoke(app, ["plan", "--detailed-exitcode"])
    assert plan.exit_code == 2 and "Plan: 6 to add" in plan.output, plan.output
    assert runner.invoke(app, ["apply", "--auto-approve"]).exit_code == 0
    assert runner.invoke(app, ["plan", "--detailed-exitcode"]).exit_code == 0


def test_a_copy_of_the_repository_workspace_leaves_a_users_state_behind(tmp_path, monkeypatch) -> None:
    """The quick start leaves `.seg/` (the embedded control plane's state) in `workspace/`; a
    test that copied it along would see "No changes". copy_repo_dir leaves it behind."""
    user_tree = copy_repo_dir(REPO / "workspace", tmp_path / "user" / "workspace")
    monkeypatch.setenv("AMPLITUDE_API_KEY", "demo-key")
    monkeypatch.delenv("SEG_API_URL", raising=False)
    runner = CliRunner()
    assert runner.invoke(app, ["apply", "-w", str(user_tree), "--auto-approve"]).exit_code == 0
    assert (user_tree / ".seg" / "control-plane.db").is_file()  # the user's state
    (user_tree / "seg.db").write_text("a server's database")
    assert runner.invoke(app, ["plan", "-w", str(user_tree), "--detailed-exitcode"]).exit_code == 0

    copied = copy_repo_dir(user_tree, tmp_path / "copy" / "workspace")
    assert not (copied / ".seg").exists() and not (copied / "seg.db").exists()
    fresh = runner.invoke(app, ["plan", "-w", str(copied), "--detailed-exitcode"])
    assert fresh.exit_code == 2 and "Plan: 6 to add" in fresh.output, fresh.output
