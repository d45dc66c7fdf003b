"""The workspace as a graph: one node per resource, an edge from each parent to its children
(a kind's parent chain: source → destination → filter, mapping) and from each resource to what
it refers to (``seg.kinds.refs.references``), labelled with the field path it is written at.

Pure. ``seg graph`` draws ``build_graph`` of the declared resources (``render.graph_view``),
``focus`` cuts a neighbourhood out of it, and a plan keeps ``neighbourhood`` of its changes for
the picture in the markdown comment. Nodes come in the registry's kind order, then by address;
edges by their ends' positions, then field: the same resources draw the same picture.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from seg.kinds import KINDS
from seg.kinds.refs import references
from seg.model.clip import MAX_ECHO, clip_repr
from seg.model.printable import display_path
from seg.model.secrets import is_digest
from seg.model.wording import did_you_mean

__all__ = [
    "MAX_DRAWN",
    "PLAN_MAX_CHANGES",
    "PLAN_MAX_NODES",
    "Edge",
    "Graph",
    "GraphError",
    "Node",
    "around",
    "build_graph",
    "focus",
    "make_graph",
    "neighbourhood",
    "without_paths",
]

Key = tuple[str, str]  # (kind name, address)
Fields = Mapping[str, Any]

# The most nodes a picture of a workspace holds (``seg graph``, the console): past it every
# format is a grey smear (GitHub's Mermaid also stops at 500 edges), so the caller is asked
# to draw a neighbourhood (``focus``) instead.
MAX_DRAWN = 500
# A plan is drawn (its changes and their direct neighbours, in the markdown comment) when it
# has at most this many changes and the picture at most this many nodes. Above that a diagram
# is a hairball that GitHub shrinks to unreadable; the summary table and details say more.
# The plan computes the neighbourhood (one pass over the resources) only up to this many
# changes, so a large plan costs nothing more.
PLAN_MAX_CHANGES = 20
PLAN_MAX_NODES = 60

_RANK = {name: position for position, name in enumerate(KINDS)}


@dataclass(frozen=True)
class Node:
    """A resource. ``missing``: something declared refers to it (or is beneath it) but it is
    not there — a dangling reference, drawn so that the picture shows it; ``built_in``: not
    declared, but one the control plane makes itself (the environment labels)."""

    kind: str
    address: str
    missing: bool = False
    built_in: bool = False

    @property
    def key(self) -> Key:
        return (self.kind, self.address)


@dataclass(frozen=True)
class Edge:
    """``source`` → ``target``: a parent to its child (``field`` empty), or a resource to what
    it refers to (``field``: the path the reference is written at, ``labels.team``)."""

    source: Key
    target: Key
    field: str = ""

    @property
    def contains(self) -> bool:
        """Whether this is a parent → child edge (not a reference)."""
        return not self.field


@dataclass(frozen=True)
class Graph:
    """Nodes and edges in their deterministic order (``make_graph``); every edge's ends are
    nodes."""

    nodes: tuple[Node, ...] = ()
    edges: tuple[Edge, ...] = ()

    def node(self, key: Key) -> Node | None:
        for node in self.nodes:
            if node.key == key:
                return node
        return None

    @property
    def keys(self) -> tuple[Key, ...]:
        return tuple(node.key for node in self.nodes)


class GraphError(LookupError):
    """``focus`` on something no node is; the message (one line) carries a did-you-mean."""


def _order(key: Key) -> tuple[int, str, str]:
    return (_RANK.get(key[0], len(_RANK)), key[0], key[1])


def make_graph(nodes: Iterable[Node], edges: Iterable[Edge]) -> Graph:
    """The graph of ``nodes`` and ``edges`` in order (duplicates dropped; the first node of a
    key wins). ValueError when an edge's end is not a node."""
    by_key: dict[Key, Node] = {}
    for node in nodes:
        by_key.setdefault(node.key, node)
    ordered = sorted(by_key, key=_order)
    position = {key: index for index, key in enumerate(ordered)}
    unique = set(edges)
    for edge in unique:
        if edge.source not in position or edge.target not in position:
            raise ValueError(f"edge {edge.source} → {edge.target} names a node not in the graph")
    return Graph(
        tuple(by_key[key] for key in ordered),
        tuple(sorted(unique, key=lambda e: (position[e.source], position[e.target], e.field))),
    )


def _parent(kind_name: str, address: str) -> Key | None:
    parent = KINDS[kind_name].parent
    if parent is None or "/" not in address:
        return None
    return (parent, address.rsplit("/", 1)[0])


def _refs(key: Key, fields: Fields) -> list[tuple[str, str, tuple[str, ...]]]:
    """What ``key`` refers to; never a secret's digest (it names nothing)."""
    return [ref for ref in references(key[0], fields) if not is_digest(ref[1])]


def _links(key: Key, fields: Fields) -> list[Edge]:
    """The edges ``key`` makes: from its parent, to what it refers to."""
    out: list[Edge] = []
    parent = _parent(*key)
    if parent is not None:
        out.append(Edge(parent, key))
    for kind_name, target, path in _refs(key, fields):
        out.append(Edge(key, (kind_name, target), display_path(path)))
    return out


def _order_path(path: tuple[str | int, ...]) -> list[tuple[int, int, str]]:
    return [(0, step, "") if isinstance(step, int) else (1, 0, step) for step in path]


def without_paths(fields: Fields, paths: Collection[tuple[str | int, ...]]) -> Fields:
    """``fields`` without the values at ``paths`` (values from the environment, secret
    settings: no edge is drawn from one), copied along those paths only; ``fields`` itself
    when there are none."""
    if not paths:
        return fields
    out: Any = dict(fields)
    for path in sorted(paths, key=_order_path, reverse=True):  # list items from the last
        holder = out
        for step in path[:-1]:
            if isinstance(holder, dict) and step in holder:
                child = holder[step]
            elif isinstance(holder, list) and isinstance(step, int) and step < len(holder):
                child = holder[step]
            else:
                break
            if not isinstance(child, dict | list):
                break
            holder[step] = child = type(child)(child)
            holder = child
        else:
            last = path[-1] if path else None
            if isinstance(holder, dict):
                holder.pop(last, None)
            elif isinstance(holder, list) and isinstance(last, int) and last < len(holder):
                del holder[last]
    return dict(out)


def _absent(key: Key) -> Node:
    built_in = key[1] in KINDS[key[0]].system_names
    return Node(key[0], key[1], missing=not built_in, built_in=built_in)


def _with_ends(nodes: dict[Key, Node], edges: Iterable[Edge],
               present: Collection[Key]) -> dict[Key, Node]:  # fmt: skip
    """``nodes`` plus a node for every end of ``edges`` (missing unless in ``present``)."""
    for edge in edges:
        for end in (edge.source, edge.target):
            if end not in nodes:
                nodes[end] = Node(*end) if end in present else _absent(end)
    return nodes


def build_graph(resources: Mapping[Key, Fields]) -> Graph:
    """Every resource of ``resources`` (fields by (kind name, address), references as
    addresses) and the edges between them; a parent or a referenced resource that is not
    there becomes a node marked ``missing`` (or ``built_in``)."""
    edges = [edge for key, fields in resources.items() for edge in _links(key, fields)]
    nodes = {key: Node(*key) for key in resources}
    return make_graph(_with_ends(nodes, edges, resources).values(), edges)


def around(graph: Graph, centres: Iterable[Key], depth: int = 1) -> Graph:
    """The nodes within ``depth`` edges of ``centres`` (either direction) and the edges
    between them. Centres that are not nodes are ignored."""
    near: dict[Key, set[Key]] = {}
    for edge in graph.edges:
        near.setdefault(edge.source, set()).add(edge.target)
        near.setdefault(edge.target, set()).add(edge.source)
    known = set(graph.keys)
    kept = {key for key in centres if key in known}
    frontier = set(kept)
    for _ in range(max(depth, 0)):
        frontier = {other for key in frontier for other in near.get(key, ())} - kept
        if not frontier:
            break
        kept |= frontier
    edges = tuple(e for e in graph.edges if e.source in kept and e.target in kept)
    return Graph(tuple(n for n in graph.nodes if n.key in kept), edges)


def _kind_named(word: str) -> str | None:
    """The kind ``word`` names: its name or its key, in any case (``Source``, ``source``)."""
    for kind in KINDS.values():
        if word.lower() in (kind.name.lower(), kind.key):
            return kind.name
    return None


def _centres(graph: Graph, text: str) -> list[Key]:
    """The nodes ``text`` names: every node at that address; else ``KIND:ADDRESS`` or
    ``KIND/ADDRESS`` (``source:web``, ``Label:team:core``, ``Source/web``) for one kind's."""
    found = [node.key for node in graph.nodes if node.address == text]
    if found:
        return found
    keys = set(graph.keys)
    for separator in (":", "/"):
        head, given, rest = text.partition(separator)
        kind = _kind_named(head) if given else None
        if kind is not None and (kind, rest) in keys:
            return [(kind, rest)]
    return []


def focus(graph: Graph, key_or_address: Key | str, depth: int = 1) -> Graph:
    """``around`` what ``key_or_address`` names: a (kind, address) key, an address (every
    kind's node at it), or ``KIND:ADDRESS``. GraphError, with a did-you-mean, when no node
    is named."""
    if isinstance(key_or_address, tuple):
        centres = [key_or_address] if key_or_address in set(graph.keys) else []
        word = key_or_address[1]
    else:
        centres = _centres(graph, key_or_address)
        word = key_or_address
    if not centres:
        hint = did_you_mean(word, sorted({n.address for n in graph.nodes}), limit=MAX_ECHO)
        raise GraphError(f"no resource has the address {clip_repr(word)}{hint}")
    return around(graph, centres, depth)


def neighbourhood(centres: Collection[Key], resources: Mapping[Key, Fields],
                  max_nodes: int = PLAN_MAX_NODES) -> Graph | None:  # fmt: skip
    """``around(build_graph(resources), centres, 1)`` without building the whole graph: the
    centres, every resource one edge away (parent, children, what they refer to, what refers
    to them) and the edges between those. One pass over ``resources``; None as soon as the
    picture would hold more than ``max_nodes`` nodes."""
    wanted = set(centres)
    kept: set[Key] = set(wanted)
    for key in wanted:
        if key in resources:
            kept.update(end for edge in _links(key, resources[key])
                        for end in (edge.source, edge.target))  # fmt: skip
    for key, fields in resources.items():
        if key in wanted:
            continue
        if _parent(*key) in wanted or any(
            (kind_name, target) in wanted for kind_name, target, _ in _refs(key, fields)
        ):
            kept.add(key)
            if len(kept) > max_nodes:
                return None
    if len(kept) > max_nodes:
        return None
    edges = [edge for key in kept if key in resources for edge in _links(key, resources[key])
             if edge.source in kept and edge.target in kept]  # fmt: skip
    nodes = {key: Node(*key) if key in resources else _absent(key) for key in kept}
    return make_graph(nodes.values(), edges)
