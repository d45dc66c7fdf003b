"""A ``Lookup`` over resources held in memory, by (kind, address): the declared workspace
(``seg validate``) or a state (the plan's and ``seg check``'s models in use). Pure."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from seg.catalog import Catalog, builtin
from seg.model.kinds import DbtLinks

__all__ = ["IndexLookup"]

Key = tuple[str, str]
Entry = tuple[str, Mapping[str, Any]]


class IndexLookup:
    """Every resource once; ``under`` and ``every`` keep the index's order."""

    def __init__(self, index: Mapping[Key, Mapping[str, Any]],
                 catalog: Catalog | None = None, plan_tier: str | None = None,
                 dbt: DbtLinks | None = None) -> None:  # fmt: skip
        self._index = index
        self.dbt = dbt
        self.catalog = catalog if catalog is not None else builtin()
        self.plan_tier = plan_tier
        kinds: dict[str, list[Entry]] = {}
        children: dict[Key, list[Entry]] = {}
        for (kind, address), fields in index.items():
            kinds.setdefault(kind, []).append((address, fields))
            parent, sep, _ = address.rpartition("/")
            if sep:
                children.setdefault((kind, parent), []).append((address, fields))
        # tuples: handed out as they are, never copied per call (validate stays linear)
        self._kinds = {kind: tuple(entries) for kind, entries in kinds.items()}
        self._children = {key: tuple(entries) for key, entries in children.items()}

    def get(self, kind_name: str, address: str) -> Mapping[str, Any] | None:
        return self._index.get((kind_name, address))

    def under(self, kind_name: str, parent_address: str) -> Sequence[Entry]:
        return self._children.get((kind_name, parent_address), ())

    def every(self, kind_name: str) -> Iterable[Entry]:
        return iter(self._kinds.get(kind_name, ()))
