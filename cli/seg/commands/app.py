"""The ``seg`` application."""

from __future__ import annotations

import copy
import sys
from typing import Annotated, Any

import typer

from seg.commands import (
    about_cmd,
    access_cmds,
    catalog_cmds,
    check_cmd,
    console_cmd,
    diff_cmd,
    export_cmds,
    fmt_cmd,
    fql_cmds,
    graph_cmd,
    lock_cmds,
    schema_cmds,
    server_cmds,
    show_cmd,
    sync_cmds,
    trace_cmd,
    tracking_cmds,
    version_cmds,
    workspace_cmds,
)
from seg.commands.console import plain_output, set_no_color
from seg.commands.help_text import HELP_OPTION_NAMES, tidy_help
from seg.model.teardown import exiting_fast

__all__ = ["app", "build_command", "main"]

app = typer.Typer(
    name="seg",
    help="Configuration-as-code for a customer-data-platform workspace.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    pretty_exceptions_show_locals=False,
    add_completion=True,
    context_settings={"help_option_names": HELP_OPTION_NAMES},
)


def _version(value: bool) -> None:
    if value:
        from seg.about import build_version

        typer.echo(f"seg {build_version()}")
        raise typer.Exit()


def _no_color(ctx: typer.Context, value: bool) -> None:
    if value:  # unset, it leaves what main() found (a command's own --no-color, NO_COLOR)
        set_no_color(True)
        ctx.color = False  # typer's own messages (completion install) too


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Show the version."),
    ] = False,
    no_color: Annotated[
        bool,
        typer.Option(
            "--no-color",
            callback=_no_color,
            is_eager=True,
            help="No colour or other escape sequences in any output (as NO_COLOR=1 does). "
            "Every command takes it too: seg plan --no-color.",
        ),
    ] = False,
) -> None:
    """seg: plan and apply a workspace kept as YAML in git."""


workspace_cmds.register(app)
show_cmd.register(app)
server_cmds.register(app)
check_cmd.register(app)
fql_cmds.register(app)
lock_cmds.register(app)
diff_cmd.register(app)
sync_cmds.register(app)
export_cmds.register(app)
access_cmds.register(app)
tracking_cmds.register(app)
trace_cmd.register(app)
schema_cmds.register(app)
fmt_cmd.register(app)
version_cmds.register(app)
catalog_cmds.register(app)
about_cmd.register(app)
graph_cmd.register(app)
console_cmd.register(app)


def _any_no_color(args: list[str]) -> bool:
    """``--no-color`` anywhere before a ``--`` (the root's or a command's: the same switch)."""
    for arg in args:
        if arg == "--":
            return False
        if arg == "--no-color":
            return True
    return False


def _command_no_color(ctx: Any, param: Any, value: bool) -> None:
    if value:  # unset: the root's --no-color (or NO_COLOR) still holds
        set_no_color(True)
        ctx.color = False


def _add_no_color(command: Any) -> None:
    """Give every command below the root its own ``--no-color`` (the root's option, copied):
    ``seg plan --no-color`` is ``seg --no-color plan``."""
    root = next(p for p in command.params if "--no-color" in p.opts)
    option = copy.copy(root)
    option.callback, option.expose_value = _command_no_color, False
    option.help = "No colour or other escape sequences in any output (as NO_COLOR=1 does)."
    stack = list(command.commands.values())
    while stack:
        sub = stack.pop()
        if not any("--no-color" in getattr(p, "opts", ()) for p in sub.params):
            sub.params.append(option)
        stack.extend(getattr(sub, "commands", {}).values())


def main() -> None:
    """The ``seg`` program: help tidied, named ``seg`` however it was started (the name is
    also the shell-completion variable, ``_SEG_COMPLETE``)."""
    set_no_color(_any_no_color(sys.argv[1:]))  # before parsing: its errors are plain too
    with exiting_fast():  # a big load's objects are not freed one by one at the end
        build_command()(prog_name="seg", color=False if plain_output() else None)


def build_command() -> Any:
    """The click command ``main`` runs: the typer app, ``--no-color`` on every command, its
    help tidied (``help_text``)."""
    command = typer.main.get_command(app)
    _add_no_color(command)
    tidy_help(command)
    return command
