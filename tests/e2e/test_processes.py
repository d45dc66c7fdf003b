"""The key flows as real processes: `seg serve` on a free port, `seg` as a subprocess."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from seg.model.secrets import is_digest
from tests.e2e.processes import Server, free_port, run
from tests.integration.documents import DESTS

AMPLITUDE = DESTS.split("---")[0]

pytestmark = pytest.mark.e2e

SECRET = "e2e-SECRET-token-777"
LIST_SECRET = "e2e-LIST-secret-888"  # a ${env:…} inside a list


WORKSPACE = "kind: Source\nname: web\nspec:\n  catalog: javascript\n---\n" + AMPLITUDE.replace(
    "    region: eu", '    region: eu\n    traits_to_append: [first, "${env:AMP_HOST}"]'
)


def test_plan_apply_plan_then_one_field_edit(server: Server, write_workspace, slug: str) -> None:
    root = write_workspace({"workspace.yaml": WORKSPACE}, workspace=slug)
    env = server.client_env(AMP_KEY=SECRET, AMP_HOST=LIST_SECRET)
    first = run("plan", "-w", str(root), "--detailed-exitcode", env=env)
    assert first.returncode == 2, first.stderr
    applied = run("apply", "-w", str(root), "--auto-approve", env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    again = run("plan", "-w", str(root), "--detailed-exitcode", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    before = server.get(f"workspaces/{slug}/sources/web/destinations/amplitude")

    path = root / "workspace.yaml"
    path.write_text(path.read_text().replace("region: eu", "region: us"))
    plan = run("plan", "-w", str(root), "-o", "json", env=env)
    (change,) = json.loads(plan.stdout)["changes"]
    assert change["update_mask"] == ["destination.settings.region"]
    assert run("apply", "-w", str(root), "--auto-approve", env=env).returncode == 0
    after = server.get(f"workspaces/{slug}/sources/web/destinations/amplitude")
    assert after["settings"] == {**before["settings"], "region": "us"}
    assert {k: v for k, v in after.items() if k not in ("settings", "etag", "update_time")} == {
        k: v for k, v in before.items() if k not in ("settings", "etag", "update_time")
    }
    events = server.get(f"workspaces/{slug}/audit-events")["audit_events"]
    mine = [e for e in events if e["resource"].endswith("/destinations/amplitude")]
    assert mine[0]["method"] == "PATCH" and mine[0]["paths"] == ["destination.settings.region"]
    assert events[0]["resource"] == f"workspaces/{slug}/lock" and events[0]["method"] == "DELETE"
    log = Path(server.log.name).read_text()
    for text in (first.stdout, applied.stdout, again.stdout, plan.stdout, log, json.dumps(events),
                 first.stderr, applied.stderr, json.dumps(before), json.dumps(after)):  # fmt: skip
        assert SECRET not in text and LIST_SECRET not in text
    traits = before["settings"]["traits_to_append"]
    assert traits[0] == "first" and is_digest(traits[1])
    assert SECRET.encode() not in server.database_bytes()  # encrypted at rest
    assert LIST_SECRET.encode() not in server.database_bytes()


def test_api_errors_are_one_line_without_traceback(server: Server, write_workspace, slug) -> None:
    root = write_workspace({"workspace.yaml": WORKSPACE}, workspace=slug)
    wrong = {**server.client_env(AMP_KEY="x", AMP_HOST="y"), "SEG_TOKEN": "bad"}
    bad = run("plan", "-w", str(root), env=wrong)
    assert bad.returncode == 1
    [line] = bad.stderr.strip().splitlines()
    assert re.fullmatch(  # the request id, to quote to the server's operator
        r"error: control plane: the access token is missing or invalid \[HTTP 401, code 16\] "
        rf"\(GET /v1beta/workspaces/{slug}, request id [0-9a-f]{{32}}\)", line), line
    reader = run("server", "token", "create", "--slug", slug, "--scope", "workspace:read",
                 "--description", "ci reader", env=server.env).stdout.strip()  # fmt: skip
    env = server.client_env(AMP_KEY="x", AMP_HOST="y", SEG_TOKEN=reader)
    assert run("plan", "-w", str(root), env=env).returncode == 0  # plan needs only read
    denied = run("apply", "-w", str(root), "--auto-approve", env=env)
    assert denied.returncode == 1 and "insufficient scope [HTTP 403, code 7]" in denied.stderr
    assert "Traceback" not in denied.stdout + denied.stderr
    down = run("plan", "-w", str(root), "--api-url", f"http://127.0.0.1:{free_port()}", env=env)
    assert down.returncode == 1 and "cannot reach the control plane" in down.stderr


def test_embedded_default_needs_nothing_started(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEG_")}
    assert run("init", str(tmp_path / "ws"), env=env).returncode == 0
    root = str(tmp_path / "ws")
    assert run("plan", "-w", root, "--detailed-exitcode", env=env).returncode == 2
    assert run("apply", "-w", root, "--auto-approve", env=env).returncode == 0
    assert run("plan", "-w", root, "--detailed-exitcode", env=env).returncode == 0
    assert (tmp_path / "ws" / ".seg" / "control-plane.db").is_file()
