"""`seg validate` lines as the kind tests check them: the line of a needle in a tree's
resources.yaml, validate's output when it fails, and one diagnostic at a line."""

from __future__ import annotations

import re
from pathlib import Path

from tests.conftest import run_cli as seg


def line_of(root: Path, needle: str, after: str | None = None) -> int:
    """The 1-based line of the first line of resources.yaml holding ``needle`` (after the
    line holding ``after``, when given)."""
    lines = (root / "resources.yaml").read_text().splitlines()
    start = 0 if after is None else next(i for i, t in enumerate(lines) if after in t)
    return next(i for i, text in enumerate(lines[start:], start + 1) if needle in text)


def validate_errors(root: Path) -> str:
    """`seg validate`'s output for a tree it refuses (exit 1)."""
    result = seg("validate", "-w", str(root))
    assert result.exit_code == 1, result.output
    return result.output


def assert_at(output: str, root: Path, where: str | int, message: str, rule: str,
              severity: str = "error", or_next: bool = False) -> None:  # fmt: skip
    """A diagnostic holding ``message`` with ``rule`` and ``severity`` at the line of
    resources.yaml holding ``where`` (or at line ``where``); ``or_next``: or on the line after
    it (where the value of a map key starts)."""
    at = line_of(root, where) if isinstance(where, str) else where
    lines = f"({at}|{at + 1})" if or_next else f"({at})"
    pattern = re.compile(rf"resources\.yaml:{lines}:\d+: {severity}: (.*) \[{re.escape(rule)}\]")
    assert any(message in m.group(2) for m in pattern.finditer(output)), output
