"""``seg lock status`` and ``seg lock release``."""

from __future__ import annotations

import typer

from seg.commands.console import handle_errors, out_console, write_document
from seg.commands.options import (
    ApiUrlOpt,
    DebugOpt,
    EnvOpt,
    Output,
    OutputOpt,
    TokenOpt,
    WorkspaceOpt,
    workspace_dir,
)
from seg.commands.session import open_control

__all__ = ["register"]

lock_app = typer.Typer(help="The workspace lock that seg apply holds.", no_args_is_help=True)


@handle_errors
def status_cmd(
    workspace: WorkspaceOpt = None,
    env: EnvOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Who holds the workspace lock, if anyone."""
    with open_control(workspace_dir(workspace), env, api_url, token) as client:
        lock = client.lock_status()
        name = client.workspace
    if output is Output.json:
        write_document({"workspace": name, "lock": lock})
    elif lock is None:
        out_console().print(f"Workspace {name} is not locked.")
    else:
        out_console().print(
            f"Workspace {name} is locked by {lock['holder']} on {lock['host']} since "
            f"{lock['acquired_at']} (plan {lock['plan'] or '-'}, CI run {lock['ci_run'] or '-'}, "
            f"lease {lock['id']} expires in {lock['expires_in']}s)."
        )
        out_console().print(
            "Writes from anyone but the holder are refused while it is held "
            "(an owner may override with the Seg-Lock-Override: true header, which is audited)."
        )


@handle_errors
def release_cmd(
    workspace: WorkspaceOpt = None,
    env: EnvOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Break the workspace lock (needs a workspace:owner token; a user's token also needs the
    workspace_owner role)."""
    with open_control(workspace_dir(workspace), env, api_url, token) as client:
        client.release_lock(None)
        name = client.workspace
    out_console().print(f"Released the lock on workspace {name}.")


def register(app: typer.Typer) -> None:
    lock_app.command("status")(status_cmd)
    lock_app.command("release")(release_cmd)
    app.add_typer(lock_app, name="lock")
