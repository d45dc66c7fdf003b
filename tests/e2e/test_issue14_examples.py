"""Issue 14's done-when, as processes on SQLite and PostgreSQL: the functions and warehouse
examples applied against `seg serve`; one function's code edited shows a one-version plan
with the code diff; each workspace exported and planned back to no changes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.processes import Server, run
from tests.repo_files import copy_repo_dir

pytestmark = pytest.mark.e2e

SECRETS = {"PARTNER_SHARED_SECRET": "ex14-partner-v4lue", "CRM_API_TOKEN": "ex14-crm-t0ken",
           "BRAZE_API_KEY": "ex14-braze-k3y", "WAREHOUSE_PASSWORD": "ex14-wh-passw0rd"}  # fmt: skip
# The resource each secret lives in, as the export's listing names it.
OWNERS = {"partner-webhook": "PARTNER_SHARED_SECRET", "web/crm": "CRM_API_TOKEN",
          "web/braze": "BRAZE_API_KEY", "analytics": "WAREHOUSE_PASSWORD"}  # fmt: skip


def example(name: str, tmp_path: Path, slug: str) -> Path:
    root = copy_repo_dir(f"examples/{name}", tmp_path / name)
    config = (root / "seg.yaml").read_text()
    (root / "seg.yaml").write_text(config.replace(f"workspace: {name}", f"workspace: {slug}"))
    return root


def exported_round_trip(root: Path, env: dict[str, str], slug: str, out: Path) -> None:
    """Export the live workspace, give the placeholders the values, and plan: no changes."""
    done = run("export", "-w", str(out), "--slug", slug, env=env)
    assert done.returncode == 0, done.stderr
    listing = (out / "secrets.env.example").read_text()
    names = {}
    for line in listing.splitlines()[1:]:
        var, where = line.split("=  # ")
        address = where.split()[0]
        names[var] = SECRETS[OWNERS[address]]
    for path in out.rglob("*"):
        if path.is_file():
            assert not any(v in path.read_text() for v in SECRETS.values()), path
    plan = run("plan", "-w", str(out), "--detailed-exitcode", env={**env, **names})
    assert plan.returncode == 0, plan.stdout + plan.stderr


def test_functions_example_edit_one_function_then_export(server: Server, tmp_path: Path,
                                                         slug: str) -> None:  # fmt: skip
    root = example("functions", tmp_path, slug)
    env = server.client_env(**SECRETS)
    applied = run("apply", "-w", str(root), "--auto-approve", env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert run("plan", "-w", str(root), "--detailed-exitcode", env=env).returncode == 0

    code = root / "functions" / "scrub-pii.js"
    code.write_text(code.read_text().replace("return event\n}", "event.context.scrubbed = true\n"
                                             "  return event\n}", 1))  # fmt: skip
    plan = run("plan", "-w", str(root), "--detailed-exitcode", env=env, cwd=root)
    assert plan.returncode == 2, plan.stdout + plan.stderr
    assert "Plan: 0 to add, 1 to change, 0 to destroy." in plan.stdout
    assert "code: v1 → v2" in plan.stdout
    assert "--- functions/scrub-pii.js" in plan.stdout and "+++ functions/scrub-pii.js" in plan.stdout
    assert "+event.context.scrubbed=true" in plan.stdout.replace(" ", "")
    assert "deploys v2 to: Destination web/braze" in plan.stdout
    as_json = json.loads(run("plan", "-w", str(root), "-o", "json", env=env, cwd=root).stdout)
    (change,) = as_json["changes"]
    assert change["update_mask"] == ["function.code"] and change["version"]["to"] == 2

    applied = run("apply", "-w", str(root), "--auto-approve", env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert server.get(f"workspaces/{slug}/functions/scrub-pii")["deployed_version"] == 2
    assert run("plan", "-w", str(root), "--detailed-exitcode", env=env).returncode == 0
    out = tmp_path / "exported"
    exported_round_trip(root, env, slug, out)
    assert (out / "functions").is_dir() and any((out / "functions").glob("*.js"))


def test_warehouse_example_applies_and_exports_back(server: Server, tmp_path: Path,
                                                    slug: str) -> None:  # fmt: skip
    root = example("warehouse", tmp_path, slug)
    env = server.client_env(**SECRETS)
    applied = run("apply", "-w", str(root), "--auto-approve", env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert run("plan", "-w", str(root), "--detailed-exitcode", env=env).returncode == 0
    live = server.get(f"workspaces/{slug}/warehouses/analytics")
    assert sorted(live["sources"]) == ["backend", "web"]  # names in the workspace
    assert live["settings"]["password"].startswith("secret:hmac:")
    exported_round_trip(root, env, slug, tmp_path / "exported")
