"""The repository's own workspace and the examples load, and the quick start works."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from seg.commands.app import app
from seg.workspace import load_workspace
from tests.repo_files import copy_repo_dir

REPO = Path(__file__).resolve().parents[2]


@pytest.mark.parametrize("root", [REPO / "workspace", *sorted((REPO / "examples").iterdir())])
@pytest.mark.parametrize("env", [None, "dev", "prod"])
def test_shipped_workspaces_are_valid(root: Path, env: str | None) -> None:
    config = (root / "seg.yaml").read_text()
    if env is not None and f"  {env}:" not in config:
        return
    ws = load_workspace(root, env, {"AMPLITUDE_API_KEY": "k", "WAREHOUSE_PASSWORD": "p"})
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
