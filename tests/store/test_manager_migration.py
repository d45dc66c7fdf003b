"""Databases from before managers existed: opening one adds ``resources.manager`` and gives
every resource seg wrote (non-empty ``managed_paths``) the default manager in the same step,
while resources made through the raw API (``managed_paths`` ``[]``) stay nobody's. On a real
old-shaped SQLite file and on PostgreSQL (in a schema of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa

from seg.kinds.names import DEFAULT_MANAGER
from seg.store.sql import SqlStore
from tests.store.legacy import BACKENDS, MIGRATED_MANAGER, WS, old_shaped_database, upgraded


def _rows(conn: sa.Connection) -> None:
    """A source seg wrote and one made through the raw API."""
    for name, managed in (("web", '["catalog", "enabled"]'), ("ui-made", "[]")):
        conn.execute(sa.text(
            "INSERT INTO resources (name, workspace, kind, parent, data, secret_paths, "
            "salt, etag, create_time, update_time, managed_paths, protect, "
            "secret_values) VALUES (:n, :w, 'Source', NULL, "
            "'{\"catalog\": \"javascript\"}', '[]', 's', 'e', 't', 't', :m, false, '')"
        ), {"n": f"workspaces/{WS}/sources/{name}", "w": WS, "m": managed})  # fmt: skip


def _managers(store: SqlStore) -> dict[str, str]:
    with store.tx() as tx:
        return {r.name.rsplit("/", 1)[1]: r.manager
                for r in tx.list_resources(WS, "Source", None, None, 10)}  # fmt: skip


@pytest.fixture(params=BACKENDS)
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The tables as the previous release made them: no ``resources.manager`` column."""
    yield from old_shaped_database(request, tmp_path, "resources", "manager", _rows)


def test_seg_made_resources_keep_their_manager(old_database: str) -> None:
    with upgraded(old_database) as store:
        assert _managers(store) == {"web": DEFAULT_MANAGER, "ui-made": ""}
        store.create_schema()  # opening it again changes nothing
        assert _managers(store) == {"web": DEFAULT_MANAGER, "ui-made": ""}


def test_the_migrated_manager_is_the_default_one() -> None:
    # the store imports no seg module: the two names are kept equal here
    assert MIGRATED_MANAGER == DEFAULT_MANAGER
