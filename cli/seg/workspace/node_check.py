"""``node --check`` on each function's code, when Node.js is on PATH (``seg validate`` only).

The pure rules (``seg.kinds.function``, the esprima parser) decide what the control plane
accepts; Node.js, the platform's runtime, additionally catches what esprima lets through
(``a ?? b || c``). It runs only on code the rules found valid, one process per function with
a timeout, on a private copy of the code (never on the workspace file itself), and its answer
becomes one diagnostic at the line and column of the ``.js`` file (or at the ``code`` key for
inline code). Without Node.js the rules alone decide.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path

from seg.model.resource import DesiredResource, Origin
from seg.policy.javascript import read_javascript
from seg.workspace.diagnostics import Diagnostic

__all__ = ["NODE_TIMEOUT_SECONDS", "node_diagnostics"]

NODE_TIMEOUT_SECONDS = 10.0
RULE = "function/node-check"
_WHERE = re.compile(r":(\d+)$")
_ERROR = re.compile(r"^(\w*Error: .*)$", re.M)

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]


def _run(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True,
                          timeout=NODE_TIMEOUT_SECONDS, check=False)  # fmt: skip


def _javascript(resources: Sequence[DesiredResource]) -> list[tuple[DesiredResource, str]]:
    """(resource, field) for each JavaScript value (a field exported as a ``.js`` file: a
    function's code) that the rules' parser accepted."""
    out = []
    for res in resources:
        for spec in res.kind.fields:
            code = res.fields.get(spec.name)
            if spec.export_suffix != "js" or not isinstance(code, str) or not code:
                continue
            if not res.is_unknown((spec.name,)) and read_javascript(code).error is None:
                out.append((res, spec.name))
    return out


def _position(stderr: str, script: Path) -> tuple[int, int, str] | None:
    """(line, column, message) of a ``node --check`` failure, or None if it names none."""
    lines = stderr.splitlines()
    if not lines or not lines[0].startswith(str(script)):
        return None
    where = _WHERE.search(lines[0])
    error = _ERROR.search(stderr)
    if where is None or error is None:
        return None
    caret = next((line for line in lines[1:4] if line.strip().startswith("^")), "")
    col = caret.index("^") + 1 if caret else 1
    return int(where.group(1)), col, error.group(1)


def _diagnostic(res: DesiredResource, field: str, line: int, col: int, why: str) -> Diagnostic:
    message = f"node --check: line {line}, column {col}: {why}"
    if field in res.value_files:
        return Diagnostic(res.value_files[field], line, col, message, RULE)
    origin = res.marks.get((field,)) or res.origin or Origin("?", 1, 1)
    return Diagnostic(origin.file, origin.line, origin.col, message, RULE)


def node_diagnostics(resources: Sequence[DesiredResource], run: Runner | None = None,
                     node: str | None = None) -> list[Diagnostic]:  # fmt: skip
    """What ``node --check`` finds in each function's code; nothing without Node.js."""
    node = node or shutil.which("node")
    if node is None:
        return []
    run = run or _run
    found: list[Diagnostic] = []
    with tempfile.TemporaryDirectory(prefix="seg-node-") as tmp:
        for index, (res, field) in enumerate(_javascript(resources)):
            script = Path(tmp) / f"f{index}.js"
            script.write_text(str(res.fields[field]), encoding="utf-8")
            try:
                result = run([node, "--check", str(script)])
            except subprocess.TimeoutExpired:
                found.append(_diagnostic(res, field, 1, 1, f"Node.js did not answer within "
                                         f"{NODE_TIMEOUT_SECONDS:g} seconds"))  # fmt: skip
                continue
            except OSError:
                return found  # Node.js cannot start: the rules alone decide
            if result.returncode == 0:
                continue
            position = _position(result.stderr, script)
            if position is not None:
                found.append(_diagnostic(res, field, *position))
    return found
