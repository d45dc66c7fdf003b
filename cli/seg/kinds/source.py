"""Source: where events come from (a website, a warehouse); it owns destinations and models,
carries labels, connects to at most one tracking plan, and holds its schema settings: what the
connected plan enforces (track, identify, group), where blocked events and violations are
forwarded, and the event block list used without a plan."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from seg.kinds import tracking_plan
from seg.kinds.catalogs import FUNCTION_PREFIX, catalog_rule, entry_for
from seg.kinds.shared import readable_names, reconnect_rule
from seg.kinds.warehouse import connected_warehouses
from seg.model.kinds import AccessScope, Code, FieldSpec, Kind, Lookup, Ref, Subject, Violation
from seg.model.values import json_equal
from seg.model.wording import plural

__all__ = ["KIND"]


def _references(fields: Mapping[str, Any]) -> list[Ref]:
    """Its labels, the source function it deploys (``catalog: function:<name>``), and the
    sources it forwards blocked events and violations to."""
    out: list[Ref] = [(SOURCE, target, (SCHEMA_SETTINGS, key))
                      for key, target in _targets(fields).items()]  # fmt: skip
    catalog = fields.get("catalog")
    if isinstance(catalog, str) and catalog.startswith(FUNCTION_PREFIX):
        out.append(("Function", catalog.removeprefix(FUNCTION_PREFIX), ("catalog",)))
    labels = fields.get("labels")
    if isinstance(labels, dict):
        out += [("Label", f"{k}:{v}", ("labels", str(k))) for k, v in labels.items()]
    return out


def _connected(subject: Subject, lookup: Lookup) -> list[Violation]:
    """A source connected to a warehouse is disconnected (the warehouse's ``sources``) before
    it is deleted; only warehouses the caller may read are named."""
    found = connected_warehouses(lookup, subject.address)
    if not found:
        return []
    names = readable_names(subject, [("Warehouse", w, w) for w in found], "warehouse")
    message = (f"source {subject.address} is connected to warehouses {names}; disconnect it "
               "(the warehouse's sources) before deleting it")  # fmt: skip
    return [Violation((), message, "source/connected", Code.FAILED_PRECONDITION)]


SOURCE = "Source"
SCHEMA_SETTINGS = "schema_settings"
BLOCKED_EVENTS = "blocked_events"
COMMON = "common_event_on_violations"
TRACK_FLAGS = ("allow_unplanned_events", "allow_unplanned_event_properties",
               "allow_event_on_violations", "allow_properties_on_violations")  # fmt: skip
TRAIT_FLAGS = ("allow_unplanned_traits", "allow_traits_on_violations")
# Per call: its flags (each true by default) and the canonical common-violation actions.
CALLS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "track": (TRACK_FLAGS, ("ALLOW", "BLOCK", "OMIT_PROPERTIES")),
    "identify": (TRAIT_FLAGS, ("ALLOW", "BLOCK", "OMIT_TRAITS")),
    "group": (TRAIT_FLAGS, ("ALLOW", "BLOCK", "OMIT_TRAITS")),
}
ALLOW = "ALLOW"
# Where blocked events and violations go (a Source's name; absent: not forwarded).
FORWARDING = ("forwarding_blocked_events_to", "forwarding_violations_to")
# The schema page shows a source's first 4,000 events; tracking-plan event names are ≤ 200.
MAX_BLOCKED_EVENTS = 4000
MAX_EVENT_NAME = 200
SERVER_CATEGORY = "server"

# The docs' spellings of a common-violation action (words in any case, joined by one space,
# "_" or "-": "Block Event", "Omit", "omit-properties", the API's "Block") → canonical, per
# call. OMIT_PROPERTIES on identify/group means its traits.
_OMIT = {"track": "OMIT_PROPERTIES", "identify": "OMIT_TRAITS", "group": "OMIT_TRAITS"}
SPELLINGS: dict[str, dict[str, str]] = {
    call: {"ALLOW": "ALLOW", "BLOCK": "BLOCK", "BLOCK_EVENT": "BLOCK", "OMIT": omit,
           omit: omit, **({"OMIT_PROPERTIES": omit} if call != "track" else {})}
    for call, omit in _OMIT.items()
}  # fmt: skip
_SEPARATOR = re.compile(r"[ _-]")


def _canonical_action(call: str, value: Any) -> Any:
    """A docs spelling of a common-violation action → canonical; anything else as it is
    (the schema refuses it)."""
    if not isinstance(value, str) or not value.isascii() or len(value) > 40:
        return value
    return SPELLINGS[call].get(_SEPARATOR.sub("_", value).upper(), value)


def _spelling_pattern(call: str) -> str:
    """The accepted spellings as one pattern: each letter in either case, "_" as [ _-]."""
    def word(key: str) -> str:
        return "".join("[ _-]" if c == "_" else f"[{c}{c.lower()}]" for c in key)

    return "^(?:" + "|".join(word(k) for k in sorted(SPELLINGS[call])) + ")$"


def normalize(fields: Mapping[str, Any]) -> dict[str, Any]:
    """Schema settings in canonical form: every omitted flag at its default (true), common
    actions in their canonical spelling (ALLOW by default), ``blocked_events`` sorted without
    duplicates. Nothing else changes, and a value of the wrong type stays as it is (the schema
    check refuses it). Fields without schema settings keep none: a source that declares none
    has the defaults (``Kind.defaults``; the field is ``closed``)."""
    out = dict(fields)
    settings = out.get(SCHEMA_SETTINGS)
    if not isinstance(settings, Mapping):
        return out
    settings = dict(settings)
    for call, (flags, _actions) in CALLS.items():
        part = settings.get(call, {})
        if not isinstance(part, Mapping):
            continue
        part = dict(part)
        for flag in flags:
            part.setdefault(flag, True)
        part[COMMON] = _canonical_action(call, part.get(COMMON, ALLOW))
        settings[call] = part
    events = settings.get(BLOCKED_EVENTS, [])
    if isinstance(events, list) and all(isinstance(e, str) for e in events):
        settings[BLOCKED_EVENTS] = sorted(set(events))
    out[SCHEMA_SETTINGS] = settings
    return out


# A source's schema settings when it declares none: every call allowed, nothing forwarded.
DEFAULT_SCHEMA_SETTINGS: dict[str, Any] = normalize({SCHEMA_SETTINGS: {}})[SCHEMA_SETTINGS]


def _settings(fields: Mapping[str, Any] | None) -> Mapping[str, Any]:
    value = (fields or {}).get(SCHEMA_SETTINGS)
    return value if isinstance(value, Mapping) else {}


def _part(settings: Mapping[str, Any], call: str) -> Mapping[str, Any]:
    value = settings.get(call)
    return value if isinstance(value, Mapping) else {}


def _targets(fields: Mapping[str, Any]) -> dict[str, str]:
    """Forwarding key → the source it names."""
    settings = _settings(fields)
    return {k: v for k in FORWARDING if isinstance(v := settings.get(k), str) and v}


def _events(settings: Mapping[str, Any]) -> list[str]:
    value = settings.get(BLOCKED_EVENTS)
    return [e for e in value if isinstance(e, str)] if isinstance(value, list) else []


def enforcing(fields: Mapping[str, Any] | None) -> list[tuple[tuple[str, ...], str]]:
    """Every setting that has a connected tracking plan drop, omit or forward data: (path
    under schema_settings, how it reads)."""
    settings = _settings(fields)
    out: list[tuple[tuple[str, ...], str]] = []
    for call, (flags, _actions) in CALLS.items():
        part = _part(settings, call)
        out += [((call, f), f"{call}.{f}: false") for f in flags if part.get(f) is False]
        common = part.get(COMMON)
        if isinstance(common, str) and common != ALLOW:
            out.append(((call, COMMON), f"{call}.{COMMON}: {common}"))
    out += [((k,), f"{k}: {v}") for k, v in _targets(fields or {}).items()]
    return out


def _needs_plan(subject: Subject, _lookup: Lookup) -> list[Violation]:
    """Enforcing settings (a flag turned off, a common action other than ALLOW, a forwarding
    target) need a connected tracking plan. Judged when the write changes the settings, so
    disconnecting the plan alone keeps them (stored, not enforced)."""
    if subject.fields.get("tracking_plan"):
        return []
    settings = _settings(subject.fields)
    if subject.before is not None and json_equal(_settings(subject.before), settings):
        return []
    found = enforcing(subject.fields)
    if not found:
        return []
    shown = ", ".join(text for _path, text in found[:3])
    if len(found) > 3:
        shown += f" and {len(found) - 3} more"
    message = (f"source {subject.address} is connected to no tracking plan, so its schema "
               f"settings cannot enforce one ({shown}); set tracking_plan, or leave them at "
               "their defaults")  # fmt: skip
    return [Violation((SCHEMA_SETTINGS, *found[0][0]), message, "source/schema-settings-plan")]


def _block_list(subject: Subject, _lookup: Lookup) -> list[Violation]:
    """The event block list applies only without a tracking plan (INV-SC-1); judged when the
    list or the plan changes."""
    plan = subject.fields.get("tracking_plan")
    events = _events(_settings(subject.fields))
    if not plan or not events:
        return []
    before = subject.before
    if (before is not None and before.get("tracking_plan") == plan
            and _events(_settings(before)) == events):  # fmt: skip
        return []
    message = (f"source {subject.address} is connected to tracking plan {plan}, and "
               "schema_settings.blocked_events applies only to a source connected to none; "
               f"empty it ({plural(len(events), 'event')}) and block unplanned events with "
               "schema_settings.track instead")  # fmt: skip
    return [Violation((SCHEMA_SETTINGS, BLOCKED_EVENTS), message, "source/blocked-events-plan")]


def _not_server_side(fields: Mapping[str, Any], lookup: Lookup) -> str:
    """Why a source cannot receive forwarded events ("" when it can: a server source)."""
    catalog = fields.get("catalog")
    if not isinstance(catalog, str):
        return "its type is unknown"
    entry = entry_for(lookup, "source", catalog)
    if entry is None:
        return f"its type {catalog!r} is not in the catalog"
    if entry.category == SERVER_CATEGORY:
        return ""
    if not entry.category:
        return f"its type {catalog!r} has no category in the catalog, so it is not known to be one"
    return f"its type {catalog!r} is a {entry.category} source"


def _forwarding(subject: Subject, lookup: Lookup) -> list[Violation]:
    """Forwarding targets are other, server-side sources (their existence is checked as a
    reference); judged when a target changes."""
    before = _targets(subject.before) if subject.before is not None else {}
    out = []
    for key, target in _targets(subject.fields).items():
        if before.get(key) == target:
            continue
        path = (SCHEMA_SETTINGS, key)
        where = f"source.{SCHEMA_SETTINGS}.{key}"
        if target == subject.address:
            message = f"{where}: a source cannot forward to itself ({target})"
            out.append(Violation(path, message, "source/forwarding-self"))
            continue
        fields = lookup.get(SOURCE, target)
        problem = _not_server_side(fields, lookup) if fields is not None else ""
        if problem:
            message = (f"{where}: events can be forwarded only to a server-side source "
                       f"(http-api, python, node, ...); {target} is not: {problem}")  # fmt: skip
            out.append(Violation(path, message, "source/forwarding-server"))
    return out


def _forwarded_to(subject: Subject, lookup: Lookup) -> list[Violation]:
    """A source others forward blocked events or violations to is not deleted; only sources
    the caller may read are named. A source whose catalog type is known not to be server-side
    was never accepted as a target: deleting it reads no other source (a plan deleting
    thousands of website sources would otherwise read every source once per delete)."""
    catalog = subject.fields.get("catalog")
    entry = entry_for(lookup, "source", catalog) if isinstance(catalog, str) else None
    if entry is not None and entry.category and entry.category != SERVER_CATEGORY:
        return []
    found = [address for address, fields in lookup.every(SOURCE)
             if address != subject.address
             and subject.address in _targets(fields).values()]  # fmt: skip
    if not found:
        return []
    names = readable_names(subject, [(SOURCE, a, a) for a in sorted(found)], "source")
    message = (f"source {subject.address} receives the blocked events or violations forwarded "
               f"by {names}; remove those forwarding settings before deleting it")  # fmt: skip
    return [Violation((), message, "source/forwarded-to", Code.FAILED_PRECONDITION)]


def _notices(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[str]:
    """Changes that make the platform drop data: a setting turned to block or omit, events
    added to the block list, a plan connected (or the source created) with such settings, a
    forwarding target removed while settings still block; and enforcing settings left without
    a plan."""
    if after is None:
        return []
    planned = bool(after.get("tracking_plan"))
    was_planned = before is not None and bool(before.get("tracking_plan"))
    now = enforcing(after)
    out = []
    if planned:
        old = {path for path, _text in enforcing(before)} if was_planned else set()
        turned = [text for path, text in now if path[0] not in FORWARDING and path not in old]
        if turned:
            if before is None:
                lead = "created with schema settings that drop data"
            elif not was_planned:
                lead = f"connected to tracking plan {after['tracking_plan']}, which now enforces"
            else:
                lead = "schema settings now drop data"
            out.append(f"{lead}: {', '.join(turned)}")
    elif was_planned and now:
        out.append("tracking plan disconnected: its schema settings are kept but not enforced "
                   f"({', '.join(text for _path, text in now)})")  # fmt: skip
    added = sorted(set(_events(_settings(after))) - set(_events(_settings(before))))
    if added and not planned:
        shown = ", ".join(repr(e) for e in added[:5]) + (" …" if len(added) > 5 else "")
        out.append(f"blocks {plural(len(added), 'more event')} (to no destination, warehouses "
                   f"included): {shown}")  # fmt: skip
    if before is not None and planned:
        gone = {k: v for k, v in _targets(before).items() if _targets(after).get(k) != v}
        blocks = any(path[0] not in FORWARDING for path, _text in now)
        if "forwarding_blocked_events_to" in gone and blocks:  # else nothing is blocked
            out.append(f"stops forwarding blocked events to {gone['forwarding_blocked_events_to']}"
                       ": they are discarded from now on")  # fmt: skip
        if "forwarding_violations_to" in gone:
            out.append(f"stops forwarding violations to {gone['forwarding_violations_to']}")
    return out


def _flag_schema(description: str) -> dict[str, Any]:
    return {"type": "boolean", "default": True, "description": description}


def _common_schema(call: str) -> dict[str, Any]:
    canonical = CALLS[call][1]
    return {
        "anyOf": [{"enum": list(canonical)},  # what editors complete
                  {"type": "string", "pattern": _spelling_pattern(call)}],  # fmt: skip
        "default": ALLOW,
        "description": (
            f"What Protocols does with a {call} call that violates the plan's common JSON "
            f"schema: {' | '.join(canonical)} (any case; the docs' spellings such as "
            "'Block Event' and 'Omit' are accepted and stored canonically)."
        ),
        "x-seg-message": (
            f"must be one of {', '.join(canonical)} (any case; also 'Block Event', 'Omit')"
        ),
    }


def _call_schema(call: str, flags: dict[str, str]) -> dict[str, Any]:
    properties: dict[str, Any] = {name: _flag_schema(text) for name, text in flags.items()}
    properties[COMMON] = _common_schema(call)
    return {"type": "object", "additionalProperties": False, "properties": properties,
            "description": f"How a connected tracking plan is enforced on {call} calls."}


_TRAITS = {
    "allow_unplanned_traits": "false: omit traits the tracking plan does not define.",
    "allow_traits_on_violations": "false: omit traits that violate the plan's JSON schema.",
}
_SOURCE_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9-]{0,62}$"}

SCHEMA_SETTINGS_SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "description": (
        "Schema settings (Protocols): what the connected tracking plan enforces, where blocked "
        "events and violations are forwarded, and the event block list used without a plan. "
        "Declared whole: an omitted flag is its default (allow), an omitted forwarding target "
        "is disabled."
    ),
    "properties": {
        "track": _call_schema("track", {
            "allow_unplanned_events": "false: block track events the tracking plan lacks.",
            "allow_unplanned_event_properties": "false: omit properties the plan lacks.",
            "allow_event_on_violations": "false: block track events that violate the plan.",
            "allow_properties_on_violations": "false: omit properties that violate the plan.",
        }),
        "identify": _call_schema("identify", _TRAITS),
        "group": _call_schema("group", _TRAITS),
        "forwarding_blocked_events_to": {
            **_SOURCE_NAME,
            "description": "A server-side Source (http-api, ...) receiving the blocked events.",
        },
        "forwarding_violations_to": {
            **_SOURCE_NAME,
            "description": "A server-side Source receiving 'Violation Generated' events.",
        },
        BLOCKED_EVENTS: {
            "type": "array",
            "maxItems": MAX_BLOCKED_EVENTS,
            "items": {"type": "string", "minLength": 1, "maxLength": MAX_EVENT_NAME},
            "description": (
                "Track events blocked for every destination, warehouses included (the "
                "schema's block list; only for a source connected to no tracking plan)."
            ),
        },
    },
}  # fmt: skip


# The spec as seg validate and the control plane check it (after interpolation);
# schemas/resolved/ and the published schemas are generated from it.
SPEC_SCHEMA: dict[str, Any] = {
    "title": "Source spec",
    "type": "object",
    "required": ["catalog"],
    "additionalProperties": False,
    "properties": {
        "display_name": {"type": "string", "maxLength": 200},
        "catalog": {
            "type": "string",
            "pattern": "^(?:function:)?[a-z][a-z0-9-]{0,62}$",
            "description": (
                "Catalog id of the source type (javascript, ios, http-api, python, postgres, "
                "snowflake, ...), or function:<name> to deploy a source Function. Immutable: a "
                "change replaces the source."
            ),
            "x-seg-immutable": True,
        },
        "enabled": {"type": "boolean", "default": True},
        "settings": {
            "type": "object",
            "description": (
                "Catalog settings; keys the YAML does not declare are left alone on the server."
            ),
        },
        "tracking_plan": {
            "type": "string",
            "pattern": "^[a-z][a-z0-9-]{0,62}$",
            "description": "Name of the TrackingPlan this source is connected to (at most one).",
        },
        "labels": {
            "type": "object",
            "description": (
                "Labels as key → value (one value per key); each key:value must be a Label (or a "
                "built-in environment label)."
            ),
            "propertyNames": {"pattern": "^[A-Za-z][A-Za-z0-9-]*$"},
            "additionalProperties": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9-]*$"},
        },
        SCHEMA_SETTINGS: SCHEMA_SETTINGS_SCHEMA,
    },
}

KIND = Kind(
    name="Source",
    key="source",
    collection="sources",
    order=30,
    fields=(
        FieldSpec("display_name", "string"),
        FieldSpec("catalog", "string", immutable=True),
        FieldSpec("enabled", "boolean"),
        FieldSpec("settings", "object", map_like=True),
        FieldSpec(
            "tracking_plan", "string", ref=tracking_plan.KIND.name, optional=True, reconnect=True
        ),  # fmt: skip
        FieldSpec("labels", "object", map_like=True),
        FieldSpec(SCHEMA_SETTINGS, "object", map_like=True, closed=True, refers=True),
    ),
    defaults={"enabled": True, "settings": {}, "display_name": "",
              SCHEMA_SETTINGS: DEFAULT_SCHEMA_SETTINGS},  # fmt: skip
    access_scope=AccessScope.SOURCE,
    rules=(reconnect_rule("tracking_plan", "tracking plan"), catalog_rule, _needs_plan,
           _block_list, _forwarding),
    delete_rules=(_connected, _forwarded_to),
    references=_references,
    catalog_section="source",
    normalize=normalize,
    notices=_notices,
    spec_schema=SPEC_SCHEMA,
)
