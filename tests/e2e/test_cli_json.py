"""Machine-readable output through ``seg`` as a process: ``validate -o json`` and ``apply -o
json`` own stdout, every ``-o json`` document carries its format_version, ``seg show`` renders
a saved plan offline; and the wording of the human output (slug, plurals, diff)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.cli_workspace import (
    RESOURCES,
    base_env,
    commit_two_revisions,
    make_workspace,
    run,
    run_all,
)

pytestmark = pytest.mark.e2e


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "ws")


def test_validate_json_on_success_and_on_failure(ws: Path, tmp_path: Path) -> None:
    env = base_env(tmp_path)
    ok = run(["validate", "-w", str(ws), "-o", "json"], env)
    assert ok.returncode == 0 and ok.stderr == ""
    assert json.loads(ok.stdout) == {
        "format_version": "1.0", "valid": True, "workspace": "shop", "directory": str(ws),
        "resources": 3, "kinds": {"Source": 1, "Destination": 1, "TrackingPlan": 1},
        "missing_variables": [], "diagnostics": []}  # fmt: skip
    broken = RESOURCES.replace("display_name: Web", "dispaly_name: Web")
    (ws / "resources.yaml").write_text(broken + "---\nkind: Source\nname: Bad\nspec: {}\n")
    bad = run(["validate", "-w", str(ws), "-o", "json"], env)
    assert bad.returncode == 1 and bad.stderr == ""
    data = json.loads(bad.stdout)  # the whole of stdout is the document
    assert data["format_version"] == "1.0" and data["valid"] is False
    assert data["workspace"] is None and len(data["diagnostics"]) >= 2
    for diag in data["diagnostics"]:
        assert set(diag) == {"file", "line", "col", "message", "code", "severity"}
        assert diag["file"].endswith("resources.yaml") and diag["line"] >= 1 <= diag["col"]
    first = data["diagnostics"][0]
    assert (first["line"], first["code"]) == (3, "schema/unknown-key")
    assert "dispaly_name" in first["message"]
    text = run(["validate", "-w", str(ws)], env)
    assert text.returncode == 1 and text.stdout == "" and "resources.yaml:3:" in text.stderr


def test_apply_json_is_the_only_thing_on_stdout(ws: Path, tmp_path: Path) -> None:
    env = base_env(tmp_path)
    applied = run(["apply", "-w", str(ws), "--auto-approve", "-o", "json"], env)
    assert applied.returncode == 0, applied.stderr
    data = json.loads(applied.stdout)
    assert data["format_version"] == "1.0" and data["workspace"] == "shop"
    assert data["status"] == "applied" and data["stopped"] is None
    assert data["summary"] == {"applied": 3, "failed": 0, "skipped": 0, "not_attempted": 0}
    assert {(c["kind"], c["address"], c["action"], c["operation"], c["status"], c["error"])
            for c in data["changes"]} == {
        ("Source", "web", "create", "create", "applied", None),
        ("Destination", "web/amplitude", "create", "create", "applied", None),
        ("TrackingPlan", "orders", "create", "create", "applied", None)}  # fmt: skip
    # the plan and the progress went to stderr
    assert "+ Source web" in applied.stderr and "Apply complete: 3 applied" in applied.stderr
    (ws / "resources.yaml").write_text(RESOURCES.replace("region: us", "region: eu"))
    saved = tmp_path / "p.json"
    assert run(["plan", "-w", str(ws), "--out", str(saved)], env).returncode == 0
    from_file = run(["apply", str(saved), "-w", str(ws), "-o", "json"], env)
    assert from_file.returncode == 0, from_file.stderr
    (change,) = json.loads(from_file.stdout)["changes"]
    assert (change["address"], change["action"], change["status"]) == (
        "web/amplitude", "update", "applied")  # fmt: skip
    again = run(["apply", "-w", str(ws), "--auto-approve", "-o", "json"], env)
    assert again.returncode == 0 and json.loads(again.stdout)["status"] == "no_changes"
    text = run(["apply", "-w", str(ws), "--auto-approve"], env)  # as lock status: not JSON
    assert text.returncode == 0 and text.stdout.startswith("No changes.") and text.stderr == ""


def test_every_json_output_carries_a_format_version(ws: Path, tmp_path: Path) -> None:
    env = base_env(tmp_path, SEG_DATABASE_URL=f"sqlite:///{tmp_path / 'cp.db'}",
                   SEG_SECRET_KEY_FILE=str(tmp_path / "cp.key"))  # fmt: skip
    commit_two_revisions(ws)
    events = tmp_path / "events.jsonl"
    events.write_text('{"type": "track", "event": "Order Completed", "properties": {}}\n')
    (tmp_path / "event.json").write_text('{"type": "track"}')
    saved = tmp_path / "p.json"
    assert run(["plan", "-w", str(ws), "--out", str(saved)], env).returncode == 0
    w = ["-w", str(ws)]
    assert run(["server", "init", "--slug", "cp", "-o", "json"], env).returncode == 0
    offline = {  # these do not open the workspace's embedded control plane: run at once
        "server token create": ["server", "token", "create", "--slug", "cp", "--scope",
                                "workspace:read", "--description", "ci"],
        "show": ["show", str(saved)],
        "diff": ["diff", *w, "--base", "HEAD~1"],
        "check": ["check", *w, "--base", "HEAD~1", "--offline"],
        "fql eval": ["fql", "eval", "type = 'track'", "--event", str(tmp_path / "event.json")],
        "filter test": ["filter", "test", *w, "--destination", "web/amplitude",
                        "--events", str(events)],
        "tracking-plan check-events": ["tracking-plan", "check-events", "orders", *w,
                                       "--events", str(events)],
    }  # fmt: skip
    online = {  # validate and apply: the tests above
        "plan": ["plan", *w],
        "lock status": ["lock", "status", *w],
        "access explain": ["access", "explain", *w, "--user", "a@example.com"],
        "export": ["export", *w, "--merge"],
    }
    ran = run_all([[*args, "-o", "json"] for args in offline.values()], env)
    results = dict(zip(offline, ran, strict=True))
    results.update({name: run([*args, "-o", "json"], env) for name, args in online.items()})
    for name, result in results.items():
        assert result.returncode in (0, 2), (name, result.stderr)
        assert json.loads(result.stdout)["format_version"] == "1.0", name
    assert json.loads(results["fql eval"].stdout)["result"] is True
    assert json.loads(results["diff"].stdout)["summary"]["change"] == 1
    assert json.loads(results["lock status"].stdout)["lock"] is None
    document = json.loads(saved.read_text())
    assert document["format_version"] == document["plan"]["format_version"] == "1.0"
    bare = run(["fql", "eval", "type = 'track'", "--event", str(tmp_path / "event.json")], env)
    assert bare.stdout == "true\n"  # without -o json: the value alone, as before


def test_show_renders_a_saved_plan_without_network_or_secrets(ws: Path, tmp_path: Path) -> None:
    secret = "show-SECRET-value-1234"
    env = base_env(tmp_path, AMP_KEY=secret)
    declared = RESOURCES.replace("region: us", "region: us, api_key: '${env:AMP_KEY}'")
    (ws / "resources.yaml").write_text(declared)
    saved = tmp_path / "p.json"
    planned = run(["plan", "-w", str(ws), "--out", str(saved)], env)
    markdown = run(["plan", "-w", str(ws), "-o", "markdown"], env).stdout
    assert planned.returncode == 0 and "api_key: (sensitive)" in planned.stdout
    offline = base_env(tmp_path, SEG_API_URL="http://127.0.0.1:9")  # nothing listens there
    shown = {fmt: run(["show", str(saved), "-o", fmt], offline, cwd=tmp_path)
             for fmt in ("text", "markdown", "json")}  # fmt: skip
    for fmt, result in shown.items():
        assert result.returncode == 0 and result.stderr == "", (fmt, result.stderr)
        assert secret not in result.stdout
    assert shown["text"].stdout == planned.stdout
    assert shown["markdown"].stdout == markdown
    assert json.loads(shown["json"].stdout) == json.loads(saved.read_text())["plan"]
    old = json.loads(saved.read_text())
    old["plan"]["format_version"] = "0.9"
    saved.write_text(json.dumps(old))
    for args in (["show", str(saved)], ["apply", str(saved), "-w", str(ws)]):
        refused = run(args, env)
        assert refused.returncode == 1 and refused.stdout == ""
        assert refused.stderr.count("\n") == 1 and "format '0.9'" in refused.stderr
        assert "re-run seg plan --out" in refused.stderr
    saved.write_text('{"type": "seg-saved-plan", "plan": {"format_version": "1.0"}}')
    broken = run(["show", str(saved)], env)
    assert broken.returncode == 1 and broken.stderr.startswith("error: ")
    assert "is not a readable saved plan" in broken.stderr and "Traceback" not in broken.stderr


def test_wording_slug_plurals_and_diff(ws: Path, tmp_path: Path) -> None:
    env = base_env(tmp_path)
    valid = run(["validate", "-w", str(ws)], env)
    assert valid.stdout == ("Workspace shop is valid: 3 resources (1 Destination, 1 Source, "
                            "1 TrackingPlan).\n")  # fmt: skip
    commit_two_revisions(ws)
    diff = run(["diff", "-w", str(ws), "--base", "HEAD~1"], env)
    assert diff.returncode == 2 and "will perform" not in diff.stdout
    assert diff.stdout.startswith("Differences (shop):")
    same = run(["diff", "-w", str(ws), "--base", "HEAD"], env)
    assert same.returncode == 0 and same.stdout == "No differences (shop, 3 resources).\n"
    events = tmp_path / "one.jsonl"
    events.write_text('{"type": "track", "event": "Order Completed", "properties": {}}\n')
    checked = run(["tracking-plan", "check-events", "orders", "-w", str(ws),
                   "--events", str(events)], env)  # fmt: skip
    assert checked.stdout.splitlines()[-1] == "1 event: 1 valid, 0 with violations."
    filtered = run(["filter", "test", "-w", str(ws), "--destination", "web/amplitude",
                    "--events", str(events)], env)  # fmt: skip
    assert filtered.stdout.splitlines()[-1] == (
        "1 event: 1 delivered, 0 dropped (0 enabled filters).")  # fmt: skip
