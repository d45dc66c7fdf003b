"""Warehouse: a storage destination (Snowflake, BigQuery, ...) the workspace's connected
sources load into on a sync schedule, with selective sync turning collections (events) and
properties off per source. Connecting a source lives here (``sources``), so deleting a
warehouse disconnects its sources; a source is deleted only once no warehouse holds it."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from seg.kinds.catalogs import catalog_rule
from seg.kinds.shared import per_lookup
from seg.model.kinds import AccessScope, Code, FieldSpec, Kind, Lookup, Ref, Subject, Violation
from seg.model.values import json_equal
from seg.model.wording import plural

__all__ = [
    "COLLECTION_LIMIT",
    "KIND",
    "PROPERTY_LIMIT",
    "connected_warehouses",
]

NAME = "Warehouse"
SOURCE = "Source"
# The platform manages the first 5,000 collections per source and 5,000 properties per
# collection in selective sync, and warns at 80 %.
COLLECTION_LIMIT = 5000
PROPERTY_LIMIT = 5000
WARN_RATIO = 0.8
NOUNS = {"property": "properties"}
# Disabling this column makes every sync fail.
RECEIVED_AT = "received_at"
# Tiers below Business: one warehouse, the platform's schedule, no selective sync.
SMALL_TIERS = ("free", "team")
EVERY = ("1h", "2h", "3h", "4h", "6h", "8h", "12h", "24h")
_TIME = "^([01][0-9]|2[0-3]):[0-5][0-9]$"
_SLUG = "^[a-z][a-z0-9-]{0,62}$"


def _sources(fields: Mapping[str, Any]) -> list[str]:
    value = fields.get("sources")
    return [s for s in value if isinstance(s, str)] if isinstance(value, list) else []


def _references(fields: Mapping[str, Any]) -> list[Ref]:
    """Each connected source must exist (addresses, like a role binding's sources)."""
    return [(SOURCE, name, ("sources",)) for name in _sources(fields)]


def connected_warehouses(lookup: Lookup, source: str) -> list[str]:
    """The warehouses ``source`` is connected to (for the Source's delete rule)."""
    return [address for address, fields in lookup.every(NAME) if source in _sources(fields)]


def _selective(fields: Mapping[str, Any]) -> Mapping[str, Any]:
    value = fields.get("selective_sync")
    return value if isinstance(value, Mapping) else {}


def _mapping(value: Any, key: str) -> Mapping[str, Any]:
    inner = value.get(key) if isinstance(value, Mapping) else None
    return inner if isinstance(inner, Mapping) else {}


def _turned_off(selective: Mapping[str, Any]) -> Iterator[tuple[str, ...]]:
    """Every path in a selective sync that turns something off (the default is all on)."""
    for source, per_source in selective.items():
        if isinstance(per_source, Mapping) and per_source.get("enabled") is False:
            yield (source, "enabled")
        for collection, per_collection in _mapping(per_source, "collections").items():
            where = (source, "collections", collection)
            if isinstance(per_collection, Mapping) and per_collection.get("enabled") is False:
                yield (*where, "enabled")
            for prop, on in _mapping(per_collection, "properties").items():
                if on is False:
                    yield (*where, "properties", prop)


def _received_at(subject: Subject, _lookup: Lookup) -> list[Violation]:
    """Selective sync never turns the ``received_at`` column off: every sync would fail."""
    out = []
    for path in _turned_off(_selective(subject.fields)):
        if path[-1] == RECEIVED_AT and path[-2] == "properties":
            message = (f"selective sync must not disable {RECEIVED_AT} (collection "
                       f"{path[2]!r} of source {path[0]!r}): every sync of the warehouse "
                       "would fail")  # fmt: skip
            out.append(Violation(("selective_sync", *path), message, "warehouse/received-at"))
    return out


def _connected_only(subject: Subject, _lookup: Lookup) -> list[Violation]:
    """Selective sync names only sources the warehouse is connected to. What a write leaves
    as it was is not judged: a source disconnected while something unmanaged (made in a UI)
    held its selective sync keeps that entry, inert, rather than blocking the disconnect."""
    if subject.is_unknown(("sources",)):
        return []
    connected = set(_sources(subject.fields))
    before = _selective(subject.before or {})
    out = []
    for source, value in _selective(subject.fields).items():
        if source in before and json_equal(before[source], value):
            continue
        if source not in connected:
            message = (f"selective sync names source {source!r}, which is not connected to "
                       f"warehouse {subject.address!r} (add it to sources)")  # fmt: skip
            out.append(Violation(("selective_sync", source), message,
                                 "warehouse/selective-sync-source"))  # fmt: skip
    return out


def _counted(count: int, limit: int, noun: str, where: str, path: tuple[str, ...]
             ) -> list[Violation]:  # fmt: skip
    counted = plural(count, noun, NOUNS.get(noun))
    if count > limit:
        message = f"{where} has {counted} in selective sync; the limit is {limit:,}"
        return [Violation(path, message, "warehouse/selective-sync-limit")]
    if count >= limit * WARN_RATIO:
        message = (f"{where} has {counted} in selective sync, "
                   f"{count * 100 // limit} % of the limit of {limit:,}")  # fmt: skip
        return [Violation(path, message, "warehouse/selective-sync-limit", warning=True)]
    return []


def _limits(subject: Subject, _lookup: Lookup) -> list[Violation]:
    """At most 5,000 collections per source and 5,000 properties per collection (a warning
    from 80 %)."""
    out = []
    for source, per_source in _selective(subject.fields).items():
        collections = _mapping(per_source, "collections")
        where = ("selective_sync", source, "collections")
        out += _counted(len(collections), COLLECTION_LIMIT, "collection",
                        f"source {source!r}", where)  # fmt: skip
        for collection, per_collection in collections.items():
            props = _mapping(per_collection, "properties")
            path = ("selective_sync", source, "collections", collection, "properties")
            out += _counted(len(props), PROPERTY_LIMIT, "property",
                            f"collection {collection!r} of source {source!r}", path)  # fmt: skip
    return out


def _schedule(subject: Subject, _lookup: Lookup) -> list[Violation]:
    """A schedule is either an interval (``every``) or times of day (``start_times``), and
    syncs at most once an hour (24 a day): start times at least an hour apart."""
    schedule = subject.fields.get("sync_schedule")
    if not isinstance(schedule, Mapping) or subject.is_unknown(("sync_schedule",)):
        return []
    if ("every" in schedule) == ("start_times" in schedule):
        message = "sync_schedule takes either every (an interval) or start_times, not both"
        return [Violation(("sync_schedule",), message, "warehouse/sync-schedule")]
    times = schedule.get("start_times")
    if not isinstance(times, list) or not all(isinstance(t, str) for t in times) or not times:
        return []
    minutes = sorted(int(t[:2]) * 60 + int(t[3:5]) for t in times if len(t) == 5)
    gaps = [b - a for a, b in zip(minutes, [*minutes[1:], minutes[0] + 24 * 60], strict=True)]
    if len(minutes) > 1 and min(gaps) < 60:
        message = ("sync_schedule.start_times must be at least an hour apart: a warehouse "
                   "syncs at most once an hour (24 times a day)")  # fmt: skip
        return [Violation(("sync_schedule", "start_times"), message, "warehouse/sync-schedule")]
    return []


@per_lookup
def _warehouse_count(lookup: Lookup) -> int:
    return sum(1 for _ in lookup.every(NAME))


def _tier(subject: Subject, lookup: Lookup) -> list[Violation]:
    """Free and Team workspaces: one warehouse, the platform's sync schedule, no selective
    sync (Business only). Skipped when the tier is unknown."""
    tier = lookup.plan_tier
    if tier not in SMALL_TIERS:
        return []
    out = []
    count = _warehouse_count(lookup)
    if count > 1:
        message = (f"a {tier} workspace has at most 1 warehouse; it would have {count} "
                   "(more need the Business tier)")  # fmt: skip
        out.append(Violation((), message, "warehouse/tier-limit", Code.FAILED_PRECONDITION))
    if "sync_schedule" in subject.fields:
        message = f"a custom sync schedule needs the Business tier (this workspace is {tier})"
        out.append(Violation(("sync_schedule",), message, "warehouse/tier-schedule",
                             Code.FAILED_PRECONDITION))  # fmt: skip
    off = next(_turned_off(_selective(subject.fields)), None)
    if off is not None:
        message = f"selective sync needs the Business tier (this workspace is {tier})"
        out.append(Violation(("selective_sync", *off), message, "warehouse/tier-selective-sync",
                             Code.FAILED_PRECONDITION))  # fmt: skip
    return out


def _enabled(description: str) -> dict[str, Any]:
    return {"type": "boolean", "default": True, "description": description}


_PROPERTIES = {
    "type": "object",
    "description": "Property → whether it syncs (default true; write only what is off).",
    "maxProperties": PROPERTY_LIMIT * 2,
    "additionalProperties": {"type": "boolean"},
}
_COLLECTION = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "enabled": _enabled("Whether the collection (event) syncs."),
        "properties": _PROPERTIES,
    },
}
_PER_SOURCE = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "enabled": _enabled("Whether the source syncs to this warehouse at all."),
        "collections": {
            "type": "object",
            "description": "Collection (event table) → what of it syncs.",
            "maxProperties": COLLECTION_LIMIT * 2,
            "additionalProperties": _COLLECTION,
        },
    },
}

# The spec as seg validate and the control plane check it (after interpolation);
# schemas/resolved/ and the published schemas are generated from it.
SPEC_SCHEMA: dict[str, Any] = {
    "title": "Warehouse spec",
    "type": "object",
    "required": ["catalog"],
    "additionalProperties": False,
    "properties": {
        "display_name": {"type": "string", "maxLength": 200},
        "catalog": {
            "type": "string",
            "pattern": _SLUG,
            "description": (
                "Catalog id of the warehouse type (snowflake, bigquery, redshift, postgres, "
                "databricks, ...). Immutable: a change replaces the warehouse."
            ),
            "x-seg-immutable": True,
        },
        "enabled": {"type": "boolean", "default": True},
        "settings": {
            "type": "object",
            "description": (
                "Catalog settings (connection details; credentials are secret); keys the YAML "
                "does not declare are left alone on the server."
            ),
        },
        "sync_schedule": {
            "type": "object",
            "description": (
                "A custom sync schedule (Business tier): every (an interval of at least an "
                "hour) or start_times (times of day, at least an hour apart). Absent: the "
                "plan's default schedule."
            ),
            "additionalProperties": False,
            "minProperties": 1,
            "properties": {
                "every": {"enum": list(EVERY)},
                "start_times": {
                    "type": "array",
                    "minItems": 1,
                    "maxItems": 24,
                    "uniqueItems": True,
                    "items": {"type": "string", "pattern": _TIME},
                },
                "timezone": {
                    "type": "string",
                    "pattern": "^[A-Za-z][A-Za-z0-9_+-]*(/[A-Za-z0-9_+-]+){0,2}$",
                    "description": "A TZ-database time zone for start_times (default UTC).",
                },
            },
        },
        "sources": {
            "type": "array",
            "uniqueItems": True,
            "description": (
                "Names of the Sources connected to this warehouse (order carries no meaning). "
                "Connecting one needs warehouse_admin and source_admin on it."
            ),
            "items": {"type": "string", "pattern": _SLUG},
        },
        "selective_sync": {
            "type": "object",
            "description": (
                "Selective sync (Business tier; only workspace owners change it): source → "
                "what of it syncs. Everything syncs by default, so write only what is off; "
                "received_at is never turned off."
            ),
            "propertyNames": {"pattern": _SLUG},
            "additionalProperties": _PER_SOURCE,
        },
    },
}

KIND = Kind(
    name=NAME,
    key="warehouse",
    collection="warehouses",
    order=35,
    fields=(
        FieldSpec("display_name", "string"),
        FieldSpec("catalog", "string", immutable=True),
        FieldSpec("enabled", "boolean"),
        FieldSpec("settings", "object", map_like=True),
        FieldSpec("sync_schedule", "object", optional=True),
        FieldSpec("sources", "array", unordered=True, connects=True),
        FieldSpec("selective_sync", "object", map_like=True, owner_only=True),
    ),
    defaults={"enabled": True, "settings": {}, "display_name": "", "sources": [],
              "selective_sync": {}},  # fmt: skip
    access_scope=AccessScope.WAREHOUSE,
    rules=(catalog_rule, _schedule, _connected_only, _received_at, _limits, _tier),
    references=_references,
    catalog_section="warehouse",
    spec_schema=SPEC_SCHEMA,
)
