"""A resource write's turn (``Store.write_turn``): on SQLite, which admits one writer at a
time anyway, a served control plane's resource writes take turns around all their work, so
the writes waiting sleep instead of contending for the interpreter with the one writing;
the wait is bounded like the writer lock's; on PostgreSQL (row locks) writers do not wait
for each other's turn. Through the HTTP app: a create waits while another write holds the
turn, then lands."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from seg.store.base import UnavailableError
from seg.store.sql import SqlStore, open_store
from tests.conftest import Api


@pytest.fixture
def sqlite(tmp_path: Path) -> SqlStore:
    return open_store(f"sqlite:///{tmp_path / 'seg.db'}")


def _held(store: SqlStore) -> tuple[threading.Thread, threading.Event, threading.Event]:
    """A thread holding ``store``'s write turn until told to let go."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        with store.write_turn():
            holding.set()
            release.wait(30)

    thread = threading.Thread(target=hold)
    thread.start()
    assert holding.wait(10)
    return thread, holding, release


def test_on_sqlite_a_turn_waits_for_the_one_held_and_is_bounded(sqlite: SqlStore) -> None:
    sqlite.writer_timeout = 0.3
    thread, _, release = _held(sqlite)
    started = time.monotonic()
    with pytest.raises(UnavailableError, match="database is locked"), sqlite.write_turn():
        pass
    waited = time.monotonic() - started
    release.set()
    thread.join(10)
    assert 0.25 <= waited < 5, waited
    with sqlite.write_turn():  # let go: the next turn is had at once
        pass


def test_a_turn_left_by_an_exception_is_released(sqlite: SqlStore) -> None:
    sqlite.writer_timeout = 0.3
    with pytest.raises(RuntimeError), sqlite.write_turn():
        raise RuntimeError("the write failed")
    with sqlite.write_turn():  # not held: no wait, no "locked"
        pass


@pytest.mark.postgres
def test_on_postgresql_writers_do_not_take_turns(pg_store: SqlStore) -> None:
    thread, _, release = _held(pg_store)
    try:
        started = time.monotonic()
        with pg_store.write_turn():
            pass
        assert time.monotonic() - started < 1
    finally:
        release.set()
        thread.join(10)


def test_a_create_over_http_waits_for_the_turn_on_sqlite_only(api: Api) -> None:
    store = api.cp.store
    assert isinstance(store, SqlStore)
    sqlite = store.engine.dialect.name == "sqlite"
    thread, _, release = _held(store)
    answers: list[int] = []
    create = threading.Thread(target=lambda: answers.append(
        api.create_source("web").status_code))  # fmt: skip
    create.start()
    try:
        create.join(0.5 if sqlite else 10)
        assert create.is_alive() is sqlite  # held back by the turn on SQLite alone
    finally:
        release.set()
        thread.join(10)
        create.join(10)
    assert answers == [200]
    assert api.http.get(api.url("/sources/web")).status_code == 200
