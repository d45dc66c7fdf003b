"""Shared value formatting for plan views."""

from __future__ import annotations

import difflib
import json
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from seg.engine.plan import Change
from seg.model.kinds import Kind
from seg.model.paths import MISSING, get_path, set_path
from seg.model.printable import display_path, escape_line
from seg.model.secrets import REDACTED
from seg.tracking.rules import diff_rules, rule_label

__all__ = [
    "NOT_COMPARED",
    "code_diff",
    "describe",
    "field_lines",
    "flatten",
    "included_note",
    "not_compared_line",
    "notice_lines",
    "show",
    "version_lines",
]

# A declared value whose ${env:…} variable is not set (--missing-secrets=skip).
NOT_COMPARED = "(not compared: variable not set)"

def notice_lines(changes: Iterable[Change]) -> list[str]:
    """What reviewers must not miss (``Kind.notices``: changes that make the platform drop
    data), one escaped line each, prefixed by the resource; from redacted values."""
    out = []
    for change in changes:
        hook = change.kind.notices
        if hook is None or change.action.value == "blocked":
            continue
        before = None if change.action.value == "create" else change.redacted_before()
        after = None if change.action.value == "delete" else change.redacted_after()
        out += [escape_line(f"{change.kind.name} {change.address}: {text}")
                for text in hook(before, after)]  # fmt: skip
    return out


DESCRIPTIONS = {
    "create": "will be created",
    "update": "will be updated in place",
    "delete": "will be destroyed",
    "replace": "must be replaced",
    "blocked": "is blocked",
}


def show(value: Any) -> str:
    """A value as it appears in a plan line: JSON, non-ASCII text kept readable, but C0, C1
    and bidi controls escaped (``\\u202e``) so a value cannot drive the terminal."""
    if value in (REDACTED, NOT_COMPARED):
        return str(value)
    return escape_line(json.dumps(value, ensure_ascii=False, sort_keys=True), keep_tab=False)


def flatten(fields: Mapping[str, Any] | None) -> Iterator[tuple[str, Any]]:
    """(dotted path for display, leaf value) pairs, in key order."""

    def walk(value: Any, path: tuple[str, ...]) -> Iterator[tuple[str, Any]]:
        if isinstance(value, dict) and value:
            for key in sorted(value):
                yield from walk(value[key], (*path, str(key)))
        else:
            yield display_path(path), value

    for key in sorted(fields or {}):
        yield from walk((fields or {})[key], (key,))


def describe(change: Change) -> str:
    if change.adopt and change.action.value == "update":
        return "will be adopted (managed from now on)"
    return DESCRIPTIONS[change.action.value]


def included_note(change: Change) -> str:
    """Why a targeted plan holds a change no target names: ``(included: web/amp depends on
    it)``; empty for the targets' own changes."""
    if not change.included_by:
        return ""
    verb = "depends" if len(change.included_by) == 1 else "depend"
    return escape_line(f"(included: {', '.join(change.included_by)} {verb} on it)")


def not_compared_line(change: Change) -> str:
    """The values of a change that were neither compared nor would be sent."""
    if not change.not_compared:
        return ""
    return f"not compared (variable not set): {', '.join(map(display_path, change.not_compared))}"


def _shown_after(change: Change) -> dict[str, Any]:
    shown = change.redacted_after() or {}
    for path in change.not_compared:
        if get_path(shown, path) is not MISSING:
            set_path(shown, path, NOT_COMPARED)
    return shown


def _text_diff(path: str, before: str, after: str) -> list[tuple[str, str]]:
    """A multi-line value (a model's SQL) as a compact line diff."""
    lines = [("~", f"{path}:")]
    diff = difflib.unified_diff(before.splitlines(), after.splitlines(), lineterm="", n=1)
    for line in list(diff)[2:]:
        if line.startswith("@@"):
            lines.append(("", "    ..."))
        else:
            lines.append((" ", f"   {line[0]} {escape_line(line[1:])}"))
    return lines


def _multiline(value: Any) -> bool:
    return isinstance(value, str) and "\n" in value


def _schema_lines(before: Any, after: Any) -> list[tuple[str, str]]:
    old = json.dumps(before, indent=1, sort_keys=True).splitlines()
    new = json.dumps(after, indent=1, sort_keys=True).splitlines()
    return [(" ", f"       {line[0]} {line[1:].strip()}")
            for line in list(difflib.unified_diff(old, new, lineterm="", n=0))[2:]
            if not line.startswith("@@")]  # fmt: skip


def _rules_lines(before: Any, after: Any) -> list[tuple[str, str]]:
    """A tracking plan's rules as rule-level changes: added, removed, changed (with a compact
    diff of the schema)."""
    diff = diff_rules(before if isinstance(before, list) else [], after or [])
    lines = [("~", f"rules: {len(diff.added)} added, {len(diff.removed)} removed, "
                   f"{len(diff.changed)} changed")]  # fmt: skip
    lines += [("+", f"  rule {escape_line(rule_label(r))}") for r in diff.added]
    lines += [("-", f"  rule {escape_line(rule_label(r))}") for r in diff.removed]
    for old, new in diff.changed:
        lines.append(("~", f"  rule {escape_line(rule_label(new))}: json_schema"))
        lines += _schema_lines(old.get("json_schema"), new.get("json_schema"))
    return lines


def access_summary(change: Change) -> str:
    """One line saying what an access change grants or revokes (for reviewers)."""
    # redacted: a member or subject from ${env:…} is (sensitive) here like everywhere else
    fields = change.redacted_after() or change.redacted_before() or {}
    verb = {"create": "grants", "delete": "revokes", "update": "changes", "replace": "re-grants",
            "blocked": "would change"}[change.action.value]  # fmt: skip
    summary = change.kind.summary
    if summary is not None:
        return escape_line(summary(change.action.symbol, verb, change.address,
                                   change.action.value, fields))  # fmt: skip
    return escape_line(
        f"{change.action.symbol} {change.kind.noun} {change.address} {change.action.value}"
    )


def _rule_field(kind: Kind) -> str | None:
    """The field whose items are tracking-plan rules (shown as rule diffs), if any."""
    return next((spec.name for spec in kind.fields if spec.rule_items), None)


def _versioned_field(change: Change) -> str | None:
    """The versioned field (a function's code) when the change makes a version."""
    versioning = change.kind.versioning
    return versioning.field if versioning is not None and change.version is not None else None


def code_diff(change: Change) -> list[str]:
    """The versioned field's change as a unified diff of its file (``--- functions/x.js``,
    ``+++``, hunks with 3 lines of context), each line escaped; empty when the change makes
    no version or the value is hidden."""
    name = _versioned_field(change)
    note = change.version
    if name is None or note is None:
        return []
    fc = next((f for f in change.field_changes if f.path == (name,)), None)
    if fc is None or fc.sensitive or not isinstance(fc.after, str):
        return []
    before = fc.before if isinstance(fc.before, str) else ""
    diff = difflib.unified_diff(before.splitlines(), fc.after.splitlines(), note.file,
                                note.file, lineterm="")  # fmt: skip
    return [escape_line(line, keep_tab=False) for line in diff]


def version_lines(change: Change) -> list[tuple[str, str]]:
    """Which version the change makes and who receives it: the declared instances when
    deploy is latest (or pins the new version), else the version they stay on."""
    note = change.version
    if note is None:
        return []
    symbol = "+" if note.before == 0 and note.after else "~"
    made = f"v{note.after}" if note.after else "the new version"
    if note.deploys or note.pinned == note.after:
        if not note.instances:
            return [(symbol, f"deploys {made} (no instance declared)")]
        listed = ", ".join(f"{kind} {address}" for kind, address in note.instances)
        return [(symbol, escape_line(f"deploys {made} to: {listed}"))]
    return [(symbol, f"instances stay on v{note.pinned} (deploy: {note.pinned})")]


def _version_heading(change: Change, name: str, diff_inline: bool) -> list[tuple[str, str]]:
    note = change.version
    assert note is not None
    if not note.after:
        heading = [("~", f"{name}: a new version")]
    elif note.before == 0:
        heading = [("+", f"{name}: v{note.after} ({escape_line(note.file)})")]
    else:
        heading = [("~", f"{name}: v{note.before} → v{note.after}")]
    diff = [("", f"    {line}".rstrip()) for line in code_diff(change)] if diff_inline else []
    return heading + diff


def field_lines(change: Change, diff_inline: bool = True) -> list[tuple[str, str]]:
    """(symbol, text) detail lines for a change, secrets redacted. A versioned field (a
    function's code) shows its version and, with ``diff_inline``, its unified diff (the
    markdown view puts the diff in a block of its own)."""
    versioned = _versioned_field(change)
    if change.field_changes:
        lines = []
        for fc in change.field_changes:
            if fc.path == (_rule_field(change.kind),):
                lines += _rules_lines(fc.before, fc.after)
                continue
            if versioned is not None and fc.path == (versioned,) and not fc.sensitive:
                lines += _version_heading(change, versioned, diff_inline)
                continue
            if not fc.sensitive and _multiline(fc.before) and _multiline(fc.after):
                lines += _text_diff(display_path(fc.path), fc.before, fc.after)
                continue
            before = REDACTED if fc.sensitive else show(fc.before)
            after = "(cleared)" if fc.cleared else REDACTED if fc.sensitive else show(fc.after)
            text = (
                f"{display_path(fc.path)}: {after}"
                if fc.sensitive
                else f"{display_path(fc.path)}: {before} → {after}"
            )
            lines.append(("~", text))
        return lines + version_lines(change)
    if change.action.value in ("create", "replace", "blocked") and change.after is not None:
        shown = _shown_after(change)
        rule_field = _rule_field(change.kind)
        rules = shown.pop(rule_field, None) if rule_field else None
        code = shown.pop(versioned, None) if versioned else None
        lines = [("+", f"{p}: {show(v)}") for p, v in flatten(shown)]
        if rules is not None:
            lines.append(("+", f"rules: {len(rules)}"))
            lines += [("+", f"  rule {escape_line(rule_label(r))}") for r in rules]
        if versioned is not None and code is not None:
            lines += _created_version(change, versioned, code)
        return lines
    return []


def _created_version(change: Change, name: str, code: Any) -> list[tuple[str, str]]:
    """A new versioned resource: its first version, the file and its size, who runs it."""
    note = change.version
    assert note is not None
    if not isinstance(code, str) or code == REDACTED:
        return [("+", f"{name}: {show(code)}")]
    count = len(code.splitlines())
    noun = "line" if count == 1 else "lines"
    return [("+", f"{name}: v{note.after} ({escape_line(note.file)}, {count} {noun})"),
            *version_lines(change)]  # fmt: skip
