"""DestinationFilter: an FQL condition and actions that drop or trim a destination's events."""

from __future__ import annotations

from seg.kinds import destination
from seg.kinds.shared import fql_rule, per_parent_limit
from seg.model.kinds import AccessScope, FieldSpec, Kind

__all__ = ["KIND", "MAX_FILTERS_PER_DESTINATION"]

MAX_FILTERS_PER_DESTINATION = 10

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
)
