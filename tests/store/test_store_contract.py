"""The Store contract, run on SQLite and on PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest

from seg.store.base import (
    AlreadyExistsError,
    AuditRecord,
    InvalidValueError,
    MissingReferenceError,
    ResourceRecord,
    StillReferencedError,
    TokenRecord,
    UnavailableError,
    WorkspaceRecord,
)
from seg.store.sql import SqlStore, normalise_url, open_store


def rec(
    ws: str, name: str, parent: str | None = None, kind: str = "Source", **data
) -> ResourceRecord:
    full = f"workspaces/{ws}/{name}"
    return ResourceRecord(full, ws, kind, parent, data or {"a": 1}, [], "salt", "etag1",
                          "2026-01-01T00:00:00.000Z", "2026-01-01T00:00:00.000Z")  # fmt: skip


@pytest.fixture
def ws(store: SqlStore, slug: str) -> str:
    with store.tx() as tx:
        tx.insert_workspace(WorkspaceRecord(slug, slug + "id", slug, "2026-01-01T00:00:00Z"))
    return slug


def test_workspace_and_token_round_trip(store: SqlStore, ws: str) -> None:
    token = TokenRecord("tok_" + ws, ws, "workspace:read", "ci", "h" * 60 + ws[-4:], "now")
    with store.tx() as tx:
        assert tx.get_workspace(ws).display_name == ws
        tx.insert_token(token)
        assert tx.find_token(token.secret_hash) == token
        assert tx.find_token("missing") is None
    with pytest.raises(AlreadyExistsError), store.tx() as tx:
        tx.insert_workspace(WorkspaceRecord(ws, "other", ws, "now"))


def test_resources_crud_children_and_ordering(store: SqlStore, ws: str) -> None:
    with store.tx() as tx:
        for name in ("sources/b", "sources/a", "sources/c"):
            tx.insert_resource(rec(ws, name, settings={"k": [1, 2]}))
        tx.insert_resource(rec(ws, "sources/a/destinations/x", f"workspaces/{ws}/sources/a",
                               kind="Destination"))  # fmt: skip
    with pytest.raises(AlreadyExistsError), store.tx() as tx:
        tx.insert_resource(rec(ws, "sources/a"))
    with store.tx() as tx:
        page = tx.list_resources(ws, "Source", None, None, 2)
        assert [r.name.rsplit("/", 1)[1] for r in page] == ["a", "b"]
        rest = tx.list_resources(ws, "Source", None, page[-1].name, 2)
        assert [r.name.rsplit("/", 1)[1] for r in rest] == ["c"]
        assert rest[0].data == {"settings": {"k": [1, 2]}}
        under_a = tx.list_resources(ws, "Destination", f"workspaces/{ws}/sources/a", None, 10)
        assert len(under_a) == 1 and tx.list_resources(ws, "Destination", "x", None, 10) == []
        assert tx.child_names(f"workspaces/{ws}/sources/a", 5) == [under_a[0].name]
        updated = ResourceRecord(**{**rest[0].__dict__, "data": {"z": True}, "etag": "e2"})
        tx.update_resource(updated)
        assert tx.get_resource(updated.name) == updated
        tx.delete_resource(updated.name)
        assert tx.get_resource(updated.name) is None


def test_get_resources_fetches_many_names_at_once(store: SqlStore, ws: str) -> None:
    names = [f"sources/s{i}" for i in range(600)]  # more than one query's chunk
    with store.tx() as tx:
        for name in names:
            tx.insert_resource(rec(ws, name))
        wanted = [f"workspaces/{ws}/{n}" for n in names] + [f"workspaces/{ws}/sources/nope"]
        found = tx.get_resources(wanted)
    assert sorted(found) == sorted(wanted[:-1])
    assert found[wanted[5]] == rec(ws, names[5])


def test_failed_transaction_leaves_nothing_behind(store: SqlStore, ws: str) -> None:
    with pytest.raises(RuntimeError), store.tx() as tx:
        tx.insert_resource(rec(ws, "sources/tmp"))
        raise RuntimeError("boom")
    with store.tx() as tx:
        assert tx.get_resource(f"workspaces/{ws}/sources/tmp") is None


def test_audit_is_newest_first_and_paginates(store: SqlStore, ws: str) -> None:
    with store.tx() as tx:
        for i in range(5):
            tx.insert_audit(AuditRecord(ws, f"t{i}", "tok", "desc", "POST", f"r{i}", [f"p{i}"]))
        events = tx.list_audit(ws, None, 3)
        assert [e.resource for e in events] == ["r4", "r3", "r2"] and events[0].paths == ["p4"]
        older = tx.list_audit(ws, events[-1].id, 3)
        assert [e.resource for e in older] == ["r1", "r0"]


def test_database_urls_select_psycopg() -> None:
    assert normalise_url("postgresql://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("postgres://u@h/db") == "postgresql+psycopg://u@h/db"
    assert normalise_url("sqlite:///x.db") == "sqlite:///x.db"


def test_conditional_update_writes_only_over_the_row_it_read(store: SqlStore, ws: str) -> None:
    with store.tx() as tx:
        tx.insert_resource(rec(ws, "sources/c"))
        read = tx.get_resource(f"workspaces/{ws}/sources/c")
    assert read is not None
    first = replace(read, data={"a": 2}, etag="etag2")
    second = replace(read, data={"a": 3}, etag="etag3")
    with store.tx() as tx:
        assert tx.update_resource(first, read) is True
    with store.tx() as tx:  # the second writer read the same row: its write does nothing
        assert tx.update_resource(second, read) is False
        assert tx.get_resource(read.name) == first
    with store.tx() as tx:  # ownership and protection are part of "the row read", too
        protected = replace(first, protect=True)
        assert tx.update_resource(protected, first) is True
        assert tx.update_resource(replace(first, managed_paths=["source.a"]), first) is False
        assert tx.update_resource(replace(protected, managed_paths=["source.a"]), protected)
        assert tx.get_resource(read.name).managed_paths == ["source.a"]


def test_conditional_delete_needs_the_row_it_read(store: SqlStore, ws: str) -> None:
    name = f"workspaces/{ws}/sources/d"
    with store.tx() as tx:
        tx.insert_resource(rec(ws, "sources/d"))
        read = tx.get_resource(name)
        assert read is not None
        assert tx.delete_resource(name, replace(read, etag="stale")) is False
        assert tx.delete_resource(name, replace(read, protect=True)) is False
        assert tx.get_resource(name) is not None
        assert tx.delete_resource(name, read) is True
        assert tx.delete_resource(name, read) is False  # gone: nothing to delete


def test_integrity_errors_say_precisely_what_happened(store: SqlStore, ws: str) -> None:
    parent = f"workspaces/{ws}/sources/p"
    with store.tx() as tx:
        tx.insert_resource(rec(ws, "sources/p"))
        tx.insert_resource(rec(ws, "sources/p/destinations/x", parent, kind="Destination"))
    with pytest.raises(AlreadyExistsError), store.tx() as tx:
        tx.insert_resource(rec(ws, "sources/p"))
    with pytest.raises(MissingReferenceError), store.tx() as tx:  # not "already exists"
        tx.insert_resource(rec(ws, "sources/gone/destinations/y", f"workspaces/{ws}/sources/gone",
                               kind="Destination"))  # fmt: skip
    with pytest.raises(StillReferencedError), store.tx() as tx:
        tx.delete_resource(parent)
    with store.tx() as tx:
        assert tx.get_resource(parent) is not None
        assert tx.get_resource(f"workspaces/{ws}/sources/gone/destinations/y") is None


def test_values_the_database_refuses_are_invalid_not_internal(store: SqlStore, ws: str) -> None:
    name = f"workspaces/{ws}/sources/nul\x00byte"
    if store.engine.dialect.name == "postgresql":  # text cannot hold NUL there
        with pytest.raises(InvalidValueError), store.tx() as tx:
            tx.get_resource(name)
    else:
        with store.tx() as tx:
            assert tx.get_resource(name) is None
    with store.tx() as tx:  # the store is usable afterwards
        assert tx.get_workspace(ws) is not None


def test_ping_answers_for_a_live_database_only(store: SqlStore, tmp_path: Path) -> None:
    store.ping()
    missing = open_store(f"sqlite:///{tmp_path / 'no' / 'such' / 'dir.db'}", create=False)
    with pytest.raises(UnavailableError):
        missing.ping()
    with pytest.raises(UnavailableError), missing.tx() as tx:
        tx.get_workspace("acme")
    missing.close()


def test_conditional_workspace_update_writes_only_over_the_row_it_read(
    store: SqlStore, ws: str
) -> None:
    with store.tx() as tx:
        read = tx.get_workspace(ws)
    assert read is not None
    renamed = replace(read, display_name="Renamed")
    stricter = replace(read, model_change_policy="breaking")
    with store.tx() as tx:
        assert tx.update_workspace(renamed, read) is True
    with store.tx() as tx:  # a second PATCH that read the same row must not undo the first
        assert tx.update_workspace(stricter, read) is False
        assert tx.get_workspace(ws) == renamed
        assert tx.update_workspace(replace(renamed, model_change_policy="breaking"), renamed)
        assert tx.get_workspace(ws) == replace(renamed, model_change_policy="breaking")


def test_each_broken_constraint_maps_to_its_own_error(store: SqlStore, ws: str) -> None:
    """Decided from the driver's error (SQLSTATE / SQLite's code), through the store's own
    methods and through any statement in a transaction: a foreign key broken by a DELETE is
    "still referenced", by an INSERT "missing reference", a NOT NULL "invalid value" — none of
    them "already exists"."""
    from seg.store.sql import resources, tokens, workspaces

    token = TokenRecord("tok_x" + ws, "no-such-ws", "workspace:read", "ci", "h" * 64, "now")
    with pytest.raises(MissingReferenceError), store.tx() as tx:
        tx.insert_token(token)
    with pytest.raises(InvalidValueError, match="not null"), store.tx() as tx:
        tx.insert_workspace(WorkspaceRecord(ws + "n", ws + "n", None, "now"))  # type: ignore[arg-type]
    with store.tx() as tx:
        tx.insert_resource(rec(ws, "sources/kept"))
        tx.insert_resource(rec(ws, "sources/other"))
        tx.insert_token(replace(token, workspace=ws, secret_hash="k" * 60 + ws[-4:]))
    with pytest.raises(StillReferencedError), store.tx() as tx:  # not "missing reference"
        tx.conn.execute(workspaces.delete().where(workspaces.c.slug == ws))
    with pytest.raises(MissingReferenceError), store.tx() as tx:  # an UPDATE to a missing row
        tx.conn.execute(tokens.update().where(tokens.c.workspace == ws).values(workspace="gone"))
    kept, other = f"workspaces/{ws}/sources/kept", f"workspaces/{ws}/sources/other"
    with pytest.raises(AlreadyExistsError), store.tx() as tx:  # a rename onto another row
        tx.conn.execute(resources.update().where(resources.c.name == other).values(name=kept))
    with store.tx() as tx:  # every refusal rolled back whole
        assert tx.get_workspace(ws) is not None and tx.get_workspace(ws + "n") is None
        assert tx.get_resource(kept) is not None and tx.get_resource(other) is not None
