"""Transformation: a Protocols transformation of one source's events — rename a Track event,
rename its properties, rename identify or group traits, set property values, or define one
property with FQL — at source scope or scoped to one cloud-mode destination of that source.

Paths (renames, value transforms, the FQL-defined property) are relative to the event's
``properties`` (Track) or ``traits`` (identify, group), as in the platform's UI; a leading
``properties.`` / ``traits.`` is accepted and means the same (the docs' FQL examples write it).
A path names at most four levels, ``\\.`` escapes a dot inside a key, and array notation
(``.$.``) is not supported. A bare top-level field of the event (``userId``, ``context``, ...)
cannot be transformed; a property of that name is written with the prefix
(``properties.userId``)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from seg.kinds import source
from seg.kinds.catalogs import catalog_id, entry_for
from seg.kinds.shared import parent_property, readable_names
from seg.model.kinds import AccessScope, Code, FieldSpec, Kind, Lookup, Subject, Violation
from seg.model.printable import UNSAFE
from seg.model.secrets import is_digest

__all__ = [
    "KIND",
    "MAX_PATH_DEPTH",
    "MAX_VALUE_PATHS",
    "NAME",
    "TYPES",
    "scoped_to",
    "split_path",
]

NAME = "Transformation"
DESTINATION = "Destination"
TYPES = ("rename_event", "rename_properties", "rename_traits", "transform_values",
         "fql_defined_properties")  # fmt: skip
MAX_PATH_DEPTH = 4
MAX_VALUE_PATHS = 10  # value transforms: at most 10 property paths in all
MAX_PATH_CHARS = 256
MAX_ITEMS = 100
# The fields each type takes beside the common ones (the first is required).
TYPE_FIELDS: dict[str, tuple[str, ...]] = {
    "rename_event": ("new_event_name",),
    "rename_properties": ("property_renames",),
    "rename_traits": ("property_renames",),
    "transform_values": ("value_transforms",),
    "fql_defined_properties": ("fql_defined_properties",),
}
COMMON = ("source", "display_name", "type", "event", "destination", "enabled")
# Top-level fields of the spec's messages (common fields, then per call): never transformed.
_COMMON_TOP = frozenset({"anonymousId", "userId", "messageId", "timestamp", "receivedAt",
                         "sentAt", "originalTimestamp", "type", "context", "integrations",
                         "channel", "version", "writeKey", "_metadata"})  # fmt: skip
TOP_LEVEL: dict[str, frozenset[str]] = {
    "track": _COMMON_TOP | {"event", "properties"},
    "identify": _COMMON_TOP | {"traits"},
    "group": _COMMON_TOP | {"groupId", "traits"},
}
PREFIX = {"track": "properties", "identify": "traits", "group": "traits"}

Canonical = tuple[str, ...]


# -- paths --------------------------------------------------------------------------------


def split_path(path: str) -> list[str]:
    """A path's keys: split at unescaped dots, ``\\.`` a dot inside a key. Raises ValueError
    with the reason when the path is not one the platform takes."""
    if UNSAFE.search(path):
        raise ValueError("a path holds no control, line-break or bidi characters")
    keys, key, chars = [], [], iter(path)
    for char in chars:
        if char == "\\":
            following = next(chars, "")
            if following != ".":
                raise ValueError("a backslash only escapes a dot (\\.)")
            key.append(".")
        elif char == ".":
            keys.append("".join(key))
            key = []
        else:
            key.append(char)
    keys.append("".join(key))
    if any(k == "" for k in keys):
        raise ValueError("a path has no empty keys (no leading, trailing or doubled dots)")
    if any(k.startswith("$") for k in keys):
        raise ValueError("array notation ($, .$.) is not supported")
    return keys


def _call(fields: Mapping[str, Any]) -> str:
    """The call a transformation's event is: track, or identify / group (rename_traits)."""
    event = fields.get("event")
    if fields.get("type") == "rename_traits" and event in ("identify", "group"):
        return str(event)
    return "track"


def _canonical(path: str, call: str) -> Canonical:
    """The keys a path names beneath properties / traits; ValueError when it is refused."""
    if len(path) > MAX_PATH_CHARS:
        raise ValueError(f"a path has at most {MAX_PATH_CHARS} characters")
    keys = split_path(path)
    prefix = PREFIX[call]
    if keys[0] == prefix and len(keys) > 1:
        keys = keys[1:]
    elif keys[0] in TOP_LEVEL[call]:
        noun = "property" if call == "track" else "trait"
        raise ValueError(f"{keys[0]} is a top-level field of the {call} call, which "
                         f"transformations cannot change; a {noun} of that name is written "
                         f"{prefix}.{path}")  # fmt: skip
    if len(keys) > MAX_PATH_DEPTH:
        raise ValueError(f"a path names at most {MAX_PATH_DEPTH} levels beneath {prefix} "
                         f"(this one names {len(keys)})")  # fmt: skip
    return tuple(keys)


def _items(fields: Mapping[str, Any], name: str) -> list[Mapping[str, Any]]:
    value = fields.get(name)
    if not isinstance(value, list):
        return []
    return [item if isinstance(item, Mapping) else {} for item in value]


def _renames(fields: Mapping[str, Any]) -> Iterator[tuple[tuple[str, ...], str, str]]:
    """(violation path, key, path text) of every rename's ``from`` and ``to``."""
    for index, item in enumerate(_items(fields, "property_renames")):
        for key in ("from", "to"):
            if isinstance(item.get(key), str):
                yield ("property_renames", str(index), key), key, item[key]


def _value_paths(fields: Mapping[str, Any]) -> Iterator[tuple[tuple[str, ...], str]]:
    """(violation path, path text) of every path whose value is set: value transforms' paths
    and the FQL-defined property."""
    for index, item in enumerate(_items(fields, "value_transforms")):
        paths = item.get("paths")
        for at, path in enumerate(paths if isinstance(paths, list) else []):
            if isinstance(path, str):
                yield ("value_transforms", str(index), "paths", str(at)), path
    for index, item in enumerate(_items(fields, "fql_defined_properties")):
        if isinstance(item.get("property"), str):
            yield ("fql_defined_properties", str(index), "property"), item["property"]


def _valid(path: str, call: str) -> Canonical | None:
    try:
        return _canonical(path, call)
    except ValueError:
        return None


def _shown(keys: Canonical) -> str:
    return ".".join(k.replace(".", "\\.") for k in keys)


# -- rules --------------------------------------------------------------------------------


def _paths(subject: Subject, _lookup: Lookup) -> list[Violation]:
    """Every path is one the platform takes (INV-TR-3), renames have distinct from-paths and
    distinct to-paths and change something, value transforms name a path once and at most
    ten paths in all."""
    fields, call = subject.fields, _call(subject.fields)
    out: list[Violation] = []
    froms: dict[Canonical, str] = {}
    tos: dict[Canonical, str] = {}
    for index, item in enumerate(_items(fields, "property_renames")):
        keys: dict[str, Canonical] = {}
        for key, seen in (("from", froms), ("to", tos)):
            text = item.get(key)
            if not isinstance(text, str):
                continue
            where: tuple[str, ...] = ("property_renames", str(index), key)
            try:
                canonical = _canonical(text, call)
            except ValueError as exc:
                out.append(Violation(where, f"{_dotted(where)}: {exc}", "transformation/path"))
                continue
            keys[key] = canonical
            if canonical in seen:
                message = (f"{_dotted(where)}: {_shown(canonical)} is renamed twice (also "
                           f"at {seen[canonical]}); each property is renamed once")  # fmt: skip
                if key == "to":
                    message = (f"{_dotted(where)}: two properties are renamed to "
                               f"{_shown(canonical)} (also at {seen[canonical]})")  # fmt: skip
                out.append(Violation(where, message, "transformation/rename"))
            else:
                seen[canonical] = _dotted(where)
        if "from" in keys and keys.get("to") == keys["from"]:
            to = ("property_renames", str(index), "to")
            message = f"{_dotted(to)}: renames {_shown(keys['from'])} to itself"
            out.append(Violation(to, message, "transformation/rename"))
    values: dict[Canonical, str] = {}
    count = 0
    for where, text in _value_paths(fields):
        if where[0] == "value_transforms":
            count += 1
        try:
            canonical = _canonical(text, call)
        except ValueError as exc:
            out.append(Violation(where, f"{_dotted(where)}: {exc}", "transformation/path"))
            continue
        if canonical in values:
            message = (f"{_dotted(where)}: {_shown(canonical)} is transformed twice (also at "
                       f"{values[canonical]}); each property value is set once")  # fmt: skip
            out.append(Violation(where, message, "transformation/conflict"))
        else:
            values[canonical] = _dotted(where)
    if count > MAX_VALUE_PATHS:
        message = (f"value_transforms name {count} property paths; the limit is "
                   f"{MAX_VALUE_PATHS}")  # fmt: skip
        out.append(Violation(("value_transforms",), message, "transformation/limit"))
    return out


def _dotted(path: tuple[str, ...]) -> str:
    """``property_renames[0].from``: a violation path as the messages show it."""
    out = ""
    for part in path:
        out += f"[{part}]" if part.isdigit() else (f".{part}" if out else part)
    return out


def _fql(subject: Subject, _lookup: Lookup) -> list[Violation]:
    """The FQL-defined property is exactly one, and its FQL parses (at most 5 KB) like a
    filter's: the platform drops every event when it does not."""
    items = _items(subject.fields, "fql_defined_properties")
    if "fql_defined_properties" not in subject.fields:
        return []
    if len(items) != 1:
        message = (f"fql_defined_properties holds exactly one property (it has "
                   f"{len(items)})")  # fmt: skip
        return [Violation(("fql_defined_properties",), message, "transformation/fql")]
    text = items[0].get("fql")
    where = ("fql_defined_properties", "0", "fql")
    if not isinstance(text, str) or is_digest(text) or subject.is_unknown(where):
        return []
    from seg.fql.parser import FqlError, parse  # lark loads only for FQL

    try:
        parse(text)
    except FqlError as exc:
        return [Violation(where, f"{_dotted(where)}: invalid FQL: {exc}", "transformation/fql")]
    return []


def _event(subject: Subject, _lookup: Lookup) -> list[Violation]:
    """A renamed event gets another name."""
    fields = subject.fields
    new = fields.get("new_event_name")
    if fields.get("type") == "rename_event" and isinstance(new, str) and new == fields.get("event"):
        message = f"new_event_name: {new!r} is the event's own name; a rename changes it"
        return [Violation(("new_event_name",), message, "transformation/event")]
    return []


def _scope(subject: Subject, lookup: Lookup) -> list[Violation]:
    """A destination scope names a cloud-mode destination of the same source that is not a
    storage destination (INV-TR-4); absent, the transformation is source-scoped."""
    address = subject.fields.get("destination")
    if not isinstance(address, str) or not address or subject.is_unknown(("destination",)):
        return []
    found = lookup.get(DESTINATION, address)
    if found is None:
        return []  # whether it exists is the generic reference check
    path = ("destination",)
    if found.get("connection_mode") == "device":
        message = (f"destination {address} is device-mode; a transformation is scoped to "
                   "cloud-mode destinations only")  # fmt: skip
        return [Violation(path, message, "transformation/scope", Code.FAILED_PRECONDITION)]
    entry_id = catalog_id(found)
    entry = entry_for(lookup, "destination", entry_id) if entry_id is not None else None
    if entry is not None and entry.storage:
        message = (f"destination {address} is {entry.display_name}, a storage "
                   "destination; transformations are not scoped to storage destinations or "
                   "warehouses")  # fmt: skip
        return [Violation(path, message, "transformation/scope", Code.FAILED_PRECONDITION)]
    return []


def _siblings(subject: Subject, lookup: Lookup) -> list[tuple[str, Mapping[str, Any]]]:
    """The other transformations of the subject's source on the same call, event and scope."""
    src = subject.address.rsplit("/", 1)[0]
    mine = (_call(subject.fields), subject.fields.get("event"),
            subject.fields.get("destination") or None)  # fmt: skip
    return [(address, fields) for address, fields in lookup.under(NAME, src)
            if address != subject.address
            and (_call(fields), fields.get("event"), fields.get("destination") or None) == mine]


def _scope_words(fields: Mapping[str, Any]) -> str:
    destination = fields.get("destination")
    return f"destination {destination}" if destination else "source scope"


def _unique(subject: Subject, lookup: Lookup) -> list[Violation]:
    """One transformation per source + type + event + destination (INV-TR-1)."""
    same = [(NAME, address, f"transformation {address}")
            for address, fields in _siblings(subject, lookup)
            if fields.get("type") == subject.fields.get("type")]  # fmt: skip
    if not same:
        return []
    names = readable_names(subject, same, "transformation")
    message = (f"{names} already has type {subject.fields.get('type')} for "
               f"event {subject.fields.get('event')!r} at {_scope_words(subject.fields)}; one "
               "transformation per source, type, event and destination")  # fmt: skip
    return [Violation(("type",), message, "transformation/unique", Code.ALREADY_EXISTS)]


def _conflicts(subject: Subject, lookup: Lookup) -> list[Violation]:
    """Another transformation of the same source, event and scope does not set the value of
    a property this one sets, and no property is both renamed and has its value set."""
    call = _call(subject.fields)
    siblings = _siblings(subject, lookup)
    if not siblings:
        return []
    values: dict[Canonical, list[tuple[str, str, str]]] = {}
    renamed: dict[Canonical, list[tuple[str, str, str]]] = {}
    for address, fields in siblings:
        for _where, text in _value_paths(fields):
            if (keys := _valid(text, call)) is not None:
                values.setdefault(keys, []).append((NAME, address, f"transformation {address}"))
        for _where, _key, text in _renames(fields):
            if (keys := _valid(text, call)) is not None:
                renamed.setdefault(keys, []).append((NAME, address, f"transformation {address}"))
    out = []
    for where, text in _value_paths(subject.fields):
        keys = _valid(text, call)
        for table, what in ((values, "sets the value of"), (renamed, "renames")):
            if keys is not None and keys in table:
                names = readable_names(subject, table[keys], "transformation")
                message = (f"{_dotted(where)}: {names} already {what} "
                           f"{_shown(keys)} for this event and scope")  # fmt: skip
                out.append(Violation(where, message, "transformation/conflict",
                                     Code.FAILED_PRECONDITION))  # fmt: skip
    for where, _key, text in _renames(subject.fields):
        keys = _valid(text, call)
        if keys is not None and keys in values:
            names = readable_names(subject, values[keys], "transformation")
            message = (f"{_dotted(where)}: {names} already sets the value of "
                       f"{_shown(keys)} for this event and scope")  # fmt: skip
            out.append(Violation(where, message, "transformation/conflict",
                                 Code.FAILED_PRECONDITION))  # fmt: skip
    return out


def scoped_to(lookup: Lookup, destination: str) -> list[str]:
    """The transformations scoped to ``destination`` (an address ``source/destination``)."""
    src = destination.split("/", 1)[0]
    return [address for address, fields in lookup.under(NAME, src)
            if fields.get("destination") == destination]  # fmt: skip


# -- spec ---------------------------------------------------------------------------------

_PATH = {"type": "string", "minLength": 1, "maxLength": MAX_PATH_CHARS}
_PROPERTIES: dict[str, Any] = {
    "source": parent_property(source.KIND, "Name of the Source whose events it transforms."),
    "display_name": {"type": "string", "maxLength": 200},
    "type": {
        "enum": list(TYPES),
        "description": (
            "rename_event (a Track event's name), rename_properties (a Track event's "
            "properties), rename_traits (identify or group traits), transform_values (set "
            "property values), fql_defined_properties (one property computed with FQL). "
            "Immutable: a change replaces the transformation."
        ),
        "x-seg-immutable": True,
    },
    "event": {
        "type": "string",
        "minLength": 1,
        "maxLength": 200,
        "description": (
            "The Track event it transforms; for rename_traits, identify or group. Immutable."
        ),
        "x-seg-immutable": True,
    },
    "destination": {
        "type": "string",
        "pattern": "^[a-z][a-z0-9-]{0,62}$",
        "description": (
            "Name of a cloud-mode Destination of the same source: the transformation applies "
            "to it only (after its filters). Absent: source scope (every cloud-mode "
            "destination, warehouses and S3). Immutable."
        ),
        "x-seg-immutable": True,
    },
    "enabled": {"type": "boolean", "default": True},
    "new_event_name": {
        "type": "string",
        "minLength": 1,
        "maxLength": 200,
        "description": "rename_event: the event's new name.",
    },
    "property_renames": {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_ITEMS,
        "description": (
            "rename_properties / rename_traits: paths relative to properties (traits), up to "
            "four levels, `\\.` escapes a dot."
        ),
        "items": {
            "type": "object",
            "required": ["from", "to"],
            "additionalProperties": False,
            "properties": {"from": _PATH, "to": _PATH},
        },
    },
    "value_transforms": {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_VALUE_PATHS,
        "description": "transform_values: the value set at paths (at most 10 paths in all).",
        "items": {
            "type": "object",
            "required": ["paths", "value"],
            "additionalProperties": False,
            "properties": {
                "paths": {"type": "array", "minItems": 1, "maxItems": MAX_VALUE_PATHS,
                          "items": _PATH},  # fmt: skip
                "value": {"type": "string", "maxLength": 1000},
            },
        },
    },
    "fql_defined_properties": {
        "type": "array",
        "minItems": 1,
        "maxItems": MAX_ITEMS,
        "description": (
            "fql_defined_properties: exactly one property and the FQL that computes it "
            "(at most 5 KB; lowercase, uppercase, snakecase, kebabcase, titlecase, ...)."
        ),
        "items": {
            "type": "object",
            "required": ["property", "fql"],
            "additionalProperties": False,
            "properties": {
                "property": _PATH,
                "fql": {"type": "string", "minLength": 1, "maxLength": 5120},
            },
        },
    },
}


def _per_type(kind: str, extra: tuple[str, ...]) -> dict[str, Any]:
    then: dict[str, Any] = {
        "required": [extra[0]],
        "additionalProperties": False,
        "properties": dict.fromkeys((*COMMON, *extra), True),
    }
    if kind == "rename_traits":
        then["properties"]["event"] = {"enum": ["identify", "group"]}
    return {"if": {"properties": {"type": {"const": kind}}, "required": ["type"]}, "then": then}


# The spec as seg validate and the control plane check it (after interpolation);
# schemas/resolved/ and the published schemas are generated from it.
SPEC_SCHEMA: dict[str, Any] = {
    "title": "Transformation spec",
    "description": (
        "A Protocols transformation of one source's events (one per source, type, event and "
        "destination), at source scope or scoped to one cloud-mode destination."
    ),
    "type": "object",
    "required": ["source", "type", "event"],
    "additionalProperties": False,
    "properties": _PROPERTIES,
    "allOf": [_per_type(kind, extra) for kind, extra in TYPE_FIELDS.items()],
}

KIND = Kind(
    name=NAME,
    key="transformation",
    collection="transformations",
    order=45,
    parent_kind=source.KIND,
    parent_field="source",
    fields=(
        FieldSpec("display_name", "string"),
        FieldSpec("type", "string", immutable=True),
        FieldSpec("event", "string", immutable=True),
        FieldSpec("destination", "string", immutable=True, ref=DESTINATION, optional=True),
        FieldSpec("new_event_name", "string", optional=True),
        FieldSpec("property_renames", "array", optional=True),
        FieldSpec("value_transforms", "array", optional=True),
        FieldSpec("fql_defined_properties", "array", optional=True),
        FieldSpec("enabled", "boolean"),
    ),
    defaults={"enabled": True, "display_name": ""},
    access_scope=AccessScope.SOURCE,
    rules=(_unique, _scope, _event, _paths, _conflicts),
    value_rules=(_fql,),
    spec_schema=SPEC_SCHEMA,
)
