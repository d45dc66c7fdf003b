"""A function's code through the whole loop, as processes (`seg serve`, `seg`): apply, edit the
code file, plan shows exactly that change as a diff with v1 → v2, apply, two versions with
v2 LATEST and DEPLOYED, an empty plan; then a restore, which the next plan shows."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.e2e.processes import Server, run

pytestmark = pytest.mark.e2e

FUNCTION = """\
kind: Function
name: enrich
spec:
  type: destination
  code_file: enrich.js
"""
CODE = "async function onTrack(event) {\n  return event\n}\n"
EDITED = "async function onTrack(event) {\n  event.properties.seen = true\n  return event\n}\n"


def test_edit_plan_apply_versions_restore(server: Server, write_workspace, slug: str) -> None:
    root = write_workspace({"functions/enrich.yaml": FUNCTION, "functions/enrich.js": CODE},
                           workspace=slug)  # fmt: skip
    env = server.client_env()
    applied = run("apply", "-w", str(root), "--auto-approve", env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert run("plan", "-w", str(root), "--detailed-exitcode", env=env).returncode == 0

    (root / "functions" / "enrich.js").write_text(EDITED)
    plan = run("plan", "-w", str(root), "--detailed-exitcode", env=env, cwd=root)
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in plan.stdout
    assert "~ code: v1 → v2" in plan.stdout
    diff = ["--- functions/enrich.js", "+++ functions/enrich.js", "@@ -1,3 +1,4 @@",
            " async function onTrack(event) {", "+  event.properties.seen = true",
            "   return event", " }"]  # fmt: skip
    shown = [line[11:] for line in plan.stdout.splitlines() if line.startswith(" " * 11)]
    assert shown == diff, plan.stdout
    assert "deploys v2 (no instance declared)" in plan.stdout
    as_json = json.loads(run("plan", "-w", str(root), "-o", "json", env=env, cwd=root).stdout)
    (change,) = as_json["changes"]
    assert change["update_mask"] == ["function.code"]
    assert change["version"]["from"] == 1 and change["version"]["to"] == 2
    assert change["version"]["diff"] == "\n".join(diff)

    applied = run("apply", "-w", str(root), "--auto-approve", env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    listed = run("function", "versions", "enrich", "-w", str(root), "-o", "json", env=env)
    assert listed.returncode == 0, listed.stderr
    versions = json.loads(listed.stdout)["versions"]
    assert [(v["version"], v["labels"]) for v in versions] == [(2, ["LATEST", "DEPLOYED"]),
                                                              (1, [])]  # fmt: skip
    text = run("function", "versions", "enrich", "-w", str(root), env=env).stdout
    assert "Function enrich: 2 versions" in text and "LATEST, DEPLOYED" in text
    assert run("plan", "-w", str(root), "--detailed-exitcode", env=env).returncode == 0

    # a write: while another holds the workspace lock, restore waits (--lock-timeout) and fails
    lock_url = f"{server.url}/v1beta/workspaces/{slug}/lock"
    auth = {"Authorization": f"Bearer {server.token}"}
    lock = httpx.post(lock_url, json={"holder": "seg apply by ci"}, headers=auth).json()
    blocked = run("function", "restore", "enrich", "1", "-w", str(root), env=env)
    assert blocked.returncode == 1 and "seg apply by ci" in blocked.stderr, blocked.stderr
    assert server.get(f"workspaces/{slug}/functions/enrich")["latest_version"] == 2
    httpx.delete(lock_url, params={"id": lock["id"]}, headers=auth).raise_for_status()

    restored = run("function", "restore", "enrich", "1", "-w", str(root), env=env)
    assert restored.returncode == 0, restored.stderr
    assert "Restored Function enrich v1 as v3 (deployed: v3)." in restored.stdout
    assert "the next seg plan shows the difference" in restored.stderr
    live = server.get(f"workspaces/{slug}/functions/enrich")
    assert live["code"] == CODE and live["latest_version"] == 3
    after = run("plan", "-w", str(root), "--detailed-exitcode", env=env, cwd=root)
    assert after.returncode == 2 and "~ code: v3 → v4" in after.stdout

    missing = run("function", "restore", "enrich", "7", "-w", str(root), env=env)
    assert missing.returncode == 1 and missing.stdout == ""
    assert missing.stderr.count("\n") == 1 and "versions/7 not found" in missing.stderr
    assert "Traceback" not in missing.stderr
