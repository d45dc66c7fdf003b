"""The console's graph: the live resources the caller may read, drawn by the same engine and
renderers as ``seg graph`` (SVG on the page, Mermaid beside it)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from seg.engine.graph import MAX_DRAWN, GraphError, build_graph, focus
from seg.render.graph_view import graph_mermaid, graph_svg

__all__ = ["Drawn", "draw"]


@dataclass(frozen=True)
class Drawn:
    svg: str = ""
    mermaid: str = ""
    nodes: int = 0
    edges: int = 0
    error: str = ""


def draw(resources: Mapping[tuple[str, str], Mapping[str, Any]], around: str) -> Drawn:
    """The graph of ``resources``, or the neighbourhood of ``around`` when given."""
    graph = build_graph(resources)
    if around.strip():
        try:
            graph = focus(graph, around.strip())
        except GraphError as exc:
            return Drawn(error=str(exc))
    if len(graph.nodes) > MAX_DRAWN:
        return Drawn(error=f"{len(graph.nodes)} resources are too many to draw; focus on one "
                     "(kind:address) to see its neighbourhood")  # fmt: skip
    return Drawn(graph_svg(graph), graph_mermaid(graph), len(graph.nodes), len(graph.edges))
