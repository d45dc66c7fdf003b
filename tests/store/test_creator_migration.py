"""Databases from before creators were kept: opening one adds ``resources.creator`` (empty for
every existing row) and the store keeps working — reads, writes, and creator-edited kinds
whose rows have no creator stay editable by anyone with write access. On a real old-shaped
SQLite file and on PostgreSQL (in a schema of its own)."""

from __future__ import annotations

import json
import secrets
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from seg.server.app import create_app
from seg.server.inprocess import InProcessTransport
from seg.server.service import ControlPlane
from seg.store.sql import metadata, normalise_url, open_store
from tests.conftest import POSTGRES_URL

WS = "legacy"
ALERT = {"type": "source_volume", "threshold_percent": 20, "channels": ["in_app"],
         "enabled": True}  # fmt: skip


def _old_schema(url: str) -> None:
    """The tables as the previous release made them: no ``resources.creator`` column, one
    source and one alert on it."""
    engine = sa.create_engine(normalise_url(url))
    try:
        metadata.create_all(engine)
        with engine.begin() as conn:
            conn.execute(sa.text("ALTER TABLE resources DROP COLUMN creator"))
            conn.execute(sa.text(
                "INSERT INTO workspaces (slug, id, display_name, create_time, "
                "model_change_policy) VALUES (:s, 'ws_1', 'Legacy', '2026-01-01', 'strict')"
            ), {"s": WS})  # fmt: skip
            source = f"workspaces/{WS}/sources/shop"
            rows = [(source, "Source", None, {"catalog": "javascript"}),
                    (f"{source}/alerts/drop", "Alert", source, ALERT)]  # fmt: skip
            for name, kind, parent, data in rows:
                conn.execute(sa.text(
                    "INSERT INTO resources (name, workspace, kind, parent, data, secret_paths, "
                    "salt, etag, create_time, update_time, managed_paths, protect, "
                    "secret_values, manager, latest_version) VALUES (:n, :w, :k, :p, :d, '[]', "
                    "'s', 'e', 't', 't', '[]', false, '', '', 0)"
                ), {"n": name, "w": WS, "k": kind, "p": parent, "d": json.dumps(data)})  # fmt: skip
        assert "creator" not in {c["name"] for c in sa.inspect(engine).get_columns("resources")}
    finally:
        engine.dispose()


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


def test_an_upgraded_store_keeps_working_and_old_alerts_are_anyones(old_database: str) -> None:
    store = open_store(old_database)
    try:
        with store.tx() as tx:
            found = tx.get_resource(f"workspaces/{WS}/sources/shop/alerts/drop")
            assert found is not None and found.creator == ""
        store.create_schema()  # opening it again changes nothing
        cp = ControlPlane(store)
        _, owner = cp.workspaces.create_token(WS, "workspace:owner", "owner")
        _, writer = cp.workspaces.create_token(WS, "workspace:write", "writer")
        transport = InProcessTransport(create_app(cp))

        def client(token: str) -> httpx.Client:
            return httpx.Client(transport=transport, base_url="http://embedded",
                                headers={"Authorization": f"Bearer {token}"})  # fmt: skip

        base = f"/v1beta/workspaces/{WS}/sources/shop/alerts"
        try:
            url = f"{base}/drop"
            assert client(owner).get(url).json()["creator"] == ""
            patch = {"alert": {"threshold_percent": 30},
                     "update_mask": {"paths": ["alert.threshold_percent"]}}  # fmt: skip
            edited = client(writer).patch(url, json=patch)
            assert edited.status_code == 200, edited.text
            assert edited.json()["creator"] == ""  # an edit does not make the editor its creator
            made = client(writer).post(base, json={"alert": {
                "name": f"workspaces/{WS}/sources/shop/alerts/new", **ALERT}})  # fmt: skip
            assert made.status_code == 200, made.text
            assert made.json()["creator"].startswith("token:")
            assert client(owner).patch(f"{base}/new", json=patch).status_code == 403
            assert client(writer).delete(url).status_code == 200
        finally:
            transport.close()
    finally:
        store.close()
