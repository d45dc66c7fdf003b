"""Old-shaped databases for the migration tests: the tables as a release from before migrations
made them (the baseline revision's tables, unversioned, less one column), with one workspace and whatever rows a test adds, on a real
SQLite file or on PostgreSQL in a schema of its own; and the store that opens (upgrades) one."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import sqlalchemy as sa

from seg.store.migrate import migrate
from seg.store.sql import SqlStore, normalise_url, open_store
from tests.conftest import POSTGRES_URL

WS = "legacy"
# ``params`` of an ``old_database`` fixture: each old-shaped database on both backends.
BACKENDS = ["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]


def _make(url: str, table: str, column: str, rows: Callable[[sa.Connection], None]) -> None:
    engine = sa.create_engine(normalise_url(url))
    try:
        migrate(engine, "0001")  # the baseline: the last release without migrations
        with engine.begin() as conn:
            conn.execute(sa.text("DROP TABLE alembic_version"))  # it had no version table
            conn.execute(sa.text(f"ALTER TABLE {table} DROP COLUMN {column}"))
            conn.execute(sa.text(
                "INSERT INTO workspaces (slug, id, display_name, create_time, "
                "model_change_policy) VALUES (:s, 'ws_1', 'Legacy', '2026-01-01', 'strict')"
            ), {"s": WS})  # fmt: skip
            rows(conn)
        assert column not in {c["name"] for c in sa.inspect(engine).get_columns(table)}
    finally:
        engine.dispose()


def _no_rows(conn: sa.Connection) -> None:
    del conn


def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The body of a fixture parametrised over ``BACKENDS``: the URL of an empty database, a
    new SQLite file or a PostgreSQL schema of its own (dropped afterwards)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'db.sqlite'}"
        return
    request.getfixturevalue("pg_store")  # fails in CI without PostgreSQL, skips locally
    schema = "mig_" + secrets.token_hex(4)
    admin = sa.create_engine(normalise_url(POSTGRES_URL))
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in POSTGRES_URL else "?"
    try:
        yield f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def old_shaped_database(
    request: pytest.FixtureRequest,
    tmp_path: Path,
    table: str,
    column: str,
    rows: Callable[[sa.Connection], None] = _no_rows,
) -> Iterator[str]:
    """The body of an ``old_database`` fixture parametrised over ``BACKENDS``: yields the URL
    of a database without ``table.column``, holding the workspace ``WS`` and what ``rows``
    inserts (it runs in the same transaction). A SQLite file, or a fresh PostgreSQL schema
    dropped afterwards."""
    for url in empty_database(request, tmp_path):
        _make(url, table, column, rows)
        yield url


@contextmanager
def upgraded(url: str) -> Iterator[SqlStore]:
    """The store on an old-shaped database: opening it is the upgrade. Closed afterwards."""
    store = open_store(url)
    try:
        yield store
    finally:
        store.close()


def _baseline() -> object:
    """The baseline migration's module (its file name starts with a digit)."""
    import importlib.util

    from seg.store.migrate import MIGRATIONS

    spec = importlib.util.spec_from_file_location(
        "seg_baseline", MIGRATIONS / "versions" / "0001_baseline.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The manager the baseline migration gives resources seg wrote before managers existed.
MIGRATED_MANAGER: str = _baseline().MIGRATED_MANAGER  # type: ignore[attr-defined]

