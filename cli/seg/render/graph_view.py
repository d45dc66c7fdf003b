"""Pictures of a workspace graph (``engine.graph``): Mermaid (``seg graph``, and the markdown
plan comment, where GitHub renders it), Graphviz DOT, and a self-contained SVG laid out here.

Every name and address comes from a workspace file, so it is hostile text: node ids are
generated (``n0``, ``n1``, …, in the graph's order), and each label is one line (controls,
line breaks and bidi characters as JSON escapes, ``printable.escape_line``) escaped for its
format — Mermaid: inside double quotes, with ``"``, ``<``, ``>``, ``#``, ``&``, ``|``,
backticks, ``%`` and ``\\`` as entity codes; DOT: a double-quoted string with ``\\`` and ``"``
escaped; SVG: XML-escaped text, never an attribute (attributes hold only generated values:
ids, numbers, colours). Marks (a plan's actions) are a border colour *and* a symbol in the label
(``+ ~ - ± !``), so the picture does not rely on colour alone.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from html import escape as _xml_escape

from seg.engine.graph import Graph, Node
from seg.kinds import KINDS
from seg.model.printable import escape_line
from seg.model.wording import plural

__all__ = ["MARKS", "graph_dot", "graph_mermaid", "graph_svg", "node_label", "one_line"]

Key = tuple[str, str]
Marks = Mapping[Key, str]

# A mark (a plan's action) → its symbol and border colour (GitHub's palette).
MARKS: dict[str, tuple[str, str]] = {
    "create": ("+", "#1a7f37"),
    "update": ("~", "#9a6700"),
    "delete": ("-", "#cf222e"),
    "replace": ("±", "#8250df"),
    "blocked": ("!", "#bc4c00"),
}
# Fill colours, one per kind by its place in the registry (no kind is named here).
_FILLS = ("#ddf4ff", "#dafbe1", "#fff8c5", "#ffeff7", "#fbefff", "#fff1e5", "#d8f7f3",
          "#eaeef2", "#f1f8ff", "#e6ffec", "#ffebe9", "#f6f8fa", "#fdf4d8", "#eef1ff")  # fmt: skip
_STROKE = "#57606a"
_INK = "#1f2328"
_RANK = {name: position for position, name in enumerate(KINDS)}
# Characters no XML 1.0 document may hold (and lone surrogates, which cannot be encoded),
# left after escape_line has written the controls as JSON escapes.
_NOT_XML = re.compile("[\ud800-\udfff\ufffe\uffff]")


def _fill(kind: str) -> str:
    return _FILLS[_RANK.get(kind, len(_RANK)) % len(_FILLS)]


def one_line(text: str) -> str:
    """``text`` as one printable line: controls, line breaks and bidi characters (and what no
    XML document may hold) as JSON escapes."""
    text = escape_line(text, keep_tab=False)
    return _NOT_XML.sub(lambda m: f"\\u{ord(m.group(0)):04x}", text)


def node_label(node: Node, mark: str | None = None, kind: bool = True) -> str:
    """``+ Destination web/amplitude``: the mark's symbol, the kind (unless not ``kind``) and
    the address, and whether it is declared; one unescaped line (each format escapes it)."""
    text = f"{node.kind} {node.address}" if kind else node.address
    if mark in MARKS:
        text = f"{MARKS[mark][0]} {text}"
    if node.missing:
        text += " (not declared)"
    elif node.built_in:
        text += " (built in)"
    return one_line(text)


def _ids(graph: Graph) -> dict[Key, str]:
    return {node.key: f"n{index}" for index, node in enumerate(graph.nodes)}


# --- Mermaid ---------------------------------------------------------------------------------

_MERMAID = {"#": "#35;", '"': "#quot;", "<": "#lt;", ">": "#gt;", "`": "#96;", "&": "#amp;",
            "|": "#124;", "%": "#37;", "\\": "#92;"}  # fmt: skip
_MERMAID_RE = re.compile("[" + re.escape("".join(_MERMAID)) + "]")


def _mermaid_text(text: str) -> str:
    """A Mermaid string: in double quotes, with entity codes for the characters that could
    end it, open markup or form an entity, for ``%`` (Mermaid reads a ``%%{init: …}%%``
    directive anywhere in the text, even inside a string) and for ``\\`` (it draws ``\\n``
    as a line break)."""
    return '"' + _MERMAID_RE.sub(lambda m: _MERMAID[m.group(0)], one_line(text)) + '"'


def graph_mermaid(graph: Graph, marks: Marks | None = None) -> str:
    """A Mermaid flowchart, left to right: ``nX --> nY`` from a parent to its child,
    ``nX -.->|"field"| nY`` from a resource to what it refers to. Kinds are fill colours
    (``classDef k<rank>``), marks a class each (``create``, ``update``, …) and the symbol in
    the label; a node that is not declared has a dashed border."""
    marks = marks or {}
    ids = _ids(graph)
    lines = ["flowchart LR"]
    lines += [f"  {ids[n.key]}[{_mermaid_text(node_label(n, marks.get(n.key)))}]"
              for n in graph.nodes]  # fmt: skip
    for edge in graph.edges:
        source, target = ids[edge.source], ids[edge.target]
        if edge.contains:
            lines.append(f"  {source} --> {target}")
        else:
            lines.append(f"  {source} -.->|{_mermaid_text(edge.field)}| {target}")
    classes: dict[str, list[str]] = {}
    for node in graph.nodes:
        classes.setdefault(f"k{_RANK.get(node.kind, len(_RANK))}", []).append(ids[node.key])
    for name, members in classes.items():
        fill = _FILLS[int(name[1:]) % len(_FILLS)]
        lines.append(f"  classDef {name} fill:{fill},stroke:{_STROKE},color:{_INK}")
        lines.append(f"  class {','.join(members)} {name}")
    absent = [ids[n.key] for n in graph.nodes if n.missing]
    if absent:
        lines.append("  classDef missing stroke-dasharray:5 5")
        lines.append(f"  class {','.join(absent)} missing")
    for mark, (_symbol, colour) in MARKS.items():
        members = [ids[n.key] for n in graph.nodes if marks.get(n.key) == mark]
        if members:
            lines.append(f"  classDef {mark} stroke:{colour},stroke-width:3px")
            lines.append(f"  class {','.join(members)} {mark}")
    return "\n".join(lines) + "\n"


# --- DOT -------------------------------------------------------------------------------------


def _dot_text(text: str) -> str:
    """A DOT double-quoted string: ``\\`` and ``"`` escaped (so ``\\n``, ``\\l`` from a value
    stay text, never a label escape)."""
    return '"' + one_line(text).replace("\\", "\\\\").replace('"', '\\"') + '"'


def graph_dot(graph: Graph, marks: Marks | None = None) -> str:
    """A Graphviz digraph, left to right: solid edges from parents to children, dashed ones
    labelled with the field from a resource to what it refers to."""
    marks = marks or {}
    ids = _ids(graph)
    lines = [
        "digraph workspace {",
        "  rankdir=LR;",
        f'  node [shape=box, style="rounded,filled", fontname="Helvetica", fontsize=11, '
        f'color="{_STROKE}", fontcolor="{_INK}"];',
        f'  edge [color="{_STROKE}", fontname="Helvetica", fontsize=9];',
    ]
    for node in graph.nodes:
        mark = marks.get(node.key)
        attrs = [f"label={_dot_text(node_label(node, mark))}", f'fillcolor="{_fill(node.kind)}"']
        if node.missing:
            attrs.append('style="rounded,filled,dashed"')
        if mark in MARKS:
            attrs += [f'color="{MARKS[mark][1]}"', "penwidth=3"]
        lines.append(f"  {ids[node.key]} [{', '.join(attrs)}];")
    for edge in graph.edges:
        link = f"  {ids[edge.source]} -> {ids[edge.target]}"
        lines.append(f"{link};" if edge.contains
                     else f"{link} [label={_dot_text(edge.field)}, style=dashed];")  # fmt: skip
    lines.append("}")
    return "\n".join(lines) + "\n"


# --- SVG -------------------------------------------------------------------------------------

_CHAR_W = 7.2  # the width of one character of the 12px monospace font, near enough
_NODE_H = 36  # the kind in small type, then the address
_ROW_GAP = 12
_COL_GAP = 150
_PAD = 20
_TOP = 48  # the title above the columns
_MAX_CHARS = 48  # longer labels are cut with "…" (the whole label is the node's tooltip)
_MAX_FIELD = 28  # an edge's field, the same
_FONT = "ui-monospace, SFMono-Regular, Menlo, Consolas, monospace"
_HALO = 'paint-order="stroke" stroke="#ffffff" stroke-width="3" stroke-linejoin="round"'


def _x(text: str) -> str:
    """XML text content: one line, escaped."""
    return _xml_escape(one_line(text), quote=True)


def _n(value: float) -> str:
    """A coordinate, without a trailing ``.0``."""
    return f"{value:.1f}".removesuffix(".0")


def _cut(text: str, limit: int = _MAX_CHARS) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _layers(graph: Graph) -> dict[Key, int]:
    """Each node's column: one past the deepest of what it depends on (its parent, what it
    refers to), so that a child stands right of its parent and a resource right of what it
    refers to; an edge that would close a cycle is left out of the count."""
    deps: dict[Key, list[Key]] = {key: [] for key in graph.keys}
    for edge in graph.edges:
        if edge.source != edge.target:
            dependent, on = (edge.target, edge.source) if edge.contains else \
                (edge.source, edge.target)  # fmt: skip
            deps[dependent].append(on)
    layer: dict[Key, int] = {}
    for start in graph.keys:
        if start in layer:
            continue
        stack, open_ = [(start, iter(deps[start]))], {start}
        while stack:
            key, pending = stack[-1]
            following = next(pending, None)
            if following is None:
                layer[key] = 1 + max((layer[d] for d in deps[key] if d in layer), default=-1)
                open_.discard(key)
                stack.pop()
            elif following not in layer and following not in open_:
                stack.append((following, iter(deps[following])))
                open_.add(following)
    return layer


class _Layout:
    """Columns by dependency depth (``_layers``), rows in the graph's order (kind, then
    address, so children line up with their parents); each node's box as (x, y, width)."""

    def __init__(self, graph: Graph, marks: Marks) -> None:
        layer = _layers(graph)
        columns: dict[int, list[Node]] = {}
        for node in graph.nodes:
            columns.setdefault(layer[node.key], []).append(node)
        self.column = layer
        self.labels = {n.key: node_label(n, marks.get(n.key), kind=False) for n in graph.nodes}
        # a column's gap on its left holds the labels of the references leaving it leftwards
        gaps: dict[int, float] = {}
        for edge in graph.edges:
            if not edge.contains and layer[edge.source] > layer[edge.target]:
                wide = len(_cut(edge.field, _MAX_FIELD)) * 6.1 + 60
                gaps[layer[edge.source]] = max(gaps.get(layer[edge.source], 0.0), wide)
        self.box: dict[Key, tuple[float, float, float]] = {}
        x = float(_PAD)
        rows = 0
        for index in sorted(columns):
            if index != min(columns):
                x += max(_COL_GAP, gaps.get(index, 0.0))
            members = columns[index]
            chars = max(max(len(_cut(self.labels[n.key])), len(n.kind)) for n in members)
            width = chars * _CHAR_W + 20
            for row, node in enumerate(members):
                self.box[node.key] = (x, _TOP + row * (_NODE_H + _ROW_GAP), width)
            rows = max(rows, len(members))
            x += width
        self.width = max(x + _PAD, 420.0)
        self.bottom = _TOP + rows * (_NODE_H + _ROW_GAP)


def _edge_path(layout: _Layout, source: Key, target: Key) -> tuple[str, float, float, str]:
    """The edge's cubic curve (``d``), and where its label goes: beside the edge's start, by
    the resource whose field it names (x, y, text-anchor)."""
    sx, sy, sw = layout.box[source]
    tx, ty, tw = layout.box[target]
    sy, ty = sy + _NODE_H / 2, ty + _NODE_H / 2
    if source == target:  # a loop on the right-hand side
        x = sx + sw
        d = (f"M{_n(x)},{_n(sy - 8)} C{_n(x + 44)},{_n(sy - 30)} {_n(x + 44)},{_n(sy + 30)} "
             f"{_n(x)},{_n(sy + 8)}")  # fmt: skip
        return d, x + 40, sy - 20, "start"
    source_column, target_column = layout.column[source], layout.column[target]
    if source_column < target_column:  # rightwards: a parent to its child
        x1, x2 = sx + sw, tx
        c1, c2 = x1 + _COL_GAP / 2, x2 - _COL_GAP / 2
    elif source_column > target_column:  # leftwards: a reference to what it names
        x1, x2 = sx, tx + tw
        c1, c2 = x1 - _COL_GAP / 2, x2 + _COL_GAP / 2
    else:  # within a column (a cycle): around its right-hand side
        x1, x2 = sx + sw, tx + tw
        c1 = c2 = max(x1, x2) + 60
    d = f"M{_n(x1)},{_n(sy)} C{_n(c1)},{_n(sy)} {_n(c2)},{_n(ty)} {_n(x2)},{_n(ty)}"
    if x1 == sx:
        return d, x1 - 8, sy - 5, "end"
    return d, x1 + 8, sy - 5, "start"


class _Labels:
    """Where the edges' labels go: each moved down until it overlaps none placed before."""

    def __init__(self) -> None:
        self.placed: list[tuple[float, float, float]] = []  # (left, right, baseline)

    def place(self, x: float, y: float, text: str, anchor: str) -> float:
        width = len(text) * 6.1 + 4
        left = x - width if anchor == "end" else x
        for _ in range(24):
            if not any(left < end and start < left + width and abs(y - base) < 12
                       for start, end, base in self.placed):  # fmt: skip
                break
            y += 12
        self.placed.append((left, left + width, y))
        return y


def _legend(graph: Graph, marks: Marks, layout: _Layout) -> tuple[list[str], float]:
    """The kinds present (their fill), the marks present (border and symbol), and the edge
    and node styles, wrapped to the picture's width; its lines and height."""
    items: list[tuple[str, str]] = []
    for kind in dict.fromkeys(n.kind for n in graph.nodes):
        items.append((f'<rect width="14" height="14" rx="3" fill="{_fill(kind)}" '
                      f'stroke="{_STROKE}"/>', kind))  # fmt: skip
    for mark, (symbol, colour) in MARKS.items():
        if any(marks.get(n.key) == mark for n in graph.nodes):
            items.append((f'<rect width="14" height="14" rx="3" fill="#ffffff" '
                          f'stroke="{colour}" stroke-width="3"/>', f"{symbol} {mark}"))  # fmt: skip
    if any(n.missing for n in graph.nodes):
        items.append((f'<rect width="14" height="14" rx="3" fill="#ffffff" stroke="{_STROKE}" '
                      'stroke-dasharray="4 3"/>', "not declared"))  # fmt: skip
    items.append((f'<path d="M0,7 L14,7" stroke="{_STROKE}" stroke-width="1.5"/>',
                  "parent → child"))  # fmt: skip
    items.append((f'<path d="M0,7 L14,7" stroke="{_STROKE}" stroke-width="1.5" '
                  'stroke-dasharray="5 4"/>', "reference (its field)"))  # fmt: skip
    out = ['<g class="legend">']
    x, y = float(_PAD), layout.bottom + 24
    for swatch, text in items:
        width = 22 + len(text) * _CHAR_W + 18
        if x + width > layout.width - _PAD and x > _PAD:
            x, y = float(_PAD), y + 22
        out.append(f'<g transform="translate({_n(x)},{_n(y)})">{swatch}'
                   f'<text x="20" y="11">{_x(text)}</text></g>')  # fmt: skip
        x += width
    out.append("</g>")
    return out, y + 22 + _PAD - layout.bottom


def graph_svg(graph: Graph, marks: Marks | None = None) -> str:
    """A self-contained SVG (no script, no external reference, no text in an attribute): a
    column per dependency depth, left to right (what is referred to and parents first),
    each node its kind in small type over its address, filled by kind; solid arrows from
    parents to children, dashed ones labelled with the field from a resource to what it
    refers to; a legend. Marked nodes get their mark's border and symbol; undeclared ones a
    dashed border and "(not declared)". ``role="img"`` with a title for screen readers."""
    marks = marks or {}
    layout = _Layout(graph, marks)
    legend, legend_height = _legend(graph, marks, layout)
    width, height = layout.width, layout.bottom + legend_height
    summary = (f"Workspace graph: {plural(len(graph.nodes), 'resource')}, "
               f"{plural(len(graph.edges), 'link')}")  # fmt: skip
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{summary}" '
        f'width="{_n(width)}" height="{_n(height)}" viewBox="0 0 {_n(width)} {_n(height)}" '
        f'font-family="{_FONT}" font-size="12" fill="{_INK}">',
        f"<title>{summary}</title>",
        f'<defs><marker id="arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" fill="{_STROKE}"/>'
        "</marker></defs>",
        '<rect width="100%" height="100%" fill="#ffffff"/>',
        f'<text x="{_PAD}" y="{_PAD + 6}" font-size="14" font-weight="bold">{summary}</text>',
        '<g class="edges">',
    ]
    texts: list[str] = []
    labels = _Labels()
    for edge in graph.edges:
        d, lx, ly, anchor = _edge_path(layout, edge.source, edge.target)
        ends = (f"{edge.source[0]} {layout.labels[edge.source]} → "
                f"{edge.target[0]} {layout.labels[edge.target]}")  # fmt: skip
        if edge.contains:
            out.append(f'<path class="edge" d="{d}" fill="none" stroke="{_STROKE}" '
                       f'stroke-width="1.5" marker-end="url(#arrow)"><title>{_x(ends)}</title>'
                       "</path>")  # fmt: skip
            continue
        out.append(f'<path class="edge reference" d="{d}" fill="none" stroke="{_STROKE}" '
                   f'stroke-width="1.5" stroke-dasharray="5 4" marker-end="url(#arrow)">'
                   f"<title>{_x(f'{ends} ({edge.field})')}</title></path>")
        field = _cut(edge.field, _MAX_FIELD)
        y = labels.place(lx, ly, field, anchor)
        texts.append(f'<text class="edge-label" x="{_n(lx)}" y="{_n(y)}" font-size="10" '
                     f'text-anchor="{anchor}" fill="{_STROKE}" {_HALO}>{_x(field)}</text>')
    out.append("</g>")
    ids = _ids(graph)
    for node in graph.nodes:
        x, y, w = layout.box[node.key]
        mark = marks.get(node.key)
        stroke, stroke_width = (MARKS[mark][1], 3) if mark in MARKS else (_STROKE, 1)
        dashed = ' stroke-dasharray="4 3"' if node.missing else ""
        label = layout.labels[node.key]
        out.append(
            f'<g class="node" id="{ids[node.key]}" transform="translate({_n(x)},{_n(y)})">'
            f"<title>{_x(node_label(node, mark))}</title>"
            f'<rect width="{_n(w)}" height="{_NODE_H}" rx="5" fill="{_fill(node.kind)}" '
            f'stroke="{stroke}" stroke-width="{stroke_width}"{dashed}/>'
            f'<text class="kind" x="10" y="13" font-size="10" fill="{_STROKE}">'
            f"{_x(node.kind)}</text>"
            f'<text class="label" x="10" y="28">{_x(_cut(label))}</text></g>'
        )
    out += ['<g class="edge-labels">', *texts, "</g>", *legend, "</svg>"]
    return "\n".join(out) + "\n"
