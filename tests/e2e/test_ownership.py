"""Ownership through `seg` as a process against `seg serve` (issue 12, item 1): a fresh tree
never deletes what it did not make, two managers share one workspace without fighting,
and a database from before managers keeps seg's resources managed (adoption:
tests/e2e/test_adoption.py)."""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.managers import SOURCE, Workspace, seg, tree
from tests.e2e.processes import Server

pytestmark = pytest.mark.e2e


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("ownership")
    srv = Server(f"sqlite:///{tmp / 'cp.db'}", tmp, "first")
    yield srv
    srv.stop()


def test_a_fresh_tree_never_deletes_what_it_did_not_make(server: Server, tmp_path: Path) -> None:
    ws = Workspace(server, "fresh")
    ws.make_source("ui-made")
    root = tree(tmp_path / "t", ws.slug, {"web.yaml": SOURCE.format(name="web")})
    plan = seg("plan", "-w", str(root), env=ws.env)
    assert "Plan: 1 to add, 0 to change, 0 to destroy." in plan.stdout
    assert ("1 resource in workspace fresh is not managed by default (left alone; seg plan "
            "--show-unmanaged lists them)") in plan.stdout  # fmt: skip
    assert "ui-made" not in plan.stdout
    data = json.loads(seg("plan", "-w", str(root), "-o", "json", env=ws.env).stdout)
    assert data["not_managed"] == [{"address": "ui-made", "kind": "Source"}]
    assert data["summary"]["destroy"] == 0
    applied = seg("apply", "-w", str(root), "--auto-approve", "--show-unmanaged", env=ws.env)
    assert "    Source ui-made" in applied.stdout
    assert ws.managers() == {"sources/web": "default", "sources/ui-made": ""}
    seg("plan", "-w", str(root), "--detailed-exitcode", env=ws.env)

    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {ws.slug}\nunmanaged: delete\n")
    wholly = seg("apply", "-w", str(root), "--auto-approve", env=ws.env)
    assert "- Source ui-made" in wholly.stdout and "1 to destroy" in wholly.stdout
    assert ws.managers() == {"sources/web": "default"}


def test_two_managers_share_one_workspace(server: Server, tmp_path: Path) -> None:
    ws = Workspace(server, "shared")
    a = tree(tmp_path / "a", ws.slug, {"web.yaml": SOURCE.format(name="web")}, "manager: team-a\n")
    b_docs = {"ios.yaml": SOURCE.format(name="ios"),
              "amp.yaml": "kind: Destination\nname: amp\nspec:\n  source: web\n"
                          "  catalog: amplitude\n  enabled: false\n"}  # fmt: skip
    b = tree(tmp_path / "b", ws.slug, b_docs, "manager: team-b\nexternal: [Source/web]\n")
    seg("apply", "-w", str(a), "--auto-approve", env=ws.env)
    applied = seg("apply", "-w", str(b), "--auto-approve", env=ws.env)  # B refers to A's source
    assert "created Destination web/amp" in applied.stdout
    for root in (a, b):
        plan = seg("plan", "-w", str(root), "--detailed-exitcode", env=ws.env)
        assert "No changes" in plan.stdout and "not managed" not in plan.stdout
    assert ws.managers() == {"sources/web": "team-a", "sources/ios": "team-b"}
    assert ws.managers("sources/-/destinations") == {"sources/web/destinations/amp": "team-b"}

    # A removing its source would orphan B's destination: blocked, not a failed apply
    (a / "web.yaml").unlink()
    orphaning = seg("plan", "-w", str(a), env=ws.env, code=3)
    assert "! Source web" in orphaning.stdout and "web/amp stays beneath it" in orphaning.stdout
    (a / "web.yaml").write_text(SOURCE.format(name="web"))

    # A declaring B's source: blocked, naming B; nothing is applied
    (a / "ios.yaml").write_text(SOURCE.format(name="ios"))
    blocked = seg("plan", "-w", str(a), env=ws.env, code=3)
    assert "! Source ios" in blocked.stdout and "managed by 'team-b'" in blocked.stdout
    assert ws.managers()["sources/ios"] == "team-b"


def test_a_database_from_before_managers_keeps_seg_made_resources(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEG_")} | {"NO_COLOR": "1"}
    root = tree(tmp_path / "t", "acme", {"web.yaml": SOURCE.format(name="web")})
    seg("apply", "-w", str(root), "--auto-approve", env=env)
    db = root / ".seg" / "control-plane.db"
    with sqlite3.connect(db) as conn:  # the previous release: no manager column, and a
        conn.execute("ALTER TABLE resources DROP COLUMN manager")  # source made in a UI
        conn.execute("DROP TABLE alembic_version")  # and no schema version
        row = conn.execute("SELECT * FROM resources WHERE name LIKE '%/sources/web'").fetchone()
        columns = [c[1] for c in conn.execute("PRAGMA table_info(resources)")]
        ui = dict(zip(columns, row, strict=True)) | {
            "name": "workspaces/acme/sources/ui-made", "managed_paths": "[]"}
        conn.execute(f"INSERT INTO resources ({', '.join(ui)}) VALUES "
                     f"({', '.join('?' * len(ui))})", list(ui.values()))  # fmt: skip
    plan = seg("plan", "-w", str(root), "--detailed-exitcode", env=env)
    assert "No changes" in plan.stdout
    assert "1 resource in workspace acme is not managed by default" in plan.stdout
    with sqlite3.connect(db) as conn:
        managers = dict(conn.execute("SELECT name, manager FROM resources WHERE kind = 'Source'"))
    assert managers == {"workspaces/acme/sources/web": "default",
                        "workspaces/acme/sources/ui-made": ""}  # fmt: skip
