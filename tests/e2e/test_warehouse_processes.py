"""Warehouses against `seg serve` (SQLite and PostgreSQL), through real processes: a plan made
with a token that is not a workspace owner's says which changes only owners may make, and the
apply is refused for them (403) while an owner's token applies."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.processes import Server, run

pytestmark = pytest.mark.e2e

SOURCES = "kind: Source\nname: web\nspec: {catalog: javascript}\n"
WAREHOUSE = """\
kind: Warehouse
name: lake
spec:
  catalog: snowflake
  settings: {account: a, database: d, warehouse: w, user: u, password: '${env:WH_PW}'}
  sources: [web]
"""
SELECTIVE = "  selective_sync:\n    web:\n      enabled: false\n"


def tree(root: Path, slug: str, *docs: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {slug}\n")
    (root / "resources.yaml").write_text("---\n".join(docs))
    return root


def test_a_non_owner_plan_says_selective_sync_needs_an_owner(server: Server, tmp_path: Path,
                                                             slug: str) -> None:  # fmt: skip
    root = tree(tmp_path / "ws", slug, SOURCES, WAREHOUSE)
    owner = server.client_env(WH_PW="pw")
    assert run("apply", "-w", str(root), "--auto-approve", env=owner).returncode == 0
    tree(root, slug, SOURCES, WAREHOUSE + SELECTIVE)
    writer = run("server", "token", "create", "--slug", slug, "--scope", "workspace:write",
                 "--description", "ci writer", env=server.env).stdout.strip()  # fmt: skip
    env = {**owner, "SEG_TOKEN": writer}
    plan = run("plan", "-w", str(root), env=env)
    assert plan.returncode == 0, plan.stderr
    assert ("warning: only workspace owners may change Warehouse lake.selective_sync; this "
            "token is not an owner's") in plan.stderr  # fmt: skip
    quiet = run("plan", "-w", str(root), env=owner)
    assert quiet.returncode == 0 and "warning" not in quiet.stderr
    denied = run("apply", "-w", str(root), "--auto-approve", env=env)
    assert denied.returncode == 1
    assert "only workspace owners may change warehouse.selective_sync" in denied.stdout
    assert "Traceback" not in denied.stdout + denied.stderr
    applied = run("apply", "-w", str(root), "--auto-approve", env=owner)
    assert applied.returncode == 0, applied.stderr
    assert run("plan", "-w", str(root), "--detailed-exitcode", env=env).returncode == 0
