"""``seg server token create|list|revoke|rotate``: a workspace's tokens, on the database
directly (an administrator with its credentials; audited as "seg server (database access)")."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from seg.commands.console import handle_errors, out_console, write_document, write_out
from seg.commands.options import (
    DatabaseOpt,
    DebugOpt,
    OldSlugOpt,
    Output,
    OutputOpt,
    SlugOpt,
    pick_slug,
)
from seg.commands.server_cmds import _api_message, _control_plane
from seg.errors import ConfigError
from seg.model.printable import escape_line

__all__ = ["register"]

TokenIdArg = Annotated[str, typer.Argument(metavar="ID", help="The token's id (tok_…).")]
_COLUMNS = (("ID", "id"), ("SCOPE", "scope"), ("USER", "user"), ("CREATED", "create_time"),
            ("LAST USED", "last_used_time"), ("EXPIRES", "expire_time"),
            ("DESCRIPTION", "description"))  # fmt: skip


def _call(action: Any, *args: Any, **kwargs: Any) -> Any:
    """A TokenService call; its refusals as one ConfigError line."""
    try:
        return action(*args, **kwargs)
    except Exception as exc:
        raise ConfigError(_api_message(exc)) from None


def _cell(token: dict[str, Any], key: str) -> str:
    value = escape_line(str(token.get(key) or "-"), keep_tab=False)
    if key == "expire_time" and token.get("expired"):
        value += " (expired)"
    return value


def _table(tokens: list[dict[str, Any]]) -> str:
    """The tokens as aligned columns (every value escaped: one visible line each)."""
    rows = [tuple(_cell(t, key) for _, key in _COLUMNS) for t in tokens]
    head = tuple(title for title, _ in _COLUMNS)
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip()
             for row in [head, *rows]]  # fmt: skip
    return "\n".join(lines) + "\n"


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
    expires_in: Annotated[
        str | None,
        typer.Option(metavar="DURATION",
                     help="Expire after this long: a number and s, m, h or d (30d, 12h); at "
                     "most 1825d. Default: never."),
    ] = None,  # fmt: skip
    slug: SlugOpt = None,
    workspace: OldSlugOpt = None,
    database: DatabaseOpt = None,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Mint a token (its secret is printed once)."""
    from seg.server.token_service import parse_expires_in

    workspace = str(pick_slug(slug, workspace))
    seconds = _call(parse_expires_in, expires_in) if expires_in is not None else 0
    cp = _control_plane(database)
    made = _call(cp.tokens.admin_create, workspace, scope, description, user, seconds)
    if output is Output.json:
        write_document({"workspace": workspace, "id": made["id"], "scope": made["scope"],
                        "expire_time": made["expire_time"], "token": made["secret"]})  # fmt: skip
        return
    out_console().print(made["secret"], markup=False)


@handle_errors
def token_list_cmd(
    slug: SlugOpt = None,
    workspace: OldSlugOpt = None,
    database: DatabaseOpt = None,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """List the workspace's tokens (never a secret).

    Columns: id, scope, user, created, last used (recorded at most once a minute), expiry,
    description."""
    workspace = str(pick_slug(slug, workspace))
    cp = _control_plane(database)
    tokens: list[dict[str, Any]] = _call(cp.tokens.admin_list, workspace)
    if output is Output.json:
        write_document({"workspace": workspace, "tokens": tokens})
        return
    write_out(_table(tokens))


@handle_errors
def token_revoke_cmd(
    token_id: TokenIdArg,
    force: Annotated[
        bool,
        typer.Option("--force", help="Revoke even the workspace's last owner token."),
    ] = False,
    slug: SlugOpt = None,
    workspace: OldSlugOpt = None,
    database: DatabaseOpt = None,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Revoke a token: its next request is refused on every server of the database.

    The workspace's last owner token is kept unless --force is given."""
    workspace = str(pick_slug(slug, workspace))
    cp = _control_plane(database)
    _call(cp.tokens.admin_revoke, workspace, token_id, force)
    if output is Output.json:
        write_document({"workspace": workspace, "id": token_id, "revoked": True})
        return
    out_console().print(f"Revoked token {escape_line(token_id)} of workspace {workspace}.",
                        markup=False)  # fmt: skip


@handle_errors
def token_rotate_cmd(
    token_id: TokenIdArg,
    slug: SlugOpt = None,
    workspace: OldSlugOpt = None,
    database: DatabaseOpt = None,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Give a token a new secret (printed once); the old one stops working at once.

    The id, description, scope, user and expiry stay."""
    workspace = str(pick_slug(slug, workspace))
    cp = _control_plane(database)
    made = _call(cp.tokens.admin_rotate, workspace, token_id)
    if output is Output.json:
        write_document({"workspace": workspace, "id": made["id"], "scope": made["scope"],
                        "expire_time": made["expire_time"], "token": made["secret"]})  # fmt: skip
        return
    out_console().print(made["secret"], markup=False)


def register(token_app: typer.Typer) -> None:
    token_app.command("create")(token_create_cmd)
    token_app.command("list")(token_list_cmd)
    token_app.command("revoke")(token_revoke_cmd)
    token_app.command("rotate")(token_rotate_cmd)
