"""``seg fql eval`` and ``seg filter test``: FQL and the workspace's filters, offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from seg.commands.console import handle_errors, load, out_console, write_document
from seg.commands.options import (
    DebugOpt,
    EnvOpt,
    EventsOpt,
    NoCacheOpt,
    Output,
    OutputOpt,
    WorkspaceOpt,
    workspace_dir,
)
from seg.errors import ConfigError
from seg.model.wording import plural
from seg.render.plan_text import Line, write_lines
from seg.workspace.samples import event_objects, load_event, read_event_file

__all__ = ["register"]

fql_app = typer.Typer(help="Filter Query Language tools.", no_args_is_help=True)
filter_app = typer.Typer(help="Destination filter tools.", no_args_is_help=True)


def _read_json(path: Path) -> Any:
    try:
        return load_event(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"cannot read event {path}: {exc}") from None


def _fql_error(exc: Exception) -> ConfigError:
    return ConfigError(f"FQL: {exc}")


@handle_errors
def eval_cmd(
    expr: Annotated[str, typer.Argument(metavar="EXPR", help="The FQL expression.")],
    event: Annotated[
        Path | None, typer.Option("--event", metavar="FILE", help="A JSON event file.")
    ] = None,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Evaluate an FQL expression (against an event) and print the result as JSON (with -o
    json: inside a document with its format_version)."""
    from seg.fql import FqlError, evaluate, parse

    data = _read_json(event) if event is not None else {}
    try:
        result = evaluate(parse(expr), data)
    except FqlError as exc:
        raise _fql_error(exc) from None
    if output is Output.json:
        write_document({"expression": expr, "result": result})
    else:
        sys.stdout.write(json.dumps(result) + "\n")


def read_events(path: Path) -> list[tuple[int, Any]]:
    return read_event_file(path)


def read_event_objects(path: Path) -> list[tuple[int, dict[str, Any]]]:
    """``read_events``, every event a JSON object (``FILE:LINE`` otherwise): what a
    simulation sends to a source."""
    return event_objects(read_event_file(path), str(path))


@handle_errors
def test_cmd(
    destination: Annotated[
        str, typer.Option("--destination", metavar="ADDRESS", help="SOURCE/DESTINATION.")
    ],
    events: EventsOpt,
    workspace: WorkspaceOpt = None,
    env: EnvOpt = None,
    no_cache: NoCacheOpt = False,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Run a destination's filters from the workspace over sample events."""
    from seg.fql.filters import compile_filters, run_filters
    from seg.kinds import destination_filter

    filter_kind = destination_filter.KIND

    ws = load(workspace_dir(workspace), env)
    declared = (r.kind is filter_kind.parent_kind and r.address == destination
                for r in ws.resources)  # fmt: skip
    if not any(declared):
        raise ConfigError(f"destination {destination!r} is not declared in the workspace")
    specs = [
        (r.address, dict(r.fields)) for r in ws.resources
        if r.kind is filter_kind and r.address.startswith(destination + "/")
    ]  # fmt: skip
    filters = compile_filters(specs)
    results = [(n, run_filters(filters, e)) for n, e in read_events(events)]
    dropped = sum(1 for _, o in results if not o.delivered)
    if output is Output.json:
        outcomes = [{"line": n, "delivered": o.delivered, "dropped_by": o.dropped_by,
                     "removed": o.removed, "event": o.event} for n, o in results]  # fmt: skip
        summary = {"events": len(results), "delivered": len(results) - dropped,
                   "dropped": dropped, "filters": len(filters)}  # fmt: skip
        write_document({"destination": destination, "events": outcomes, "summary": summary})
        return
    lines: list[Line] = []
    for number, outcome in results:
        if outcome.delivered:
            removed = f"; removed {', '.join(outcome.removed)}" if outcome.removed else ""
            lines.append(("green", f"line {number}: delivered{removed}"))
        else:
            lines.append(("red", f"line {number}: dropped by {outcome.dropped_by}"))
    counted = f"{plural(len(results), 'event')}: {len(results) - dropped} delivered, {dropped}"
    lines.append(("bold", f"{counted} dropped ({plural(len(filters), 'enabled filter')})."))
    write_lines(lines, out_console())


def register(app: typer.Typer) -> None:
    fql_app.command("eval")(eval_cmd)
    filter_app.command("test")(test_cmd)
    app.add_typer(fql_app, name="fql")
    app.add_typer(filter_app, name="filter")
