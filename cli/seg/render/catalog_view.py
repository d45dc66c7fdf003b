"""``seg catalog list`` and ``seg catalog show`` as text, from the API's JSON form of the
entries. Every line goes through ``write_lines``, which escapes what a private entry could
smuggle in (control, line-break and bidi characters)."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

from seg.render.plan_text import Line

__all__ = ["entry_lines", "list_lines", "summary"]

_COLUMNS = ("ID", "SECTION", "NAME", "MODES", "PRIVATE")


def summary(entry: Mapping[str, Any]) -> dict[str, Any]:
    """What ``seg catalog list`` shows of an entry."""
    return {
        "id": entry.get("id", ""),
        "section": entry.get("section", ""),
        "display_name": entry.get("display_name", ""),
        "connection_modes": list(entry.get("connection_modes") or []),
        "private": bool(entry.get("private")),
    }


def list_lines(entries: Sequence[Mapping[str, Any]]) -> list[Line]:
    """One row per entry under a header, in aligned columns."""
    rows = [(str(s["id"]), str(s["section"]), str(s["display_name"]),
             ",".join(map(str, s["connection_modes"])), "yes" if s["private"] else "no")
            for s in map(summary, entries)]  # fmt: skip
    widths = [max(len(row[i]) for row in [_COLUMNS, *rows]) for i in range(len(_COLUMNS))]

    def line(row: Sequence[str]) -> str:
        return "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))

    out: list[Line] = [("bold", line(_COLUMNS).rstrip())]
    out += [("", line(row).rstrip()) for row in rows]
    out.append(("dim", f"{len(rows)} entr{'y' if len(rows) == 1 else 'ies'}"))
    return out


def _value(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


def _setting_line(name: str, setting: Mapping[str, Any]) -> str:
    parts = [str(setting.get("type", "string"))]
    if setting.get("required"):
        parts.append("required")
    if setting.get("secret"):
        parts.append("secret")
    if "default" in setting:
        parts.append(f"default {_value(setting['default'])}")
    if setting.get("enum") is not None:
        parts.append("one of " + ", ".join(_value(v) for v in setting["enum"]))
    text = f"    {name}: {'; '.join(parts)}"
    if setting.get("description"):
        text += f" — {setting['description']}"
    return text


def _action_lines(key: str, action: Mapping[str, Any]) -> list[Line]:
    out: list[Line] = [("bold", f"    {key} ({action.get('name') or key})")]
    trigger = action.get("default_trigger") or "none"
    out.append(("", f"      default trigger: {trigger}"))
    fields = action.get("fields") or {}
    for name, spec in fields.items():
        required = isinstance(spec, Mapping) and spec.get("required")
        out.append(("", f"      {name}{' (required)' if required else ''}"))
    if not fields:
        out.append(("dim", "      no fields"))
    if action.get("custom_fields"):
        out.append(("", f"      also fields matching {action['custom_fields']}"))
    return out


def entry_lines(entry: Mapping[str, Any]) -> list[Line]:
    """An entry: what it is, its settings and, for an Actions destination, its actions."""
    head = f"{entry.get('id')} ({entry.get('section')}): {entry.get('display_name')}"
    modes = ", ".join(map(str, entry.get("connection_modes") or []))
    out: list[Line] = [("bold", head + ("  [private]" if entry.get("private") else ""))]
    if entry.get("category"):
        out.append(("", f"  category: {entry['category']}"))
    if entry.get("description"):
        out.append(("", f"  {entry['description']}"))
    out.append(("", f"  connection modes: {modes}"))
    settings = entry.get("settings")
    if settings is None:
        out.append(("", "  settings: any (no schema; secrets are guessed from key names)"))
    elif not settings:
        out.append(("", "  settings: none"))
    else:
        out.append(("", "  settings:"))
        out += [("", _setting_line(name, s)) for name, s in settings.items()]
    actions = entry.get("actions") or {}
    if actions:
        out.append(("", "  actions:"))
        for key, action in actions.items():
            out += _action_lines(key, action)
    return out
