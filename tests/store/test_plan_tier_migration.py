"""Databases from before plan tiers: opening one adds ``workspaces.plan_tier`` with Business
for every existing workspace (so nothing existing changes), on a real old-shaped SQLite file
and on PostgreSQL (in a schema of its own)."""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from seg.server.service import ControlPlane
from seg.store.sql import metadata, normalise_url, open_store
from tests.conftest import POSTGRES_URL

WS = "legacy"


def _old_schema(url: str) -> None:
    """The tables as the previous release made them: no ``workspaces.plan_tier`` column."""
    engine = sa.create_engine(normalise_url(url))
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE workspaces DROP COLUMN plan_tier"))
            conn.execute(sa.text(
                "INSERT INTO workspaces (slug, id, display_name, create_time, "
                "model_change_policy) VALUES (:s, 'ws_1', 'Legacy', '2026-01-01', 'strict')"
            ), {"s": WS})  # fmt: skip
        columns = {c["name"] for c in sa.inspect(engine).get_columns("workspaces")}
        assert "plan_tier" not in columns
    finally:
        engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'old.db'}"
        _old_schema(url)
        yield url
        return
    request.getfixturevalue("pg_store")  # fails in CI without PostgreSQL, skips locally
    schema = "tier_" + secrets.token_hex(4)
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


def test_old_workspaces_become_business_and_new_ones_take_their_tier(old_database: str) -> None:
    store = open_store(old_database)
    try:
        with store.tx() as tx:
            old = tx.get_workspace(WS)
        assert old is not None and old.plan_tier == "business"
        cp = ControlPlane(store)
        made, _ = cp.workspaces.init("small", plan_tier="team")
        assert made.plan_tier == "team"
        store.create_schema()  # opening it again changes nothing
        with store.tx() as tx:
            tiers = {s: ws.plan_tier for s in (WS, "small") if (ws := tx.get_workspace(s))}
        assert tiers == {WS: "business", "small": "team"}
    finally:
        store.close()
