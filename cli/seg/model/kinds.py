"""The registry of resource kinds: fields, parents, API collections, apply order.

Adding a kind means adding an entry here, a JSON Schema in ``schemas/resolved/`` (then
``seg schema --write schemas`` for the published ones) and any rules the
control plane enforces for it; loader, engine, client and server all read this registry.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "KINDS",
    "LABEL_PATTERN",
    "WAREHOUSE_CATALOGS",
    "FieldSpec",
    "Kind",
    "kind_by_key",
    "kinds_in_order",
]

EMPTY_VALUES: dict[str, Any] = {
    "string": "",
    "boolean": False,
    "integer": 0,
    "number": 0,
    "object": {},
    "array": [],
}


@dataclass(frozen=True)
class FieldSpec:
    """One API/spec field of a kind."""

    name: str
    type: str
    immutable: bool = False
    # Map-like fields (settings) are diffed and masked per key, so keys the YAML does not
    # declare stay untouched on the server.
    map_like: bool = False
    # A reference to another kind, written in YAML as a name under the same source and sent
    # to the API as a full resource name (Mapping.model → a Model of the mapping's source).
    ref: str | None = None
    # Optional fields are removed (not set to their empty value) when masked without a value.
    optional: bool = False
    # Switching the value from one non-empty value to another needs a clear first
    # (Source.tracking_plan: a source is connected to at most one plan at a time).
    reconnect: bool = False
    # Arrays whose item order carries no meaning (TrackingPlan.rules, identified by type, key
    # and version): compared as multisets, so a reordering is not a change.
    unordered: bool = False

    @property
    def empty(self) -> Any:
        value = EMPTY_VALUES[self.type]
        return type(value)() if isinstance(value, dict | list) else value


@dataclass(frozen=True)
class Kind:
    """A resource kind: how it is named, nested, stored and ordered."""

    name: str
    key: str
    collection: str
    order: int
    fields: tuple[FieldSpec, ...]
    parent: str | None = None
    parent_field: str | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    # Groups of fields that exclude each other: declaring a field of one group clears the
    # fields of the others that are set on the server (Mapping: trigger vs model + schedule).
    exclusive: tuple[tuple[str, ...], ...] = ()
    # Resources whose API names use server-generated ids (``tp_…``); the YAML name travels as
    # ``external_id`` and is their address.
    id_prefix: str | None = None
    # The pattern a name must match whole (slugs by default; labels are ``key:value``).
    name_pattern: str = r"^[a-z][a-z0-9-]{0,62}$"
    # Names the control plane creates itself (built-in labels): never deleted by a plan.
    system_names: frozenset[str] = frozenset()
    # Mutations need a workspace:owner token (IAM: labels, groups, role bindings).
    owner_only: bool = False
    # Changes to it change who can access what: plans call them out first.
    access: bool = False

    def field(self, name: str) -> FieldSpec | None:
        for spec in self.fields:
            if spec.name == name:
                return spec
        return None

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def schema_file(self) -> str:
        """Its spec's schema, as seg checks it after interpolation (``schemas/resolved/``)."""
        return f"resolved/{self.key.replace('_', '-')}.schema.json"

    def chain(self) -> list[Kind]:
        """This kind's ancestors, outermost first, ending with the kind itself."""
        chain = [self]
        while chain[0].parent is not None:
            chain.insert(0, KINDS[chain[0].parent])
        return chain


# Matched whole (``re.fullmatch``: in Python ``$`` also matches before a trailing newline);
# bounded so that a full resource name fits the store's name column.
LABEL_PATTERN = r"^[A-Za-z][A-Za-z0-9-]{0,62}:[A-Za-z][A-Za-z0-9-]{0,62}$"

KINDS: dict[str, Kind] = {
    "Label": Kind(
        name="Label",
        key="label",
        collection="labels",
        order=10,
        fields=(FieldSpec("description", "string"),),
        defaults={"description": ""},
        name_pattern=LABEL_PATTERN,
        system_names=frozenset({"environment:dev", "environment:prod"}),
        owner_only=True,
        access=True,
    ),
    "Group": Kind(
        name="Group",
        key="group",
        collection="groups",
        order=12,
        fields=(FieldSpec("display_name", "string"), FieldSpec("members", "array")),
        defaults={"display_name": "", "members": []},
        owner_only=True,
        access=True,
    ),
    "TrackingPlan": Kind(
        name="TrackingPlan",
        key="tracking_plan",
        collection="tracking-plans",
        order=20,
        fields=(
            FieldSpec("display_name", "string"),
            FieldSpec("description", "string"),
            FieldSpec("rules", "array", unordered=True),
        ),
        defaults={"display_name": "", "description": "", "rules": []},
        id_prefix="tp_",
    ),
    "Source": Kind(
        name="Source",
        key="source",
        collection="sources",
        order=30,
        fields=(
            FieldSpec("display_name", "string"),
            FieldSpec("catalog", "string", immutable=True),
            FieldSpec("enabled", "boolean"),
            FieldSpec("settings", "object", map_like=True),
            FieldSpec("tracking_plan", "string", ref="TrackingPlan", optional=True, reconnect=True),
            FieldSpec("labels", "object", map_like=True),
        ),
        defaults={"enabled": True, "settings": {}, "display_name": ""},
    ),
    "RoleBinding": Kind(
        name="RoleBinding",
        key="role_binding",
        collection="role-bindings",
        order=35,
        fields=(
            FieldSpec("subject", "object"),
            FieldSpec("role", "string"),
            FieldSpec("scope", "object"),
        ),
        owner_only=True,
        access=True,
    ),
    "Destination": Kind(
        name="Destination",
        key="destination",
        collection="destinations",
        order=40,
        parent="Source",
        parent_field="source",
        fields=(
            FieldSpec("display_name", "string"),
            FieldSpec("catalog", "string", immutable=True),
            FieldSpec("enabled", "boolean"),
            FieldSpec("connection_mode", "string"),
            FieldSpec("settings", "object", map_like=True),
        ),
        defaults={"enabled": False, "connection_mode": "cloud", "settings": {}, "display_name": ""},
    ),
    "Model": Kind(
        name="Model",
        key="model",
        collection="models",
        order=50,
        parent="Source",
        parent_field="source",
        fields=(
            FieldSpec("description", "string"),
            FieldSpec("enabled", "boolean"),
            FieldSpec("query", "string"),
            FieldSpec("identifier_column", "string"),
        ),
        defaults={"enabled": True, "description": ""},
    ),
    "DestinationFilter": Kind(
        name="DestinationFilter",
        key="filter",
        collection="filters",
        order=60,
        parent="Destination",
        parent_field="destination",
        fields=(
            FieldSpec("title", "string"),
            FieldSpec("description", "string"),
            FieldSpec("if", "string"),
            FieldSpec("actions", "array"),
            FieldSpec("enabled", "boolean"),
        ),
        defaults={"enabled": True, "description": ""},
    ),
    "Mapping": Kind(
        name="Mapping",
        key="mapping",
        collection="mappings",
        order=70,
        parent="Destination",
        parent_field="destination",
        fields=(
            FieldSpec("action", "string", immutable=True),
            FieldSpec("enabled", "boolean"),
            FieldSpec("fields", "object"),
            FieldSpec("trigger", "string", optional=True),
            FieldSpec("model", "string", ref="Model", optional=True),
            FieldSpec("schedule", "object", optional=True),
        ),
        defaults={"enabled": False, "fields": {}},
        exclusive=(("trigger",), ("model", "schedule")),
    ),
}

WAREHOUSE_CATALOGS = frozenset({"postgres", "snowflake", "bigquery", "redshift", "databricks"})


def kinds_in_order() -> list[Kind]:
    """Kinds in apply order (parents before children)."""
    return sorted(KINDS.values(), key=lambda k: k.order)


def kind_by_key(key: str) -> Kind | None:
    for kind in KINDS.values():
        if kind.key == key:
            return kind
    return None
