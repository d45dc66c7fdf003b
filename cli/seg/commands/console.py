"""Consoles for stdout and stderr, and the one place errors become exit codes."""

from __future__ import annotations

import functools
import json
import sys
from collections.abc import Callable
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console

from seg.engine.plan import Plan
from seg.errors import ApiError, SegError, WorkspaceInvalid
from seg.model.clip import clip_message
from seg.render.diagnostics import render_diagnostics
from seg.render.plan_json import plan_to_json
from seg.render.plan_markdown import render_plan_markdown
from seg.render.plan_text import render_plan_text

__all__ = ["err_console", "handle_errors", "out_console", "show_plan", "write_json"]

P = ParamSpec("P")
R = TypeVar("R")


def out_console() -> Console:
    return Console(highlight=False, soft_wrap=True)


def err_console() -> Console:
    return Console(stderr=True, highlight=False, soft_wrap=True)


def write_json(data: Any) -> None:
    sys.stdout.write(json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def show_plan(plan: Plan, output: str) -> None:
    """A plan in the requested format (text, json or markdown) on stdout."""
    if output == "json":
        write_json(plan_to_json(plan))
    elif output == "markdown":
        sys.stdout.write(render_plan_markdown(plan))
    else:
        render_plan_text(plan, out_console())


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Run a command; a SegError becomes one readable line and its exit code, anything else
    one line and exit 1 (a traceback only with --debug)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        debug = bool(kwargs.get("debug"))
        try:
            return func(*args, **kwargs)
        except typer.Exit:
            raise
        except WorkspaceInvalid as exc:
            render_diagnostics(exc.diagnostics, err_console())
            raise typer.Exit(exc.exit_code) from None
        except ApiError as exc:
            err_console().print(f"[bold red]error:[/] control plane: {_escape(str(exc))}")
            raise typer.Exit(exc.exit_code) from None
        except SegError as exc:
            err_console().print(f"[bold red]error:[/] {_escape(str(exc))}")
            raise typer.Exit(exc.exit_code) from None
        except KeyboardInterrupt:
            err_console().print("[bold red]interrupted[/]")
            raise typer.Exit(130) from None
        except Exception as exc:
            if debug:
                raise
            err_console().print(
                f"[bold red]error:[/] internal error: {type(exc).__name__}: {_escape(str(exc))} "
                "(re-run with --debug for a traceback)"
            )
            raise typer.Exit(1) from None

    return wrapper


def _escape(text: str) -> str:
    """A message for one error line: cut (it may quote a huge value) and markup-escaped."""
    from rich.markup import escape

    return escape(clip_message(text))
