"""``seg access explain --user EMAIL``: effective access, from the live control plane."""

from __future__ import annotations

from typing import Annotated

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
from seg.render.plan_text import Line, write_lines

__all__ = ["register"]

access_app = typer.Typer(help="Who can do what.", no_args_is_help=True)


@handle_errors
def explain_cmd(
    user: Annotated[str, typer.Option("--user", metavar="EMAIL", help="The user's email.")],
    workspace: WorkspaceOpt = None,
    env: EnvOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """A user's effective roles per source: their own and their groups' bindings, combined."""
    with open_control(workspace_dir(workspace), env, api_url, token) as client:
        result = client.explain_access(user)
    if output is Output.json:
        write_document(result)
        return
    roles = ", ".join(result["workspace_roles"]) or "none"
    lines: list[Line] = [("bold", f"{result['user']}: workspace roles: {roles}")]
    for source, granted in result["sources"].items():
        lines.append(("", f"  {source}: {', '.join(granted) or 'no access'}"))
    write_lines(lines, out_console())


def register(app: typer.Typer) -> None:
    access_app.command("explain")(explain_cmd)
    app.add_typer(access_app, name="access")
