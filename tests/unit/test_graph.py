"""The workspace graph (``seg.engine.graph``) and its pictures (``seg.render.graph_view``):
nodes and edges of a mixed workspace, neighbourhoods, dangling references, order; each format
parsed back to exactly those edges; hostile names inert in every format; the plan's picture
in the markdown comment (and its JSON), only for small plans."""

from __future__ import annotations

import html
import json
import random
import re
import xml.etree.ElementTree as ET
from dataclasses import replace

import pytest

from seg.engine import compute_plan
from seg.engine.graph import (
    MAX_DRAWN,
    PLAN_MAX_CHANGES,
    PLAN_MAX_NODES,
    Edge,
    Graph,
    GraphError,
    Node,
    around,
    build_graph,
    focus,
    make_graph,
    neighbourhood,
    without_paths,
)
from seg.kinds import KINDS
from seg.model.resource import CurrentResource, DesiredResource
from seg.render.graph_view import graph_dot, graph_mermaid, graph_svg, node_label, one_line
from seg.render.plan_json import plan_from_json, plan_to_json
from seg.render.plan_markdown import render_plan_markdown

SVG = "{http://www.w3.org/2000/svg}"

# A small workspace of mixed kinds, as the loader hands it over (references as addresses).
RESOURCES = {
    ("Label", "team:core"): {"description": "core"},
    ("TrackingPlan", "orders"): {"display_name": "Orders"},
    ("Function", "scrub"): {"type": "insert"},
    ("Group", "eng"): {"members": ["a@example.com"]},
    ("Source", "web"): {"catalog": "javascript", "tracking_plan": "orders",
                        "labels": {"team": "core", "environment": "prod"}},
    ("Source", "ios"): {"catalog": "ios"},
    ("Destination", "web/amp"): {"catalog": "amplitude", "insert_function": "scrub"},
    ("Destination", "ios/braze"): {"catalog": "braze"},
    ("DestinationFilter", "web/amp/drop-tests"): {"if": "type = 'track'"},
    ("Model", "web/users"): {"query": "select 1"},
    ("Mapping", "web/amp/sync"): {"model": "web/users"},
    ("Warehouse", "dw"): {"sources": ["web", "ghost"]},
    ("RoleBinding", "eng-web"): {"subject": {"group": "eng"}, "scope": {"sources": ["web"]}},
    ("ConsentCategory", "Analytics"): {"destinations": ["web/amp"]},
    ("Transformation", "web/rename"): {"destination": "web/amp"},
}

S, D = ("Source", "web"), ("Destination", "web/amp")
EDGES = {
    # parent → child
    (S, D, ""),
    (("Source", "ios"), ("Destination", "ios/braze"), ""),
    (D, ("DestinationFilter", "web/amp/drop-tests"), ""),
    (D, ("Mapping", "web/amp/sync"), ""),
    (S, ("Model", "web/users"), ""),
    (S, ("Transformation", "web/rename"), ""),
    # references, labelled with their field
    (S, ("TrackingPlan", "orders"), "tracking_plan"),
    (S, ("Label", "team:core"), "labels.team"),
    (S, ("Label", "environment:prod"), "labels.environment"),
    (D, ("Function", "scrub"), "insert_function"),
    (("Mapping", "web/amp/sync"), ("Model", "web/users"), "model"),
    (("Warehouse", "dw"), S, "sources"),
    (("Warehouse", "dw"), ("Source", "ghost"), "sources"),
    (("RoleBinding", "eng-web"), ("Group", "eng"), "subject.group"),
    (("RoleBinding", "eng-web"), S, "scope.sources"),
    (("ConsentCategory", "Analytics"), D, "destinations"),
    (("Transformation", "web/rename"), D, "destination"),
}


def triples(graph: Graph) -> set[tuple[tuple[str, str], tuple[str, str], str]]:
    return {(e.source, e.target, e.field) for e in graph.edges}


# --- the graph -------------------------------------------------------------------------------


def test_edges_are_parent_chains_and_references_labelled_with_their_field() -> None:
    graph = build_graph(RESOURCES)
    assert triples(graph) == EDGES
    assert all(e.contains == (e.field == "") for e in graph.edges)
    # every declared resource is a node, of every kind present; plus what they name
    assert set(graph.keys) == set(RESOURCES) | {("Label", "environment:prod"), ("Source", "ghost")}
    assert {n.kind for n in graph.nodes} == {k for k, _ in RESOURCES} | {"Label"}


def test_a_dangling_reference_or_parent_is_a_missing_node_and_a_built_in_one_is_not() -> None:
    graph = build_graph({**RESOURCES, ("Destination", "nowhere/x"): {"catalog": "braze"}})
    ghost, orphan = graph.node(("Source", "ghost")), graph.node(("Source", "nowhere"))
    assert ghost is not None and ghost.missing and not ghost.built_in
    assert orphan is not None and orphan.missing  # the parent of a declared child
    assert (("Source", "nowhere"), ("Destination", "nowhere/x"), "") in triples(graph)
    prod = graph.node(("Label", "environment:prod"))
    assert prod is not None and prod.built_in and not prod.missing  # the control plane's own
    assert [n.key for n in graph.nodes if n.missing] == [("Source", "ghost"), ("Source", "nowhere")]
    assert "(not declared)" in node_label(ghost) and "(built in)" in node_label(prod)


def test_the_order_is_the_registrys_then_the_address_whatever_the_input_order() -> None:
    items = list(RESOURCES.items())
    graphs = []
    for seed in range(5):
        random.Random(seed).shuffle(items)
        graphs.append(build_graph(dict(items)))
    assert all(g == graphs[0] for g in graphs)
    rank = {name: i for i, name in enumerate(KINDS)}
    keys = list(graphs[0].keys)
    assert keys == sorted(keys, key=lambda k: (rank[k[0]], k[1]))
    position = {k: i for i, k in enumerate(keys)}
    order = [(position[e.source], position[e.target], e.field) for e in graphs[0].edges]
    assert order == sorted(order)
    assert graph_mermaid(graphs[0]) == graph_mermaid(graphs[3])
    assert graph_svg(graphs[1]) == graph_svg(graphs[4])


def test_focus_takes_the_neighbourhood_either_way_to_a_depth() -> None:
    graph = build_graph(RESOURCES)
    one = focus(graph, "web/amp")
    assert set(one.keys) == {D, S, ("Function", "scrub"), ("DestinationFilter", "web/amp/drop-tests"),
                             ("Mapping", "web/amp/sync"), ("ConsentCategory", "Analytics"),
                             ("Transformation", "web/rename")}
    assert triples(one) == {t for t in EDGES if t[0] in one.keys and t[1] in one.keys}
    two = focus(graph, D, depth=2)
    assert set(two.keys) == set(one.keys) | {
        ("Model", "web/users"), ("TrackingPlan", "orders"), ("Label", "team:core"),
        ("Label", "environment:prod"), ("Warehouse", "dw"), ("RoleBinding", "eng-web")}
    assert set(focus(graph, "web", depth=50).keys) == set(graph.keys) - {
        ("Source", "ios"), ("Destination", "ios/braze")}  # not connected to web
    assert focus(graph, "ios", depth=0).keys == (("Source", "ios"),)


def test_focus_names_a_kind_when_kinds_share_an_address_and_suggests_on_a_typo() -> None:
    graph = build_graph({("Source", "web"): {}, ("Warehouse", "web"): {"sources": []},
                         ("Label", "source:web"): {}})  # fmt: skip
    assert set(focus(graph, "web", 0).keys) == {("Source", "web"), ("Warehouse", "web")}
    assert focus(graph, "source:web", 0).keys == (("Label", "source:web"),)  # an address first
    assert focus(graph, "Warehouse:web", 0).keys == (("Warehouse", "web"),)
    assert focus(graph, "warehouse/web", 0).keys == (("Warehouse", "web"),)
    with pytest.raises(GraphError) as info:
        focus(graph, "wbe")
    assert str(info.value) == "no resource has the address 'wbe' (did you mean 'web'?)"
    with pytest.raises(GraphError, match="has the address 'x'$"):
        focus(graph, ("Source", "x"))


def test_the_plans_neighbourhood_is_focus_without_the_whole_graph() -> None:
    graph = build_graph(RESOURCES)
    for centres in ([D], [S], [("Model", "web/users"), ("Warehouse", "dw")], [("Source", "ios")]):
        assert neighbourhood(centres, RESOURCES) == around(graph, centres, 1), centres
    assert neighbourhood([S], RESOURCES, max_nodes=5) is None  # web has 12 around it
    labels = {("Source", f"s{i:02d}"): {"labels": {"team": "core"}} for i in range(70)}
    assert neighbourhood([("Label", "team:core")], {**labels, ("Label", "team:core"): {}}) is None


# --- the pictures, parsed back ---------------------------------------------------------------

MERMAID_NODE = re.compile(r'^  (n\d+)\["([^"]*)"\]$')
MERMAID_CHILD = re.compile(r"^  (n\d+) --> (n\d+)$")
MERMAID_REF = re.compile(r'^  (n\d+) -\.->\|"([^"]*)"\| (n\d+)$')
MERMAID_CLASS = re.compile(r"^  (classDef [a-z0-9]+ [a-z0-9:#,.\- ]+|class n\d+(,n\d+)* [a-z0-9]+)$")
ENTITIES = {"#35;": "#", "#quot;": '"', "#lt;": "<", "#gt;": ">", "#96;": "`", "#amp;": "&",
            "#124;": "|", "#37;": "%", "#92;": "\\"}  # fmt: skip


def unmermaid(text: str) -> str:
    return re.sub(r"#(?:35|quot|lt|gt|96|amp|124|37|92);", lambda m: ENTITIES[m.group(0)], text)


def parse_mermaid(text: str) -> tuple[dict[str, str], set[tuple[str, str, str]], list[str]]:
    """Node labels by id, edges as (label, label, field), and the class lines; every line
    must be one of the grammar's."""
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    labels: dict[str, str] = {}
    edges: set[tuple[str, str, str]] = set()
    classes: list[str] = []
    for line in lines[1:]:
        if m := MERMAID_NODE.match(line):
            labels[m.group(1)] = unmermaid(m.group(2))
        elif m := MERMAID_CHILD.match(line):
            edges.add((labels[m.group(1)], labels[m.group(2)], ""))
        elif m := MERMAID_REF.match(line):
            edges.add((labels[m.group(1)], labels[m.group(3)], unmermaid(m.group(2))))
        else:
            assert MERMAID_CLASS.match(line), line
            classes.append(line)
    return labels, edges, classes


DOT_STRING = r'"((?:[^"\\]|\\.)*)"'
DOT_NODE = re.compile(rf"^  (n\d+) \[label={DOT_STRING}, fillcolor=\"#[0-9a-f]{{6}}\"(.*)\];$")
DOT_EDGE = re.compile(rf"^  (n\d+) -> (n\d+)(?: \[label={DOT_STRING}, style=dashed\])?;$")


def undot(text: str) -> str:
    return re.sub(r"\\(.)", r"\1", text)


def parse_dot(text: str) -> tuple[dict[str, str], set[tuple[str, str, str]], dict[str, str]]:
    lines = text.splitlines()
    assert lines[:2] == ["digraph workspace {", "  rankdir=LR;"] and lines[-1] == "}"
    assert lines[2].startswith("  node [") and lines[3].startswith("  edge [")
    labels: dict[str, str] = {}
    extra: dict[str, str] = {}
    edges: set[tuple[str, str, str]] = set()
    for line in lines[4:-1]:
        if m := DOT_NODE.match(line):
            labels[m.group(1)] = undot(m.group(2))
            extra[m.group(1)] = m.group(3)
        else:
            m = DOT_EDGE.match(line)
            assert m, line
            edges.add((labels[m.group(1)], labels[m.group(2)], undot(m.group(3) or "")))
    return labels, edges, extra


def parse_svg(text: str) -> tuple[ET.Element, list[ET.Element], list[ET.Element]]:
    root = ET.fromstring(text)
    nodes = [g for g in root.iter(f"{SVG}g") if g.get("class") == "node"]
    edges = [p for p in root.iter(f"{SVG}path") if "edge" in (p.get("class") or "").split()]
    return root, nodes, edges


def expected(graph: Graph, marks=None) -> set[tuple[str, str, str]]:
    marks = marks or {}
    label = {n.key: node_label(n, marks.get(n.key)) for n in graph.nodes}
    return {(label[e.source], label[e.target], one_line(e.field)) for e in graph.edges}


def test_mermaid_holds_exactly_the_graphs_edges() -> None:
    graph = build_graph(RESOURCES)
    labels, edges, classes = parse_mermaid(graph_mermaid(graph))
    assert list(labels) == [f"n{i}" for i in range(len(graph.nodes))]
    assert list(labels.values()) == [node_label(n) for n in graph.nodes]
    assert edges == expected(graph) and len(edges) == len(graph.edges) == len(EDGES)
    missing = [f"n{i}" for i, n in enumerate(graph.nodes) if n.missing]
    assert f"  class {','.join(missing)} missing" in classes


def test_dot_holds_exactly_the_graphs_edges() -> None:
    graph = build_graph(RESOURCES)
    labels, edges, extra = parse_dot(graph_dot(graph))
    assert list(labels.values()) == [node_label(n) for n in graph.nodes]
    assert edges == expected(graph)
    dashed = {i for i, s in extra.items() if "dashed" in s}
    assert dashed == {f"n{i}" for i, n in enumerate(graph.nodes) if n.missing}


def test_svg_is_self_contained_accessible_and_holds_the_graph() -> None:
    graph = build_graph(RESOURCES)
    text = graph_svg(graph)
    root, nodes, edges = parse_svg(text)
    assert root.get("role") == "img" and root.get("aria-label") == root.find(f"{SVG}title").text
    assert root.get("aria-label") == "Workspace graph: 17 resources, 17 links"
    assert len(nodes) == len(graph.nodes) and len(edges) == len(graph.edges)
    shown = [(g.find(f"{SVG}text[@class='kind']").text, g.find(f"{SVG}text[@class='label']").text)
             for g in nodes]  # fmt: skip
    assert shown == [(n.kind, node_label(n, kind=False)) for n in graph.nodes]
    assert [g.find(f"{SVG}title").text for g in nodes] == [node_label(n) for n in graph.nodes]
    references = [p for p in edges if "reference" in p.get("class", "")]
    assert len(references) == sum(1 for e in graph.edges if e.field)
    fields = sorted(t.text or "" for t in root.iter(f"{SVG}text") if t.get("class") == "edge-label")
    assert fields == sorted(e.field for e in graph.edges if e.field)
    assert "<script" not in text and "href" not in text.replace('url(#arrow)', "")
    # the legend names every kind drawn
    legend = next(g for g in root.iter(f"{SVG}g") if g.get("class") == "legend")
    assert {n.kind for n in graph.nodes} <= {t.text for t in legend.iter(f"{SVG}text")}


def test_svg_puts_children_right_of_parents_and_references_right_of_their_targets() -> None:
    graph = build_graph(RESOURCES)
    _, nodes, _ = parse_svg(graph_svg(graph))
    x = {n.key: float(re.match(r"translate\(([\d.]+),", g.get("transform")).group(1))
         for n, g in zip(graph.nodes, nodes, strict=True)}  # fmt: skip
    for edge in graph.edges:
        child, parent = (edge.target, edge.source) if edge.contains else (edge.source, edge.target)
        assert x[child] > x[parent], edge


def test_marks_are_a_colour_and_a_symbol_in_every_format() -> None:
    graph = focus(build_graph(RESOURCES), "web/amp")
    marks = {D: "update", ("Mapping", "web/amp/sync"): "create",
             ("DestinationFilter", "web/amp/drop-tests"): "delete",
             ("Transformation", "web/rename"): "replace", S: "blocked"}  # fmt: skip
    ids = {n.key: f"n{i}" for i, n in enumerate(graph.nodes)}
    labels, edges, classes = parse_mermaid(graph_mermaid(graph, marks))
    assert edges == expected(graph, marks)
    for key, mark in marks.items():
        assert f"  class {ids[key]} {mark}" in classes
        symbol = {"update": "~", "create": "+", "delete": "-", "replace": "±", "blocked": "!"}[mark]
        assert labels[ids[key]] == f"{symbol} {key[0]} {key[1]}"
    assert labels[ids[("Function", "scrub")]] == "Function scrub"  # unmarked: no symbol
    _, _, extra = parse_dot(graph_dot(graph, marks))
    assert {i for i, s in extra.items() if "penwidth=3" in s} == {ids[k] for k in marks}
    _, nodes, _ = parse_svg(graph_svg(graph, marks))
    rects = {g.get("id"): g.find(f"{SVG}rect") for g in nodes}
    assert {i for i, r in rects.items() if r.get("stroke-width") == "3"} == {ids[k] for k in marks}
    assert rects[ids[D]].get("stroke") != rects[ids[S]].get("stroke")
    texts = {g.get("id"): g.find(f"{SVG}text[@class='label']").text for g in nodes}
    assert texts[ids[D]] == "~ web/amp" and texts[ids[S]] == "! web"


HOSTILE = [
    'x"]; click n0 href "javascript:alert(1)"',
    "</text><script>alert(1)</script>",
    "```\n%%{init: {'securityLevel': 'loose'}}%%\nclick n1 call alert()",
    "a\nb\u2028c\u202e\x1b[2J",
    '\\" ] ; n0 -> n1 [label="x',
    "#quot;&lt;b&gt;|pipe|\ud800\uffff",
]


def hostile_graph() -> Graph:
    nodes = [Node("Source", text) for text in HOSTILE] + [Node("Source", "ok")]
    edges = [Edge(("Source", "ok"), ("Source", text), text) for text in HOSTILE]
    return make_graph(nodes, [*edges, Edge(("Source", HOSTILE[0]), ("Source", HOSTILE[1]))])


def test_hostile_names_stay_one_inert_label_in_mermaid() -> None:
    graph = hostile_graph()
    text = graph_mermaid(graph, {("Source", HOSTILE[1]): "create"})
    labels, edges, _ = parse_mermaid(text)  # every line is a node, an edge or a class line
    assert len(text.splitlines()) == 1 + len(graph.nodes) + len(graph.edges) + 4
    assert len(labels) == len(graph.nodes) and len(edges) == len(graph.edges)
    for line in text.splitlines()[1:]:
        assert not re.match(r"\s*(click|%%)", line), line
        for quoted in re.findall(r'"([^"]*)"', line):
            assert not re.search(r"[<>`&|%\\\x00-\x1f\u2028\u202e]", quoted), line
    assert set(labels.values()) == {node_label(n, "create" if n.address == HOSTILE[1] else None)
                                    for n in graph.nodes}  # fmt: skip
    assert edges == expected(graph, {("Source", HOSTILE[1]): "create"})
    assert any("a\\nb\\u2028c\\u202e\\u001b[2J" in v for v in labels.values())


def test_hostile_names_stay_one_inert_string_in_dot() -> None:
    graph = hostile_graph()
    labels, edges, _ = parse_dot(graph_dot(graph))
    assert set(labels.values()) == {node_label(n) for n in graph.nodes}
    assert edges == expected(graph)
    assert len(graph_dot(graph).splitlines()) == 5 + len(graph.nodes) + len(graph.edges)


def test_hostile_names_stay_escaped_text_in_svg() -> None:
    graph = hostile_graph()
    text = graph_svg(graph, {("Source", HOSTILE[1]): "delete"})
    root, nodes, edges = parse_svg(text)  # well-formed: the surrogate and U+FFFF are escaped
    assert len(nodes) == len(graph.nodes) and len(edges) == len(graph.edges)
    assert not [e for e in root.iter() if e.tag.rsplit("}", 1)[-1] in ("script", "a", "foreignObject")]
    for element in root.iter():
        for name, value in element.attrib.items():
            assert not any(part in value for part in ("alert", "script", "click", "javascript")), \
                (name, value)  # fmt: skip
    titles = {g.find(f"{SVG}title").text for g in nodes}
    assert titles == {node_label(n, "delete" if n.address == HOSTILE[1] else None)
                      for n in graph.nodes}  # fmt: skip
    assert all("\n" not in (t.text or "") for t in root.iter(f"{SVG}text"))
    assert html.escape("</text><script>", quote=True) in text


# --- the plan's picture ----------------------------------------------------------------------

SRC, DST, MAP = KINDS["Source"], KINDS["Destination"], KINDS["Mapping"]
LIVE = {
    ("Source", "web"): {"catalog": "javascript"},
    ("Source", "other"): {"catalog": "javascript"},
    ("Destination", "web/amp"): {"catalog": "amplitude", "enabled": True,
                                 "settings": {"region": "eu"}},
    ("Destination", "other/braze"): {"catalog": "braze", "enabled": True},
    ("DestinationFilter", "web/amp/drop"): {"if": "true", "enabled": True},
    ("Model", "web/users"): {"query": "select 1", "identifier_column": "id"},
    ("Mapping", "web/amp/sync"): {"model": "web/users", "enabled": False},
    ("ConsentCategory", "Analytics"): {"destinations": ["web/amp"]},
}


def plan_of(edit: dict, extra: list[DesiredResource] = ()):
    desired = [DesiredResource(KINDS[kind], address, {**fields, **edit.get((kind, address), {})})
               for (kind, address), fields in LIVE.items()] + list(extra)  # fmt: skip
    current = [CurrentResource(KINDS[kind], address, dict(fields), f"e{i}")
               for i, ((kind, address), fields) in enumerate(LIVE.items())]  # fmt: skip
    return compute_plan("acme", desired, current, "digest")


def mermaid_block(md: str) -> str:
    start = md.index("```mermaid\n") + len("```mermaid\n")
    return md[start : md.index("\n```\n", start) + 1]


def test_a_small_plans_comment_draws_the_changes_and_their_neighbours_marked() -> None:
    plan = plan_of({D: {"settings": {"region": "us"}}})
    assert [c.key for c in plan.changes] == [D]
    md = render_plan_markdown(plan)
    assert md.index("| kind |") < md.index("<details open><summary>Graph: 1 changed resource and "
                                            "4 neighbours</summary>") < md.index("<details><summary>")
    labels, edges, classes = parse_mermaid(mermaid_block(md))
    assert set(labels.values()) == {"~ Destination web/amp", "Source web", "Mapping web/amp/sync",
                                    "DestinationFilter web/amp/drop", "ConsentCategory Analytics"}
    assert edges == {("Source web", "~ Destination web/amp", ""),
                     ("~ Destination web/amp", "Mapping web/amp/sync", ""),
                     ("~ Destination web/amp", "DestinationFilter web/amp/drop", ""),
                     ("ConsentCategory Analytics", "~ Destination web/amp", "destinations")}
    changed = next(i for i, v in labels.items() if v.startswith("~ "))
    assert f"  class {changed} update" in classes
    assert not any(line.endswith((" create", " delete")) for line in classes)
    # what seg show reads back from the saved JSON draws the same comment
    data = plan_to_json(plan)
    assert data["neighbourhood"]["edges"][0] == {"from": 0, "to": 1, "field": None}
    assert render_plan_markdown(plan_from_json(json.loads(json.dumps(data)))) == md


def test_a_create_and_a_delete_are_drawn_with_their_links() -> None:
    new = DesiredResource(MAP, "web/amp/new", {"model": "web/users", "enabled": False})
    plan = plan_of({}, [new])
    labels, edges, _ = parse_mermaid(mermaid_block(render_plan_markdown(plan)))
    assert ("+ Mapping web/amp/new", "Model web/users", "model") in edges
    assert ("Destination web/amp", "+ Mapping web/amp/new", "") in edges
    gone = compute_plan("acme", [], [CurrentResource(KINDS[k], a, dict(f))
                                     for (k, a), f in LIVE.items()])  # fmt: skip
    assert len(gone.changes) == len(LIVE)  # every resource deleted: still small enough
    labels, edges, classes = parse_mermaid(mermaid_block(render_plan_markdown(gone)))
    assert ("- Mapping web/amp/sync", "- Model web/users", "model") in edges
    assert all(v.startswith("- ") for v in labels.values())


def test_a_targeted_plan_draws_only_around_the_changes_it_kept() -> None:
    plan = plan_of({D: {"enabled": False}, ("Destination", "other/braze"): {"enabled": False}})
    assert len(plan.changes) == 2
    narrowed = replace(plan, changes=tuple(c for c in plan.changes if c.address == "other/braze"))
    labels, edges, _ = parse_mermaid(mermaid_block(render_plan_markdown(narrowed)))
    assert set(labels.values()) == {"Source other", "~ Destination other/braze"}
    assert plan_to_json(narrowed)["neighbourhood"]["nodes"] == [
        {"kind": "Source", "address": "other"}, {"kind": "Destination", "address": "other/braze"}]


def test_large_plans_and_plans_without_changes_render_as_before() -> None:
    many = [DesiredResource(SRC, f"s{i:03d}", {"catalog": "javascript"})
            for i in range(PLAN_MAX_CHANGES + 1)]  # fmt: skip
    large = compute_plan("acme", many, [])
    assert large.neighbourhood is None and large.drawn is None
    assert "```mermaid" not in render_plan_markdown(large)
    assert "neighbourhood" not in plan_to_json(large)
    assert compute_plan("acme", many[:PLAN_MAX_CHANGES], []).drawn is not None
    none = plan_of({})
    assert not none.changes and none.neighbourhood is None
    assert "mermaid" not in render_plan_markdown(none) and "neighbourhood" not in plan_to_json(none)
    # a small plan whose picture would hold too many nodes: a label on 70 sources changes
    sources = [DesiredResource(SRC, f"s{i:02d}", {"catalog": "javascript",
                                                 "labels": {"team": "core"}}) for i in range(70)]
    live = [CurrentResource(r.kind, r.address, dict(r.fields)) for r in sources]
    label = KINDS["Label"]
    crowded = compute_plan("acme", [*sources, DesiredResource(label, "team:core", {})], live)
    assert len(crowded.changes) == 1 and crowded.drawn is None
    assert PLAN_MAX_NODES < 71
    assert "```mermaid" not in render_plan_markdown(crowded)


def test_the_picture_never_pushes_a_changes_details_out_of_the_size_limit() -> None:
    plan = plan_of({D: {"settings": {"region": "us"}}})
    bare = render_plan_markdown(replace(plan, neighbourhood=None))
    drawn = render_plan_markdown(plan)
    assert "```mermaid" in drawn and len(drawn) > len(bare)
    tight = len(bare) + 200 + 10  # room for the details, not for the picture beside them
    assert render_plan_markdown(plan, max_chars=tight) == bare
    assert render_plan_markdown(plan, max_chars=len(drawn) + 200) == drawn


def test_a_forged_neighbourhood_cannot_break_out_of_the_mermaid_block() -> None:
    plan = plan_of({D: {"settings": {"region": "us"}}})
    data = plan_to_json(plan)
    data["neighbourhood"]["nodes"][0]["address"] = "x\n```\n<img src=x onerror=alert(1)>`"
    md = render_plan_markdown(plan_from_json(data))
    block = mermaid_block(md)
    labels, _, _ = parse_mermaid(block)
    assert "Source x\\n```\\n<img src=x onerror=alert(1)>`" in labels.values()
    assert "<img" not in block and "`" not in block
    for bad in ({"from": 0, "to": 99, "field": None}, {"from": True, "to": 1, "field": None}):
        broken = json.loads(json.dumps(plan_to_json(plan)))
        broken["neighbourhood"]["edges"].append(bad)
        with pytest.raises(ValueError):
            plan_from_json(broken)


def test_the_bound_of_a_picture_is_documented_where_it_is_enforced() -> None:
    assert MAX_DRAWN == 500 and (PLAN_MAX_CHANGES, PLAN_MAX_NODES) == (20, 60)


def test_values_from_the_environment_and_digests_draw_no_edge() -> None:
    fields = {"labels": {"team": "core", "region": "eu"}, "sources": ["a", "b", "c"], "x": 1}
    cut = without_paths(fields, {("labels", "team"), ("sources", 0), ("sources", 2), ("y", "z")})
    assert cut == {"labels": {"region": "eu"}, "sources": ["b"], "x": 1}
    assert fields == {"labels": {"team": "core", "region": "eu"}, "sources": ["a", "b", "c"],
                      "x": 1}  # copied along the paths, never changed in place  # fmt: skip
    assert without_paths(fields, ()) is fields
    graph = build_graph({S: {"tracking_plan": "secret:hmac:0123abcd"}})
    assert graph.edges == () and graph.keys == (S,)
    secret = "s3cr3t-team-from-env"
    desired = DesiredResource(SRC, "web", {"catalog": "javascript", "labels": {"team": secret}},
                              frozenset({("labels", "team")}))  # fmt: skip
    plan = compute_plan("acme", [desired], [])
    assert plan.drawn is not None and plan.drawn.keys == (S,)
    assert secret not in json.dumps(plan_to_json(plan)["neighbourhood"])
    assert secret not in mermaid_block(render_plan_markdown(plan))


def test_a_forged_neighbourhood_is_drawn_under_the_same_bounds() -> None:
    plan = plan_of({D: {"settings": {"region": "us"}}})
    data = plan_to_json(plan)
    extra = [{"kind": "Source", "address": f"x{i:02d}"} for i in range(PLAN_MAX_NODES)]
    first = len(data["neighbourhood"]["nodes"])
    data["neighbourhood"]["nodes"] += extra
    data["neighbourhood"]["edges"] += [{"from": first + i, "to": 1, "field": "labels.x"}
                                       for i in range(len(extra))]  # fmt: skip
    forged = plan_from_json(data)
    assert forged.neighbourhood is not None and len(forged.neighbourhood.nodes) > PLAN_MAX_NODES
    assert forged.drawn is None and "```mermaid" not in render_plan_markdown(forged)
    assert render_plan_markdown(forged) == render_plan_markdown(replace(plan, neighbourhood=None))
