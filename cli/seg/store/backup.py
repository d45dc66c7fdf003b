"""Backup and restore of a SQLite control-plane database (``seg server backup`` / ``restore``).

Backup is online: SQLite's backup API copies every page inside one read transaction of the
source, so a server writing meanwhile (WAL mode) neither waits nor leaks a half-applied write
into the copy. The copy is written to a private temporary file beside the target (0600: it
holds sealed secrets), switched to a rollback journal so it is one self-contained file,
checked, flushed to disk, and only then given its name: by a hard link, which fails rather
than replace an existing file, or with ``force`` by a rename, which replaces the name and
never writes through a symlink.

Restore reads the backup read-only and untrusted: it must be a SQLite file that passes
``quick_check``, has seg's tables (an ``alembic_version`` table may be there or not: a backup
taken before migrations existed is brought up to date by ``seg serve --migrate``), and no
triggers or views (seg makes none; one in a file would run SQL on the server's writes). Into a
new path it is copied like a backup; into an existing database it is copied by the backup API
as well, which replaces every page in one write transaction of the target: a reader (or a
running server) sees the old database or the restored one, never a mix, and a failure rolls
back. That is why restoring under a running server is allowed: its next transaction reads the
restored data; it should still be restarted, as nothing it computed from the old data
(rate-limit windows, connections) is worth keeping.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import sqlite3
import stat
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

__all__ = ["BackupError", "Copied", "backup_sqlite", "describe", "restore_sqlite"]

# Every seg database has these; later releases add tables (resource_versions, catalog_entries…)
SEG_TABLES = ("workspaces", "tokens", "resources", "audit_events")
HEADER = b"SQLite format 3\x00"
BUSY_MS = 30_000


class BackupError(Exception):
    """A backup or restore that cannot be done; the message is one line for the operator."""


@dataclass(frozen=True)
class Copied:
    """What a backup or restore copied: the target's size and the rows of seg's tables."""

    path: Path
    size: int
    counts: dict[str, int] = field(default_factory=dict)
    revision: str | None = None  # alembic_version, when the database has one
    tables: int = 0  # how many tables it has (seg's or not)


def backup_sqlite(database: Path, target: Path, force: bool = False) -> Copied:
    """Copy the live database at ``database`` to a new file ``target`` (see the module)."""
    _check_target(target, force, what="backup file")
    if not database.is_file():
        raise BackupError(f"database {database} does not exist (or is not a file)")
    if target.exists() and os.path.samefile(database, target):  # replacing it unlinks it
        raise BackupError(f"backup file {target} is the database itself; name a new file")
    with _open(database, "rw", "database") as source:
        _check_seg(source, f"database {database}")
        return _copy_to_new(source, target, force)


def restore_sqlite(backup: Path, database: Path, force: bool = False) -> Copied:
    """Replace (or create) the database at ``database`` with the backup file ``backup``."""
    _check_source(backup)
    _check_target(database, force=True, what="database")
    # immutable: read as it is, no -wal or -shm made beside it (a WAL-mode file has none left)
    with _open(backup, "ro&immutable=1", "backup file") as source:
        _check_seg(source, f"backup file {backup}", untrusted=True)
        if database.exists() and database.stat().st_size > 0:
            if os.path.samefile(backup, database):
                raise BackupError(f"{backup} is the database itself")
            return _copy_into(source, database, force, new_history=True)
        if Path(f"{database}-wal").exists():
            raise BackupError(f"a write-ahead log {database}-wal is left without its database; "
                              "move it away first")  # fmt: skip
        return _copy_to_new(source, database, force=database.exists(),  # an empty file: replaced
                            new_history=True)  # fmt: skip


def _check_source(path: Path) -> None:
    try:
        info = path.lstat()
    except FileNotFoundError:
        raise BackupError(f"backup file {path} does not exist") from None
    except OSError as exc:
        raise BackupError(f"cannot read backup file {path}: {exc.strerror}") from None
    if stat.S_ISLNK(info.st_mode):
        raise BackupError(f"backup file {path} is a symlink; name the file itself")
    if not stat.S_ISREG(info.st_mode):
        raise BackupError(f"backup file {path} is not a regular file")
    try:
        with path.open("rb") as handle:
            header = handle.read(20)
    except OSError as exc:
        raise BackupError(f"cannot read backup file {path}: {exc.strerror}") from None
    if header[: len(HEADER)] != HEADER:
        raise BackupError(f"backup file {path} is not a SQLite database")
    if header[18:20] == b"\x02\x02" and Path(f"{path}-wal").exists():
        raise BackupError(f"backup file {path} has a write-ahead log beside it (a live "
                          "database?); make a backup of it with seg server backup")  # fmt: skip


def _check_target(path: Path, force: bool, what: str) -> None:
    """A target may be missing or (with ``force``) a regular file; never a symlink."""
    try:
        info = path.lstat()
    except FileNotFoundError:
        if not path.parent.is_dir():
            raise BackupError(f"directory {path.parent} does not exist") from None
        return
    if stat.S_ISLNK(info.st_mode):
        raise BackupError(f"{what} {path} is a symlink; name the file itself")
    if not stat.S_ISREG(info.st_mode):
        raise BackupError(f"{what} {path} exists and is not a regular file")
    if not force:
        raise BackupError(f"{what} {path} exists; pass --force to replace it")


@contextlib.contextmanager
def _open(path: Path, mode: str, what: str) -> Iterator[sqlite3.Connection]:
    uri = f"file:{quote(str(path.absolute()))}?mode={mode}"
    try:
        conn = sqlite3.connect(uri, uri=True, timeout=BUSY_MS / 1000, isolation_level=None)
    except sqlite3.Error as exc:
        raise BackupError(f"cannot open {what} {path}: {exc}") from None
    try:
        conn.execute("PRAGMA trusted_schema=OFF")
        yield conn
    except sqlite3.Error as exc:
        raise BackupError(f"{what} {path}: {_one_line(exc)}") from None
    finally:
        conn.close()


def _check_seg(conn: sqlite3.Connection, shown: str, untrusted: bool = False) -> None:
    """Raise unless ``conn`` is a sound seg database (and, ``untrusted``, has no triggers or
    views)."""
    try:
        problems = [row[0] for row in conn.execute("PRAGMA quick_check(3)")]
        objects = conn.execute("SELECT type, name FROM sqlite_master").fetchall()
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{shown} is not a usable SQLite database: {_one_line(exc)}") from None
    if problems != ["ok"]:
        raise BackupError(f"{shown} is damaged: {_one_line('; '.join(map(str, problems)))}")
    tables = {name for kind, name in objects if kind == "table"}
    missing = [t for t in SEG_TABLES if t not in tables]
    if missing:
        raise BackupError(f"{shown} is not a seg database (no {', '.join(missing)} table)")
    odd = sorted(f"{kind} {name}" for kind, name in objects if kind in ("trigger", "view"))
    if untrusted and odd:
        raise BackupError(f"{shown} has a {_one_line(odd[0])[:80]}, which seg never makes; "
                          "refusing to restore it")  # fmt: skip


def _new_history(conn: sqlite3.Connection) -> None:
    """Give every workspace of a restored database a new history epoch: the revisions it
    counts restart from the backup's, so a client holding a revision of the history that went
    on after the backup must read the whole state again (``GET …/changes``)."""
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    if "workspace_history" in tables:  # a backup from before it exists gets it by migrating
        conn.execute("UPDATE workspace_history SET epoch = lower(hex(randomblob(16)))")


def _copy_to_new(source: sqlite3.Connection, target: Path, force: bool,
                 new_history: bool = False) -> Copied:  # fmt: skip
    """Copy into a private temporary file beside ``target``, check it, then name it."""
    temporary = target.parent / f".{target.name}.{secrets.token_hex(6)}.tmp"
    try:
        os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
        copy = sqlite3.connect(temporary, isolation_level=None)
        try:
            source.backup(copy)
            if new_history:
                _new_history(copy)
            copy.execute("PRAGMA journal_mode=DELETE")  # one file, no -wal beside it
            _check_seg(copy, f"the copy {temporary}")
            copied = _summary(copy, target)
        finally:
            copy.close()
        _fsync(temporary)
        if force:
            os.replace(temporary, target)
        else:
            os.link(temporary, target)  # fails rather than replace a file made meanwhile
        _fsync(target.parent)
        return Copied(target, target.stat().st_size, copied.counts, copied.revision)
    except FileExistsError:
        raise BackupError(f"{target} exists; pass --force to replace it") from None
    except OSError as exc:
        raise BackupError(f"cannot write {target}: {exc.strerror or exc}") from None
    except sqlite3.Error as exc:
        raise BackupError(f"cannot copy to {target}: {_one_line(exc)}") from None
    finally:
        with contextlib.suppress(FileNotFoundError):
            temporary.unlink()
        for leftover in (f"{temporary}-journal", f"{temporary}-wal", f"{temporary}-shm"):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(leftover)


def _copy_into(source: sqlite3.Connection, database: Path, force: bool,
               new_history: bool = False) -> Copied:  # fmt: skip
    """Replace an existing database's pages in one write transaction (see the module). With
    ``new_history``, the epochs are renewed in a private copy first, so a server reading the
    restored pages never sees them under the old epoch."""
    with _open(database, "rw", "database") as target:
        target.execute(f"PRAGMA busy_timeout={BUSY_MS}")
        held = _summary(target, database)
        if not force and len(held.counts) < len(SEG_TABLES) and held.tables:
            raise BackupError(f"database {database} is not a seg database; pass --force to "
                              "replace it")  # fmt: skip
        if not force and any(held.counts.values()):
            raise BackupError(f"database {database} is not empty ({_counted(held.counts)}); "
                              "pass --force to replace it")  # fmt: skip
        if new_history:
            with _fresh_copy(source, database) as fresh:
                fresh.backup(target)
        else:
            source.backup(target)
        target.execute("PRAGMA journal_mode=WAL")  # as seg opens it
        _check_seg(target, f"database {database}")
        copied = _summary(target, database)
        target.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    return Copied(database, database.stat().st_size, copied.counts, copied.revision)


@contextlib.contextmanager
def _fresh_copy(source: sqlite3.Connection, beside: Path) -> Iterator[sqlite3.Connection]:
    """``source`` copied into a private temporary file beside ``beside``, its history epochs
    renewed; removed after."""
    temporary = beside.parent / f".{beside.name}.{secrets.token_hex(6)}.restore.tmp"
    os.close(os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o600))
    copy = sqlite3.connect(temporary, isolation_level=None)
    try:
        source.backup(copy)
        _new_history(copy)
        yield copy
    finally:
        copy.close()
        for leftover in (temporary, Path(f"{temporary}-journal")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def _summary(conn: sqlite3.Connection, path: Path) -> Copied:
    tables = {row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    counts = {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0]
              for t in SEG_TABLES if t in tables}  # fmt: skip
    revision = None
    if "alembic_version" in tables:
        row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        revision = str(row[0]) if row else None
    return Copied(path, 0, counts, revision, len(tables))


def _counted(counts: dict[str, int]) -> str:
    return ", ".join(f"{n:,} {_NOUNS[table][n != 1]}" for table, n in counts.items())


_NOUNS = {"workspaces": ("workspace", "workspaces"), "tokens": ("token", "tokens"),
          "resources": ("resource", "resources"),
          "audit_events": ("audit event", "audit events")}  # fmt: skip


def describe(copied: Copied) -> str:
    """``2 workspaces, 5 tokens, 40 resources, 100 audit events``."""
    return _counted(copied.counts)


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _one_line(value: object) -> str:
    return " ".join(str(value).split())[:300]
