"""`seg validate` runs `node --check` on each function's code when Node.js is on PATH: what
esprima lets through is reported at the .js file's line and column; without Node.js the rules
alone decide; a Node.js that hangs is cut off."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from seg.workspace import node_check
from seg.workspace.loader import load_workspace
from seg.workspace.node_check import node_diagnostics
from tests.conftest import WriteWorkspace, run_cli

# esprima (after the ES2020 rewrite) accepts it; Node.js refuses ?? mixed with || unparenthesised.
MIXED = "function onTrack(e) {\n  return e ?? a || b\n}\n"
FUNCTION = "kind: Function\nname: f\nspec:\n  type: insert\n  code_file: f.js\n"


def test_node_finds_what_esprima_lets_through(write_workspace: WriteWorkspace,
                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    root = write_workspace({"functions.yaml": FUNCTION, "f.js": MIXED})
    node = shutil.which("node")
    result = run_cli("validate", "-w", str(root))
    if node is None:  # the machine has no Node.js: the rules alone decide
        assert result.exit_code == 0, result.output
        return
    assert result.exit_code == 1
    assert result.output.replace(f"{root}/", "").splitlines()[0] == (
        "f.js:2:17: error: node --check: line 2, column 17: SyntaxError: Unexpected token '||' "
        "[function/node-check]")
    monkeypatch.setenv("PATH", "")  # without Node.js
    assert run_cli("validate", "-w", str(root)).exit_code == 0


def test_node_runs_only_on_code_the_rules_accept(write_workspace: WriteWorkspace) -> None:
    root = write_workspace({"functions.yaml": FUNCTION, "f.js": "function onTrack(e) {\n"})
    result = run_cli("validate", "-w", str(root))
    assert result.exit_code == 1
    assert "[function/javascript]" in result.output and "node --check" not in result.output


def test_a_node_that_hangs_is_cut_off(write_workspace: WriteWorkspace, tmp_path: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    slow = tmp_path / "slow-node"
    slow.write_text("#!/bin/sh\nexec sleep 30\n")
    slow.chmod(0o755)
    monkeypatch.setattr(node_check, "NODE_TIMEOUT_SECONDS", 0.5)
    root = write_workspace({"functions.yaml": FUNCTION,
                            "f.js": "function onTrack(e) { return e }\n"})  # fmt: skip
    resources = load_workspace(root, environ={}).resources
    (found,) = node_diagnostics(resources, node=str(slow))
    assert (Path(found.file).name, found.line, found.col, found.rule) == ("f.js", 1, 1,
                                                               "function/node-check")
    assert "did not answer within 0.5 seconds" in found.message
