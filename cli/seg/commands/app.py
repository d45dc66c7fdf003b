"""The ``seg`` application."""

from __future__ import annotations

from typing import Annotated

import typer

from seg import __version__
from seg.commands import (
    access_cmds,
    check_cmd,
    diff_cmd,
    export_cmds,
    fmt_cmd,
    fql_cmds,
    lock_cmds,
    schema_cmds,
    server_cmds,
    tracking_cmds,
    workspace_cmds,
)

__all__ = ["app", "main"]

app = typer.Typer(
    name="seg",
    help="Configuration-as-code for a customer-data-platform workspace.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"seg {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
) -> None:
    """seg: plan and apply a workspace kept as YAML in git."""


workspace_cmds.register(app)
server_cmds.register(app)
check_cmd.register(app)
fql_cmds.register(app)
lock_cmds.register(app)
diff_cmd.register(app)
export_cmds.register(app)
access_cmds.register(app)
tracking_cmds.register(app)
schema_cmds.register(app)
fmt_cmd.register(app)


def main() -> None:
    app()
