"""Destination: where a source's events go (a catalog integration with settings)."""

from __future__ import annotations

from seg.kinds import source
from seg.model.kinds import AccessScope, FieldSpec, Kind

__all__ = ["KIND"]

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
)
