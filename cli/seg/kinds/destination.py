"""Destination: where a source's events go (a catalog integration with settings)."""

from __future__ import annotations

from typing import Any

from seg.kinds import source
from seg.kinds.catalogs import catalog_rule
from seg.kinds.shared import parent_property
from seg.model.kinds import AccessScope, FieldSpec, Kind

__all__ = ["KIND"]

# The spec as seg validate and the control plane check it (after interpolation);
# schemas/resolved/ and the published schemas are generated from it.
SPEC_SCHEMA: dict[str, Any] = {
    "title": "Destination spec",
    "type": "object",
    "required": ["source", "catalog"],
    "additionalProperties": False,
    "properties": {
        "source": parent_property(
            source.KIND, "Name of the Source this destination receives events from (its parent)."
        ),
        "display_name": {"type": "string", "maxLength": 200},
        "catalog": {
            "type": "string",
            "pattern": "^[a-z][a-z0-9-]{0,62}$",
            "description": (
                "Catalog id of the destination (amplitude, mixpanel, webhook, ...). Immutable: a "
                "change replaces the destination."
            ),
            "x-seg-immutable": True,
        },
        "enabled": {"type": "boolean", "default": False},
        "connection_mode": {"type": "string", "enum": ["cloud", "device"], "default": "cloud"},
        "settings": {
            "type": "object",
            "description": (
                "Catalog settings; keys the YAML does not declare are left alone on the server."
            ),
        },
    },
}

KIND = Kind(
    name="Destination",
    key="destination",
    collection="destinations",
    order=40,
    parent_kind=source.KIND,
    parent_field="source",
    fields=(
        FieldSpec("display_name", "string"),
        FieldSpec("catalog", "string", immutable=True),
        FieldSpec("enabled", "boolean"),
        FieldSpec("connection_mode", "string"),
        FieldSpec("settings", "object", map_like=True),
    ),
    defaults={"enabled": False, "connection_mode": "cloud", "settings": {}, "display_name": ""},
    access_scope=AccessScope.SOURCE,
    rules=(catalog_rule,),
    catalog_section="destination",
    spec_schema=SPEC_SCHEMA,
)
