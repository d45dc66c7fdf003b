"""Source: where events come from (a website, a warehouse); it owns destinations and models,
carries labels, and connects to at most one tracking plan."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seg.kinds import tracking_plan
from seg.kinds.catalogs import FUNCTION_PREFIX, catalog_rule
from seg.kinds.shared import readable_names, reconnect_rule
from seg.kinds.warehouse import connected_warehouses
from seg.model.kinds import AccessScope, Code, FieldSpec, Kind, Lookup, Ref, Subject, Violation

__all__ = ["KIND"]


def _references(fields: Mapping[str, Any]) -> list[Ref]:
    """Its labels, and the source function it deploys (``catalog: function:<name>``)."""
    out: list[Ref] = []
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
    ),
    defaults={"enabled": True, "settings": {}, "display_name": ""},
    access_scope=AccessScope.SOURCE,
    rules=(reconnect_rule("tracking_plan", "tracking plan"), catalog_rule),
    delete_rules=(_connected,),
    references=_references,
    catalog_section="source",
    spec_schema=SPEC_SCHEMA,
)
