"""Adoption through `seg` as a process against `seg serve` (issue 12, item 1): `seg import`
writes existing resources' YAML (refusing to overwrite) and the next apply takes ownership;
`seg export --merge` adopts a 50-resource workspace made through the API, nothing deleted."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.test_ownership import SOURCE, Workspace, seg, tree
from tests.e2e.test_processes import Server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("adoption")
    srv = Server(f"sqlite:///{tmp / 'cp.db'}", tmp, "first")
    yield srv
    srv.stop()


def test_import_writes_the_yaml_and_apply_takes_ownership(server: Server, tmp_path: Path
                                                           ) -> None:  # fmt: skip
    ws = Workspace(server, "imports")
    ws.make_source("shop", settings={"api_key": "k-123", "region": "eu"})
    ws.make_source("blog")
    name = f"workspaces/{ws.slug}/sources/blog/destinations/amp"
    ws.call("POST", "sources/blog/destinations",
            {"destination": {"name": name, "catalog": "amplitude"}})  # fmt: skip
    root = tree(tmp_path / "t", ws.slug, {}, "manager: growth-team\n")
    unknown = seg("import", "-w", str(root), "Source/shpo", env=ws.env, code=1)
    assert "did you mean 'Source/shop'?" in unknown.stderr
    assert sorted(p.name for p in root.iterdir()) == ["seg.yaml"]  # nothing written
    done = seg("import", "-w", str(root), "Source/shop", env=ws.env)
    assert "imported Source shop" in done.stdout
    text = (root / "sources" / "shop.yaml").read_text()
    assert "${env:SEG_SECRET_SHOP_SETTINGS_API_KEY}" in text and "k-123" not in text
    env = {**ws.env, "SEG_SECRET_SHOP_SETTINGS_API_KEY": "k-123"}
    again = seg("import", "-w", str(root), "shop", env=env, code=1)
    assert "declared already" in again.stderr
    plan = seg("plan", "-w", str(root), env=env)
    assert "~ Source shop (adopt)" in plan.stdout
    assert "Plan: 1 to adopt, 0 to add, 0 to change, 0 to destroy." in plan.stdout
    applied = seg("apply", "-w", str(root), "--auto-approve", env=env)
    assert "adopted Source shop" in applied.stdout
    assert ws.managers() == {"sources/shop": "growth-team", "sources/blog": ""}
    child = seg("import", "-w", str(root), "blog/amp", env=env)
    assert "sits under Source blog, which this tree does not declare" in child.stderr
    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {ws.slug}\n"
                                   "manager: growth-team\nexternal: [Source/blog]\n")
    seg("apply", "-w", str(root), "--auto-approve", env=env)  # adopts the destination only
    assert ws.managers() == {"sources/shop": "growth-team", "sources/blog": ""}
    assert ws.managers("sources/-/destinations") == {"sources/blog/destinations/amp":
                                                     "growth-team"}  # fmt: skip
    assert "No changes" in seg("plan", "-w", str(root), "--detailed-exitcode", env=env).stdout
    (root / "sources" / "blog.yaml").write_text(SOURCE.format(name="other"))
    refused = seg("import", "-w", str(root), "blog", env=env, code=1)
    assert "not overwriting" in refused.stderr
    assert (root / "sources" / "blog.yaml").read_text() == SOURCE.format(name="other")


def test_fifty_resources_made_through_the_api_are_adopted(server: Server, tmp_path: Path
                                                          ) -> None:  # fmt: skip
    """The README's worked example: export --merge, plan, apply; nothing deleted."""
    ws = Workspace(server, "fifty")
    for i in range(10):
        ws.make_source(f"app-{i}")
        for j in range(4):
            name = f"workspaces/{ws.slug}/sources/app-{i}/destinations/dest-{j}"
            ws.call("POST", f"sources/app-{i}/destinations",
                    {"destination": {"name": name, "catalog": "amplitude",
                                     "settings": {"region": "eu"}}})  # fmt: skip
    root = tree(tmp_path / "t", ws.slug, {}, "manager: growth-team\n")
    first = seg("plan", "-w", str(root), "--detailed-exitcode", env=ws.env)
    assert ("50 resources in workspace fifty are not managed by growth-team"
            in first.stdout)  # fmt: skip
    merged = seg("export", "-w", str(root), "--merge", env=ws.env)
    assert "Exported 50 resources" in merged.stdout
    plan = seg("plan", "-w", str(root), "--detailed-exitcode", env=ws.env, code=2)
    assert "Plan: 50 to adopt, 0 to add, 0 to change, 0 to destroy." in plan.stdout
    seg("apply", "-w", str(root), "--auto-approve", env=ws.env)
    plan = seg("plan", "-w", str(root), "--detailed-exitcode", env=ws.env)
    assert "No changes" in plan.stdout and "not managed" not in plan.stdout
    sources = ws.managers()
    destinations = ws.managers("sources/-/destinations")
    assert len(sources) == 10 and len(destinations) == 40
    assert set(sources.values()) == set(destinations.values()) == {"growth-team"}
