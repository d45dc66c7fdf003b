"""``seg trace --source SOURCE EVENTS.jsonl``: sample events through the workspace's
configuration, as the platform would process them (``seg.trace.pipeline``)."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any

import typer

from seg.commands.console import handle_errors, load, out_console, write_document
from seg.commands.fql_cmds import read_event_objects
from seg.commands.options import (
    DebugOpt,
    EnvOpt,
    NoCacheOpt,
    Output,
    OutputOpt,
    WorkspaceOpt,
    workspace_dir,
)
from seg.errors import ConfigError
from seg.kinds import source as source_kind
from seg.kinds.lookup import IndexLookup
from seg.render.plan_text import write_lines
from seg.render.trace_view import trace_lines, trace_markdown, trace_to_json
from seg.sandbox.runtime import functions_runtime
from seg.trace.functions import masked
from seg.trace.pipeline import trace_event
from seg.workspace.catalog_files import tree_catalog
from seg.workspace.samples import tree_samples
from seg.workspace.tree import FsTree

__all__ = ["register"]


@handle_errors
def trace_cmd(
    source: Annotated[str, typer.Option("--source", metavar="SOURCE",
                                        help="The source the events are sent to.")],
    events: Annotated[Path | None, typer.Argument(
        metavar="EVENTS.jsonl", help="Sample events, one JSON object a line (default: the "
        "samples seg.yaml's events: sends to the source).")] = None,
    workspace: WorkspaceOpt = None,
    env: EnvOpt = None,
    no_cache: NoCacheOpt = False,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Show what happens to sample events: per event and destination (or warehouse),
    delivered (what was removed on the way, the mappings that fire) or stopped, at which step
    and why. Functions run in a locked-down Node.js when it is installed. No network."""
    root = workspace_dir(workspace)
    ws = load(root, env)
    if not any(r.kind is source_kind.KIND and r.address == source for r in ws.resources):
        raise ConfigError(f"source {source!r} is not declared in the workspace")
    catalog, problems = tree_catalog(FsTree(root), ws.config)
    if problems:  # seg validate said so already: the load would have failed
        raise ConfigError(str(problems[0]))
    # values from the environment never reach workspace code (functions), at any depth
    lookup = IndexLookup({(r.kind.name, r.address): masked(r.fields, r.secret_paths)
                          for r in ws.resources}, catalog, ws.config.plan_tier)  # fmt: skip
    sample: list[tuple[int, Mapping[str, Any]]]
    if events is not None:
        sample = list(read_event_objects(events))
    elif ws.config.events:
        sample = [(number, event) for _, number, event in tree_samples(FsTree(root), ws.config,
                                                                        source)]  # fmt: skip
    else:
        raise ConfigError("give a file of sample events (EVENTS.jsonl), or name samples under "
                          "events: in seg.yaml")  # fmt: skip
    with functions_runtime(lookup) as run:
        traced = [(number, event, trace_event(lookup, source, event, run=run))
                  for number, event in sample]  # fmt: skip
    if output is Output.json:
        write_document({"source": source, **trace_to_json(traced)})
    elif output is Output.markdown:
        out_console().file.write(trace_markdown(traced))
    else:
        write_lines(trace_lines(traced), out_console())


def register(app: typer.Typer) -> None:
    app.command("trace")(trace_cmd)
