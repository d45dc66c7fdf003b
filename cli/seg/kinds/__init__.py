"""The registry of resource kinds: one module per kind, found here.

Each module of this package other than the helpers (``HELPERS``) defines ``KIND``: its
fields, parent, references, access scope, limits, file fields, hints and rules. Loader,
engine, client, views and server ask this registry and never name a kind. Adding a kind
means adding its module (its spec's JSON Schema is ``KIND.spec_schema``), then
``python -m seg.editor_schemas schemas`` to generate ``schemas/resolved/`` and the published
schemas; nothing else names it.
"""

from __future__ import annotations

import importlib
import pkgutil
from types import ModuleType

from seg.model.kinds import Kind

__all__ = ["HELPERS", "KINDS", "MODULES", "kind_by_key", "kinds_in_order"]

# Modules of this package that are not kinds (they read the registry or serve the kinds).
HELPERS = frozenset({"catalogs", "lookup", "names", "refs", "shared"})


def _kind_modules() -> tuple[ModuleType, ...]:
    found = [importlib.import_module(f"{__name__}.{info.name}")
             for info in pkgutil.iter_modules(__path__) if info.name not in HELPERS]  # fmt: skip
    return tuple(sorted(found, key=lambda module: module.KIND.order))


MODULES = _kind_modules()

# In apply order (parents before children), which is also the order every listing uses.
KINDS: dict[str, Kind] = {module.KIND.name: module.KIND for module in MODULES}


def kinds_in_order() -> list[Kind]:
    """Kinds in apply order (parents before children)."""
    return sorted(KINDS.values(), key=lambda k: k.order)


def kind_by_key(key: str) -> Kind | None:
    for kind in KINDS.values():
        if kind.key == key:
            return kind
    return None
