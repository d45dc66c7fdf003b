"""DestinationFilter: an FQL condition and actions that drop or trim a destination's events."""

from __future__ import annotations

from typing import Any

from seg.kinds import destination
from seg.kinds.shared import fql_rule, parent_property, per_parent_limit
from seg.model.kinds import AccessScope, FieldSpec, Kind

__all__ = ["KIND", "MAX_FILTERS_PER_DESTINATION"]

MAX_FILTERS_PER_DESTINATION = 10

# The spec as seg validate and the control plane check it (after interpolation);
# schemas/resolved/ and the published schemas are generated from it.
SPEC_SCHEMA: dict[str, Any] = {
    "title": "DestinationFilter spec",
    "description": (
        "A destination filter: when `if` (FQL) matches an event, its actions run (sample, drop, "
        "drop properties, allow properties). At most 10 per destination."
    ),
    "type": "object",
    "required": ["destination", "title", "if", "actions"],
    "additionalProperties": False,
    "properties": {
        "destination": parent_property(
            destination.KIND, "Address of the destination (source/destination)."
        ),
        "title": {"type": "string", "minLength": 1, "maxLength": 64},
        "description": {"type": "string", "maxLength": 1000},
        "if": {
            "type": "string",
            "minLength": 1,
            "description": "FQL condition (at most 5 KB), or `all`.",
        },
        "enabled": {"type": "boolean", "default": True},
        "actions": {
            "type": "array",
            "minItems": 1,
            "items": {
                "type": "object",
                "required": ["type"],
                "properties": {
                    "type": {"enum": ["DROP", "SAMPLE", "DROP_PROPERTIES", "ALLOW_PROPERTIES"]},
                },
                "allOf": [
                    {
                        "if": {"properties": {"type": {"const": "DROP"}}},
                        "then": {"additionalProperties": False, "properties": {"type": True}},
                    },
                    {
                        "if": {"properties": {"type": {"const": "SAMPLE"}}},
                        "then": {
                            "additionalProperties": False,
                            "required": ["percent"],
                            "properties": {
                                "type": True,
                                "percent": {"type": "number", "exclusiveMinimum": 0, "maximum": 1},
                                "path": {"type": "string", "minLength": 1},
                            },
                        },
                    },
                    {
                        "if": {
                            "properties": {
                                "type": {"enum": ["DROP_PROPERTIES", "ALLOW_PROPERTIES"]},
                            },
                        },
                        "then": {
                            "additionalProperties": False,
                            "required": ["fields"],
                            "properties": {
                                "type": True,
                                "fields": {
                                    "type": "object",
                                    "minProperties": 1,
                                    "description": (
                                        "Object path (\"\" = the event's top level) → keys."
                                    ),
                                    "additionalProperties": {
                                        "type": "array",
                                        "minItems": 1,
                                        "items": {"type": "string", "minLength": 1},
                                    },
                                },
                            },
                        },
                    },
                ],
            },
        },
    },
}

KIND = Kind(
    name="DestinationFilter",
    key="filter",
    collection="filters",
    order=60,
    parent_kind=destination.KIND,
    parent_field="destination",
    fields=(
        FieldSpec("title", "string"),
        FieldSpec("description", "string"),
        FieldSpec("if", "string"),
        FieldSpec("actions", "array"),
        FieldSpec("enabled", "boolean"),
    ),
    defaults={"enabled": True, "description": ""},
    access_scope=AccessScope.SOURCE,
    rules=(per_parent_limit(MAX_FILTERS_PER_DESTINATION, "filters"),),
    value_rules=(fql_rule("if"),),
    spec_schema=SPEC_SCHEMA,
)
