"""The SQLAlchemy Core store, on SQLite (WAL, foreign keys on) or PostgreSQL (psycopg 3)."""

from __future__ import annotations

import json
import os
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.engine import Connection, Engine

if TYPE_CHECKING:
    from seg.store.migrate import SchemaStatus

from seg.store.base import (
    APPLY_STATUSES,
    AlreadyExistsError,
    ApplyRunRecord,
    AuditQuery,
    AuditRecord,
    CatalogRecord,
    ChangeRecord,
    HistoryRecord,
    InvalidValueError,
    LockRecord,
    MissingReferenceError,
    PoolStatus,
    ResourceRecord,
    StillReferencedError,
    StoreError,
    TokenRecord,
    UnavailableError,
    VersionRecord,
    WorkspaceRecord,
)

__all__ = ["CHANGE_LOG_KEEP", "SqlStore", "new_epoch", "normalise_url", "open_store",
           "read_only_engine"]  # fmt: skip

# The change log keeps the newest revisions of each workspace (a client further behind reads
# the whole state again); pruned once every ``CHANGE_LOG_PRUNE_EVERY`` revisions.
CHANGE_LOG_KEEP = 100_000
CHANGE_LOG_PRUNE_EVERY = 1000

# SQLSTATEs (PostgreSQL) and extended result codes (SQLite) of the integrity errors that mean
# something precise; any other constraint is an invalid value.
# Which constraint an IntegrityError broke: PostgreSQL's SQLSTATE, SQLite's extended result
# code, and (should a driver give no code) SQLite's message.
_UNIQUE = {"23505", 1555, 2067}  # unique_violation; SQLITE_CONSTRAINT_PRIMARYKEY, _UNIQUE
_FOREIGN_KEY = {"23503", 787}  # foreign_key_violation; SQLITE_CONSTRAINT_FOREIGNKEY
_CHECK = {"23514", 275}  # check_violation; SQLITE_CONSTRAINT_CHECK
_NOT_NULL = {"23502", 1299}  # not_null_violation; SQLITE_CONSTRAINT_NOTNULL
_SQLITE_MESSAGES = (
    ("UNIQUE constraint failed", "unique"),
    ("FOREIGN KEY constraint failed", "foreign key"),
    ("CHECK constraint failed", "check"),
    ("NOT NULL constraint failed", "not null"),
)

metadata = sa.MetaData()

workspaces = sa.Table(
    "workspaces",
    metadata,
    sa.Column("slug", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(32), nullable=False, unique=True),
    sa.Column("display_name", sa.Text, nullable=False),
    sa.Column("create_time", sa.String(32), nullable=False),
    sa.Column("model_change_policy", sa.String(16), nullable=False, server_default="strict"),
    # free, team or business: what the workspace's plan allows (warehouses, selective sync)
    sa.Column("plan_tier", sa.String(16), nullable=False, server_default="business"),
)

tokens = sa.Table(
    "tokens",
    metadata,
    sa.Column("id", sa.String(40), primary_key=True),
    sa.Column("workspace", sa.String(64), sa.ForeignKey("workspaces.slug"), nullable=False),
    sa.Column("scope", sa.String(32), nullable=False),
    sa.Column("description", sa.Text, nullable=False),
    sa.Column("secret_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("create_time", sa.String(32), nullable=False),
    sa.Column("user_email", sa.String(320), nullable=False, server_default=""),
    # "" = never expires / never used (timestamps as the API shows them, which sort as text)
    sa.Column("expire_time", sa.String(32), nullable=False, server_default=""),
    sa.Column("last_used_time", sa.String(32), nullable=False, server_default=""),
    sa.Index("ix_tokens_workspace", "workspace"),
)

# The tables as this code uses them. The database gets them from the migrations
# (``seg/store/migrations``), never from this metadata: a change here needs a new revision
# there, and tests/store/test_migrations.py checks that the two agree on every database.

# One table for every kind: a resource is its full name, its kind, its parent's name and its
# fields as JSON. Kinds differ in rules, not in storage, so a new kind needs no migration.
resources = sa.Table(
    "resources",
    metadata,
    sa.Column("name", sa.String(512), primary_key=True),
    sa.Column("workspace", sa.String(64), sa.ForeignKey("workspaces.slug"), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("parent", sa.String(512), sa.ForeignKey("resources.name"), nullable=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("secret_paths", sa.Text, nullable=False),
    sa.Column("salt", sa.String(32), nullable=False),
    sa.Column("etag", sa.String(64), nullable=False),
    sa.Column("create_time", sa.String(32), nullable=False),
    sa.Column("update_time", sa.String(32), nullable=False),
    sa.Column("managed_paths", sa.Text, nullable=False, server_default="[]"),
    sa.Column("protect", sa.Boolean, nullable=False, server_default=sa.false()),
    sa.Column("secret_values", sa.Text, nullable=False, server_default=""),
    sa.Column("manager", sa.String(64), nullable=False, server_default=""),
    sa.Column("latest_version", sa.Integer, nullable=False, server_default="0"),
    # Who created it (``user:<email>`` or ``token:<id>``); "" for rows from before it was kept.
    sa.Column("creator", sa.String(400), nullable=False, server_default=""),
    sa.Index("ix_resources_ws_kind_name", "workspace", "kind", "name"),
    sa.Index("ix_resources_parent", "parent"),
)

# Every kept version of a versioned field (a function's code), numbered per resource. Rows go
# with their resource (the service deletes them first; the foreign key keeps none behind).
resource_versions = sa.Table(
    "resource_versions",
    metadata,
    sa.Column("workspace", sa.String(64), sa.ForeignKey("workspaces.slug"), nullable=False),
    sa.Column("resource", sa.String(512), sa.ForeignKey("resources.name"), primary_key=True),
    sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("value", sa.Text, nullable=False),
    sa.Column("create_time", sa.String(32), nullable=False),
    sa.Column("actor_id", sa.String(40), nullable=False),
    sa.CheckConstraint("version > 0", name="ck_resource_versions_positive"),
)

audit_events = sa.Table(
    "audit_events",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("workspace", sa.String(64), nullable=False),
    sa.Column("time", sa.String(32), nullable=False),
    sa.Column("actor_id", sa.String(40), nullable=False),
    sa.Column("actor_description", sa.Text, nullable=False),
    sa.Column("method", sa.String(16), nullable=False),
    sa.Column("resource", sa.String(512), nullable=False),
    sa.Column("paths", sa.Text, nullable=False),
    # the apply run the event belongs to (apply_runs.id; no foreign key: an event outlives
    # nothing, and the run is written in the same transaction as its first event)
    sa.Column("apply_run", sa.Integer, nullable=True),
    # What the write did, field by field (migration 0005): a JSON list of
    # ``{"path", "before", "after"}`` entries (``seg.server.field_changes``); NULL for none.
    sa.Column("changes", sa.Text, nullable=True),
    sa.Index("ix_audit_ws_id", "workspace", "id"),
    sa.Index("ix_audit_apply_run", "apply_run"),
    sa.Index("ix_audit_ws_resource", "workspace", "resource", "id"),
)

# Each ``seg apply`` the control plane recorded (migration 0004): who ran it when, for which
# manager, environment, git revision and plan, how it ended and what it did. ``counts`` (a
# JSON object) and ``failures`` (a JSON list, at most 100) are written when it finishes;
# ``audit_from`` is the id of the audit event of its start.
apply_runs = sa.Table(
    "apply_runs",
    metadata,
    sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
    sa.Column("workspace", sa.String(64), sa.ForeignKey("workspaces.slug"), nullable=False),
    sa.Column("started", sa.String(32), nullable=False),
    sa.Column("finished", sa.String(32), nullable=True),
    sa.Column("actor_id", sa.String(40), nullable=False),
    sa.Column("actor_description", sa.Text, nullable=False),
    sa.Column("manager", sa.String(64), nullable=False),
    sa.Column("environment", sa.String(64), nullable=True),
    sa.Column("git_revision", sa.String(64), nullable=True),
    sa.Column("plan_digest", sa.String(128), nullable=True),
    sa.Column("status", sa.String(16), nullable=False),
    sa.Column("counts", sa.Text, nullable=False),
    sa.Column("failures", sa.Text, nullable=False),
    sa.Column("audit_from", sa.Integer, nullable=False, server_default="0"),
    sa.CheckConstraint(f"status IN ({', '.join(repr(s) for s in APPLY_STATUSES)})",
                       name="ck_apply_runs_status"),  # fmt: skip
    sa.Index("ix_apply_runs_ws_id", "workspace", "id"),
)

# A workspace's private catalog entries (``seg server catalog import``, POST
# /v1beta/catalog:import): the entry's JSON form by (workspace, section, id).
catalog_entries = sa.Table(
    "catalog_entries",
    metadata,
    sa.Column("workspace", sa.String(64), sa.ForeignKey("workspaces.slug"), primary_key=True),
    sa.Column("section", sa.String(16), primary_key=True),
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("data", sa.Text, nullable=False),
    sa.Column("create_time", sa.String(32), nullable=False),
    sa.Column("update_time", sa.String(32), nullable=False),
)


# A workspace's history of resource writes, for clients that keep the live state between
# runs (``GET …/changes?since=REV``): ``revision`` counts every resource write (each insert,
# update and delete through ``SqlTx``, in the write's own transaction); ``epoch`` names the
# history (random, new when it cannot continue: a restored backup); revisions from ``floor``
# on are answerable from ``resource_changes``.
workspace_history = sa.Table(
    "workspace_history",
    metadata,
    sa.Column("workspace", sa.String(64), sa.ForeignKey("workspaces.slug"), primary_key=True),
    sa.Column("epoch", sa.String(32), nullable=False),
    sa.Column("revision", sa.BigInteger, nullable=False, server_default="0"),
    sa.Column("floor", sa.BigInteger, nullable=False, server_default="0"),
)

# One row per resource write: the revision it made, the resource, its kind and the operation
# (create, update, delete). The newest ``CHANGE_LOG_KEEP`` revisions per workspace are kept.
resource_changes = sa.Table(
    "resource_changes",
    metadata,
    sa.Column("workspace", sa.String(64), primary_key=True),
    sa.Column("revision", sa.BigInteger, primary_key=True, autoincrement=False),
    sa.Column("name", sa.String(512), nullable=False),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("operation", sa.String(8), nullable=False),
    sa.Index("ix_resource_changes_name", "workspace", "name", "revision"),
)

# Locks and rate-limit counters live in the database, so several `seg serve` processes on one
# PostgreSQL behave as one control plane.
locks = sa.Table(
    "locks",
    metadata,
    sa.Column("workspace", sa.String(64), primary_key=True),
    sa.Column("id", sa.String(40), nullable=False),
    sa.Column("holder", sa.Text, nullable=False),
    sa.Column("host", sa.Text, nullable=False),
    sa.Column("plan", sa.Text, nullable=False),
    sa.Column("ci_run", sa.Text, nullable=False),
    sa.Column("token_id", sa.String(40), nullable=False),
    sa.Column("acquired_at", sa.String(32), nullable=False),
    sa.Column("expires_at", sa.Float, nullable=False),
)

rate_limits = sa.Table(
    "rate_limits",
    metadata,
    sa.Column("key", sa.String(64), primary_key=True),
    sa.Column("window", sa.Integer, primary_key=True),
    sa.Column("count", sa.Integer, nullable=False),
)


def new_epoch() -> str:
    """A new random id for a workspace's history."""
    return secrets.token_hex(16)


def normalise_url(url: str) -> str:
    """Accept ``postgresql://`` and ``postgres://`` and select the psycopg 3 driver."""
    for prefix in ("postgresql://", "postgres://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix) :]
    return url


def _driver_message(exc: sa.exc.DBAPIError, named: bool = True, limit: int = 300) -> str:
    """The driver's message on one line, cut to ``limit`` characters (it may quote values)."""
    text = " ".join(str(exc.orig).split())
    text = text if len(text) <= limit else text[:limit] + "…"
    return f"{type(exc.orig).__name__}: {text}" if named else text


def _violation(exc: sa.exc.IntegrityError) -> str:
    """The constraint an IntegrityError broke: ``unique``, ``foreign key``, ``check``, ``not
    null``, or ``other`` — from the driver's code, else from SQLite's message."""
    orig = exc.orig
    code = getattr(orig, "sqlstate", None) or getattr(orig, "sqlite_errorcode", None)
    for codes, name in ((_UNIQUE, "unique"), (_FOREIGN_KEY, "foreign key"), (_CHECK, "check"),
                        (_NOT_NULL, "not null")):  # fmt: skip
        if code in codes:
            return name
    text = str(orig)
    return next((name for start, name in _SQLITE_MESSAGES if text.startswith(start)), "other")


def _is_delete(exc: sa.exc.IntegrityError) -> bool:
    return str(exc.statement or "").lstrip().upper().startswith("DELETE")


def _integrity_error(exc: sa.exc.IntegrityError) -> StoreError:
    """The precise store error for a constraint violation: unique → already exists; foreign
    key → a missing reference (insert, update) or a row still referred to (delete); check,
    not null and any other → an invalid value. Never "already exists" for anything else."""
    broken = _violation(exc)
    if broken == "unique":
        return AlreadyExistsError(_driver_message(exc, named=False))
    if broken == "foreign key":
        error = StillReferencedError if _is_delete(exc) else MissingReferenceError
        return error(_driver_message(exc, named=False))
    return InvalidValueError(f"the database refused a value ({broken} constraint): "
                             f"{type(exc.orig).__name__}")  # fmt: skip


_SCHEMA_MISMATCH = ("42703", "42P01")  # PostgreSQL: undefined column, undefined table


def _database_error(exc: sa.exc.DBAPIError) -> StoreError | None:
    """A driver error as a store error, or None for a bug (a programming error) to surface."""
    if isinstance(exc, sa.exc.IntegrityError):
        return _integrity_error(exc)
    if isinstance(exc, sa.exc.DataError):
        return InvalidValueError(f"the database refused a value: {_driver_message(exc, False)}")
    if getattr(exc.orig, "sqlstate", None) in _SCHEMA_MISMATCH:
        # a table or column the code needs is not there: the database was migrated under
        # this server (SQLite says so with an OperationalError, PostgreSQL a ProgrammingError)
        return UnavailableError(_driver_message(exc))
    if isinstance(exc, sa.exc.ProgrammingError | sa.exc.NotSupportedError):
        return None
    # OperationalError, InterfaceError, InternalError, a bare DatabaseError ("file is not a
    # database"): the database is down, gone, corrupt or locked past the busy timeout.
    return UnavailableError(_driver_message(exc))


BUSY_TIMEOUT_S = 10.0  # how long a SQLite writer waits for another before "database is locked"


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA synchronous=NORMAL")
    cur.execute(f"PRAGMA busy_timeout={int(BUSY_TIMEOUT_S * 1000)}")
    cur.close()


def _resource_from_row(row: Any) -> ResourceRecord:
    return ResourceRecord(
        name=row.name,
        workspace=row.workspace,
        kind=row.kind,
        parent=row.parent,
        data=json.loads(row.data),
        secret_paths=json.loads(row.secret_paths),
        salt=row.salt,
        etag=row.etag,
        create_time=row.create_time,
        update_time=row.update_time,
        managed_paths=json.loads(row.managed_paths),
        protect=bool(row.protect),
        secret_values=row.secret_values,
        manager=row.manager,
        latest_version=int(row.latest_version),
        creator=row.creator,
    )


def _resource_values(rec: ResourceRecord) -> dict[str, Any]:
    return {
        "name": rec.name,
        "workspace": rec.workspace,
        "kind": rec.kind,
        "parent": rec.parent,
        "data": json.dumps(rec.data, sort_keys=True),
        "secret_paths": json.dumps(rec.secret_paths),
        "salt": rec.salt,
        "etag": rec.etag,
        "create_time": rec.create_time,
        "update_time": rec.update_time,
        "managed_paths": json.dumps(rec.managed_paths),
        "protect": rec.protect,
        "secret_values": rec.secret_values,
        "manager": rec.manager,
        "latest_version": rec.latest_version,
        "creator": rec.creator,
    }


def _unchanged(expected: ResourceRecord | None) -> list[sa.ColumnElement[bool]]:
    """Conditions that hold while the stored row is still ``expected``: its etag (which covers
    the fields and secrets), its ownership, its protection and its manager."""
    if expected is None:
        return []
    return [
        resources.c.etag == expected.etag,
        resources.c.managed_paths == json.dumps(expected.managed_paths),
        resources.c.protect == expected.protect,
        resources.c.manager == expected.manager,
    ]


def _new_id(result: sa.CursorResult[Any]) -> int:
    """The generated id of a one-row insert."""
    key = result.inserted_primary_key
    assert key is not None
    return int(key[0])


def _run_values(run: ApplyRunRecord) -> dict[str, Any]:
    values = {k: v for k, v in run.__dict__.items() if k != "id"}
    values["counts"] = json.dumps(run.counts, sort_keys=True)
    values["failures"] = json.dumps(run.failures)
    return values


def _run_from_row(row: Any) -> ApplyRunRecord:
    values = dict(row._mapping)
    values["counts"] = json.loads(values["counts"])
    values["failures"] = json.loads(values["failures"])
    return ApplyRunRecord(**values)


def _like_literal(text: str) -> str:
    """``text`` matched literally by ``LIKE … ESCAPE '\\'``."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _shaped(column: sa.ColumnElement[str], shape: tuple[str | None, ...]
            ) -> sa.ColumnElement[bool]:  # fmt: skip
    """``column`` is a name of exactly ``shape``'s segments (None: any one segment). A
    ``%`` could span a ``/``, but with the number of slashes fixed none can: names have no
    empty segment."""
    pattern = "/".join("%" if part is None else _like_literal(part) for part in shape)
    slashes = sa.func.length(column) - sa.func.length(sa.func.replace(column, "/", ""))
    return sa.and_(column.like(pattern, escape="\\"), slashes == len(shape) - 1)


def _audit_conditions(q: AuditQuery) -> list[sa.ColumnElement[bool]]:
    c = audit_events.c
    out: list[sa.ColumnElement[bool]] = []
    if q.after_id is not None:
        out.append(c.id > q.after_id)
    if q.actor_id is not None:
        out.append(c.actor_id == q.actor_id)
    if q.shapes:
        out.append(sa.or_(*(_shaped(c.resource, shape) for shape in q.shapes)))
    if q.resources:
        out.append(c.resource.in_(q.resources))
    if q.since is not None:
        out.append(c.time >= q.since)
    if q.until is not None:
        out.append(c.time < q.until)
    if q.apply_run == 0:  # the events no apply run made
        out.append(c.apply_run.is_(None))
    elif q.apply_run is not None:
        out.append(c.apply_run == q.apply_run)
    return out


def _catalog_from_row(row: Any) -> CatalogRecord:
    return CatalogRecord(row.workspace, row.section, row.id, json.loads(row.data),
                         row.create_time, row.update_time)  # fmt: skip


# The statements every write runs, built once: building a SQLAlchemy statement (and its cache
# key) costs more CPU than SQLite spends running it, and a create runs about ten of them.
_B = sa.bindparam
_GET_RESOURCE = sa.select(resources).where(resources.c.name == _B("b_name"))
_GET_WORKSPACE = sa.select(workspaces).where(workspaces.c.slug == _B("b_slug"))
_TOUCH_WORKSPACE = (workspaces.update().where(workspaces.c.slug == _B("b_slug"))
                    .values(plan_tier=workspaces.c.plan_tier))  # fmt: skip
_LOCK_WORKSPACE = (sa.select(workspaces.c.slug).where(workspaces.c.slug == _B("b_slug"))
                   .with_for_update())  # fmt: skip
_BUMP_REVISION = (workspace_history.update()
                  .where(workspace_history.c.workspace == _B("b_workspace"))
                  .values(revision=workspace_history.c.revision + 1)
                  .returning(workspace_history.c.revision))  # fmt: skip
_GET_LOCK = sa.select(locks).where(locks.c.workspace == _B("b_workspace"))
_GET_APPLY_RUN = sa.select(apply_runs).where(apply_runs.c.id == _B("b_id"))
_FIND_TOKEN = sa.select(tokens).where(tokens.c.secret_hash == _B("b_hash"))
_GET_TOKEN = sa.select(tokens).where(tokens.c.id == _B("b_id"))
_INSERT_CHANGE = resource_changes.insert()
_INSERT_AUDIT = audit_events.insert()
_INSERTS = {table.name: table.insert() for table in (resources, workspaces, workspace_history,
                                                     tokens, locks)}  # fmt: skip


def _catalog_id(postgresql: bool) -> sa.ColumnElement[str]:
    """The id in byte order on both databases (PostgreSQL's default collation may order
    ``a-b`` after ``ab``), so pages follow the order the service merges in."""
    column = catalog_entries.c.id
    return column.collate("C") if postgresql else column


def _all_catalog_query(postgresql: bool) -> sa.Select[Any]:
    entry_id = _catalog_id(postgresql)
    return (sa.select(catalog_entries).where(catalog_entries.c.workspace == _B("b_workspace"))
            .order_by(catalog_entries.c.section, entry_id))  # fmt: skip


_ALL_CATALOG = {False: _all_catalog_query(False), True: _all_catalog_query(True)}


class SqlTx:
    """Store operations bound to one connection inside one transaction."""

    def __init__(self, conn: Connection, writer: threading.Lock | None = None,
                 writer_timeout: float = BUSY_TIMEOUT_S) -> None:  # fmt: skip
        self.conn = conn
        self._writer = writer  # SQLite: this process's writers queue here (``lock_workspace``)
        self._writer_timeout = writer_timeout
        self.holds_writer = False

    def _insert(self, table: sa.Table, values: dict[str, Any]) -> None:
        # An integrity error aborts the whole transaction; callers turn it into an API error.
        try:
            statement = _INSERTS.get(table.name)
            self.conn.execute(table.insert() if statement is None else statement, values)
        except sa.exc.IntegrityError as exc:
            raise _integrity_error(exc) from None

    def insert_workspace(self, ws: WorkspaceRecord) -> None:
        self._insert(workspaces, ws.__dict__)
        self._insert(workspace_history, {"workspace": ws.slug, "epoch": new_epoch(),
                                         "revision": 0, "floor": 0})  # fmt: skip

    def _logged(self, workspace: str, name: str, kind: str, operation: str) -> None:
        """Count one resource write in the workspace's revision and log it, in the write's
        transaction: the increment is one ``UPDATE … RETURNING``, whose row lock orders the
        writers (PostgreSQL) until they commit, so no two get the same revision and a reader
        that sees revision R sees every change up to R."""
        revision = self.conn.execute(_BUMP_REVISION, {"b_workspace": workspace}).scalar()
        if revision is None:  # a workspace without a history row (not made by this code)
            revision = 1
            self._insert(workspace_history, {"workspace": workspace, "epoch": new_epoch(),
                                             "revision": revision, "floor": 0})  # fmt: skip
        self.conn.execute(_INSERT_CHANGE, {"workspace": workspace, "revision": revision,
                                           "name": name, "kind": kind, "operation": operation})
        if revision % CHANGE_LOG_PRUNE_EVERY == 0 and revision > CHANGE_LOG_KEEP:
            self.conn.execute(resource_changes.delete().where(
                resource_changes.c.workspace == workspace,
                resource_changes.c.revision <= revision - CHANGE_LOG_KEEP))  # fmt: skip

    def history(self, workspace: str) -> HistoryRecord | None:
        """The workspace's history; ``floor`` already counts the change log's retention."""
        query = sa.select(workspace_history).where(workspace_history.c.workspace == workspace)
        row = self.conn.execute(query).first()
        if row is None:
            return None
        floor = max(int(row.floor), int(row.revision) - CHANGE_LOG_KEEP)
        return HistoryRecord(workspace, row.epoch, int(row.revision), floor)

    def changes(self, workspace: str, after: int, upto: int, limit: int) -> list[ChangeRecord]:
        """The last change of each resource changed in (``after``, ``upto``], by revision, at
        most ``limit``: a resource changed again later (up to ``upto``) is left for the page
        holding its last change, so every name appears once over all pages of one ``upto``."""
        later = resource_changes.alias("later")
        newer = sa.exists().where(later.c.workspace == resource_changes.c.workspace,
                                  later.c.name == resource_changes.c.name,
                                  later.c.revision > resource_changes.c.revision,
                                  later.c.revision <= upto)  # fmt: skip
        query = (sa.select(resource_changes)
                 .where(resource_changes.c.workspace == workspace,
                        resource_changes.c.revision > after,
                        resource_changes.c.revision <= upto, ~newer)
                 .order_by(resource_changes.c.revision).limit(limit))  # fmt: skip
        return [ChangeRecord(int(r.revision), r.name, r.kind, r.operation)
                for r in self.conn.execute(query)]  # fmt: skip

    def get_workspace(self, slug: str) -> WorkspaceRecord | None:
        row = self.conn.execute(_GET_WORKSPACE, {"b_slug": slug}).first()
        return WorkspaceRecord(**row._mapping) if row else None

    def lock_workspace(self, slug: str) -> None:
        """Hold the workspace's write lock until this transaction ends, so the writes of one
        workspace run one after another and a rule that reads other resources (a function's
        instances, the number of warehouses) sees every write committed before its own: two
        writes each checking what the other changes cannot both pass (write skew). PostgreSQL
        locks the row; SQLite's first write takes the database's writer lock.

        It must be the transaction's first write. On SQLite, the writers of this process
        first queue on one in-process lock, held until the transaction ends: SQLite admits
        one writer at a time anyway, and a writer waiting in its busy handler sleeps in
        growing steps (up to 100 ms) while the lock it waits for is free after a few ms. The
        wait is bounded like SQLite's own (``BUSY_TIMEOUT_S``): a writer stuck inside its
        transaction makes the others fail as a locked database does, not wait forever."""
        if self.conn.dialect.name == "sqlite":
            if self._writer is not None and not self.holds_writer:
                if not self._writer.acquire(timeout=self._writer_timeout):
                    raise UnavailableError("OperationalError: database is locked (another "
                                           "writer of this server held it too long)")
                self.holds_writer = True
            self.conn.execute(_TOUCH_WORKSPACE, {"b_slug": slug})
        else:
            self.conn.execute(_LOCK_WORKSPACE, {"b_slug": slug}).first()

    def update_workspace(self, ws: WorkspaceRecord, expected: WorkspaceRecord | None = None
                         ) -> bool:  # fmt: skip
        """Write ``ws``; with ``expected``, only if the stored row is still that one (one
        statement, so of two concurrent writers exactly one succeeds). Returns whether it wrote."""
        same = [workspaces.c[k] == v for k, v in expected.__dict__.items()] if expected else []
        query = workspaces.update().where(workspaces.c.slug == ws.slug, *same)
        return bool(self.conn.execute(query.values(**ws.__dict__)).rowcount)

    def insert_token(self, token: TokenRecord) -> None:
        self._insert(tokens, token.__dict__)

    def find_token(self, secret_hash: str) -> TokenRecord | None:
        row = self.conn.execute(_FIND_TOKEN, {"b_hash": secret_hash}).first()
        return TokenRecord(**row._mapping) if row else None

    def get_token(self, token_id: str) -> TokenRecord | None:
        row = self.conn.execute(_GET_TOKEN, {"b_id": token_id}).first()
        return TokenRecord(**row._mapping) if row else None

    def list_tokens(self, workspace: str) -> list[TokenRecord]:
        """The workspace's tokens, oldest first (then by id, so the order is stable)."""
        query = sa.select(tokens).where(tokens.c.workspace == workspace)
        query = query.order_by(tokens.c.create_time, tokens.c.id)
        return [TokenRecord(**row._mapping) for row in self.conn.execute(query)]

    def delete_token(self, token_id: str) -> bool:
        query = tokens.delete().where(tokens.c.id == token_id)
        return bool(self.conn.execute(query).rowcount)

    def replace_token_secret(self, token_id: str, old_hash: str, new_hash: str) -> bool:
        """Swap the secret's hash, only if it is still ``old_hash`` (of two concurrent
        rotations exactly one wins, and its secret is the one that works)."""
        query = tokens.update().where(tokens.c.id == token_id, tokens.c.secret_hash == old_hash)
        return bool(self.conn.execute(query.values(secret_hash=new_hash)).rowcount)

    def record_token_use(self, token_id: str, time: str, before: str) -> bool:
        """Set ``last_used_time`` to ``time`` only where the stored one is older than
        ``before`` ("" sorts first): one write per token per interval, however many servers
        and requests race for it."""
        query = tokens.update().where(tokens.c.id == token_id, tokens.c.last_used_time < before)
        return bool(self.conn.execute(query.values(last_used_time=time)).rowcount)

    def insert_resource(self, rec: ResourceRecord) -> None:
        self._insert(resources, _resource_values(rec))
        self._logged(rec.workspace, rec.name, rec.kind, "create")

    def get_resource(self, name: str) -> ResourceRecord | None:
        row = self.conn.execute(_GET_RESOURCE, {"b_name": name}).first()
        return _resource_from_row(row) if row else None

    def get_resources(self, names: list[str]) -> dict[str, ResourceRecord]:
        """The records of ``names`` that exist, in one query per 500 names."""
        out: dict[str, ResourceRecord] = {}
        for start in range(0, len(names), 500):
            chunk = names[start : start + 500]
            query = sa.select(resources).where(resources.c.name.in_(chunk))
            out.update((row.name, _resource_from_row(row)) for row in self.conn.execute(query))
        return out

    def update_resource(self, rec: ResourceRecord, expected: ResourceRecord | None = None) -> bool:
        """Write ``rec``; with ``expected``, only if the stored row is still that one (same
        etag, ownership and protection) — the check and the write are one statement, so of
        two writers that read the same row exactly one succeeds. Returns whether it wrote."""
        query = resources.update().where(resources.c.name == rec.name, *_unchanged(expected))
        if not self.conn.execute(query.values(**_resource_values(rec))).rowcount:
            return False
        self._logged(rec.workspace, rec.name, rec.kind, "update")
        return True

    def delete_resource(self, name: str, expected: ResourceRecord | None = None) -> bool:
        """Delete ``name`` (only if it is still ``expected``, when given); returns whether it
        deleted. Children still referring to it raise ``StillReferencedError``."""
        query = (resources.delete().where(resources.c.name == name, *_unchanged(expected))
                 .returning(resources.c.workspace, resources.c.kind))  # fmt: skip
        try:
            gone = self.conn.execute(query).first()
        except sa.exc.IntegrityError as exc:
            raise _integrity_error(exc) from None
        if gone is None:
            return False
        self._logged(gone.workspace, name, gone.kind, "delete")
        return True

    def list_resources(
        self, workspace: str, kind: str, parent: str | None, after: str | None, limit: int
    ) -> list[ResourceRecord]:
        query = sa.select(resources).where(
            resources.c.workspace == workspace, resources.c.kind == kind
        )
        if parent is not None:
            query = query.where(resources.c.parent == parent)
        if after is not None:
            query = query.where(resources.c.name > after)
        query = query.order_by(resources.c.name).limit(limit)
        return [_resource_from_row(row) for row in self.conn.execute(query)]

    def child_names(self, parent: str, limit: int) -> list[str]:
        query = (
            sa.select(resources.c.name)
            .where(resources.c.parent == parent)
            .order_by(resources.c.name)
            .limit(limit)
        )
        return [row.name for row in self.conn.execute(query)]

    def insert_audit(self, event: AuditRecord) -> int:
        """Record ``event``; its id (no field change: ``changes`` stays NULL, as in the rows
        from before they were kept)."""
        values = {k: v for k, v in event.__dict__.items() if k != "id"}
        values["paths"] = json.dumps(event.paths)
        compact = json.dumps(event.changes, separators=(",", ":"))
        values["changes"] = compact if event.changes else None
        return _new_id(self.conn.execute(_INSERT_AUDIT, values))

    def get_lock(self, workspace: str) -> LockRecord | None:
        row = self.conn.execute(_GET_LOCK, {"b_workspace": workspace}).first()
        return LockRecord(**row._mapping) if row else None

    def insert_lock(self, lock: LockRecord) -> None:
        self._insert(locks, lock.__dict__)

    def replace_lock(self, lock: LockRecord, expected_id: str) -> bool:
        """Take over a lease only if it is still the one we saw (an expired one)."""
        query = locks.update().where(locks.c.workspace == lock.workspace, locks.c.id == expected_id)
        return bool(self.conn.execute(query.values(**lock.__dict__)).rowcount)

    def extend_lock(self, workspace: str, lock_id: str, expires_at: float) -> bool:
        query = locks.update().where(locks.c.workspace == workspace, locks.c.id == lock_id)
        return bool(self.conn.execute(query.values(expires_at=expires_at)).rowcount)

    def delete_lock(self, workspace: str, lock_id: str | None) -> bool:
        query = locks.delete().where(locks.c.workspace == workspace)
        if lock_id is not None:
            query = query.where(locks.c.id == lock_id)
        return bool(self.conn.execute(query).rowcount)

    def lock_expiries(self) -> dict[str, float | None]:
        """Every workspace with its lease's expiry (epoch s), None when it has none: what
        ``/metrics`` reports as the lock held per workspace."""
        query = sa.select(workspaces.c.slug, locks.c.expires_at).select_from(
            workspaces.outerjoin(locks, locks.c.workspace == workspaces.c.slug)
        )
        return {row.slug: row.expires_at for row in self.conn.execute(query)}

    def count_request(self, key: str, window: int) -> int:
        """Count one request in (key, window); returns the window's count so far."""
        insert = (pg_insert if self.conn.dialect.name == "postgresql" else sqlite_insert)(
            rate_limits
        )
        stmt = insert.values(key=key, window=window, count=1).on_conflict_do_update(
            index_elements=["key", "window"], set_={"count": rate_limits.c.count + 1}
        )
        self.conn.execute(stmt)
        self.conn.execute(rate_limits.delete().where(rate_limits.c.key == key,
                                                     rate_limits.c.window < window))  # fmt: skip
        query = sa.select(rate_limits.c.count).where(
            rate_limits.c.key == key, rate_limits.c.window == window
        )
        return int(self.conn.execute(query).scalar_one())

    def list_audit(self, workspace: str, before_id: int | None, limit: int,
                   query: AuditQuery | None = None) -> list[AuditRecord]:  # fmt: skip
        """At most ``limit`` of the workspace's events below ``before_id`` (when given) that
        ``query`` selects, newest first unless it asks for the oldest first."""
        q = query or AuditQuery()
        ids = audit_events.c.id
        select = sa.select(audit_events).where(audit_events.c.workspace == workspace,
                                               *_audit_conditions(q))  # fmt: skip
        if before_id is not None:
            select = select.where(ids < before_id)
        select = select.order_by(ids if q.oldest_first else ids.desc()).limit(limit)
        out = []
        for row in self.conn.execute(select):
            values = dict(row._mapping)
            values["paths"] = json.loads(values["paths"])
            values["changes"] = json.loads(values["changes"]) if values["changes"] else []
            out.append(AuditRecord(**values))
        return out

    def insert_apply_run(self, run: ApplyRunRecord) -> int:
        """Record a new apply run; its id."""
        values = _run_values(run)
        try:
            return _new_id(self.conn.execute(apply_runs.insert(), values))
        except sa.exc.IntegrityError as exc:
            raise _integrity_error(exc) from None

    def set_apply_run_audit(self, run_id: int, audit_from: int) -> None:
        query = apply_runs.update().where(apply_runs.c.id == run_id)
        self.conn.execute(query.values(audit_from=audit_from))

    def get_apply_run(self, run_id: int) -> ApplyRunRecord | None:
        row = self.conn.execute(_GET_APPLY_RUN, {"b_id": run_id}).first()
        return _run_from_row(row) if row else None

    def finish_apply_run(self, run: ApplyRunRecord) -> bool:
        """Write how ``run`` ended, only while the stored run is still running (of two
        finishes, one wins); returns whether it wrote."""
        query = apply_runs.update().where(apply_runs.c.id == run.id,
                                          apply_runs.c.workspace == run.workspace,
                                          apply_runs.c.status == "running")  # fmt: skip
        values = _run_values(run)
        changed = {k: values[k] for k in ("status", "finished", "counts", "failures")}
        try:
            return bool(self.conn.execute(query.values(**changed)).rowcount)
        except sa.exc.IntegrityError as exc:
            raise _integrity_error(exc) from None

    def list_apply_runs(self, workspace: str, before_id: int | None, limit: int,
                        manager: str | None = None, status: str | None = None
                        ) -> list[ApplyRunRecord]:  # fmt: skip
        """The workspace's runs, newest first, below ``before_id`` when given."""
        query = sa.select(apply_runs).where(apply_runs.c.workspace == workspace)
        if before_id is not None:
            query = query.where(apply_runs.c.id < before_id)
        if manager is not None:
            query = query.where(apply_runs.c.manager == manager)
        if status is not None:
            query = query.where(apply_runs.c.status == status)
        query = query.order_by(apply_runs.c.id.desc()).limit(limit)
        return [_run_from_row(row) for row in self.conn.execute(query)]

    def insert_version(self, version: VersionRecord) -> None:
        self._insert(resource_versions, version.__dict__)

    def list_versions(self, resource: str, before: int | None, limit: int
                      ) -> list[VersionRecord]:  # fmt: skip
        """A resource's versions, newest first, below ``before`` when given."""
        query = sa.select(resource_versions).where(resource_versions.c.resource == resource)
        if before is not None:
            query = query.where(resource_versions.c.version < before)
        query = query.order_by(resource_versions.c.version.desc()).limit(limit)
        return [VersionRecord(**row._mapping) for row in self.conn.execute(query)]

    def get_version(self, resource: str, version: int) -> VersionRecord | None:
        query = sa.select(resource_versions).where(resource_versions.c.resource == resource,
                                                   resource_versions.c.version == version)
        row = self.conn.execute(query).first()
        return VersionRecord(**row._mapping) if row else None

    def delete_versions(self, resource: str) -> int:
        query = resource_versions.delete().where(resource_versions.c.resource == resource)
        return int(self.conn.execute(query).rowcount)
    def _upsert(self) -> Any:
        return pg_insert if self.conn.dialect.name == "postgresql" else sqlite_insert

    def list_catalog_entries(self, workspace: str, section: str, after: str | None, limit: int
                             ) -> list[CatalogRecord]:  # fmt: skip
        """A page of the workspace's private entries of ``section``, by id after ``after``."""
        entry_id = _catalog_id(self.conn.dialect.name == "postgresql")
        query = sa.select(catalog_entries).where(catalog_entries.c.workspace == workspace,
                                                 catalog_entries.c.section == section)  # fmt: skip
        if after is not None:
            query = query.where(entry_id > after)
        query = query.order_by(entry_id).limit(limit)
        return [_catalog_from_row(row) for row in self.conn.execute(query)]

    def all_catalog_entries(self, workspace: str) -> list[CatalogRecord]:
        """Every private entry of the workspace (the service bounds how many there are)."""
        query = _ALL_CATALOG[self.conn.dialect.name == "postgresql"]
        rows = self.conn.execute(query, {"b_workspace": workspace})
        return [_catalog_from_row(row) for row in rows]

    def catalog_keys(self, workspace: str) -> set[tuple[str, str]]:
        query = sa.select(catalog_entries.c.section, catalog_entries.c.id).where(
            catalog_entries.c.workspace == workspace
        )
        return {(row.section, row.id) for row in self.conn.execute(query)}

    def get_catalog_entry(self, workspace: str, section: str, entry_id: str
                          ) -> CatalogRecord | None:  # fmt: skip
        query = sa.select(catalog_entries).where(catalog_entries.c.workspace == workspace,
                                                 catalog_entries.c.section == section,
                                                 catalog_entries.c.id == entry_id)  # fmt: skip
        row = self.conn.execute(query).first()
        return _catalog_from_row(row) if row else None

    def upsert_catalog_entry(self, rec: CatalogRecord) -> None:
        """Insert the entry, or replace the data of the one with its key (keeping its
        create_time)."""
        values = {**rec.__dict__, "data": json.dumps(rec.data, sort_keys=True)}
        stmt = self._upsert()(catalog_entries).values(**values)
        stmt = stmt.on_conflict_do_update(
            index_elements=["workspace", "section", "id"],
            set_={"data": values["data"], "update_time": rec.update_time},
        )
        try:
            self.conn.execute(stmt)
        except sa.exc.IntegrityError as exc:
            raise _integrity_error(exc) from None


class SqlStore:
    """A Store over a SQLAlchemy engine."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine: Engine = _create_engine(normalise_url(url))
        sqlite = self.engine.dialect.name == "sqlite"
        self._writer: threading.Lock | None = threading.Lock() if sqlite else None
        self._turn: threading.Lock | None = threading.Lock() if sqlite else None
        self.writer_timeout = BUSY_TIMEOUT_S

    def create_schema(self) -> None:
        """Bring the database to this code's schema (``seg.store.migrate``)."""
        from seg.store.migrate import migrate

        try:
            migrate(self.engine)
        except sa.exc.DBAPIError as exc:
            raise _database_error(exc) or exc from None

    def schema_status(self) -> SchemaStatus:
        """Where the database's schema stands against this code (reads only)."""
        from seg.store.migrate import schema_status

        try:
            return schema_status(self.engine)
        except sa.exc.DBAPIError as exc:
            raise _database_error(exc) or exc from None

    @contextmanager
    def tx(self) -> Iterator[SqlTx]:
        """One transaction; driver errors leave it as ``StoreError``s (see ``_database_error``)."""
        tx: SqlTx | None = None
        try:
            with self.engine.begin() as conn:
                tx = SqlTx(conn, self._writer, self.writer_timeout)
                yield tx
        except sa.exc.DBAPIError as exc:
            mapped = _database_error(exc)
            if mapped is None:
                raise
            raise mapped from None
        finally:
            if tx is not None and tx.holds_writer and self._writer is not None:
                self._writer.release()  # after the commit or rollback

    @contextmanager
    def write_turn(self) -> Iterator[None]:
        """A resource write's turn, around all its work (its body parsed, checked, written):
        on SQLite, which admits one writer at a time anyway, this process's resource writes
        take turns here, so those waiting sleep instead of contending for the interpreter
        with the one writing (which held the writer lock all the longer: at 10 concurrent
        writes, 0.25 s in 8 s). Bounded like the writer lock; elsewhere (PostgreSQL locks
        rows, writers proceed together) nothing."""
        if self._turn is None:
            yield
            return
        if not self._turn.acquire(timeout=self.writer_timeout):
            raise UnavailableError("OperationalError: database is locked (another writer of "
                                   "this server held it too long)")  # fmt: skip
        try:
            yield
        finally:
            self._turn.release()

    def ping(self) -> None:
        """Raise ``UnavailableError`` unless the database answers a read of the schema, at
        this code's revision (an operator who migrates under running servers, up or down,
        leaves them unable to serve: readiness says so)."""
        from seg.store.migrate import head_revision, shown_revision

        try:
            with self.tx() as tx:
                tx.conn.execute(sa.select(workspaces.c.slug).limit(1)).all()
                found = tx.conn.execute(sa.text("SELECT version_num FROM alembic_version"))
                at = [str(v) for v in found.scalars()]
        except StoreError as exc:
            raise UnavailableError(str(exc)) from None
        except sa.exc.DBAPIError as exc:  # a missing table: not a seg database (yet)
            raise UnavailableError(_driver_message(exc)) from None
        if at != [head_revision()]:
            shown = shown_revision(", ".join(at)) or "none"
            raise UnavailableError(f"the database schema is at revision {shown} and this "
                                   f"server needs {head_revision()} (migrated under it?)")

    def pool_status(self) -> PoolStatus:
        """The connection pool's use; pools without a size (SQLite in memory) say 0."""
        pool = self.engine.pool
        checked_out = getattr(pool, "checkedout", None)
        size = getattr(pool, "size", None)
        return PoolStatus(
            checked_out=int(checked_out()) if callable(checked_out) else 0,
            size=int(size()) if callable(size) else 0,
        )

    def close(self) -> None:
        self.engine.dispose()


def _create_private_file(url: str) -> None:
    """Create a SQLite database file 0600 before SQLite does (its WAL and SHM files take the
    database file's mode), so secrets sealed in it are readable by its owner only."""
    path = sa.engine.make_url(url).database
    if not path or path == ":memory:" or path.startswith("file:"):
        return
    if Path(path).parent.is_dir() and not Path(path).exists():
        try:
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        except FileExistsError:  # another process made it first (with the same code)
            pass


def _create_engine(url: str) -> Engine:
    if url.startswith("sqlite"):
        _create_private_file(url)
        engine = sa.create_engine(url, connect_args={"check_same_thread": False, "timeout": 30})
        sa.event.listen(engine, "connect", _sqlite_pragmas)
        return engine
    return sa.create_engine(url, pool_pre_ping=True, pool_size=5, max_overflow=10)


def read_only_engine(url: str) -> Engine:
    """An engine that cannot change the database (SQLite opened read-only; on PostgreSQL the
    callers only read)."""
    url = normalise_url(url)
    path = sa.engine.make_url(url).database if url.startswith("sqlite") else None
    if path and path != ":memory:" and not path.startswith("file:"):
        return sa.create_engine(f"sqlite:///file:{path}?mode=ro&uri=true")
    return sa.create_engine(url)


def open_store(url: str, create: bool = True) -> SqlStore:
    """The store on ``url``; ``create`` brings its schema to this code's (migrating)."""
    store = SqlStore(url)
    if create:
        store.create_schema()
    return store
