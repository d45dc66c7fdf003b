"""``seg version``: what a bug report needs to name this seg — the build's version, the Python
and platform it runs on, and the database schema revision the code expects beside the one a
database has (read, never changed).

(``seg <kind> versions`` of ``version_cmds`` is about the code versions of functions, another
thing.)
"""

from __future__ import annotations

import os
import platform
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer

from seg.commands.console import handle_errors, out_console, write_document
from seg.commands.options import DebugOpt
from seg.errors import ConfigError
from seg.render.plan_text import Line, write_lines

__all__ = ["register", "runtime_facts"]

# The module the database schema's migrations live in, and its two questions (an adapter:
# `seg version` says "unknown" for a build without it rather than failing).
MIGRATE_MODULE = "seg.store.migrate"
EMBEDDED_DATABASE = Path(".seg") / "control-plane.db"


class VersionOutput(StrEnum):
    text = "text"
    json = "json"


def _migrate() -> Any | None:
    import importlib

    try:
        return importlib.import_module(MIGRATE_MODULE)
    except ModuleNotFoundError as exc:
        if exc.name != MIGRATE_MODULE:
            raise
        return None


def schema_head() -> str | None:
    """The schema revision this code expects (its newest migration), None without migrations."""
    migrate = _migrate()
    return None if migrate is None else str(migrate.head_revision())


def _sqlite_file(url: str) -> Path | None:
    """The file a ``sqlite:`` URL names (None: in memory, or PostgreSQL); any other kind of
    database is refused (ValueError), as the control plane runs on those two only."""
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    backend = parsed.get_backend_name()
    if backend == "postgresql":
        return None
    if backend != "sqlite":
        raise ValueError(backend)
    return None if parsed.database in (None, "", ":memory:") else Path(parsed.database)


def database_revision(url: str) -> str | None:
    """The schema revision of the database at ``url`` (None: not a seg database yet), read
    without changing it: a SQLite file that does not exist is an error, not a new file."""
    from seg.model.urls import redact_text, redact_url

    try:
        path = _sqlite_file(url)
    except Exception:  # sqlalchemy.exc.ArgumentError, ValueError: not one seg runs on
        raise ConfigError(f"not a SQLite or PostgreSQL URL: {redact_url(url)}") from None
    if path is not None and not path.is_file():
        raise ConfigError(f"no database at {path} (a SQLite URL names an existing file here)")
    migrate = _migrate()
    if migrate is None:
        return None
    try:
        found = migrate.database_revision(url)
    except Exception as exc:  # driver errors vary by database
        cause = getattr(exc, "orig", None) or exc  # the driver's error, not SQLAlchemy's wrap
        message = " ".join(f"{type(cause).__name__}: {cause}".split())  # one line
        raise ConfigError(f"cannot read the database: {redact_text(message, url)}") from None
    return None if found is None else str(found)


def _database_url(database: str | None, workspace: Path | None) -> str | None:
    """The database to report on: ``--database``, else the embedded control plane of ``-w DIR``,
    else ``$SEG_DATABASE_URL``. None: report the code's revision only."""
    if database:
        return database
    if workspace is None:
        return os.environ.get("SEG_DATABASE_URL") or None
    embedded = workspace / EMBEDDED_DATABASE
    if not embedded.is_file():
        raise ConfigError(f"{workspace} has no embedded control plane ({embedded} is missing)")
    return f"sqlite:///{embedded.resolve()}"


def runtime_facts(database: str | None = None, workspace: Path | None = None) -> dict[str, Any]:
    """The document ``seg version -o json`` prints (``format_version`` aside)."""
    from seg import __version__
    from seg.model.urls import redact_url

    head = schema_head()
    url = _database_url(database, workspace)
    db: dict[str, Any] | None = None
    if url is not None:
        revision = database_revision(url)
        db = {"url": redact_url(url), "revision": revision,
              "up_to_date": head is not None and revision == head}  # fmt: skip
    return {
        "version": __version__,
        "python": {"version": platform.python_version(),
                   "implementation": platform.python_implementation()},  # fmt: skip
        "platform": platform.platform(),
        "schema": {"head": head, "database": db},
    }


def _lines(facts: dict[str, Any]) -> list[Line]:
    python, head = facts["python"], facts["schema"]["head"]
    lines: list[Line] = [
        ("bold", f"seg {facts['version']}"),
        ("", f"Python    {python['version']} ({python['implementation']})"),
        ("", f"Platform  {facts['platform']}"),
        ("", f"Schema    {head} (the revision this seg expects)" if head else
             "Schema    unknown: this build has no migrations"),
    ]  # fmt: skip
    db = facts["schema"]["database"]
    if db is not None:
        state = ("unknown" if head is None else
                 "up to date" if db["up_to_date"] else
                 "no revision recorded: see seg server migrate" if db["revision"] is None else
                 "not this seg's revision: see seg server migrate")  # fmt: skip
        lines.append(("", f"Database  {db['revision'] or 'none'} ({state}) at {db['url']}"))
    return lines


@handle_errors
def version_cmd(
    output: Annotated[
        VersionOutput, typer.Option("--output", "-o", help="text or json.")
    ] = VersionOutput.text,
    database: Annotated[
        str | None,
        typer.Option("--database", metavar="URL", show_default=False,
                     help="Also show this database's schema revision, only reading it "
                          "(default $SEG_DATABASE_URL unless -w)."),
    ] = None,  # fmt: skip
    workspace: Annotated[
        Path | None,
        typer.Option("--workspace", "-w", metavar="DIR",
                     help="Also show the schema revision of DIR's embedded control plane "
                          "(.seg/control-plane.db)."),
    ] = None,  # fmt: skip
    debug: DebugOpt = False,
) -> None:
    """Show seg's version, Python, platform and database schema revision."""
    facts = runtime_facts(database, workspace)
    if output is VersionOutput.json:
        write_document(facts)
    else:
        write_lines(_lines(facts), out_console())


def register(app: typer.Typer) -> None:
    app.command("version")(version_cmd)

