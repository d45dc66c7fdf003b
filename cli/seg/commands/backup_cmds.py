"""``seg server backup FILE`` and ``seg server restore FILE``: SQLite here (see
``seg.store.backup``), PostgreSQL by its own tools (one line of guidance, exit 1)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seg.commands.console import handle_errors, out_console, write_document
from seg.commands.options import DatabaseOpt, DebugOpt, Output, OutputOpt, default_database
from seg.errors import ConfigError

__all__ = ["register"]

ForceOpt = Annotated[bool, typer.Option("--force", help="Replace what is there.")]


def _sqlite_file(url: str, command: str) -> Path:
    """The database file of a SQLite URL; PostgreSQL (and anything else) is one error line."""
    import sqlalchemy as sa

    from seg.model.printable import escape_line
    from seg.model.urls import redact_url
    from seg.store.sql import normalise_url

    try:
        parsed = sa.engine.make_url(normalise_url(url))
    except sa.exc.ArgumentError:
        raise ConfigError(f"not a database URL: {escape_line(redact_url(url))}") from None
    if parsed.get_backend_name() == "postgresql":
        raise ConfigError(_postgres_guidance(parsed, command))
    name = parsed.database or ""
    if parsed.get_backend_name() != "sqlite" or name in ("", ":memory:") or name[:5] == "file:":
        shown = escape_line(redact_url(url))
        raise ConfigError(f"seg server {command} works on a SQLite database file (or gives "
                          f"guidance for PostgreSQL), not {shown}")  # fmt: skip
    return Path(name)


def _postgres_guidance(url: object, command: str) -> str:
    """The pg_dump / pg_restore line for ``url``, its password left out (libpq takes it from
    PGPASSWORD or ~/.pgpass)."""
    import sqlalchemy as sa

    assert isinstance(url, sa.engine.URL)
    query = {k: v for k, v in url.query.items() if k.lower() != "password"}
    plain = sa.engine.URL.create("postgresql", url.username, None, url.host, url.port,
                                 url.database, query)  # fmt: skip
    shown = plain.render_as_string(hide_password=False)
    if command == "backup":
        run = f"pg_dump --format=custom --file FILE '{shown}'"
        then = ""
    else:
        run = f"pg_restore --clean --if-exists --no-owner --dbname '{shown}' FILE"
        then = ", then restart every seg serve using it"
    verb = "back up" if command == "backup" else "restore"
    return (f"seg does not {verb} PostgreSQL itself; use its tools: {run} (the password "
            f"from PGPASSWORD or ~/.pgpass){then}")  # fmt: skip


def _report(verb: str, source: Path, target: Path, copied: object, output: Output,
            restart: bool) -> None:  # fmt: skip
    from seg.store.backup import Copied, describe
    from seg.store.migrate import shown_revision

    assert isinstance(copied, Copied)
    if output is Output.json:
        write_document({"from": str(source), "to": str(target), "bytes": copied.size,
                        "counts": copied.counts, "schema_revision": copied.revision})  # fmt: skip
        return
    revision = (f"schema revision {shown_revision(copied.revision)}" if copied.revision
                else "no schema revision (made before migrations)")  # fmt: skip
    console = out_console()
    console.print(f"{verb} {source} to {target} ({copied.size:,} bytes, {revision}): "
                  f"{describe(copied)}.", markup=False, soft_wrap=True)  # fmt: skip
    if restart:
        console.print("Restart every seg serve using this database so none keeps state of the "
                      "old one.", markup=False)  # fmt: skip
    else:
        console.print("It holds sealed secrets (keep it private); the secret key that "
                      "opens them is not in it: keep a copy of the key file too.",
                      markup=False)  # fmt: skip


def _run(action: str, first: Path, second: Path, force: bool) -> object:
    from seg.model.printable import escape_line
    from seg.store.backup import BackupError, backup_sqlite, restore_sqlite

    try:
        if action == "backup":
            return backup_sqlite(first, second, force)
        return restore_sqlite(first, second, force)
    except BackupError as exc:
        raise ConfigError(escape_line(str(exc))) from None


@handle_errors
def backup_cmd(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="The backup file to write.")],
    force: ForceOpt = False,
    database: DatabaseOpt = None,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Copy a SQLite control-plane database to FILE (0600) while servers keep running; for
    PostgreSQL, say how to use pg_dump."""
    path = _sqlite_file(default_database(database), "backup")
    copied = _run("backup", path, file, force)
    _report("Backed up", path, file, copied, output, restart=False)


@handle_errors
def restore_cmd(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A file seg server backup wrote.")],
    force: ForceOpt = False,
    database: DatabaseOpt = None,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Replace a SQLite control-plane database with a backup, all at once (a database that
    holds data only with --force); for PostgreSQL, say how to use pg_restore."""
    path = _sqlite_file(default_database(database), "restore")
    copied = _run("restore", file, path, force)
    _report("Restored", file, path, copied, output, restart=True)


def register(server_app: typer.Typer) -> None:
    server_app.command("backup")(backup_cmd)
    server_app.command("restore")(restore_cmd)
