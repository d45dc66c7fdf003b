"""Diagnostics, compiler-style: ``file:line:col: error: message [rule]``."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape

from seg.workspace.diagnostics import Diagnostic

__all__ = ["diagnostics_to_json", "render_diagnostics"]


def render_diagnostics(diagnostics: Sequence[Diagnostic], console: Console) -> None:
    for diag in diagnostics:
        console.print(
            f"{escape(diag.file)}:{diag.line}:{diag.col}: [bold red]error[/]: "
            f"{escape(diag.message)} [dim]\\[{escape(diag.rule)}][/]"
        )
    n = len(diagnostics)
    console.print(f"Found {n} error{'s' if n != 1 else ''}.")


def diagnostics_to_json(diagnostics: Sequence[Diagnostic]) -> list[dict[str, Any]]:
    """``seg validate -o json``: one object per problem, ``code`` being the rule."""
    return [
        {"file": d.file, "line": d.line, "col": d.col, "message": d.message, "code": d.rule}
        for d in diagnostics
    ]
