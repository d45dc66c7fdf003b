"""Databases from before creators were kept: opening one adds ``resources.creator`` (empty for
every existing row) and the store keeps working — reads, writes, and creator-edited kinds
whose rows have no creator stay editable by anyone with write access. On a real old-shaped
SQLite file and on PostgreSQL (in a schema of its own)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from seg.server.app import create_app
from seg.server.inprocess import InProcessTransport
from seg.server.service import ControlPlane
from tests.store.legacy import BACKENDS, WS, old_shaped_database, upgraded

ALERT = {"type": "source_volume", "threshold_percent": 20, "channels": ["in_app"],
         "enabled": True}  # fmt: skip


def _rows(conn: sa.Connection) -> None:
    """One source and one alert on it."""
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


@pytest.fixture(params=BACKENDS)
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The tables as the previous release made them: no ``resources.creator`` column."""
    yield from old_shaped_database(request, tmp_path, "resources", "creator", _rows)


def test_an_upgraded_store_keeps_working_and_old_alerts_are_anyones(old_database: str) -> None:
    with upgraded(old_database) as store:
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
