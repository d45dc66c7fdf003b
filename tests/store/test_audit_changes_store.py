"""Audit events' field changes and the resource filter in the store, on SQLite and
PostgreSQL: the changes round-trip as JSON (none: NULL, read as []), events are selected by
exact resource names; migration 0005 adds the column and its index to an existing database —
whose events read as changing nothing — and takes them away again without losing a row."""

from __future__ import annotations

import json

import pytest
import sqlalchemy as sa

from seg.store.base import AuditQuery, AuditRecord, WorkspaceRecord
from seg.store.migrate import head_revision, migrate, migration_sql, revisions
from seg.store.sql import SqlStore

CHANGES = [
    {"path": "destination.settings.region", "before": "eu", "after": "us"},
    {"path": "destination.settings.api_key", "after": "set", "secret": True},
    {"path": "destination.settings.note", "before": "é ✓ \u2028", "after": None},
    {"path": "…", "more": 3},
]


@pytest.fixture
def ws(store: SqlStore, slug: str) -> str:
    with store.tx() as tx:
        tx.insert_workspace(WorkspaceRecord(slug, slug + "id", slug, "2026-01-01T00:00:00.000Z"))
    return slug


def event(ws: str, resource: str, changes: list | None = None) -> AuditRecord:
    return AuditRecord(ws, "2026-01-01T00:00:00.000Z", "tok_a", "ci", "PATCH",
                       f"workspaces/{ws}/{resource}", ["p"], changes=changes or [])  # fmt: skip


def test_changes_round_trip_and_none_is_null(store: SqlStore, ws: str) -> None:
    with store.tx() as tx:
        with_changes = tx.insert_audit(event(ws, "sources/web", CHANGES))
        without = tx.insert_audit(event(ws, "sources/web"))
        listed = {e.id: e for e in tx.list_audit(ws, None, 10)}
    assert listed[with_changes].changes == CHANGES
    assert listed[without].changes == []
    with store.engine.connect() as conn:
        stored = dict(conn.execute(sa.text("SELECT id, changes FROM audit_events WHERE id IN "
                                           "(:a, :b)"), {"a": with_changes, "b": without}).all())
    assert stored[without] is None
    text = stored[with_changes]
    assert json.loads(text) == CHANGES and ", " not in text and ": " not in text  # compact


def test_the_resource_filter_selects_exact_names(store: SqlStore, ws: str) -> None:
    with store.tx() as tx:
        ids = [tx.insert_audit(event(ws, name)) for name in (
            "sources/web", "sources/web/destinations/amp", "sources/webx", "sources/we_",
            "tracking-plans/tp_1", "tracking-plans/tp_1/rules", "sources/web")]  # fmt: skip
        tx.insert_audit(event(ws + "x", "sources/web"))  # another workspace's

        def listed(*names: str, after_id: int | None = None) -> list[int]:
            query = AuditQuery(resources=tuple(f"workspaces/{ws}/{n}" for n in names),
                               after_id=after_id)  # fmt: skip
            return [e.id for e in tx.list_audit(ws, None, 10, query)]

        assert listed("sources/web") == [ids[6], ids[0]]
        assert listed("sources/we_") == [ids[3]]  # no LIKE: "_" is itself
        assert listed("tracking-plans/tp_1", "tracking-plans/tp_1/rules") == [ids[5], ids[4]]
        assert listed("sources/web", after_id=ids[0]) == [ids[6]]
        assert listed("sources/gone") == []


def test_migration_0005_adds_changes_to_an_existing_database_and_removes_them(
    engine: sa.Engine, empty_url: str
) -> None:
    before = revisions()[revisions().index("0005") - 1]
    migrate(engine, before)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO workspaces (slug, id, display_name, create_time) "
                             "VALUES ('acme', 'ws1', 'Acme', 't')"))  # fmt: skip
        conn.execute(sa.text("INSERT INTO audit_events (workspace, time, actor_id, "
                             "actor_description, method, resource, paths) VALUES ('acme', 't', "
                             "'tok', 'd', 'POST', 'workspaces/acme/sources/a', '[\"p\"]')"))
    migrate(engine)
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        assert "ix_audit_ws_resource" in {i["name"] for i in inspector.get_indexes("audit_events")}
        assert conn.execute(sa.text("SELECT changes FROM audit_events")).scalar_one() is None
    store = SqlStore(empty_url)  # the same database, through the code that reads it
    try:
        with store.tx() as tx:
            [old] = tx.list_audit("acme", None, 10, AuditQuery(resources=(
                "workspaces/acme/sources/a",)))  # fmt: skip
            tx.insert_audit(AuditRecord("acme", "t2", "tok", "d", "PATCH",
                                        "workspaces/acme/sources/a", ["p"],
                                        changes=CHANGES[:1]))  # fmt: skip
    finally:
        store.close()
    assert (old.paths, old.changes) == (["p"], [])  # an event from before changed nothing known
    migrate(engine, before)
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        assert "changes" not in {c["name"] for c in inspector.get_columns("audit_events")}
        assert "ix_audit_ws_resource" not in {i["name"] for i in inspector.get_indexes(
            "audit_events")}  # fmt: skip
        assert conn.execute(sa.text("SELECT count(*) FROM audit_events")).scalar_one() == 2
    assert migrate(engine)[1] == head_revision()
    with engine.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM audit_events WHERE changes IS NULL")
                            ).scalar_one() == 2  # fmt: skip


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_sql_of_migration_0005_is_printed_without_a_database(dialect: str) -> None:
    before = revisions()[revisions().index("0005") - 1]
    up = migration_sql(dialect, before, "0005")
    assert "ALTER TABLE audit_events ADD COLUMN changes TEXT" in up
    assert "CREATE INDEX ix_audit_ws_resource ON audit_events (workspace, resource, id)" in up
    down = migration_sql(dialect, "0005", before)
    assert "DROP INDEX ix_audit_ws_resource" in down
    assert "ALTER TABLE audit_events DROP COLUMN changes" in down
