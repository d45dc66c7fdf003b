"""Diagnostics, compiler-style: ``file:line:col: error: message [rule]``."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console
from rich.markup import escape

from seg.workspace.diagnostics import Diagnostic

__all__ = ["render_diagnostics"]


def render_diagnostics(diagnostics: Sequence[Diagnostic], console: Console) -> None:
    for diag in diagnostics:
        console.print(
            f"{escape(diag.file)}:{diag.line}:{diag.col}: [bold red]error[/]: "
            f"{escape(diag.message)} [dim]\\[{escape(diag.rule)}][/]"
        )
    n = len(diagnostics)
    console.print(f"Found {n} error{'s' if n != 1 else ''}.")
