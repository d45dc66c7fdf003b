"""A workspace's catalog on the control plane: the built-in entries plus the private ones it
imported (stored by the store in their JSON form, checked when they were imported)."""

from __future__ import annotations

from collections.abc import Iterable

from seg.catalog import Catalog, CatalogError, Entry, builtin, parse_entry
from seg.store.base import CatalogRecord, StoreTx

__all__ = ["entry_of", "private_entries", "workspace_catalog"]


def entry_of(rec: CatalogRecord) -> Entry | None:
    """The entry a stored row holds; None for one this seg cannot read (never written by it)."""
    try:
        return parse_entry(rec.data, f"{rec.section} {rec.id}", private=True)
    except CatalogError:
        return None


def private_entries(records: Iterable[CatalogRecord]) -> list[Entry]:
    """The readable entries of ``records`` that a built-in entry does not shadow (an id a
    later seg ships as built-in is the built-in one)."""
    shipped = builtin()
    out = []
    for rec in records:
        entry = entry_of(rec)
        if entry is not None and shipped.get(entry.section, entry.id) is None:
            out.append(entry)
    return out


def workspace_catalog(tx: StoreTx, workspace: str) -> Catalog:
    """The built-in catalog with ``workspace``'s private entries, read in ``tx``."""
    entries = private_entries(tx.all_catalog_entries(workspace))
    return builtin().with_entries(entries) if entries else builtin()
