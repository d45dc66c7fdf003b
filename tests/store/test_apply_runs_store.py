"""Apply runs and the audit trail's filters in the store, on SQLite and PostgreSQL: a run is
written, finished once, listed newest first by manager and status; audit events carry their
run and are selected after an id, by actor, by the shape of their resource's name, by time
and by run; migration 0004 adds both to an existing database and takes them away again; a
SQLite backup keeps them."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import pytest
import sqlalchemy as sa

from seg.store.backup import backup_sqlite, restore_sqlite
from seg.store.base import (
    ApplyRunRecord,
    AuditQuery,
    AuditRecord,
    InvalidValueError,
    MissingReferenceError,
    WorkspaceRecord,
)
from seg.store.migrate import head_revision, migrate, revisions
from seg.store.sql import SqlStore, open_store


@pytest.fixture
def ws(store: SqlStore, slug: str) -> str:
    with store.tx() as tx:
        tx.insert_workspace(WorkspaceRecord(slug, slug + "id", slug, "2026-01-01T00:00:00.000Z"))
    return slug


def run(ws: str, manager: str = "default", actor: str = "tok_a", **fields: object
        ) -> ApplyRunRecord:  # fmt: skip
    return ApplyRunRecord(ws, "2026-01-01T00:00:00.000Z", actor, "ci", manager,
                          counts={"created": 0}, **fields)  # type: ignore[arg-type]  # fmt: skip


def event(ws: str, resource: str, time: str = "2026-01-01T00:00:00.000Z", actor: str = "tok_a",
          apply_run: int | None = None) -> AuditRecord:  # fmt: skip
    return AuditRecord(ws, time, actor, "ci", "POST", f"workspaces/{ws}/{resource}", ["p"],
                       apply_run=apply_run)  # fmt: skip


def test_a_run_round_trips_and_finishes_once(store: SqlStore, ws: str) -> None:
    with store.tx() as tx:
        run_id = tx.insert_apply_run(run(ws, environment="prod", git_revision="ab" * 20,
                                         plan_digest="d" * 64))  # fmt: skip
        first = tx.insert_audit(event(ws, f"applies/{run_id}", apply_run=run_id))
        tx.set_apply_run_audit(run_id, first)
        stored = tx.get_apply_run(run_id)
    assert stored is not None and stored.id == run_id and stored.audit_from == first
    assert (stored.status, stored.finished, stored.environment) == ("running", None, "prod")
    assert stored.git_revision == "ab" * 20 and stored.counts == {"created": 0}
    failures = [{"resource": "Source web", "error": "boom é"}]
    done = replace(stored, status="failed", finished="2026-01-01T00:01:00.000Z",
                   counts={"created": 1, "failed": 1}, failures=failures)  # fmt: skip
    with store.tx() as tx:
        assert tx.finish_apply_run(done)
        assert not tx.finish_apply_run(replace(done, status="applied"))  # only while running
        again = tx.get_apply_run(run_id)
        assert tx.get_apply_run(run_id + 1000) is None
    assert again == done


def test_runs_are_listed_newest_first_by_manager_and_status(store: SqlStore, ws: str) -> None:
    with store.tx() as tx:
        ids = [tx.insert_apply_run(run(ws, manager)) for manager in ("a", "b", "a", "a")]
        tx.finish_apply_run(replace(run(ws, "a"), id=ids[2], status="noop", finished="t"))
        assert [r.id for r in tx.list_apply_runs(ws, None, 10)] == ids[::-1]
        assert [r.id for r in tx.list_apply_runs(ws, None, 2)] == [ids[3], ids[2]]
        assert [r.id for r in tx.list_apply_runs(ws, ids[2], 10)] == [ids[1], ids[0]]
        assert [r.id for r in tx.list_apply_runs(ws, None, 10, manager="a")] == [
            ids[3], ids[2], ids[0]]  # fmt: skip
        assert [r.id for r in tx.list_apply_runs(ws, None, 10, "a", "running")] == [ids[3],
                                                                                    ids[0]]
        assert [r.id for r in tx.list_apply_runs(ws, None, 10, status="noop")] == [ids[2]]
        assert tx.list_apply_runs(ws + "x", None, 10) == []


def test_a_run_needs_its_workspace_and_a_known_status(store: SqlStore, ws: str) -> None:
    with pytest.raises(MissingReferenceError), store.tx() as tx:
        tx.insert_apply_run(run(ws + "gone"))
    with pytest.raises(InvalidValueError), store.tx() as tx:
        tx.insert_apply_run(run(ws, status="paused"))


def test_audit_filters_select_by_id_actor_shape_time_and_run(store: SqlStore, ws: str) -> None:
    with store.tx() as tx:
        run_id = tx.insert_apply_run(run(ws))
        ids = [
            tx.insert_audit(event(ws, "sources/web", "2026-01-01T00:00:01.000Z")),
            tx.insert_audit(event(ws, "sources/web/destinations/amp", "2026-01-01T00:00:02.000Z",
                                  apply_run=run_id)),
            tx.insert_audit(event(ws, "sources/web/destinations/amp/mappings/m",
                                  "2026-01-01T00:00:03.000Z", "tok_b", apply_run=run_id)),
            tx.insert_audit(event(ws, "tracking-plans/tp_1/rules", "2026-01-01T00:00:04.000Z",
                                  "tok_b")),
            tx.insert_audit(event(ws, "sources/we_b%", "2026-01-01T00:00:05.000Z")),
        ]  # fmt: skip
        tx.insert_audit(event(ws + "x", "sources/web"))  # another workspace's

        def listed(query: AuditQuery, before: int | None = None, limit: int = 10) -> list[int]:
            return [e.id for e in tx.list_audit(ws, before, limit, query)]

        assert listed(AuditQuery()) == ids[::-1]
        assert listed(AuditQuery(after_id=ids[2])) == [ids[4], ids[3]]
        assert listed(AuditQuery(after_id=ids[0]), before=ids[3]) == [ids[2], ids[1]]
        assert listed(AuditQuery(actor_id="tok_b")) == [ids[3], ids[2]]
        destinations = ("workspaces", ws, "sources", None, "destinations", None)
        assert listed(AuditQuery(shapes=(destinations,))) == [ids[1]]
        sources = ("workspaces", ws, "sources", None)
        assert listed(AuditQuery(shapes=(sources,))) == [ids[4], ids[0]]
        plans = ("workspaces", ws, "tracking-plans", None)
        assert listed(AuditQuery(shapes=(plans, (*plans, "rules")))) == [ids[3]]
        literal = ("workspaces", ws, "sources", "we_b%")  # LIKE's wildcards, as text
        assert listed(AuditQuery(shapes=(literal,))) == [ids[4]]
        assert listed(AuditQuery(shapes=(("workspaces", ws, "sources", "w%"),))) == []
        assert listed(AuditQuery(since="2026-01-01T00:00:02.000Z",
                                 until="2026-01-01T00:00:04.000Z")) == [ids[2], ids[1]]
        assert listed(AuditQuery(apply_run=run_id)) == [ids[2], ids[1]]
        assert listed(AuditQuery(apply_run=run_id, oldest_first=True), limit=1) == [ids[1]]
        tagged = tx.list_audit(ws, None, 1, AuditQuery(apply_run=run_id))
    assert tagged[0].apply_run == run_id


def test_migration_0004_adds_runs_to_an_existing_database_and_removes_them(
    engine: sa.Engine,
) -> None:
    before = revisions()[revisions().index("0004") - 1]
    migrate(engine, before)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO workspaces (slug, id, display_name, create_time) "
                             "VALUES ('acme', 'ws1', 'Acme', 't')"))  # fmt: skip
        conn.execute(sa.text("INSERT INTO audit_events (workspace, time, actor_id, "
                             "actor_description, method, resource, paths) VALUES ('acme', 't', "
                             "'tok', 'd', 'POST', 'workspaces/acme/sources/a', '[]')"))
    migrate(engine)
    with engine.connect() as conn:
        tagged = conn.execute(sa.text("SELECT apply_run FROM audit_events")).scalar_one()
        runs = conn.execute(sa.text("SELECT count(*) FROM apply_runs")).scalar_one()
    assert tagged is None and runs == 0  # an event from before is outside every apply
    migrate(engine, before)
    with engine.connect() as conn:
        inspector = sa.inspect(conn)
        assert "apply_runs" not in inspector.get_table_names()
        assert "apply_run" not in {c["name"] for c in inspector.get_columns("audit_events")}
        assert conn.execute(sa.text("SELECT count(*) FROM audit_events")).scalar_one() == 1
    assert migrate(engine)[1] == head_revision()


def test_a_sqlite_backup_and_restore_keep_the_runs(tmp_path: Path) -> None:
    source = open_store(f"sqlite:///{tmp_path / 'live.db'}")
    with source.tx() as tx:
        tx.insert_workspace(WorkspaceRecord("acme", "id1", "Acme", "t"))
        run_id = tx.insert_apply_run(run("acme", git_revision="c" * 40))
        event_id = tx.insert_audit(event("acme", "sources/web", apply_run=run_id))
        tx.set_apply_run_audit(run_id, event_id)
        kept = tx.get_apply_run(run_id)
    source.close()
    backup_sqlite(tmp_path / "live.db", tmp_path / "backup.db")
    restore_sqlite(tmp_path / "backup.db", tmp_path / "restored.db")
    restored = open_store(f"sqlite:///{tmp_path / 'restored.db'}")
    try:
        with restored.tx() as tx:
            assert tx.get_apply_run(run_id) == kept
            [tagged] = tx.list_audit("acme", None, 10, AuditQuery(apply_run=run_id))
            assert tagged.id == event_id
            assert tx.insert_apply_run(run("acme")) > run_id  # ids go on from the backup's
    finally:
        restored.close()
