"""Databases from before managers existed: opening one adds ``resources.manager`` and gives
every resource seg wrote (non-empty ``managed_paths``) the default manager in the same step,
while resources made through the raw API (``managed_paths`` ``[]``) stay nobody's. On a real
old-shaped SQLite file and on PostgreSQL (in a schema of its own)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from seg.kinds.names import DEFAULT_MANAGER
from seg.store.sql import MIGRATED_MANAGER, SqlStore, metadata, normalise_url, open_store
from tests.conftest import POSTGRES_URL

WS = "legacy"


def _old_schema(url: str) -> None:
    """The tables as the previous release made them: no ``resources.manager`` column."""
    engine = sa.create_engine(normalise_url(url))
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE resources DROP COLUMN manager"))
            conn.execute(sa.text(
                "INSERT INTO workspaces (slug, id, display_name, create_time, "
                "model_change_policy) VALUES (:s, 'ws_1', 'Legacy', '2026-01-01', 'strict')"
            ), {"s": WS})  # fmt: skip
            for name, managed in (("web", '["catalog", "enabled"]'), ("ui-made", "[]")):
                conn.execute(sa.text(
                    "INSERT INTO resources (name, workspace, kind, parent, data, secret_paths, "
                    "salt, etag, create_time, update_time, managed_paths, protect, "
                    "secret_values) VALUES (:n, :w, 'Source', NULL, "
                    "'{\"catalog\": \"javascript\"}', '[]', 's', 'e', 't', 't', :m, false, '')"
                ), {"n": f"workspaces/{WS}/sources/{name}", "w": WS, "m": managed})  # fmt: skip
        assert "manager" not in {c["name"] for c in sa.inspect(engine).get_columns("resources")}
    finally:
        engine.dispose()


def _managers(store: SqlStore) -> dict[str, str]:
    with store.tx() as tx:
        return {r.name.rsplit("/", 1)[1]: r.manager
                for r in tx.list_resources(WS, "Source", None, None, 10)}  # fmt: skip


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The URL of an old-shaped database: a SQLite file, or a fresh PostgreSQL schema."""
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        _old_schema(url)
        yield url
        return
    request.getfixturevalue("pg_store")  # fails in CI without PostgreSQL, skips locally
    schema = "mig_" + secrets.token_hex(4)
    admin = sa.create_engine(normalise_url(POSTGRES_URL))
    with admin.begin() as conn:
        conn.execute(sa.text(f"CREATE SCHEMA {schema}"))
    sep = "&" if "?" in POSTGRES_URL else "?"
    url = f"{POSTGRES_URL}{sep}options=-csearch_path%3D{schema}"
    try:
        _old_schema(url)
        yield url
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f"DROP SCHEMA {schema} CASCADE"))
        admin.dispose()


def test_seg_made_resources_keep_their_manager(old_database: str) -> None:
    store = open_store(old_database)
    try:
        assert _managers(store) == {"web": DEFAULT_MANAGER, "ui-made": ""}
        store.create_schema()  # opening it again changes nothing
        assert _managers(store) == {"web": DEFAULT_MANAGER, "ui-made": ""}
    finally:
        store.close()


def test_the_migrated_manager_is_the_default_one() -> None:
    # the store imports no seg module: the two names are kept equal here
    assert MIGRATED_MANAGER == DEFAULT_MANAGER
