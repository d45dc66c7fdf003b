"""Source: where events come from (a website, a warehouse); it owns destinations and models,
carries labels, and connects to at most one tracking plan."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seg.kinds import tracking_plan
from seg.kinds.shared import reconnect_rule
from seg.model.kinds import AccessScope, FieldSpec, Kind, Ref

__all__ = ["KIND"]


def _labels(fields: Mapping[str, Any]) -> list[Ref]:
    labels = fields.get("labels")
    if not isinstance(labels, dict):
        return []
    return [("Label", f"{k}:{v}", ("labels", str(k))) for k, v in labels.items()]


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
        FieldSpec("tracking_plan", "string", ref=tracking_plan.KIND.name, optional=True,
                  reconnect=True),  # fmt: skip
        FieldSpec("labels", "object", map_like=True),
    ),
    defaults={"enabled": True, "settings": {}, "display_name": ""},
    access_scope=AccessScope.SOURCE,
    rules=(reconnect_rule("tracking_plan", "tracking plan"),),
    references=_labels,
)
