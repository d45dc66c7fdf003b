"""``seg serve``, ``seg server init``, ``seg server token create``, ``seg server catalog
import``."""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

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

__all__ = ["register"]

server_app = typer.Typer(help="Administer a control-plane database.", no_args_is_help=True)
token_app = typer.Typer(help="Manage API tokens.", no_args_is_help=True)
server_app.add_typer(token_app, name="token")
catalog_app = typer.Typer(help="Manage the workspace's private catalog entries.",
                          no_args_is_help=True)  # fmt: skip
server_app.add_typer(catalog_app, name="catalog")
# A catalog file is read up to this size (the API's default body limit).
MAX_CATALOG_FILE_BYTES = 4 * 1024 * 1024


def _control_plane(database: str | None, create_key: bool = False) -> ControlPlane:
    from seg.embedded import secret_box
    from seg.model.urls import redact_text
    from seg.server.crypto import default_key_file, load_key, write_key_file
    from seg.server.service import ControlPlane
    from seg.store.base import StoreError
    from seg.store.sql import open_store

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
    try:
        store = open_store(url)
    except Exception as exc:  # driver errors vary by database
        cause = getattr(exc, "orig", None) or exc  # the driver's error, not SQLAlchemy's wrap
        named = str(cause) if isinstance(cause, StoreError) else f"{type(cause).__name__}: {cause}"
        message = " ".join(named.split())  # one line
        raise ConfigError(f"cannot open database: {redact_text(message, url)}") from None
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
    debug: DebugOpt = False,
) -> None:
    """Run the control plane over HTTP (GET /metrics: Prometheus metrics, behind
    SEG_METRICS_TOKEN when it is set)."""
    import logging
    import logging.config

    import uvicorn

    from seg.model.urls import redact_url
    from seg.server.app import create_app
    from seg.server.logs import log_config

    metrics_token = _metrics_token()
    cp = _control_plane(database)
    cp.workspaces.rate_limit = rate_limit
    config = log_config(log_format.value, log_level.value)
    logging.config.dictConfig(config)
    shown = redact_url(cp.store.url)
    logging.getLogger("seg.server").info("seg control plane on http://%s:%d (database %s)",
                                         host, port, shown)  # fmt: skip
    app = create_app(cp, max_body_bytes=max_body_bytes, access_log=access_log,
                     metrics_token=metrics_token)  # fmt: skip
    # uvicorn's access log is off (seg.access replaces it); our formatters use no colours
    uvicorn.run(app, host=host, port=port, access_log=False, log_config=config,
                log_level=log_level.value)  # fmt: skip


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
    cp = _control_plane(database, create_key=True)
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


@handle_errors
def token_create_cmd(
    scope: Annotated[
        str,
        typer.Option(metavar="SCOPE", help="workspace:read, workspace:write or workspace:owner."),
    ],
    description: Annotated[
        str, typer.Option(metavar="TEXT", help="What the token is for (required).")
    ],
    user: Annotated[
        str,
        typer.Option(metavar="EMAIL", help="Act for this user: their role bindings also apply."),
    ] = "",
    slug: SlugOpt = None,
    workspace: OldSlugOpt = None,
    database: DatabaseOpt = None,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Mint a token (printed once)."""
    workspace = str(pick_slug(slug, workspace))
    cp = _control_plane(database)
    try:
        token_id, secret = cp.workspaces.create_token(workspace, scope, description, user)
    except Exception as exc:
        raise ConfigError(_api_message(exc)) from None
    if output is Output.json:
        write_document({"workspace": workspace, "id": token_id, "scope": scope, "token": secret})
        return
    out_console().print(secret)


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


def register(app: typer.Typer) -> None:
    app.command("serve")(serve_cmd)
    server_app.command("init")(server_init_cmd)
    token_app.command("create")(token_create_cmd)
    catalog_app.command("import")(catalog_import_cmd)
    app.add_typer(server_app, name="server")
