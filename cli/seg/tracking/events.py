"""Checking sample events against a tracking plan, the way Protocols validates them.

- The event's version is ``context.protocols.event_version`` (an integer); a missing or
  unknown version uses the oldest version of the matching rule.
- COMMON rules validate the whole payload; TRACK rules are chosen by ``event`` and PAGE/SCREEN
  by ``name``, and validate the whole payload; IDENTIFY/GROUP validate ``traits``.
- A track event with no TRACK rule is reported as unplanned.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from seg.tracking.rules import rule_label

if TYPE_CHECKING:
    import jsonschema

__all__ = ["Violation", "check_event", "planned_fields"]

_KINDS = {
    "required": "required missing",
    "type": "invalid type",
    "enum": "not a permitted value",
    "const": "not a permitted value",
    "pattern": "does not match pattern",
    "format": "invalid format",
    "additionalProperties": "unplanned property",
    "minimum": "out of range",
    "maximum": "out of range",
    "minLength": "too short",
    "maxLength": "too long",
}
_CALLS = {"track": "TRACK", "identify": "IDENTIFY", "group": "GROUP", "page": "PAGE",
          "screen": "SCREEN"}  # fmt: skip


@dataclass(frozen=True)
class Violation:
    path: str
    kind: str
    message: str
    rule: str


@lru_cache(maxsize=512)
def _validator(schema_json: str) -> jsonschema.Draft7Validator:
    import jsonschema  # loaded by the first event checked, not by every command

    checker = jsonschema.Draft7Validator.FORMAT_CHECKER
    return jsonschema.Draft7Validator(json.loads(schema_json), format_checker=checker)


def _version(event: Mapping[str, Any]) -> int | None:
    context = event.get("context")
    protocols = context.get("protocols") if isinstance(context, dict) else None
    value = protocols.get("event_version") if isinstance(protocols, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _pick(rules: list[Mapping[str, Any]], version: int | None) -> Mapping[str, Any] | None:
    if not rules:
        return None
    by_version = {int(r["version"]): r for r in rules}
    return by_version.get(version) if version in by_version else by_version[min(by_version)]


def _violations(rule: Mapping[str, Any], value: Any, base: str) -> list[Violation]:
    validator = _validator(json.dumps(rule.get("json_schema", {}), sort_keys=True))
    out = []
    for error in sorted(validator.iter_errors(value), key=lambda e: list(map(str, e.path))):
        parts = [base] if base else []
        parts += [str(p) for p in error.absolute_path]
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = error.message.split("'")[1] if "'" in error.message else ""
            parts.append(missing)
        path = ".".join(p for p in parts if p) or "(root)"
        kind = _KINDS.get(str(error.validator), str(error.validator))
        out.append(Violation(path, kind, error.message, rule_label(rule)))
    return out


def check_event(rules: Iterable[Mapping[str, Any]], event: Mapping[str, Any]) -> list[Violation]:
    """Every violation of ``event`` against the plan's ``rules``."""
    rules = list(rules)
    version = _version(event)
    found: list[Violation] = []
    common = [r for r in rules if r.get("type") == "COMMON"]
    picked = _pick(common, version)
    if picked is not None:
        found += _violations(picked, event, "")
    call = _CALLS.get(str(event.get("type", "")).lower())
    if call in ("IDENTIFY", "GROUP"):
        picked = _pick([r for r in rules if r.get("type") == call], version)
        if picked is not None:
            found += _violations(picked, event.get("traits") or {}, "traits")
    elif call is not None:
        name = event.get("event") if call == "TRACK" else event.get("name")
        candidates = [r for r in rules if r.get("type") == call
                      and (call != "TRACK" or r.get("key") == name)]  # fmt: skip
        picked = _pick(candidates, version)
        if picked is not None:
            found += _violations(picked, event, "")
        elif call == "TRACK":
            found.append(Violation("event", "unplanned event",
                                   f"event {name!r} is not in the tracking plan", "-"))  # fmt: skip
    return found


def planned_fields(rules: Iterable[Mapping[str, Any]], event: Mapping[str, Any]
                   ) -> tuple[str, frozenset[str]] | None:  # fmt: skip
    """What the plan defines for ``event``: the object it checks (``properties`` of a track
    event, ``traits`` of an identify or group call) and the names its rule's JSON schema
    lists there; None when no rule of the plan picks the event (or it is another call)."""
    rules = list(rules)
    call = _CALLS.get(str(event.get("type", "")).lower())
    if call == "TRACK":
        candidates = [r for r in rules
                      if r.get("type") == call and r.get("key") == event.get("event")]
        where = "properties"
    elif call in ("IDENTIFY", "GROUP"):
        candidates = [r for r in rules if r.get("type") == call]
        where = "traits"
    else:
        return None
    picked = _pick(candidates, _version(event))
    if picked is None:
        return None
    schema = picked.get("json_schema") or {}
    if call == "TRACK":  # the rule's schema is of the whole event
        schema = ((schema.get("properties") or {}).get("properties") or {})
    names = schema.get("properties") if isinstance(schema, Mapping) else None
    return where, frozenset(names) if isinstance(names, Mapping) else frozenset()
