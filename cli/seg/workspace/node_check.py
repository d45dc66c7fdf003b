"""``node --check`` on each function's code, when Node.js is on PATH (``seg validate`` only).

The pure rules (``seg.kinds.function``, the esprima parser) decide what the control plane
accepts; Node.js, the platform's runtime, additionally catches what esprima lets through
(``a ?? b || c``). It runs only on code the rules found valid, on a private copy of the code
(never on the workspace file itself), in one Node.js process for every function (compiled as
``node --check`` compiles a CommonJS file: ``vm.compileFunction`` with the module wrapper's
parameters; nothing is run), within a timeout; each failure becomes one diagnostic at the line
and column of the ``.js`` file (or at the ``code`` key for inline code). Without Node.js the
rules alone decide.
"""

from __future__ import annotations

import hashlib
import json
import os
import pickle
import re
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from seg import localcache
from seg.model.resource import DesiredResource, Origin
from seg.policy.javascript import read_javascript
from seg.workspace.cache import cache_enabled
from seg.workspace.diagnostics import Diagnostic

__all__ = ["NODE_TIMEOUT_SECONDS", "node_diagnostics"]

NODE_TIMEOUT_SECONDS = 10.0
RULE = "function/node-check"
_WHERE = re.compile(r":(\d+)$")
_ERROR = re.compile(r"^(\w*Error: .*)$", re.M)

Runner = Callable[[Sequence[str]], "subprocess.CompletedProcess[str]"]

# Compiles each file named on the command line as node --check would (a CommonJS module body)
# and prints, per file, one JSON line with the error's stack ("" when it compiles).
CHECKER = """
const fs = require("fs"), vm = require("vm");
const params = ["exports", "require", "module", "__filename", "__dirname"];
for (const file of process.argv.slice(1)) {
  let stack = "";
  try { vm.compileFunction(fs.readFileSync(file, "utf8"), params, { filename: file }); }
  catch (e) { stack = String((e && e.stack) || e); }
  process.stdout.write(JSON.stringify({ file, stack }) + "\\n");
}
"""


def _run(args: Sequence[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(list(args), capture_output=True, text=True,
                          timeout=NODE_TIMEOUT_SECONDS, check=False)  # fmt: skip


def _javascript(resources: Sequence[DesiredResource], answers: _Answers
                ) -> list[tuple[DesiredResource, str, str]]:  # fmt: skip
    """(resource, field, code) for each JavaScript value (a field exported as a ``.js`` file:
    a function's code) that the rules' parser accepted (or Node.js answered before: only
    code the parser accepted is ever given to it)."""
    out = []
    js_fields: dict[str, tuple[str, ...]] = {}  # by kind: most kinds have none
    for res in resources:
        names = js_fields.get(res.kind.name)
        if names is None:
            names = js_fields[res.kind.name] = res.kind.javascript_fields
        for name in names:
            code = res.fields.get(name)
            if not isinstance(code, str) or not code:
                continue
            if res.is_unknown((name,)):
                continue
            if answers.get(code) is not None or read_javascript(code).error is None:
                out.append((res, name, code))
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
                     node: str | None = None, root: Path | None = None) -> list[Diagnostic]:
    """What ``node --check`` finds in each function's code; nothing without Node.js. With
    ``root`` (and the cache on), each code's answer is kept in ``.seg/cache/validate/``
    under its SHA-256 for this Node.js binary (its path and identity) and not asked again."""
    node = node or shutil.which("node")
    if node is None:
        return []
    answers = _Answers(root, node)
    found: list[Diagnostic] = []
    pending = []
    for res, field, code in _javascript(resources, answers):
        answer = answers.get(code)
        if answer is None:
            pending.append((res, field))
        elif answer != _COMPILES:
            found.append(_diagnostic(res, field, *answer))
    found += _checked(pending, run or _run, node, answers)
    answers.save()
    return found


_COMPILES = ()  # the answer for code that compiles


class _Answers:
    """What Node.js said of each code (by SHA-256), for one binary; sealed by ``localcache``."""

    def __init__(self, root: Path | None, node: str) -> None:
        self._root = root if root is not None and cache_enabled() else None
        self._known: dict[str, tuple[Any, ...]] = {}
        self._new: dict[str, tuple[Any, ...]] = {}
        try:
            info = os.stat(node)
            self._node = (os.path.realpath(node), info.st_dev, info.st_ino, info.st_size,
                          info.st_mtime_ns)  # fmt: skip
        except OSError:
            self._root = None
        if self._root is None:
            return
        kept = localcache.read_pickled(self._root, _PURPOSE, *_NAME)
        if isinstance(kept, tuple) and len(kept) == 2 and kept[0] == self._node:
            self._known = kept[1]

    @staticmethod
    def _digest(code: str) -> str:
        return hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()

    def get(self, code: str) -> tuple[Any, ...] | None:
        digest = self._digest(code)
        answer = self._known.get(digest)
        if answer is not None:
            self._new[digest] = answer
        return answer

    def put(self, code: str, answer: tuple[Any, ...]) -> None:
        self._new[self._digest(code)] = answer

    def save(self) -> None:
        if self._root is not None and self._new != self._known:
            payload = pickle.dumps((self._node, self._new), protocol=pickle.HIGHEST_PROTOCOL)
            localcache.write(self._root, _PURPOSE, payload, *_NAME)


_PURPOSE = "node-check"
_NAME = ("validate", "node.pickle")


def _checked(pending: list[tuple[DesiredResource, str]], run: Runner, node: str,
             answers: _Answers) -> list[Diagnostic]:  # fmt: skip
    """Node.js's answers for ``pending`` (one process for all), kept in ``answers``."""
    found: list[Diagnostic] = []
    if not pending:
        return found
    with tempfile.TemporaryDirectory(prefix="seg-node-") as tmp:
        scripts = {}
        for index, (res, field) in enumerate(pending):
            script = Path(tmp) / f"f{index}.js"
            script.write_text(str(res.fields[field]), encoding="utf-8")
            scripts[str(script)] = (res, field, script)
        try:
            result = run([node, "-e", CHECKER, *scripts])
        except subprocess.TimeoutExpired:
            res, field = pending[0]
            return [_diagnostic(res, field, 1, 1, f"Node.js did not answer within "
                                f"{NODE_TIMEOUT_SECONDS:g} seconds")]  # fmt: skip
        except OSError:
            return found  # Node.js cannot start: the rules alone decide
        for line in result.stdout.splitlines():
            try:
                answer = json.loads(line)
                res, field, script = scripts[answer["file"]]
            except (ValueError, KeyError, TypeError):
                continue
            position = _position(str(answer.get("stack") or ""), script)
            answers.put(str(res.fields[field]), position or _COMPILES)
            if position is not None:
                found.append(_diagnostic(res, field, *position))
    return found
