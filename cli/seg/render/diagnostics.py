"""Diagnostics, compiler-style: ``file:line:col: error: message [rule]`` (or ``warning:``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.console import Console
from rich.markup import escape

from seg.model.wording import plural
from seg.workspace.diagnostics import Diagnostic

__all__ = ["diagnostics_to_json", "render_diagnostics", "render_warnings"]

_STYLE = {"error": "bold red", "warning": "bold yellow"}


def _line(diag: Diagnostic, console: Console) -> None:
    console.print(
        f"{escape(diag.file)}:{diag.line}:{diag.col}: [{_STYLE[diag.severity]}]{diag.severity}[/]: "
        f"{escape(diag.message)} [dim]\\[{escape(diag.rule)}][/]"
    )


def render_diagnostics(diagnostics: Sequence[Diagnostic], console: Console) -> None:
    for diag in diagnostics:
        _line(diag, console)
    n = sum(1 for d in diagnostics if not d.is_warning)
    warned = len(diagnostics) - n
    more = f" and {plural(warned, 'warning')}" if warned else ""
    console.print(f"Found {plural(n, 'error')}{more}.")


def render_warnings(warnings: Sequence[Diagnostic], console: Console) -> None:
    """A valid workspace's warnings, one line each."""
    for diag in warnings:
        _line(diag, console)


def diagnostics_to_json(diagnostics: Sequence[Diagnostic]) -> list[dict[str, Any]]:
    """``seg validate -o json``: one object per problem, ``code`` being the rule."""
    return [
        {"file": d.file, "line": d.line, "col": d.col, "message": d.message, "code": d.rule,
         "severity": d.severity}
        for d in diagnostics
    ]
