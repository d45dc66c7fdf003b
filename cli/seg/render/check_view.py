"""Reports of ``seg check``: text, JSON, GitHub annotations and a step-summary table."""

from __future__ import annotations

import html
import re
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
            lines.append(("bold red", f"BLOCKED  {f.noun} {f.model} ({f.change}) at {_where(f)}"))
            lines.append(("", f"         {f.message}"))
            lines += [("", f"         query file: {path}") for path in f.files]
        else:
            lines.append(("green", f"ok       {f.noun} {f.model} ({f.change}): {f.message}"))
    blocked = len(result.blocked)
    if not result.findings:
        lines.append(("", f"No {result.noun} changes."))
    lines += [("yellow", f"note: {note}") for note in result.notes]
    summary = (
        f"seg check ({result.policy} policy): "
        f"{plural(len(result.findings), 'changed ' + result.noun)}, {blocked} blocked."
    )
    lines.append(("bold red" if blocked else "bold", summary))
    if blocked:
        lines.append(("", result.advice))
    write_lines(lines, console)


def check_to_json(result: CheckResult) -> dict[str, Any]:
    return {
        "format_version": "1.0",
        "policy": result.policy,
        "blocked": len(result.blocked),
        "notes": list(result.notes),
        "findings": [
            {
                "model": f.model,
                "subject": f.noun,
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


def _escape_property(text: str) -> str:
    """A workflow command's property value: ``,`` and ``:`` end it, so they are escaped too
    (a file named ``a,line=1.sql`` must not add a property)."""
    return _escape_annotation(text).replace(":", "%3A").replace(",", "%2C")


def github_annotations(result: CheckResult) -> str:
    """``::error`` workflow commands, one per blocked model; a ``::notice`` per note."""
    out = [f"::notice title=seg check::{_escape_annotation(note)}" for note in result.notes]
    for f in result.blocked:
        where = (f"file={_escape_property(f.origin.file)},line={f.origin.line},"
                 if f.origin else "")  # fmt: skip
        title = _escape_property(f"seg check: {f.noun.lower()} {f.model}")
        out.append(f"::error {where}title={title}::{_escape_annotation(f.message)}")
    # a control in a name: the log acts on it
    out = [escape_line(line, keep_tab=False) for line in out]
    return "".join(line + "\n" for line in out)


_MARKUP = re.compile(r"([\\`*_\[\]|~])")


def _md_text(text: str) -> str:
    """Prose in markdown: one line, HTML escaped, and no character that starts emphasis, a
    link, an image, code or a table cell (a dbt file name is anything)."""
    return _MARKUP.sub(r"\\\1", html.escape(escape_line(text, keep_tab=False)))


def _md_code(text: str, cell: bool = True) -> str:
    """``text`` as a code span that a backtick in it cannot close (and, in a table cell, with
    ``|`` escaped: the table splits cells before code spans are read)."""
    text = escape_line(text, keep_tab=False)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if longest else ""
    span = f"{fence}{pad}{text}{pad}{fence}"
    return span.replace("|", "\\|") if cell else span


def check_markdown(result: CheckResult) -> str:
    lines = [
        "### seg check: models in use",
        "",
        f"Policy `{result.policy}`: {plural(len(result.findings), 'changed ' + result.noun)}, "
        f"{len(result.blocked)} blocked.",
        "",
    ]
    for note in result.notes:
        lines += [f"> note: {_md_text(note)}", ""]
    if result.findings:
        lines += [f"| {result.noun} | change | verdict | mappings | where |",
                  "|---|---|---|---|---|"]  # fmt: skip
        for f in result.findings:
            verdict = "**blocked**" if f.blocked else "ok"
            mappings = ", ".join(_md_code(m) for m in f.mappings) or "—"
            lines.append(f"| {_md_code(f.model)} | {f.change} | {verdict} | {mappings} | "
                         f"{_md_code(_where(f))} |")  # fmt: skip
        for f in result.blocked:
            lines += ["", f"- {_md_code(f.model, cell=False)}: {_md_text(f.message)}"]
    return "\n".join(lines) + "\n"
