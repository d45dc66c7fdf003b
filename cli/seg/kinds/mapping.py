"""Mapping: an action sending a destination events (on an FQL trigger) or a model's rows (on
a schedule)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seg.kinds import destination, model
from seg.kinds.shared import fql_rule, per_lookup, per_parent_limit
from seg.model.kinds import AccessScope, Code, FieldSpec, Kind, Lookup, Subject, Violation

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
    rules=(per_parent_limit(MAX_MAPPINGS_PER_DESTINATION, "mappings"), _dbt_cloud_cap),
    value_rules=(fql_rule("trigger"),),
)
