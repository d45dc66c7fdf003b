"""The store's resource versions (SQLite and PostgreSQL): append, list newest first with a
cursor, get one, delete a resource's; the constraints say which rule a write broke."""

from __future__ import annotations

from dataclasses import replace

import pytest

from seg.store.base import (
    AlreadyExistsError,
    InvalidValueError,
    MissingReferenceError,
    ResourceRecord,
    StillReferencedError,
    VersionRecord,
    WorkspaceRecord,
)
from seg.store.sql import SqlStore

NOW = "2026-01-01T00:00:00.000Z"


@pytest.fixture
def fn(store: SqlStore, slug: str) -> str:
    name = f"workspaces/{slug}/functions/fx"
    with store.tx() as tx:
        tx.insert_workspace(WorkspaceRecord(slug, slug + "id", slug, NOW))
        tx.insert_resource(ResourceRecord(name, slug, "Function", None, {"code": "a"}, [], "s",
                                          "e1", NOW, NOW, latest_version=1))  # fmt: skip
    return name


def version(name: str, n: int, value: str = "code") -> VersionRecord:
    return VersionRecord(name.split("/")[1], name, n, f"{value} {n}", NOW, "tok_1")


def test_versions_round_trip_newest_first(store: SqlStore, fn: str) -> None:
    with store.tx() as tx:
        for n in (1, 2, 3, 4):
            tx.insert_version(version(fn, n))
    with store.tx() as tx:
        assert [v.version for v in tx.list_versions(fn, None, 10)] == [4, 3, 2, 1]
        assert [v.version for v in tx.list_versions(fn, 4, 2)] == [3, 2]
        assert tx.list_versions(fn, 1, 10) == []
        assert tx.get_version(fn, 2) == version(fn, 2)
        assert tx.get_version(fn, 9) is None
        assert tx.get_resource(fn).latest_version == 1  # the column round-trips
        tx.update_resource(replace(tx.get_resource(fn), latest_version=4))
        assert tx.get_resource(fn).latest_version == 4


def test_a_resource_goes_only_without_its_versions(store: SqlStore, fn: str) -> None:
    with store.tx() as tx:
        tx.insert_version(version(fn, 1))
    with pytest.raises(StillReferencedError), store.tx() as tx:
        tx.delete_resource(fn)
    with store.tx() as tx:
        assert tx.delete_versions(fn) == 1
        assert tx.delete_resource(fn)
        assert tx.list_versions(fn, None, 10) == []


def test_constraints_name_the_broken_rule(store: SqlStore, fn: str) -> None:
    with store.tx() as tx:
        tx.insert_version(version(fn, 1))
    with pytest.raises(AlreadyExistsError), store.tx() as tx:
        tx.insert_version(version(fn, 1, "other"))
    with pytest.raises(MissingReferenceError), store.tx() as tx:
        tx.insert_version(version(fn.replace("/fx", "/gone"), 1))
    with pytest.raises(InvalidValueError), store.tx() as tx:
        tx.insert_version(version(fn, 0))
    with store.tx() as tx:
        assert [v.value for v in tx.list_versions(fn, None, 10)] == ["code 1"]
