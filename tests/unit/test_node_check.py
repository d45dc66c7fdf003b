"""`seg validate` runs `node --check` on each function's code when Node.js is on PATH: what
esprima lets through is reported at the .js file's line and column; without Node.js the rules
alone decide; a Node.js that hangs is cut off."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

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


def test_node_answers_are_kept_per_code_and_binary(write_workspace: WriteWorkspace,
                                                   tmp_path: Path) -> None:  # fmt: skip
    """A code Node.js answered for is not given to it again (same diagnostics, no process);
    edited code is; another Node.js binary asks again. CI installs Node.js."""
    node = shutil.which("node")
    assert node is not None, "Node.js is needed (.ci/run installs it)"
    root = write_workspace({"functions.yaml": FUNCTION + "---\n" + FUNCTION.replace(
        "name: f", "name: g").replace("f.js", "g.js"), "f.js": MIXED,
        "g.js": "function onTrack(e) { return e }\n"})  # fmt: skip
    asked: list[list[str]] = []

    def counting(args: Any) -> Any:
        asked.append(list(args[3:]))
        return node_check._run(args)

    def check(binary: str = node) -> list[str]:
        resources = load_workspace(root, environ={}).resources
        return [str(d) for d in node_diagnostics(resources, run=counting, node=binary,
                                                 root=root)]  # fmt: skip

    first = check()
    assert len(first) == 1 and "f.js:2:17" in first[0] and len(asked) == 1
    assert len(asked[0]) == 2
    assert check() == first and len(asked) == 1  # both answers kept
    (root / "g.js").write_text("function onTrack(e) { return e + 1 }\n")
    assert check() == first and len(asked) == 2 and len(asked[1]) == 1
    other = tmp_path / "other-node"
    other.write_text(f'#!/bin/sh\nexec "{node}" "$@"\n')
    other.chmod(0o755)
    assert check(str(other)) == first and len(asked) == 3 and len(asked[2]) == 2
