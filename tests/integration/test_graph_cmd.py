"""`seg graph` on a copy of the protocols example (every kind of edge a source has) through
Typer's runner: each output format parsed back to the example's nodes and edges, --focus and
--depth, a mistyped --focus, a workspace too large to draw, and no secret anywhere."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seg.commands.app import app
from tests.repo_files import copy_repo_dir

SECRET = "graph-SECRET-amplitude-key-1234"
SVG = "{http://www.w3.org/2000/svg}"

NODES = {
    "TrackingPlan checkout", "Source quarantine", "Source shop", "Destination shop/amplitude",
    "Destination shop/braze", "Destination shop/google-ads",
    "Transformation shop/product-id-lowercase", "Transformation shop/rename-order",
    "Alert shop/amplitude-delivery", "Alert shop/volume-drop", "ConsentCategory Advertising",
    "ConsentCategory Analytics", "ConsentCategory Functional", "Mapping shop/braze/track-events",
    "Mapping shop/google-ads/conversions",
}
SHOP = "Source shop"
EDGES = {
    (SHOP, "TrackingPlan checkout", "tracking_plan"),
    (SHOP, "Source quarantine", "schema_settings.forwarding_blocked_events_to"),
    (SHOP, "Source quarantine", "schema_settings.forwarding_violations_to"),
    *((SHOP, f"Destination shop/{d}", "") for d in ("amplitude", "braze", "google-ads")),
    *((SHOP, f"Transformation shop/{t}", "") for t in ("product-id-lowercase", "rename-order")),
    *((SHOP, f"Alert shop/{a}", "") for a in ("amplitude-delivery", "volume-drop")),
    ("Destination shop/braze", "Mapping shop/braze/track-events", ""),
    ("Destination shop/google-ads", "Mapping shop/google-ads/conversions", ""),
    ("Transformation shop/rename-order", "Destination shop/amplitude", "destination"),
    ("Alert shop/amplitude-delivery", "Destination shop/amplitude", "destination"),
    ("ConsentCategory Advertising", "Destination shop/braze", "destinations"),
    ("ConsentCategory Advertising", "Destination shop/google-ads", "destinations"),
    ("ConsentCategory Analytics", "Destination shop/amplitude", "destinations"),
    ("ConsentCategory Functional", "Destination shop/braze", "destinations"),
}


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    for var in ("SEG_API_URL", "SEG_TOKEN", "SEG_WORKSPACE", "SEG_ENV", "BRAZE_API_KEY",
                "SLACK_ALERTS_WEBHOOK"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)  # unset: a graph needs no secret
    monkeypatch.setenv("AMPLITUDE_API_KEY", SECRET)
    monkeypatch.setenv("NO_COLOR", "1")
    return CliRunner()


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return copy_repo_dir("examples/protocols", tmp_path / "protocols")


def seg_graph(runner: CliRunner, *args: str, code: int = 0) -> str:
    result = runner.invoke(app, ["graph", *args])
    assert "Traceback" not in result.output
    assert result.exit_code == code, result.output
    assert SECRET not in result.output
    return result.stdout if code == 0 else result.stderr


def mermaid(text: str) -> tuple[set[str], set[tuple[str, str, str]]]:
    lines = text.splitlines()
    assert lines[0] == "flowchart LR"
    labels = dict(re.findall(r'^  (n\d+)\["([^"]*)"\]$', text, re.M))
    edges = {(labels[a], labels[b], "") for a, b in re.findall(r"^  (n\d+) --> (n\d+)$", text, re.M)}
    edges |= {(labels[a], labels[b], f) for a, f, b in
              re.findall(r'^  (n\d+) -\.->\|"([^"]*)"\| (n\d+)$', text, re.M)}  # fmt: skip
    drawn = sum(1 for line in lines if " --> " in line or " -.->" in line)
    assert drawn == len(edges)
    return set(labels.values()), edges


def test_mermaid_by_default_draws_every_resource_and_edge(runner, root) -> None:
    nodes, edges = mermaid(seg_graph(runner, str(root)))
    assert nodes == NODES and edges == EDGES
    assert mermaid(seg_graph(runner, "-w", str(root), "-o", "mermaid")) == (nodes, edges)


def test_dot_draws_the_same_graph(runner, root) -> None:
    text = seg_graph(runner, str(root), "-o", "dot")
    assert text.startswith("digraph workspace {\n  rankdir=LR;\n") and text.endswith("}\n")
    labels = dict(re.findall(r'^  (n\d+) \[label="([^"]*)"', text, re.M))
    edges = {(labels[a], labels[b], f) for a, b, f in
             re.findall(r'^  (n\d+) -> (n\d+)(?: \[label="([^"]*)", style=dashed\])?;$', text,
                        re.M)}  # fmt: skip
    assert set(labels.values()) == NODES and edges == EDGES


def test_svg_draws_the_same_graph(runner, root) -> None:
    svg = ET.fromstring(seg_graph(runner, str(root), "-o", "svg"))
    assert svg.get("role") == "img" and svg.find(f"{SVG}title").text == svg.get("aria-label")
    nodes = [g for g in svg.iter(f"{SVG}g") if g.get("class") == "node"]
    assert {g.find(f"{SVG}title").text for g in nodes} == NODES
    paths = [p for p in svg.iter(f"{SVG}path") if "edge" in (p.get("class") or "").split()]
    assert len(paths) == len(EDGES)
    assert {p.find(f"{SVG}title").text for p in paths} == {
        f"{a} → {b}" + (f" ({f})" if f else "") for a, b, f in EDGES}


def test_focus_draws_a_neighbourhood_to_a_depth(runner, root) -> None:
    nodes, edges = mermaid(seg_graph(runner, str(root), "--focus", "shop/braze"))
    assert nodes == {"Destination shop/braze", SHOP, "Mapping shop/braze/track-events",
                     "ConsentCategory Advertising", "ConsentCategory Functional"}
    assert edges == {e for e in EDGES if e[0] in nodes and e[1] in nodes}
    wider, _ = mermaid(seg_graph(runner, str(root), "--focus", "destination:shop/braze",
                                 "--depth", "2"))  # fmt: skip
    assert wider == nodes | {
        "TrackingPlan checkout", "Source quarantine", "Destination shop/amplitude",
        "Destination shop/google-ads", "Transformation shop/product-id-lowercase",
        "Transformation shop/rename-order", "Alert shop/amplitude-delivery",
        "Alert shop/volume-drop"}  # every neighbour of shop, and Advertising's google-ads
    svg = ET.fromstring(seg_graph(runner, str(root), "-o", "svg", "--focus", "checkout"))
    assert sum(1 for g in svg.iter(f"{SVG}g") if g.get("class") == "node") == 2


def test_an_unknown_focus_is_one_line_with_a_did_you_mean(runner, root) -> None:
    err = seg_graph(runner, str(root), "--focus", "shop/brze", code=2)
    assert err == ("error: --focus: no resource has the address 'shop/brze' "
                   "(did you mean 'shop/braze'?)\n")  # fmt: skip
    assert seg_graph(runner, str(root), "--depth", "2", code=2) == (
        "error: --depth needs --focus ADDRESS\n")
    other = root.parent / "other"
    other.mkdir()
    assert seg_graph(runner, str(root), "-w", str(other), code=2) == (
        "error: name the workspace once: PATH or -w DIR\n")


def test_a_workspace_too_large_to_draw_asks_for_focus(runner, tmp_path) -> None:
    big = tmp_path / "big"
    big.mkdir()
    (big / "seg.yaml").write_text("version: seg/v1\nworkspace: big\n")
    docs = [f"kind: Source\nname: s{i:03d}\nspec: {{catalog: javascript}}\n" for i in range(500)]
    docs.append("kind: Destination\nname: amplitude\nspec: {source: s000, catalog: amplitude}\n")
    (big / "sources.yaml").write_text("---\n".join(docs))
    err = seg_graph(runner, str(big), code=2)
    assert err == ("error: the workspace has 501 resources, more than the 500 a picture can "
                   "show; draw a part of it with --focus ADDRESS\n")  # fmt: skip
    for output in ("mermaid", "dot", "svg"):
        assert seg_graph(runner, str(big), "-o", output, code=2) == err
    nodes, edges = mermaid(seg_graph(runner, str(big), "--focus", "s000"))
    assert nodes == {"Source s000", "Destination s000/amplitude"}
    assert edges == {("Source s000", "Destination s000/amplitude", "")}


def test_an_invalid_workspace_gets_validates_diagnostics(runner, tmp_path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "seg.yaml").write_text("version: seg/v1\nworkspace: bad\n")
    (bad / "m.yaml").write_text("kind: Mapping\nname: m\nspec: {source: web, destination: amp, "
                                "model: users}\n")  # fmt: skip
    err = seg_graph(runner, str(bad), code=1)
    assert "m.yaml:" in err and "error" in err
