"""Drift (``seg drift``) and what ``seg sync`` wrote: text, JSON and markdown, from one report.

Values pass ``show`` (escaped JSON); a sensitive field or a secret digest is only ever
``(sensitive)``.
"""

from __future__ import annotations

import html
from typing import Any

from seg.engine.drift import DriftReport, FieldDrift, ResourceDrift, Side, What
from seg.engine.plan import redact
from seg.model.paths import MISSING
from seg.model.printable import display_path, escape_line
from seg.model.secrets import REDACTED, holds_digest
from seg.model.wording import plural
from seg.render.values import show

__all__ = ["drift_json", "drift_lines", "drift_markdown", "field_json", "summary_line",
           "value_text"]  # fmt: skip

_SYMBOL = {What.CHANGED: "~", What.CREATED: "+", What.DELETED: "-"}
_WHAT = {
    What.CHANGED: "changed outside seg",
    What.CREATED: "created outside seg",
    What.DELETED: "deleted outside seg",
}


def value_text(value: Any, sensitive: bool = False) -> str:
    if value is MISSING:
        return "(not set)"
    if sensitive or holds_digest(value):
        return REDACTED
    return show(value)


def _value_json(value: Any, sensitive: bool) -> Any:
    if value is MISSING:
        return None
    if sensitive or holds_digest(value):
        return REDACTED
    return value


def _by(who: str, when: str) -> str:
    if not who and not when:
        return ""
    parts = [f"by {who}" if who else "", f"at {when}" if when else ""]
    return " — " + " ".join(p for p in parts if p)


def _field_line(f: FieldDrift) -> str:
    path = display_path(f.path)
    live, declared = value_text(f.live, f.sensitive), value_text(f.declared, f.sensitive)
    if f.side is Side.CONFLICT:
        base = value_text(f.base, f.sensitive)
        return (f"{path}: conflict — git changed it ({base} → {declared}) and the control "
                f"plane changed it ({base} → {live}){_by(f.who, f.when)}")  # fmt: skip
    return f"{path}: {live} on the control plane, {declared} in the tree{_by(f.who, f.when)}"


def summary_line(report: DriftReport) -> str:
    if not report.resources:
        return "No drift: the control plane holds what the tree declares (or what it will "\
               "after an apply)." if report.pending else "No drift."
    drifted = sum(1 for r in report.resources if r.side is Side.DRIFT)
    conflicts = len(report.conflicts)
    parts = [f"{plural(drifted, 'resource')} drifted"]
    if conflicts:
        parts.append(plural(conflicts, "conflict"))
    if report.pending:
        parts.append(f"{plural(report.pending, 'change')} in git not applied yet")
    return ", ".join(parts) + "."


def _since(report: DriftReport) -> str:
    since = report.since
    if since.run is None:
        return "no apply of this tree is recorded: the audit trail decides what changed outside seg"
    revision = f" of {since.git_revision[:12]}" if since.git_revision else ""
    base = "" if since.base_known else " (that revision is not readable here: the audit "\
                                       "trail decides)"
    return f"since apply {since.run}{revision} at {since.time}{base}"


def drift_lines(report: DriftReport) -> list[str]:
    lines = [escape_line(f"Drift in workspace {report.workspace}, {_since(report)}:"), ""]
    for res in report.resources:
        head = f"{_SYMBOL[res.what]} {res.kind.key} {res.address}: {_WHAT[res.what]}"
        if res.what is not What.CHANGED:
            head += " (conflict: the tree changed it too)" if res.side is Side.CONFLICT else ""
            head += _by(res.who, res.when)
        lines.append(escape_line(head))
        lines += [escape_line("    " + _field_line(f)) for f in res.fields]
    if report.resources:
        lines.append("")
    lines.append(summary_line(report))
    if report.resources:
        lines.append("Adopt it into the tree with seg sync, or revert it with seg apply.")
    return lines


def field_json(f: FieldDrift) -> dict[str, Any]:
    return {
        "path": display_path(f.path),
        "side": f.side.value,
        "live": _value_json(f.live, f.sensitive),
        "declared": _value_json(f.declared, f.sensitive),
        "base": _value_json(f.base, f.sensitive),
        "sensitive": f.sensitive,
        "who": f.who or None,
        "when": f.when or None,
    }


def _resource_json(res: ResourceDrift) -> dict[str, Any]:
    out: dict[str, Any] = {
        "kind": res.kind.key,
        "address": res.address,
        "change": res.what.value,
        "side": res.side.value,
        "who": res.who or None,
        "when": res.when or None,
        "fields": [field_json(f) for f in res.fields],
    }
    if res.live is not None:
        out["live"] = redact(res.live.fields, frozenset())
    return out


def drift_json(report: DriftReport) -> dict[str, Any]:
    since = report.since
    return {
        "workspace": report.workspace,
        "since": {"apply": since.run, "time": since.time, "git_revision": since.git_revision,
                  "base_read": since.base_known},
        "drift": [_resource_json(r) for r in report.resources],
        "summary": {
            "drifted": sum(1 for r in report.resources if r.side is Side.DRIFT),
            "conflicts": len(report.conflicts),
            "pending": report.pending,
        },
    }


# Characters that make markdown of a value: a table cell's end, code, a link or an image
# (``[text](url)``, ``![…](…)``), a mention (``@team``), emphasis, an escape. The pull request
# the drift workflow opens as the repository's bot shows them as the characters they are.
_MARKDOWN = str.maketrans({c: f"&#{ord(c)};" for c in "|`[]!@*~\\"})


def _cell(text: str) -> str:
    return html.escape(escape_line(text)).translate(_MARKDOWN)


def drift_markdown(report: DriftReport) -> str:
    lines = [f"### seg drift: {_cell(report.workspace)}", "", _cell(_since(report)), ""]
    if report.resources:
        lines += ["| | resource | field | control plane | tree | who | when |",
                  "|---|---|---|---|---|---|---|"]  # fmt: skip
    for res in report.resources:
        name = f"{res.kind.key} {res.address}"
        if res.what is not What.CHANGED:
            what = _WHAT[res.what] + (" (conflict)" if res.side is Side.CONFLICT else "")
            lines.append(f"| {_SYMBOL[res.what]} | {_cell(name)} | {what} | | | "
                         f"{_cell(res.who)} | {_cell(res.when)} |")  # fmt: skip
        for f in res.fields:
            mark = "⚠ conflict" if f.side is Side.CONFLICT else "~"
            lines.append(
                f"| {mark} | {_cell(name)} | {_cell(display_path(f.path))} | "
                f"{_cell(value_text(f.live, f.sensitive))} | "
                f"{_cell(value_text(f.declared, f.sensitive))} | {_cell(f.who)} | "
                f"{_cell(f.when)} |"
            )
    lines += ["", _cell(summary_line(report))]
    return "\n".join(lines) + "\n"
