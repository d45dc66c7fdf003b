"""What ``seg … --help`` shows beside each option: a word for its value (FILE, DIR, N, URL…),
never a Python type (``<bool>``, ``<str>``, ``<list[str]>``)."""

from __future__ import annotations

from typing import Any

import typer

__all__ = ["HELP_OPTION_NAMES", "tidy_help"]

HELP_OPTION_NAMES = ["-h", "--help"]


def _no_type(ctx: Any) -> None:
    return None


def _tidy_param(param: Any) -> None:
    if getattr(param, "is_flag", False):
        param.metavar = ""  # a switch takes no value: nothing to show
    elif getattr(param, "param_type_name", "") == "argument":
        setattr(param, "display_type_rich", _no_type)  # noqa: B010 -- its name is its metavar


def tidy_help(command: Any) -> None:
    """Walk the command tree: switches (``--help``, ``--debug``, the completion options…)
    show no value, arguments show only their metavar."""
    ctx = typer.Context(command, info_name=command.name, help_option_names=HELP_OPTION_NAMES)
    for param in command.get_params(ctx):  # creates the help option, which it keeps
        _tidy_param(param)
    for sub in getattr(command, "commands", {}).values():
        tidy_help(sub)
