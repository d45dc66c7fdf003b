"""The store's private catalog entries, on SQLite and PostgreSQL: upsert (create_time kept),
pages by id in byte order, per workspace, and a workspace that must exist."""

from __future__ import annotations

import pytest

from seg.store.base import CatalogRecord, MissingReferenceError, WorkspaceRecord
from seg.store.sql import SqlStore


def entry(ws: str, entry_id: str, section: str = "destination", time: str = "t1",
          **data: object) -> CatalogRecord:  # fmt: skip
    return CatalogRecord(ws, section, entry_id, {"id": entry_id, **data}, time, time)


@pytest.fixture
def ws(store: SqlStore, slug: str) -> str:
    with store.tx() as tx:
        for name in (slug, slug + "b"):
            tx.insert_workspace(WorkspaceRecord(name, name + "id", name, "2026-01-01T00:00:00Z"))
    return slug


def test_upsert_replaces_the_data_and_keeps_the_create_time(store: SqlStore, ws: str) -> None:
    with store.tx() as tx:
        tx.upsert_catalog_entry(entry(ws, "crm", display_name="one"))
    with store.tx() as tx:
        tx.upsert_catalog_entry(entry(ws, "crm", time="t2", display_name="two"))
        got = tx.get_catalog_entry(ws, "destination", "crm")
    assert got == CatalogRecord(ws, "destination", "crm", {"id": "crm", "display_name": "two"},
                                "t1", "t2")  # fmt: skip


def test_entries_are_per_workspace_and_section_in_byte_order(store: SqlStore, ws: str) -> None:
    with store.tx() as tx:
        for entry_id in ("b-b", "bb", "a", "b", "b-a"):
            tx.upsert_catalog_entry(entry(ws, entry_id))
        tx.upsert_catalog_entry(entry(ws, "a", section="source"))
        tx.upsert_catalog_entry(entry(ws + "b", "other"))
    with store.tx() as tx:
        pages, after = [], None
        while True:
            page = tx.list_catalog_entries(ws, "destination", after, 2)
            pages.append([r.id for r in page])
            if len(page) < 2:
                break
            after = page[-1].id
        assert pages == [["a", "b"], ["b-a", "b-b"], ["bb"]]
        assert [(r.section, r.id) for r in tx.all_catalog_entries(ws)] == [
            ("destination", "a"), ("destination", "b"), ("destination", "b-a"),
            ("destination", "b-b"), ("destination", "bb"), ("source", "a")]  # fmt: skip
        assert tx.catalog_keys(ws + "b") == {("destination", "other")}
        assert tx.get_catalog_entry(ws + "b", "destination", "a") is None


def test_an_entry_needs_its_workspace(store: SqlStore, slug: str) -> None:
    with pytest.raises(MissingReferenceError), store.tx() as tx:
        tx.upsert_catalog_entry(entry(slug + "-none", "crm"))
