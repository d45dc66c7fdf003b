"""SQLite: a process's writers queue on one in-process lock (``SqlTx.lock_workspace``) instead
of sleeping in SQLite's busy handler. The lock is held until the transaction ends — committed,
rolled back by an error, or left by an exception of the caller — and never kept after it."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from seg.store.base import ResourceRecord, UnavailableError, WorkspaceRecord
from seg.store.sql import SqlStore, open_store


def rec(ws: str, name: str) -> ResourceRecord:
    return ResourceRecord(f"workspaces/{ws}/sources/{name}", ws, "source", None, {"a": 1}, [],
                          "salt", "etag1", "t", "t")  # fmt: skip


@pytest.fixture
def sqlite(tmp_path: Path) -> SqlStore:
    store = open_store(f"sqlite:///{tmp_path / 'seg.db'}")
    with store.tx() as tx:
        tx.insert_workspace(WorkspaceRecord("w", "wid", "w", "t"))
    return store


def test_the_writer_lock_is_held_for_the_transaction_and_released_after(sqlite: SqlStore) -> None:
    writer = sqlite._writer
    assert writer is not None
    with sqlite.tx() as tx:
        tx.lock_workspace("w")
        tx.lock_workspace("w")  # again in the same transaction: no self-deadlock
        assert tx.holds_writer and writer.locked()
        tx.insert_resource(rec("w", "a"))
    assert not writer.locked()
    with sqlite.tx() as tx:  # a read-only transaction never takes it
        assert tx.get_resource("workspaces/w/sources/a") is not None
        assert not writer.locked()


def test_a_failed_or_abandoned_write_releases_the_lock(sqlite: SqlStore) -> None:
    writer = sqlite._writer
    assert writer is not None
    with pytest.raises(Exception), sqlite.tx() as tx:  # noqa: B017 - a duplicate row
        tx.lock_workspace("w")
        tx.insert_resource(rec("w", "a"))
        tx.insert_resource(rec("w", "a"))
    assert not writer.locked()
    with pytest.raises(RuntimeError), sqlite.tx() as tx:
        tx.lock_workspace("w")
        raise RuntimeError("the caller gives up mid-transaction")
    assert not writer.locked()
    with sqlite.tx() as tx:  # and the next writer gets through; nothing of the above landed
        tx.lock_workspace("w")
        assert tx.get_resource("workspaces/w/sources/a") is None


def test_concurrent_writers_all_land(sqlite: SqlStore) -> None:
    """Twenty threads of ten writes each: every write lands once, the revision counts them
    all, and no thread waits out a busy timeout (each write would fail if it did)."""
    failures: list[BaseException] = []

    def write(t: int) -> None:
        try:
            for i in range(10):
                with sqlite.tx() as tx:
                    tx.lock_workspace("w")
                    tx.insert_resource(rec("w", f"t{t}-{i}"))
        except BaseException as exc:  # noqa: BLE001 - reported below
            failures.append(exc)

    threads = [threading.Thread(target=write, args=(t,)) for t in range(20)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert not failures, failures[:3]
    with sqlite.tx() as tx:
        history = tx.history("w")
        listed = tx.list_resources("w", "source", None, None, 1000)
    assert history is not None and history.revision == 200
    assert sorted(r.name for r in listed) == sorted(
        f"workspaces/w/sources/t{t}-{i}" for t in range(20) for i in range(10))


def test_a_writer_stuck_in_its_transaction_makes_the_next_fail_as_locked_not_wait(
        sqlite: SqlStore) -> None:  # fmt: skip
    """The queue's wait is bounded like SQLite's busy timeout: behind a writer that does not
    finish, the next one gets the "database is locked" error in about the timeout, and the
    stuck writer's transaction still commits afterwards."""
    sqlite.writer_timeout = 0.3
    holding, release = threading.Event(), threading.Event()

    def stuck() -> None:
        with sqlite.tx() as tx:
            tx.lock_workspace("w")
            tx.insert_resource(rec("w", "slow"))
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=stuck)
    thread.start()
    assert holding.wait(10)
    started = time.monotonic()
    with pytest.raises(UnavailableError, match="database is locked"), sqlite.tx() as tx:
        tx.lock_workspace("w")
        tx.insert_resource(rec("w", "waiting"))
    waited = time.monotonic() - started
    release.set()
    thread.join(10)
    assert 0.25 <= waited < 5, waited
    writer = sqlite._writer
    assert writer is not None and not writer.locked()
    with sqlite.tx() as tx:
        assert tx.get_resource("workspaces/w/sources/slow") is not None
        assert tx.get_resource("workspaces/w/sources/waiting") is None
