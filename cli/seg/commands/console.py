"""Consoles for stdout and stderr, and the one place errors become exit codes."""

from __future__ import annotations

import functools
import gc
import io
import json
import os
import sys
import traceback
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import IO, TYPE_CHECKING, Any, ParamSpec, TypeVar, cast

import typer
from rich.console import Console

from seg.engine.plan import Plan
from seg.errors import ApiError, SegError, WorkspaceInvalid
from seg.model.clip import clip_message
from seg.model.secrets import scrub
from seg.render.diagnostics import render_diagnostics
from seg.render.plan_json import plan_to_json
from seg.render.plan_markdown import render_plan_markdown
from seg.render.plan_text import render_plan_text, write_lines
from seg.workspace.config import DbtProjectConfig, WorkspaceConfig
from seg.workspace.dbt_project import DbtTreeOpener, local_dbt_tree
from seg.workspace.loader import Checked, Workspace, check_workspace, load_workspace
from seg.workspace.tree import Tree

if TYPE_CHECKING:
    from seg.trace.impact import DestinationImpact

__all__ = [
    "err_console",
    "handle_errors",
    "hidden_in",
    "hide",
    "load",
    "out_console",
    "plain_output",
    "set_no_color",
    "show_plan",
    "write_document",
    "write_json",
    "write_out",
    "write_text_file",
]

P = ParamSpec("P")
R = TypeVar("R")


# Values that came from ${env:…} in the workspace this command loaded. Whatever a renderer
# or a message quotes, nothing seg prints or writes shows them: the last line of defence
# behind redaction in the views (a plan is published as a pull-request comment).
_HIDDEN: set[str] = set()


def hide(values: Iterable[str]) -> None:
    _HIDDEN.update(values)


def dbt_tree(config: WorkspaceConfig, project: DbtProjectConfig) -> Tree:
    """A dbt project of seg.yaml: a directory of this repository, or (gitpython loads only
    then) a cached clone of another repository at its ref."""
    if project.repository is None:
        return local_dbt_tree(config, project)
    from seg.ci.dbt_repo import remote_dbt_tree

    return remote_dbt_tree(config, project)


def load(root: Path, env: str | None = None, tree: Tree | None = None,
         dbt_opener: DbtTreeOpener | None = None) -> Workspace:  # fmt: skip
    """``load_workspace``, its values from the environment hidden from all output. The dbt
    projects seg.yaml names are read (``dbt_tree``) for a workspace on disk, or when
    ``dbt_opener`` is given; a git revision's ``tree`` alone does not look at them."""
    opener = dbt_opener or (dbt_tree if tree is None else None)
    workspace = load_workspace(root, env, tree=tree, dbt_opener=opener)
    # What the load built lives until the command ends: the collector need not walk it again
    # (at 100,000 resources each full pass costs seconds); the command's end thaws it.
    gc.freeze()
    hide(workspace.secret_values)
    return workspace


def check(root: Path, env: str | None = None) -> Checked:
    """``check_workspace`` (``seg validate``), its values from the environment hidden from
    all output; the dbt projects seg.yaml names are read as ``load`` reads them."""
    checked = check_workspace(root, env, dbt_opener=dbt_tree)
    gc.freeze()  # as ``load``
    hide(checked.secret_values)
    return checked


class _Scrubbed(io.TextIOBase):
    """sys.stdout or sys.stderr (looked up on each write, as test runners swap them) with the
    hidden values replaced by (sensitive)."""

    def __init__(self, name: str) -> None:
        self._name = name

    @property
    def _target(self) -> Any:
        return getattr(sys, self._name)

    def write(self, text: str) -> int:
        self._target.write(scrub(text, _HIDDEN) if _HIDDEN else text)
        return len(text)

    def flush(self) -> None:
        self._target.flush()

    def isatty(self) -> bool:
        return bool(self._target.isatty())


def _stream(name: str) -> IO[str]:
    return cast(IO[str], _Scrubbed(name))


_NO_COLOR = {"flag": False}  # set by ``seg --no-color``
_TYPER_STYLE: list[tuple[Any, Any]] = []  # typer.rich_utils's own, before seg changed it


def set_no_color(flag: bool) -> None:
    """``seg --no-color`` (for this invocation), applied to typer's help and error panels too.
    Their module (typer.rich_utils, with rich's Markdown: a tenth of a second) is loaded
    only when output is plain or it is loaded already; otherwise it keeps its own style."""
    _NO_COLOR["flag"] = flag
    plain = plain_output()
    rich_utils: Any = sys.modules.get("typer.rich_utils")
    if rich_utils is None:
        if not plain:
            return
        import typer.rich_utils as rich_utils
    if not _TYPER_STYLE:
        _TYPER_STYLE.append((rich_utils.COLOR_SYSTEM, rich_utils.FORCE_TERMINAL))
    rich_utils.COLOR_SYSTEM, rich_utils.FORCE_TERMINAL = (None, False) if plain else _TYPER_STYLE[0]


def plain_output() -> bool:
    """Whether output is plain: ``--no-color`` was given or NO_COLOR is set (to any value).
    Plain means no escape sequence at all — no colour, no bold or dim, no progress bar — even
    where FORCE_COLOR or TTY_COMPATIBLE would make rich treat the stream as a terminal."""
    return _NO_COLOR["flag"] or "NO_COLOR" in os.environ


def _console(name: str) -> Console:
    plain = plain_output()
    return Console(
        file=_stream(name),
        stderr=name == "stderr",
        highlight=False,
        soft_wrap=True,
        color_system=None if plain else "auto",
        force_terminal=False if plain else None,
    )


def out_console() -> Console:
    return _console("stdout")


def err_console() -> Console:
    return _console("stderr")


def write_out(text: str) -> None:
    _Scrubbed("stdout").write(text)


def write_text_file(path: Path, text: str, mode: str = "w") -> None:
    """A text file seg writes for the user (a CI step summary): hidden values too."""
    with open(path, mode, encoding="utf-8") as fh:
        fh.write(scrub(text, _HIDDEN) if _HIDDEN else text)


def hidden_in(data: Any) -> Any:
    """``data`` (JSON) with the hidden values replaced in its strings — not in its text, so a
    secret such as ``true`` or ``1000`` cannot break the document."""
    if not _HIDDEN:
        return data
    if isinstance(data, str):
        return scrub(data, _HIDDEN)
    if isinstance(data, dict):
        return {hidden_in(k): hidden_in(v) for k, v in data.items()}
    if isinstance(data, list):
        return [hidden_in(v) for v in data]
    return data


FORMAT_VERSION = "1.0"  # of every JSON document a command prints (the plan's is Plan's)


def write_document(data: dict[str, Any]) -> None:
    """A command's JSON result on stdout, with its ``format_version`` first."""
    write_json({"format_version": FORMAT_VERSION, **data})


def write_json(data: Any) -> None:
    text = json.dumps(data, indent=2, ensure_ascii=False)
    escaped = any(json.dumps(v, ensure_ascii=False)[1:-1] != v for v in _HIDDEN)
    if _HIDDEN and (escaped or scrub(text, _HIDDEN) != text):  # walk only when one is there
        text = json.dumps(hidden_in(data), indent=2, ensure_ascii=False)
    sys.stdout.write(text + "\n")


def show_plan(plan: Plan, output: str, show_unmanaged: bool = False, comparison: bool = False,
              impact: tuple[list[DestinationImpact], int] | None = None) -> None:  # fmt: skip
    """A plan in the requested format (text, json or markdown) on stdout; ``show_unmanaged``
    lists the resources nobody manages by name (JSON always does); ``comparison``
    (``seg diff``) shows differences rather than actions; ``impact``: the delivery impact of
    the plan over a sample (``seg plan --events``) and the sample's size — last in text,
    ``delivery_impact`` in JSON, first in markdown when a delivery is lost, else last."""
    # the simulator's views load with the first impact shown, not with every command
    from seg.render.trace_view import impact_lines, impact_markdown, impact_to_json

    if output == "json":
        document = plan_to_json(plan)
        if impact is not None:
            document["delivery_impact"] = impact_to_json(*impact)
        write_json(document)
    elif output == "markdown":
        text = render_plan_markdown(plan, show_unmanaged=show_unmanaged, comparison=comparison)
        if impact is not None:
            section = impact_markdown(*impact)
            lost = any(i.lost for i in impact[0])
            text = f"{section}\n{text}" if lost else f"{text}\n{section}"
        write_out(text)
    else:
        render_plan_text(plan, out_console(), show_unmanaged, comparison)
        if impact is not None:
            write_lines(impact_lines(*impact), out_console())


def handle_errors(func: Callable[P, R]) -> Callable[P, R]:
    """Run a command; a SegError becomes one readable line and its exit code, anything else
    one line and exit 1 (a traceback only with --debug)."""

    @functools.wraps(func)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        debug = bool(kwargs.get("debug"))
        _HIDDEN.clear()  # one command, one workspace (tests run many in one process)
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
            if debug:  # the traceback, through the same filter as everything else
                _Scrubbed("stderr").write(traceback.format_exc())
                raise typer.Exit(1) from None
            err_console().print(
                f"[bold red]error:[/] internal error: {type(exc).__name__}: {_escape(str(exc))} "
                "(re-run with --debug for a traceback)"
            )
            raise typer.Exit(1) from None
        finally:
            gc.unfreeze()  # ``load`` froze what it built (tests run many commands in a process)

    return wrapper


def _escape(text: str) -> str:
    """A message for one error line: cut (it may quote a huge value) and markup-escaped."""
    from rich.markup import escape

    return escape(clip_message(text))
