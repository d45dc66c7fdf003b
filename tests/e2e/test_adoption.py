"""Adoption through `seg` as a process against `seg serve` (issue 12, item 1): `seg import`
writes existing resources' YAML (refusing to overwrite) and the next apply takes ownership;
`seg export --merge` adopts a 50-resource workspace made through the API, nothing deleted."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.managers import SOURCE, Workspace, seg, tree
from tests.e2e.processes import Server

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("adoption")
    srv = Server(f"sqlite:///{tmp / 'cp.db'}", tmp, "first")
    yield srv
    srv.stop()


def test_import_writes_the_yaml_and_apply_takes_ownership(server: Server, tmp_path: Path
                                                           ) -> None:  # fmt: skip
    ws = Workspace(server, "imports")
    ws.make_source("shop", catalog="stripe", settings={"api_key": "k-123", "sync_interval_hours": 6})
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


ADOPTION = re.compile(r"<!-- adoption:start -->\n```sh\n(.*?)```", re.S)


def readme_steps() -> list[tuple[str, str]]:
    """(command, the output its comment promises) for each line of README's worked example."""
    block = ADOPTION.search((REPO / "README.md").read_text())
    assert block, "README.md lost its adoption example"
    steps = []
    for line in block.group(1).splitlines():
        command, _, promise = line.partition("  # ")
        steps.append((command.strip(), promise.strip().split(" … ")[-1]))
    return steps


def test_fifty_resources_made_through_the_api_are_adopted(server: Server, tmp_path: Path
                                                          ) -> None:  # fmt: skip
    """README's worked example, run as written: a workspace `acme` holding 50 resources made
    through the API is adopted with export --merge and apply; nothing is deleted and the next
    plan is empty."""
    ws = Workspace(server, "acme")
    for i in range(10):
        ws.make_source(f"app-{i}")
        for j in range(4):
            name = f"workspaces/{ws.slug}/sources/app-{i}/destinations/dest-{j}"
            ws.call("POST", f"sources/app-{i}/destinations",
                    {"destination": {"name": name, "catalog": "amplitude",
                                     "settings": {"region": "eu"}}})  # fmt: skip
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "seg").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m seg "$@"\n')
    (shim / "seg").chmod(0o755)
    env = {**os.environ, **ws.env, "PATH": f"{shim}{os.pathsep}{os.environ['PATH']}",
           "NO_COLOR": "1"}  # fmt: skip
    cwd = tmp_path / "repo"
    cwd.mkdir()
    for command, promise in readme_steps():
        done = subprocess.run(["bash", "-c", f"{command}\ncode=$?; pwd > {tmp_path}/cwd; "
                               "exit $code"], cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=120)  # fmt: skip
        assert done.returncode == 0, f"{command}: {done.stdout}{done.stderr}"
        assert "Traceback" not in done.stderr
        assert promise in done.stdout, f"{command}: {promise!r} not in {done.stdout}"
        cwd = Path((tmp_path / "cwd").read_text().strip())
    plan = subprocess.run(["seg", "plan"], cwd=cwd, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert "not managed" not in plan.stdout and "destroy" not in plan.stdout
    sources = ws.managers()
    destinations = ws.managers("sources/-/destinations")
    assert len(sources) == 10 and len(destinations) == 40
    assert set(sources.values()) == set(destinations.values()) == {"growth-team"}
