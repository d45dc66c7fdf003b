"""``seg graph [PATH] [-o mermaid|dot|svg] [--focus ADDRESS] [--depth N]``: the workspace as a
picture — its resources and the edges between them (``engine.graph``, ``render.graph_view``).

The workspace is loaded as ``seg validate`` and ``seg plan`` load it (``console.load``), so an
invalid one gets the same diagnostics. No network, no secrets: an unset ``${env:…}`` leaves
its value unknown, and the picture holds only kinds and addresses.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from seg.commands.console import handle_errors, load, write_out
from seg.commands.options import DebugOpt, EnvOpt, NoCacheOpt, WorkspaceOpt, workspace_dir
from seg.engine.graph import MAX_DRAWN, GraphError, build_graph, focus, without_paths
from seg.errors import ConfigError
from seg.model.wording import plural
from seg.render.graph_view import graph_dot, graph_mermaid, graph_svg

__all__ = ["register"]


class GraphFormat(StrEnum):
    mermaid = "mermaid"
    dot = "dot"
    svg = "svg"


class GraphRefused(ConfigError):
    """A picture the command will not draw (an unknown --focus, too many nodes): one line,
    exit 2, as for a usage error."""

    exit_code = 2


_RENDER = {GraphFormat.mermaid: graph_mermaid, GraphFormat.dot: graph_dot,
           GraphFormat.svg: graph_svg}  # fmt: skip


@handle_errors
def graph_cmd(
    path: Annotated[
        Path | None,
        typer.Argument(metavar="PATH", help="Workspace directory (as -w; default ./workspace, "
                       "else .)."),
    ] = None,
    workspace: WorkspaceOpt = None,
    env: EnvOpt = None,
    no_cache: NoCacheOpt = False,
    output: Annotated[
        GraphFormat,
        typer.Option("--output", "-o", help="mermaid (GitHub renders it), dot (Graphviz) or svg."),
    ] = GraphFormat.mermaid,
    around: Annotated[
        str | None,
        typer.Option("--focus", metavar="ADDRESS",
                     help="Only this resource and its neighbourhood: an address (web/amplitude), "
                     "or KIND:ADDRESS where kinds share an address (source:web)."),
    ] = None,
    depth: Annotated[
        int | None,
        typer.Option("--depth", metavar="N", min=1,
                     help="With --focus: the resources within N edges, either way (default 1)."),
    ] = None,
    debug: DebugOpt = False,
) -> None:
    """Draw the workspace: its resources (every kind) and the edges between them — parent to
    child (source, destination, filter or mapping), and each reference labelled with its
    field. A reference to something not declared is drawn, dashed. Prints Mermaid, DOT or a
    self-contained SVG on stdout. No network, no secrets."""
    if path is not None and workspace is not None and path != workspace:
        raise GraphRefused("name the workspace once: PATH or -w DIR")
    if depth is not None and around is None:
        raise GraphRefused("--depth needs --focus ADDRESS")
    root = workspace_dir(path if path is not None else workspace)
    ws = load(root, env)
    graph = build_graph({(r.kind.name, r.address): without_paths(r.fields, r.secret_paths)
                         for r in ws.resources})  # fmt: skip
    where = "the workspace"
    if around is not None:
        try:
            graph = focus(graph, around, depth or 1)
        except GraphError as exc:
            raise GraphRefused(f"--focus: {exc}") from None
        where = f"the neighbourhood (--depth {depth or 1})"
    if len(graph.nodes) > MAX_DRAWN:
        hint = ("draw a part of it with --focus ADDRESS" if around is None
                else "draw less with a smaller --depth")  # fmt: skip
        raise GraphRefused(f"{where} has {plural(len(graph.nodes), 'resource')}, more than the "
                           f"{MAX_DRAWN} a picture can show; {hint}")  # fmt: skip
    write_out(_RENDER[output](graph))


def register(app: typer.Typer) -> None:
    app.command("graph")(graph_cmd)
