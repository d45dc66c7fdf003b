"""Mapping: an action sending a destination events (on an FQL trigger) or a model's rows (on
a schedule)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seg.catalog import check_fields
from seg.kinds import destination, model
from seg.kinds.catalogs import catalog_id, entry_for
from seg.kinds.shared import fql_rule, parent_property, per_lookup, per_parent_limit
from seg.model.kinds import AccessScope, Code, FieldSpec, Kind, Lookup, Subject, Violation
from seg.policy.models import mapped_column

__all__ = ["KIND", "MAX_DBT_CLOUD_MAPPINGS", "MAX_MAPPINGS_PER_DESTINATION"]

MAX_MAPPINGS_PER_DESTINATION = 50
MAX_DBT_CLOUD_MAPPINGS = 5  # per workspace (the docs leave the scope open)
NAME = model.MAPPING


def _dbt_cloud(fields: Mapping[str, Any]) -> bool:
    schedule = fields.get("schedule")
    return isinstance(schedule, dict) and schedule.get("strategy") == "DBT_CLOUD"


@per_lookup
def _dbt_cloud_count(lookup: Lookup) -> int:
    return sum(1 for _, fields in lookup.every(NAME) if _dbt_cloud(fields))


def _dbt_cloud_cap(subject: Subject, lookup: Lookup) -> list[Violation]:
    """At most five mappings of the workspace may use the DBT_CLOUD strategy."""
    if not _dbt_cloud(subject.fields):
        return []
    count = _dbt_cloud_count(lookup)
    if count <= MAX_DBT_CLOUD_MAPPINGS:
        return []
    message = (
        f"{count} mappings use the DBT_CLOUD strategy; "
        f"the limit is {MAX_DBT_CLOUD_MAPPINGS} per workspace"
    )
    return [Violation(("schedule",), message, "mapping/limit", Code.FAILED_PRECONDITION)]


def _dbt_columns(subject: Subject, lookup: Lookup) -> list[Violation]:
    """A mapping of a dbt-linked model maps only the dbt model's columns (seg validate, when
    it could read them)."""
    fields, target = subject.fields.get("fields"), subject.fields.get("model")
    linked = lookup.get(model.NAME, str(target)) if target is not None else None
    found = model.dbt_columns(lookup, linked) if linked is not None else None
    if linked is None or found is None or found.columns is None or not isinstance(fields, Mapping):
        return []
    out = []
    for key, value in fields.items():
        column = mapped_column(value)
        if column and column not in found.columns and not subject.is_unknown(("fields", key)):
            message = (f"column {column!r} is not among the columns of dbt model "
                       f"{linked['dbt_model']} ({', '.join(found.columns)}; "
                       f"from {found.how})")  # fmt: skip
            out.append(Violation(("fields", key), message, "mapping/dbt-columns"))
    return out


def _catalog_action(subject: Subject, lookup: Lookup) -> list[Violation]:
    """The action is one of the destination's catalog actions and the fields are its
    fields (custom fields where the action takes them); required fields are mapped."""
    action = subject.fields.get("action")
    if not isinstance(action, str) or subject.is_unknown(("action",)):
        return []
    parent = lookup.get(destination.KIND.name, subject.address.rsplit("/", 1)[0])
    entry_id = catalog_id(parent) if parent is not None else None
    entry = entry_for(lookup, "destination", entry_id) if entry_id is not None else None
    fields = subject.fields.get("fields")
    if entry is None or not isinstance(fields, Mapping) or subject.is_unknown(("fields",)):
        return []
    return [Violation(path, message, rule)
            for path, message, rule in check_fields(entry, action, fields)]  # fmt: skip


# The spec as seg validate and the control plane check it (after interpolation);
# schemas/resolved/ and the published schemas are generated from it.
SPEC_SCHEMA: dict[str, Any] = {
    "title": "Mapping spec",
    "description": (
        "An Actions mapping under a destination: event-stream (trigger) or Reverse ETL (model + "
        "schedule)."
    ),
    "type": "object",
    "required": ["destination", "action"],
    "additionalProperties": False,
    "x-seg-message": (
        "give either trigger (an event-stream mapping) or model and schedule (a Reverse ETL "
        "mapping), not both"
    ),
    "oneOf": [
        {
            "required": ["trigger"],
            "not": {"anyOf": [{"required": ["model"]}, {"required": ["schedule"]}]},
        },
        {"required": ["model", "schedule"], "not": {"required": ["trigger"]}},
    ],
    "properties": {
        "destination": parent_property(
            destination.KIND, "Address of the destination (source/destination)."
        ),
        "action": {
            "type": "string",
            "pattern": "^[A-Za-z][A-Za-z0-9_-]{0,127}$",
            "description": "The destination action (immutable: a change replaces the mapping).",
            "x-seg-immutable": True,
        },
        "enabled": {
            "type": "boolean",
            "default": False,
            "description": "New mappings start disabled.",
        },
        "fields": {
            "type": "object",
            "description": (
                "Destination field → model column (Reverse ETL) or event path (event stream)."
            ),
            "additionalProperties": {"type": "string", "minLength": 1, "maxLength": 256},
        },
        "trigger": {
            "type": "string",
            "minLength": 1,
            "maxLength": 5120,
            "description": "FQL condition for an event-stream mapping.",
        },
        "model": {
            "type": "string",
            "pattern": "^[a-z][a-z0-9-]{0,62}$",
            "description": "Name of a Model under the same source (Reverse ETL mapping).",
        },
        "schedule": {
            "type": "object",
            "required": ["strategy"],
            "additionalProperties": False,
            "properties": {
                "strategy": {"enum": ["PERIODIC", "SPECIFIC_DAYS", "MANUAL", "DBT_CLOUD"]},
                "config": {"type": "object"},
            },
            "allOf": [
                {
                    "if": {"properties": {"strategy": {"const": "PERIODIC"}}},
                    "then": {
                        "required": ["config"],
                        "properties": {
                            "config": {
                                "type": "object",
                                "required": ["interval"],
                                "additionalProperties": False,
                                "properties": {
                                    "interval": {
                                        "enum": [
                                            "15m",
                                            "30m",
                                            "1h",
                                            "2h",
                                            "4h",
                                            "6h",
                                            "8h",
                                            "12h",
                                            "1d",
                                        ],
                                    },
                                },
                            },
                        },
                    },
                },
                {
                    "if": {"properties": {"strategy": {"const": "SPECIFIC_DAYS"}}},
                    "then": {
                        "required": ["config"],
                        "properties": {
                            "config": {
                                "type": "object",
                                "required": ["days", "hours", "timezone"],
                                "additionalProperties": False,
                                "properties": {
                                    "days": {
                                        "type": "array",
                                        "minItems": 1,
                                        "uniqueItems": True,
                                        "items": {"type": "integer", "minimum": 0, "maximum": 6},
                                    },
                                    "hours": {
                                        "type": "array",
                                        "minItems": 1,
                                        "uniqueItems": True,
                                        "items": {"type": "integer", "minimum": 0, "maximum": 23},
                                    },
                                    "timezone": {
                                        "type": "string",
                                        "pattern": "^[A-Za-z_]+(/[A-Za-z0-9_+-]+)*$",
                                    },
                                },
                            },
                        },
                    },
                },
                {
                    "if": {"properties": {"strategy": {"const": "MANUAL"}}},
                    "then": {"not": {"required": ["config"]}},
                },
                {
                    "if": {"properties": {"strategy": {"const": "DBT_CLOUD"}}},
                    "then": {
                        "properties": {
                            "config": {
                                "type": "object",
                                "additionalProperties": False,
                                "properties": {"job_id": {"type": "string", "minLength": 1}},
                            },
                        },
                    },
                },
            ],
        },
    },
}

KIND = Kind(
    name=NAME,
    key="mapping",
    collection="mappings",
    order=70,
    parent_kind=destination.KIND,
    parent_field="destination",
    fields=(
        FieldSpec("action", "string", immutable=True),
        FieldSpec("enabled", "boolean"),
        FieldSpec("fields", "object"),
        FieldSpec("trigger", "string", optional=True),
        FieldSpec("model", "string", ref=model.KIND.name, optional=True),
        FieldSpec("schedule", "object", optional=True),
    ),
    defaults={"enabled": False, "fields": {}},
    exclusive=(("trigger",), ("model", "schedule")),
    access_scope=AccessScope.SOURCE,
    rules=(
        per_parent_limit(MAX_MAPPINGS_PER_DESTINATION, "mappings"),
        _dbt_cloud_cap,
        _catalog_action,
        _dbt_columns,
    ),  # fmt: skip
    value_rules=(fql_rule("trigger"),),
    spec_schema=SPEC_SCHEMA,
)
