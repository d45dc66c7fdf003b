"""The registry of resource kinds: one module per kind, collected here.

Each module defines ``KIND``: its fields, parent, references, access scope, limits, file
fields, hints and rules. Loader, engine, client, views and server ask this registry and never
name a kind. Adding a kind means adding its module here, a JSON Schema in
``schemas/resolved/`` (then ``seg schema --write schemas`` for the published ones).
"""

from __future__ import annotations

from seg.kinds import (
    destination,
    destination_filter,
    group,
    label,
    mapping,
    model,
    role_binding,
    source,
    tracking_plan,
)
from seg.model.kinds import Kind

__all__ = ["KINDS", "MODULES", "kind_by_key", "kinds_in_order"]

MODULES = (label, group, tracking_plan, source, role_binding, destination, model,
           destination_filter, mapping)  # fmt: skip

KINDS: dict[str, Kind] = {module.KIND.name: module.KIND for module in MODULES}


def kinds_in_order() -> list[Kind]:
    """Kinds in apply order (parents before children)."""
    return sorted(KINDS.values(), key=lambda k: k.order)


def kind_by_key(key: str) -> Kind | None:
    for kind in KINDS.values():
        if kind.key == key:
            return kind
    return None
