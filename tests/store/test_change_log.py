"""The workspace revision and the change log, on SQLite and PostgreSQL: every resource write
counts once, in its own transaction (a rolled-back write leaves neither), concurrent writers
never share a revision nor lose an entry, the log is deduplicated per name, and old
databases migrate to revision 0 with an epoch of their own."""

from __future__ import annotations

import threading
from dataclasses import replace

import pytest
import sqlalchemy as sa

from seg.store.base import ResourceRecord, StillReferencedError, WorkspaceRecord
from seg.store.migrate import migrate, revisions
from seg.store.sql import SqlStore


def rec(ws: str, name: str, parent: str | None = None, kind: str = "source") -> ResourceRecord:
    return ResourceRecord(f"workspaces/{ws}/{name}", ws, kind, parent, {"a": 1}, [], "salt",
                          "etag1", "t", "t")  # fmt: skip


@pytest.fixture
def ws(store: SqlStore, slug: str) -> str:
    with store.tx() as tx:
        tx.insert_workspace(WorkspaceRecord(slug, slug + "id", slug, "t"))
    return slug


def _log(store: SqlStore, ws: str, after: int = 0) -> list[tuple[int, str, str]]:
    with store.tx() as tx:
        history = tx.history(ws)
        assert history is not None
        found = tx.changes(ws, after, history.revision, 10_000)
    return [(c.revision, c.name.split("/", 2)[2], c.operation) for c in found]


def test_a_new_workspace_starts_at_zero_with_a_random_epoch(store: SqlStore, ws: str,
                                                            slug: str) -> None:  # fmt: skip
    with store.tx() as tx:
        tx.insert_workspace(WorkspaceRecord(slug + "b", slug + "idb", "b", "t"))
        first, second = tx.history(ws), tx.history(slug + "b")
    assert first is not None and second is not None
    assert (first.revision, first.floor) == (0, 0)
    assert len(first.epoch) == 32 and first.epoch != second.epoch


def test_every_write_counts_once_and_the_log_names_it(store: SqlStore, ws: str) -> None:
    a = rec(ws, "sources/a")
    with store.tx() as tx:
        tx.insert_resource(a)
        tx.insert_resource(rec(ws, "sources/a/destinations/x", a.name, "destination"))
        assert tx.update_resource(replace(a, etag="e2"), a)
        assert not tx.update_resource(replace(a, etag="e3"), a)  # stale: no write, no count
        assert not tx.delete_resource(f"workspaces/{ws}/sources/none")
    with pytest.raises(StillReferencedError), store.tx() as tx:
        tx.delete_resource(a.name)  # refused by the foreign key: rolled back with its count
    with store.tx() as tx:
        assert tx.delete_resource(f"workspaces/{ws}/sources/a/destinations/x")
        history = tx.history(ws)
    assert history is not None and history.revision == 4
    # deduplicated: sources/a's create and update are one entry, at its last revision
    assert _log(store, ws) == [(3, "sources/a", "update"),
                               (4, "sources/a/destinations/x", "delete")]  # fmt: skip
    assert _log(store, ws, after=3) == [(4, "sources/a/destinations/x", "delete")]
    with store.tx() as tx:
        kinds = [c.kind for c in tx.changes(ws, 0, 4, 10)]
        assert kinds == ["source", "destination"]
        # the dedup is within (after, upto]: up to 2, sources/a's last change is its create
        assert [(c.revision, c.operation) for c in tx.changes(ws, 0, 2, 10)] == [
            (1, "create"), (2, "create")]  # fmt: skip


def test_a_rolled_back_write_leaves_no_revision(store: SqlStore, ws: str) -> None:
    with pytest.raises(RuntimeError), store.tx() as tx:
        tx.insert_resource(rec(ws, "sources/a"))
        raise RuntimeError("the service refused it after the write")
    with store.tx() as tx:
        history = tx.history(ws)
    assert history is not None and history.revision == 0 and _log(store, ws) == []


def test_concurrent_writers_never_share_a_revision_nor_lose_one(store: SqlStore, ws: str
                                                               ) -> None:  # fmt: skip
    """Writers without the service's workspace lock: the increment alone orders them."""
    errors: list[BaseException] = []

    def write(worker: int) -> None:
        try:
            for i in range(15):
                with store.tx() as tx:
                    tx.insert_resource(rec(ws, f"sources/w{worker}-{i}"))
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    log = _log(store, ws)
    assert [r for r, _, _ in log] == list(range(1, 61))
    assert len({name for _, name, _ in log}) == 60


def test_a_page_of_changes_stops_at_its_limit_in_revision_order(store: SqlStore, ws: str
                                                               ) -> None:  # fmt: skip
    with store.tx() as tx:
        for i in range(5):
            tx.insert_resource(rec(ws, f"sources/s{i}"))
        first = tx.changes(ws, 0, 5, 2)
        rest = tx.changes(ws, first[-1].revision, 5, 10)
    assert [c.revision for c in first] == [1, 2] and [c.revision for c in rest] == [3, 4, 5]


def test_an_old_database_starts_every_workspace_at_zero(engine: sa.Engine) -> None:
    before = revisions()[revisions().index("0003") - 1]
    migrate(engine, before)
    with engine.begin() as conn:
        for slug in ("one", "two"):
            conn.execute(sa.text("INSERT INTO workspaces (slug, id, display_name, create_time) "
                                 "VALUES (:s, :i, :d, 't')"), {"s": slug, "i": slug, "d": slug})  # fmt: skip
    migrate(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT workspace, epoch, revision, floor "
                                    "FROM workspace_history ORDER BY workspace")).all()  # fmt: skip
    assert [(r[0], r[2], r[3]) for r in rows] == [("one", 0, 0), ("two", 0, 0)]
    assert len({r[1] for r in rows}) == 2 and all(len(r[1]) == 32 for r in rows)
