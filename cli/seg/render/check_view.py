"""Reports of ``seg check``: text, JSON, GitHub annotations and a step-summary table."""

from __future__ import annotations

import html
from typing import Any

from rich.console import Console

from seg.ci.check import CheckResult, Finding
from seg.model.printable import escape_line
from seg.model.wording import plural
from seg.render.plan_text import Line, write_lines

__all__ = ["check_markdown", "check_to_json", "github_annotations", "render_check_text"]


def _where(finding: Finding) -> str:
    return str(finding.origin) if finding.origin else "?"


def render_check_text(result: CheckResult, console: Console) -> None:
    lines: list[Line] = []
    for f in result.findings:
        if f.blocked:
            lines.append(("bold red", f"BLOCKED  Model {f.model} ({f.change}) at {_where(f)}"))
            lines.append(("", f"         {f.message}"))
            lines += [("", f"         query file: {path}") for path in f.files]
        else:
            lines.append(("green", f"ok       Model {f.model} ({f.change}): {f.message}"))
    blocked = len(result.blocked)
    if not result.findings:
        lines.append(("", "No model changes."))
    summary = (
        f"seg check ({result.policy} policy): {plural(len(result.findings), 'changed model')}, "
        f"{blocked} blocked."
    )
    lines.append(("bold red" if blocked else "bold", summary))
    if blocked:
        lines.append(("", "Disable or remove the mappings named above in the same change, "
                          "or revert the model change."))  # fmt: skip
    write_lines(lines, console)


def check_to_json(result: CheckResult) -> dict[str, Any]:
    return {
        "format_version": "1.0",
        "policy": result.policy,
        "blocked": len(result.blocked),
        "findings": [
            {
                "model": f.model,
                "change": f.change,
                "blocked": f.blocked,
                "message": f.message,
                "mappings": list(f.mappings),
                "file": f.origin.file if f.origin else None,
                "line": f.origin.line if f.origin else None,
                "query_files": list(f.files),
            }
            for f in result.findings
        ],
    }


def _escape_annotation(text: str) -> str:
    return text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")


def github_annotations(result: CheckResult) -> str:
    """``::error`` workflow commands, one per blocked model."""
    out = []
    for f in result.blocked:
        where = f"file={f.origin.file},line={f.origin.line}," if f.origin else ""
        line = f"::error {where}title=seg check: model {f.model}::{_escape_annotation(f.message)}"
        out.append(escape_line(line, keep_tab=False))  # a control in a name: the log acts on it
    return "".join(line + "\n" for line in out)


def check_markdown(result: CheckResult) -> str:
    lines = [
        "### seg check: models in use",
        "",
        f"Policy `{result.policy}`: {plural(len(result.findings), 'changed model')}, "
        f"{len(result.blocked)} blocked.",
        "",
    ]
    if result.findings:
        lines += ["| model | change | verdict | mappings | where |", "|---|---|---|---|---|"]
        for f in result.findings:
            model = escape_line(f.model, keep_tab=False)
            verdict = "**blocked**" if f.blocked else "ok"
            mappings = ", ".join(f"`{m}`" for m in f.mappings) or "—"
            where = escape_line(_where(f), keep_tab=False).replace("|", "\\|")
            lines.append(f"| `{model}` | {f.change} | {verdict} | {mappings} | `{where}` |")
        for f in result.blocked:
            model, message = (escape_line(text, keep_tab=False) for text in (f.model, f.message))
            lines += ["", f"- `{model}`: {html.escape(message)}"]
    return "\n".join(lines) + "\n"
