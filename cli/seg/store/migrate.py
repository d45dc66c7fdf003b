"""The database schema's version: where a database stands against this code's migrations,
bringing it there (under a lock, so two servers starting at once migrate once), and the SQL a
migration would run.

A database is in one of five states (``SchemaStatus.state``): ``current`` (at this code's
head), ``empty`` (no seg table yet), ``unversioned`` (made by a seg from before migrations:
tables, no version), ``behind`` (an older revision) or ``ahead`` (a revision this code does
not know: a newer seg migrated it). Only ``current`` may be served; ``seg server migrate``
(or ``seg serve --migrate``) moves the first three forward and refuses the last.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Connection, Engine

from seg.store.base import StoreError

__all__ = [
    "SchemaError",
    "drift",
    "SchemaStatus",
    "database_revision",
    "head_revision",
    "migrate",
    "migration_sql",
    "restore_indexes",
    "revisions",
    "schema_status",
    "shown_revision",
]

MIGRATIONS = Path(__file__).with_name("migrations")
# The PostgreSQL advisory lock every migrating process takes first (any fixed 64-bit number;
# this one is "seg" in ASCII), so of two servers starting with --migrate one migrates and the
# other waits, then finds nothing left to do.
LOCK_KEY = 0x736567
# The table every seg database has; without it a database holds no seg data.
MARKER_TABLE = "workspaces"


class SchemaError(StoreError):
    """The database's schema is not one this code can use or reach; the message says what to
    run."""


def shown_revision(revision: str) -> str:
    """A database's revision as a message shows it: text from the database (a restored
    backup is someone else's file), so its control characters escaped and a long one cut."""
    from seg.model.printable import escape_line

    return escape_line(revision[:40] + ("..." if len(revision) > 40 else ""))


@dataclass(frozen=True)
class SchemaStatus:
    current: str | None  # the database's revision; None when it records none
    head: str  # this code's newest revision
    has_tables: bool  # whether seg's tables exist (a database from before migrations)
    known: bool  # whether this code knows ``current``

    @property
    def state(self) -> str:
        if self.current is None:
            return "unversioned" if self.has_tables else "empty"
        if not self.known:
            return "ahead"
        return "current" if self.current == self.head else "behind"

    def problem(self) -> str | None:
        """Why a server may not start on this database, in one line that says what to run;
        None when it may."""
        current = shown_revision(self.current or "")
        migrate = "run `seg server migrate` (back it up first), or start with --migrate"
        if self.state == "empty":
            return f"the database has no seg schema yet: {migrate}"
        if self.state == "unversioned":
            return (f"the database was made by a seg from before schema versions and needs "
                    f"migrating to revision {self.head}: {migrate}")  # fmt: skip
        if self.state == "behind":
            return (f"the database schema is at revision {current} and this seg needs "
                    f"{self.head}: {migrate}")  # fmt: skip
        if self.state == "ahead":
            return (f"the database schema is at revision {current}, newer than this seg "
                    f"knows (up to {self.head}): upgrade seg, or migrate it down with the "
                    f"newer seg (`seg server migrate --to {self.head}`)")  # fmt: skip
        return None


@lru_cache(maxsize=1)
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())


def _config(buffer: io.StringIO | None = None) -> Config:
    config = Config(output_buffer=buffer)
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    return config


def revisions() -> list[str]:
    """Every revision of this code, oldest first."""
    return [script.revision for script in reversed(list(_script().walk_revisions()))]


def head_revision() -> str:
    """The revision this code's schema is at."""
    head = _script().get_current_head()
    assert head is not None
    return head


def _status(conn: Connection) -> SchemaStatus:
    tables = set(sa.inspect(conn).get_table_names())
    current = MigrationContext.configure(conn).get_current_revision()
    return SchemaStatus(current, head_revision(), MARKER_TABLE in tables,
                        current is None or current in revisions())  # fmt: skip


def schema_status(engine: Engine) -> SchemaStatus:
    """Where the database stands (reads only)."""
    with engine.connect() as conn:
        return _status(conn)


def database_revision(url: str) -> str | None:
    """The revision of the database at ``url`` (None: it records none), read without
    changing it."""
    from seg.store.sql import read_only_engine

    engine = read_only_engine(url)
    try:
        return schema_status(engine).current
    finally:
        engine.dispose()


def _target(to: str) -> str:
    if to == "head":
        return head_revision()
    if to == "base":
        raise SchemaError("migrating to base would drop every table; drop the database "
                          "instead if that is what you want")  # fmt: skip
    if to not in revisions():
        raise SchemaError(f"unknown revision {to!r}; this seg knows "
                          f"{', '.join(revisions())}")  # fmt: skip
    return to


def migrate(engine: Engine, to: str = "head") -> tuple[SchemaStatus, str]:
    """Move the database to revision ``to`` (up or down) in one transaction, holding the
    migration lock; returns its status before and the revision it is now at. A database
    ahead of this code is refused (``SchemaError``). At the head, an index of the code's
    tables that someone dropped is created again (see ``restore_indexes``)."""
    target = _target(to)
    with _locked(engine) as conn:
        before = _status(conn)
        if before.state == "ahead":
            raise SchemaError(str(before.problem()))
        config = _config()
        config.attributes["connection"] = conn
        order = revisions()
        at = -1 if before.current is None else order.index(before.current)
        if order.index(target) > at:
            command.upgrade(config, target)
        elif order.index(target) < at:
            command.downgrade(config, target)
        if target == head_revision():
            restore_indexes(conn)
    return before, target


def restore_indexes(conn: Connection) -> list[str]:
    """Create every index of the code's tables the database lacks (an operator dropped one,
    or a restore lost it); returns their names. Indexes only: they hold no data, so adding one
    back can never lose anything, unlike any other difference."""
    from seg.store.sql import metadata

    inspector = sa.inspect(conn)
    made = []
    for table in metadata.sorted_tables:
        have = {ix["name"] for ix in inspector.get_indexes(table.name)}
        for index in sorted(table.indexes, key=lambda ix: str(ix.name)):
            if index.name not in have:
                index.create(conn)
                made.append(str(index.name))
    return made


def drift(engine: Engine) -> list[str]:
    """How the database's tables differ from the code's at the same revision (a column or
    index someone changed by hand), one line each; empty when they agree."""
    from alembic.autogenerate import compare_metadata

    from seg.store.sql import metadata

    with engine.connect() as conn:
        diffs = compare_metadata(MigrationContext.configure(conn), metadata)
    return [_describe(diff) for diff in diffs]


def _describe(diff: object) -> str:
    """One of Alembic's difference tuples in words."""
    if isinstance(diff, list):  # column modifications come grouped
        return "; ".join(_describe(item) for item in diff)
    if not isinstance(diff, tuple) or not diff:
        return str(diff)
    action, *rest = diff
    names = {"add_index": "missing index", "remove_index": "unexpected index",
             "add_table": "missing table", "remove_table": "unexpected table",
             "add_column": "missing column", "remove_column": "unexpected column"}  # fmt: skip
    subject = rest[-1] if action.endswith("column") else rest[0]
    name = getattr(subject, "name", subject)
    table = getattr(getattr(subject, "table", None), "name", None) or (
        rest[1] if action.endswith("column") and len(rest) > 1 else "")
    where = f"{table}.{name}" if table and action.endswith("column") else str(name)
    return f"{names.get(action, action.replace('_', ' '))} {where}"


@contextmanager
def _locked(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction that holds the migration lock until it commits:
    PostgreSQL's advisory lock; SQLite's writer lock (``BEGIN IMMEDIATE``), taken by hand as
    Python's sqlite3 would otherwise commit each DDL statement on its own."""
    with engine.connect() as conn:
        if conn.dialect.name != "sqlite":
            with conn.begin():
                conn.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
                yield conn
            return
        dbapi = conn.connection.dbapi_connection
        assert dbapi is not None
        level = dbapi.isolation_level
        dbapi.isolation_level = None
        try:
            conn.exec_driver_sql("PRAGMA foreign_keys=OFF")  # batch copies of tables
            conn.exec_driver_sql("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.exec_driver_sql("ROLLBACK")
                raise
            conn.exec_driver_sql("COMMIT")
        finally:
            conn.rollback()  # SQLAlchemy's own bookkeeping; the database's is done
            conn.exec_driver_sql("PRAGMA foreign_keys=ON")
            dbapi.isolation_level = level


def migration_sql(dialect: str, current: str | None, to: str = "head") -> str:
    """The SQL that migrating a ``dialect`` database from ``current`` to ``to`` would run,
    without a database. From ``None`` it is the whole schema, as for an empty database."""
    target = _target(to)
    buffer = io.StringIO()
    config = _config(buffer)
    config.attributes["dialect"] = dialect
    order = revisions()
    if current is not None and current not in order:
        raise SchemaError(f"the database is at revision {shown_revision(current)}, which this "
                          "seg does not know")  # fmt: skip
    if current is not None and order.index(target) < order.index(current):
        command.downgrade(config, f"{current}:{target}", sql=True)
    elif current != target:
        command.upgrade(config, f"{current}:{target}" if current else target, sql=True)
    return buffer.getvalue()
