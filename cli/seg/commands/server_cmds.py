"""``seg serve``, ``seg server init``, ``seg server catalog import``; ``seg server token``
is in ``token_cmds``."""

from __future__ import annotations

import os
from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from seg.commands.console import (
    err_console,
    handle_errors,
    out_console,
    write_document,
)
from seg.commands.options import (
    DatabaseOpt,
    DebugOpt,
    OldSlugOpt,
    Output,
    OutputOpt,
    SlugOpt,
    default_database,
    pick_slug,
)
from seg.errors import ConfigError

if TYPE_CHECKING:
    from seg.server.service import ControlPlane
    from seg.store.migrate import SchemaStatus
    from seg.store.sql import SqlStore

# What opening the control plane does to the database's schema (see ``_open_store``).
Schema = Literal["check", "migrate", "create"]

__all__ = ["register"]

server_app = typer.Typer(help="Administer a control-plane database.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
server_app.add_typer(token_app, name="token")
catalog_app = typer.Typer(help="Manage the workspace's private catalog entries.",
                          no_args_is_help=True)  # fmt: skip
server_app.add_typer(catalog_app, name="catalog")
# A catalog file is read up to this size (the API's default body limit).
MAX_CATALOG_FILE_BYTES = 4 * 1024 * 1024


def _say(text: str) -> None:
    err_console().print(text, markup=False, highlight=False)


def _open_store(url: str, schema: Schema, say: Callable[[str], None] = _say) -> SqlStore:
    """The store on ``url`` with its schema as ``schema`` asks: ``check`` refuses (one line
    saying what to run) a database that is not at this code's revision; ``migrate`` brings
    it there; ``create`` migrates only an empty database (a first ``seg server init``)."""
    from seg.model.urls import redact_text
    from seg.store.base import StoreError
    from seg.store.sql import open_store

    try:
        store = open_store(url, create=False)
        status = store.schema_status()
        if schema == "migrate" or (schema == "create" and status.state == "empty"):
            before, now = migrate_store(store)
            if before.current != now:
                say(f"Migrated the database schema from "
                                    f"{_revision_name(before)} to revision {now}.")  # fmt: skip
            status = store.schema_status()
    except Exception as exc:  # driver errors vary by database
        cause = getattr(exc, "orig", None) or exc  # the driver's error, not SQLAlchemy's wrap
        named = str(cause) if isinstance(cause, StoreError) else f"{type(cause).__name__}: {cause}"
        message = " ".join(named.split())  # one line
        raise ConfigError(f"cannot open database: {redact_text(message, url)}") from None
    problem = status.problem()
    if problem is not None:
        store.close()
        raise ConfigError(problem)
    return store


def migrate_store(store: SqlStore, to: str = "head") -> tuple[SchemaStatus, str]:
    from seg.store.migrate import migrate

    return migrate(store.engine, to)


def _warn_of_drift(store: SqlStore, warn: Callable[[str], None]) -> None:
    """Say (never refuse) how the tables differ from this revision's: someone changed them by
    hand. A missing index is restored by `seg server migrate`; anything else needs a person."""
    from seg.model.printable import escape_line
    from seg.store.migrate import drift

    for line in drift(store.engine):
        warn(f"the database schema differs from its revision: {escape_line(line)} "
             "(`seg server migrate` restores missing indexes)")


def _revision_name(status: SchemaStatus) -> str:
    if status.state == "empty":
        return "an empty database"
    if status.state == "unversioned":
        return "a database from before schema versions"
    from seg.store.migrate import shown_revision

    return f"revision {shown_revision(status.current or '')}"


def _control_plane(database: str | None, create_key: bool = False, schema: Schema = "check",
                   say: Callable[[str], None] = _say) -> ControlPlane:  # fmt: skip
    from seg.embedded import secret_box
    from seg.server.crypto import default_key_file, load_key, write_key_file
    from seg.server.service import ControlPlane

    url = default_database(database)
    key = load_key(url)
    if key is None and create_key:
        path = default_key_file(url)
        write_key_file(path)
        err_console().print(
            f"Wrote a new secret key to {path} (mode 0600); keep it with the server, or move it "
            "and set SEG_SECRET_KEY_FILE. Secrets stored under it need it to be read back."
        )
        key = load_key(url)
    if key is None:
        raise ConfigError(
            "no secret key: set SEG_SECRET_KEY or SEG_SECRET_KEY_FILE (seg server init creates "
            f"{default_key_file(url)})"
        )
    store = _open_store(url, schema, say)
    return ControlPlane(store, secret_box=secret_box(key))


class LogFormat(StrEnum):
    text = "text"
    json = "json"


class LogLevel(StrEnum):
    debug = "debug"
    info = "info"
    warning = "warning"
    error = "error"


def _metrics_token() -> str | None:
    """``SEG_METRICS_TOKEN``: the bearer token ``/metrics`` needs; unset means open."""
    token = os.environ.get("SEG_METRICS_TOKEN")
    if token is None:
        return None
    if not token.strip() or any(c.isspace() for c in token):
        raise ConfigError("SEG_METRICS_TOKEN is set but empty or holds whitespace; unset it "
                          "to leave /metrics open, or give it a token")  # fmt: skip
    return token


@handle_errors
def serve_cmd(
    host: Annotated[
        str, typer.Option(metavar="ADDRESS", help="Interface to listen on.")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(metavar="PORT", help="Port to listen on.")] = 8400,
    database: DatabaseOpt = None,
    rate_limit: Annotated[
        int, typer.Option(metavar="N", help="Requests per minute per token (0 = unlimited).")
    ] = 0,
    max_body_bytes: Annotated[
        int,
        typer.Option(
            min=1, metavar="N", help="Largest request body accepted (larger ones get 413)."
        ),
    ] = 4 * 1024 * 1024,
    access_log: Annotated[
        bool, typer.Option(help="Log one line per request (seg.access).")
    ] = True,
    log_format: Annotated[
        LogFormat, typer.Option(help="text, or json: one JSON object per log line.")
    ] = LogFormat.text,
    log_level: Annotated[
        LogLevel, typer.Option(help="The least severe level logged.")
    ] = LogLevel.info,
    migrate: Annotated[
        bool,
        typer.Option("--migrate", help="Migrate the database schema at start (single-node "
                     "setups; several servers on one database migrate once, the others wait)."),
    ] = False,
    drain_timeout: Annotated[
        int,
        typer.Option(
            min=0, metavar="SECONDS",
            help="On SIGTERM/SIGINT, how long requests in flight may take to finish before "
            "they are cut.",
        ),
    ] = 30,
    drain_delay: Annotated[
        float,
        typer.Option(
            min=0, metavar="SECONDS",
            help="On SIGTERM/SIGINT, keep serving this long with /readyz answering 503 (so a "
            "load balancer stops sending) before draining.",
        ),
    ] = 0,
    debug: DebugOpt = False,
) -> None:
    """Run the control plane over HTTP. Refuses a database whose schema is not this seg's
    (run `seg server migrate`, or start with --migrate). SIGTERM drains: see --drain-delay
    and --drain-timeout. GET /metrics: Prometheus metrics, behind SEG_METRICS_TOKEN when it
    is set."""
    import logging
    import logging.config

    import uvicorn

    from seg.model.urls import redact_url
    from seg.server.app import create_app
    from seg.server.lifecycle import DrainState, run_server
    from seg.server.logs import log_config
    from seg.store.sql import SqlStore
    from seg.web import mount as mount_console

    metrics_token = _metrics_token()
    said: list[str] = []  # the schema's lines, logged once logging is set up: a refused
    cp = _control_plane(database, schema="migrate" if migrate else "check", say=said.append)
    assert isinstance(cp.store, SqlStore)  # start never configures the process's logging
    logging_config = log_config(log_format.value, log_level.value)
    logging.config.dictConfig(logging_config)
    logger = logging.getLogger("seg.server")
    for line in said:
        logger.info("%s", line)
    _warn_of_drift(cp.store, logger.warning)
    cp.workspaces.rate_limit = rate_limit
    shown = redact_url(cp.store.url)
    logging.getLogger("seg.server").info("seg control plane on http://%s:%d (database %s)",
                                         host, port, shown)  # fmt: skip
    state = DrainState()
    app = create_app(cp, max_body_bytes=max_body_bytes, access_log=access_log,
                     metrics_token=metrics_token, drain=state)  # fmt: skip
    mount_console(app, cp)  # the web console under /console
    # uvicorn's access log is off (seg.access replaces it); our formatters use no colours
    config = uvicorn.Config(app, host=host, port=port, access_log=False,
                            log_config=logging_config, log_level=log_level.value,
                            timeout_graceful_shutdown=drain_timeout)  # fmt: skip
    if not run_server(config, state, drain_delay):
        raise typer.Exit(3)  # as uvicorn.run: the server did not start (its log says why)


@handle_errors
def server_init_cmd(
    slug: SlugOpt = None,
    workspace: OldSlugOpt = None,
    display_name: Annotated[str, typer.Option(metavar="TEXT", help="Display name.")] = "",
    model_change_policy: Annotated[
        str,
        typer.Option(
            metavar="POLICY", help="strict or breaking: what may change in models in use."
        ),
    ] = "strict",
    plan_tier: Annotated[
        str,
        typer.Option(
            metavar="TIER",
            help="free, team or business: what the workspace's plan allows (warehouses, "
            "custom sync schedules, selective sync).",
        ),
    ] = "business",
    database: DatabaseOpt = None,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Create the schema, a workspace and its first owner token (printed once); creates the
    secret key too when none is configured."""
    workspace = str(pick_slug(slug, workspace))
    cp = _control_plane(database, create_key=True, schema="create")
    try:
        _, secret = cp.workspaces.init(workspace, display_name, model_change_policy, plan_tier)
    except Exception as exc:
        raise ConfigError(_api_message(exc)) from None
    if output is Output.json:
        write_document({"workspace": workspace, "token": secret})
        return
    console = out_console()
    console.print(f"Created workspace {workspace}. Owner token (shown once, store it safely):")
    console.print(secret)


def _read_catalog_file(path: Path) -> object:
    """The document of a catalog file (JSON, or YAML), or one ConfigError line saying why
    not."""
    from seg.catalog import CatalogError
    from seg.model.printable import escape_line
    from seg.workspace.catalog_files import read_catalog_document

    shown = escape_line(str(path))
    try:
        with path.open("rb") as handle:
            raw = handle.read(MAX_CATALOG_FILE_BYTES + 1)
        if len(raw) > MAX_CATALOG_FILE_BYTES:
            raise CatalogError(f"it is larger than {MAX_CATALOG_FILE_BYTES:,} bytes")
        return read_catalog_document(raw.decode("utf-8"), path.suffix.lower() == ".json")
    except CatalogError as exc:
        raise ConfigError(f"catalog file {shown}: {escape_line(str(exc))}") from None
    except UnicodeDecodeError:
        raise ConfigError(f"catalog file {shown}: it is not UTF-8 text") from None
    except OSError as exc:
        raise ConfigError(f"cannot read catalog file {shown}: {exc.strerror}") from None


@handle_errors
def catalog_import_cmd(
    file: Annotated[Path, typer.Argument(metavar="FILE", help="A catalog file (JSON or YAML).")],
    slug: SlugOpt = None,
    workspace: OldSlugOpt = None,
    database: DatabaseOpt = None,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Add or replace a workspace's private catalog entries from a catalog file (ids of
    built-in entries are refused; nothing is written unless every entry is valid)."""
    workspace = str(pick_slug(slug, workspace))
    document = _read_catalog_file(file)
    cp = _control_plane(database)
    try:
        result = cp.catalog.admin_import(workspace, document)
    except Exception as exc:
        raise ConfigError(_api_message(exc)) from None
    imported = [f"{item['section']}/{item['id']}" for item in result["imported"]]
    if output is Output.json:
        write_document({"workspace": workspace, "imported": result["imported"]})
        return
    out_console().print(f"Imported {len(imported)} private catalog "
                        f"entr{'y' if len(imported) == 1 else 'ies'} into workspace "
                        f"{workspace}{': ' if imported else '.'}{', '.join(imported)}",
                        markup=False)  # fmt: skip


def _api_message(exc: Exception) -> str:
    from seg.server.errors import DomainError
    from seg.store.base import StoreError, UnavailableError

    if isinstance(exc, DomainError):
        return exc.message
    if isinstance(exc, UnavailableError):
        return f"database unavailable: {exc}"
    if isinstance(exc, StoreError):
        return str(exc)
    raise exc


@handle_errors
def migrate_cmd(
    to: Annotated[
        str, typer.Option("--to", metavar="REV", help="The revision to migrate to (up or down).")
    ] = "head",
    sql: Annotated[
        bool,
        typer.Option("--sql", help="Print the SQL the migration would run instead of running "
                     "it (for a DBA to review or run)."),
    ] = False,
    database: DatabaseOpt = None,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Bring the database schema to this seg's revision (or --to REV). Back the database up
    first (`seg server backup`); stop servers of an older seg before migrating up."""
    from seg.model.urls import redact_text
    from seg.store.base import StoreError
    from seg.store.migrate import database_revision, head_revision, migration_sql, revisions
    from seg.store.sql import normalise_url, open_store

    url = default_database(database)
    if sql:
        try:
            current = database_revision(url) if _exists(url) else None
            text = migration_sql(_dialect(normalise_url(url)), current, to)
        except StoreError as exc:
            raise ConfigError(redact_text(" ".join(str(exc).split()), url)) from None
        except Exception as exc:  # driver errors vary by database
            cause = getattr(exc, "orig", None) or exc
            raise ConfigError(f"cannot read database: "
                              f"{redact_text(' '.join(str(cause).split()), url)}") from None
        out_console().print(text, markup=False, highlight=False, end="")
        return
    store = None
    try:
        store = open_store(url, create=False)
        before, now = migrate_store(store, to)
    except StoreError as exc:
        raise ConfigError(redact_text(" ".join(str(exc).split()), url)) from None
    except Exception as exc:  # driver errors vary by database
        cause = getattr(exc, "orig", None) or exc
        raise ConfigError(f"cannot migrate database: {type(cause).__name__}: "
                          f"{redact_text(' '.join(str(cause).split()), url)}") from None
    finally:
        if store is not None:
            store.close()
    if output is Output.json:
        write_document({"from": before.current, "from_state": before.state, "to": now,
                        "head": head_revision(), "revisions": revisions()})  # fmt: skip
        return
    if before.current == now:
        out_console().print(f"The database schema is already at revision {now}.")
    else:
        out_console().print(f"Migrated the database schema from {_revision_name(before)} to "
                            f"revision {now}.")  # fmt: skip


def _exists(url: str) -> bool:
    """False for a SQLite file that is not there (nothing to read a revision from)."""
    from seg.store.sql import normalise_url

    url = normalise_url(url)
    if not url.startswith("sqlite"):
        return True
    import sqlalchemy as sa

    path = sa.engine.make_url(url).database
    return bool(path) and path != ":memory:" and Path(str(path)).is_file()


def _dialect(url: str) -> str:
    return "sqlite" if url.startswith("sqlite") else "postgresql"


def register(app: typer.Typer) -> None:
    from seg.commands import backup_cmds

    app.command("serve")(serve_cmd)
    server_app.command("init")(server_init_cmd)
    server_app.command("migrate")(migrate_cmd)
    from seg.commands import token_cmds  # it uses this module's helpers

    token_cmds.register(token_app)
    catalog_app.command("import")(catalog_import_cmd)
    backup_cmds.register(server_app)
    app.add_typer(server_app, name="server")
