"""Functions, their instances and an insert function through `seg serve` (SQLite and
PostgreSQL) with `seg` as a process: examples/functions plans, applies and converges; the
encrypted settings reach neither the output, the log nor the database in clear; a function
with instances is refused a delete (409, one line); detaching and deleting in one apply
works; the export writes the code to .js files and plans empty."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.processes import Server, run
from tests.helpers import error_body
from tests.repo_files import copy_repo_dir

pytestmark = pytest.mark.e2e

SECRETS = {"PARTNER_SHARED_SECRET": "served-partner-v4lue", "CRM_API_TOKEN": "served-crm-t0ken",
           "BRAZE_API_KEY": "served-braze-k3y"}  # fmt: skip


def example(tmp_path: Path, slug: str) -> Path:
    root = tmp_path / "functions"
    copy_repo_dir("examples/functions", root)
    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {slug}\n")
    return root


def test_the_functions_example_through_seg_serve(server: Server, tmp_path: Path,
                                                 slug: str) -> None:  # fmt: skip
    root = example(tmp_path, slug)
    env = server.client_env(**SECRETS)
    plan = run("plan", "-w", str(root), env=env)
    assert plan.returncode == 0, plan.stderr
    applied = run("apply", "-w", str(root), "--auto-approve", env=env)
    assert applied.returncode == 0, applied.stderr
    again = run("plan", "-w", str(root), "--detailed-exitcode", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    shown = plan.stdout + applied.stdout + applied.stderr + server.log_text()
    stored = server.database_bytes()
    for value in SECRETS.values():
        assert value not in shown and value.encode() not in stored

    braze = server.get(f"workspaces/{slug}/sources/web/destinations/braze")
    assert braze["insert_function"] == f"workspaces/{slug}/functions/scrub-pii"
    assert braze["insert_function_enabled"] is True
    crm = server.get(f"workspaces/{slug}/sources/web/destinations/crm")
    assert crm["function"] == f"workspaces/{slug}/functions/to-crm" and "catalog" not in crm

    # A function its instances still name cannot leave the YAML alone (validate says so).
    gone = (root / "functions.yaml").read_text().split("---\n")
    (root / "functions.yaml").write_text("---\n".join(d for d in gone if "name: to-crm" not in d))
    refused = run("validate", "-w", str(root), env=env)
    assert refused.returncode == 1 and "refers to function 'to-crm'" in refused.stdout + \
        refused.stderr  # fmt: skip

    # Detach the insert function and delete every function with its instances in one apply.
    (root / "functions.yaml").write_text("")
    sources = (root / "sources.yaml").read_text().split("---\n")
    kept = [d for d in sources if "name: crm" not in d and "name: partner-webhook" not in d]
    text = "---\n".join(kept).replace("  insert_function: scrub-pii\n", "").replace(
        "  insert_function_enabled: true\n", "")
    (root / "sources.yaml").write_text(text)
    applied = run("apply", "-w", str(root), "--auto-approve", env=env)
    assert applied.returncode == 0, applied.stderr
    assert server.get(f"workspaces/{slug}/functions").get("functions", []) == []


def test_the_api_refuses_to_delete_a_function_in_use(server: Server, tmp_path: Path,
                                                     slug: str) -> None:  # fmt: skip
    import httpx

    root = example(tmp_path, slug)
    env = server.client_env(**SECRETS)
    assert run("apply", "-w", str(root), "--auto-approve", env=env).returncode == 0
    answer = httpx.delete(f"{server.url}/v1beta/workspaces/{slug}/functions/scrub-pii",
                          headers={"Authorization": f"Bearer {server.token}"})  # fmt: skip
    assert answer.status_code == 409
    assert error_body(answer) == {
        "error": "function scrub-pii is in use by destination web/braze (uses it as insert "
                 "function); remove them first", "code": 9}  # fmt: skip
    out = tmp_path / "exported"
    exported = run("export", "-w", str(out), "--slug", slug, env=env)
    assert exported.returncode == 0, exported.stderr
    assert (out / "functions" / "to-crm.js").read_text() == (
        root / "functions" / "to-crm.js").read_text()
    names = {"PARTNER_WEBHOOK_SETTINGS_SHAREDSECRET": "PARTNER_SHARED_SECRET",
             "WEB_CRM_SETTINGS_APITOKEN": "CRM_API_TOKEN", "WEB_BRAZE_SETTINGS_API_KEY":
             "BRAZE_API_KEY"}  # fmt: skip
    env.update({f"SEG_SECRET_{k}": SECRETS[v] for k, v in names.items()})
    plan = run("plan", "-w", str(out), "--detailed-exitcode", env=env)
    assert plan.returncode == 0, plan.stdout + plan.stderr
