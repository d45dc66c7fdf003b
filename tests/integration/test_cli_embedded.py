"""The CLI end to end in-process, against the embedded control plane (`.seg/` in the workspace)."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seg.commands.app import app
from seg.embedded import open_embedded
from tests.conftest import live
from tests.integration.documents import DESTS

SECRET = "AMP-SECRET-value-42"

SOURCES = """\
kind: Source
name: web
spec:
  display_name: Website
  catalog: javascript
---
kind: Source
name: ios
spec:
  catalog: ios
"""


@pytest.fixture
def runner(monkeypatch: pytest.MonkeyPatch) -> CliRunner:
    monkeypatch.setenv("AMP_KEY", SECRET)
    for var in ("SEG_API_URL", "SEG_TOKEN", "SEG_WORKSPACE", "SEG_ENV"):
        monkeypatch.delenv(var, raising=False)
    return CliRunner()


@pytest.fixture
def root(write_workspace) -> Path:
    return write_workspace({"sources.yaml": SOURCES, "destinations/all.yaml": DESTS})


def seg(runner: CliRunner, root: Path, *args: str):
    result = runner.invoke(app, [args[0], "-w", str(root), *args[1:]])
    assert "Traceback" not in result.output
    return result


def test_plan_apply_then_plan_shows_no_changes(runner, root) -> None:
    first = seg(runner, root, "plan", "--detailed-exitcode")
    assert first.exit_code == 2, first.output
    assert "Plan: 4 to add, 0 to change, 0 to destroy." in first.output
    applied = seg(runner, root, "apply", "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert "Apply complete: 4 applied, 0 failed, 0 skipped." in applied.output
    again = seg(runner, root, "plan", "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    assert "No changes." in again.output
    state = root / ".seg"
    assert (state / ".gitignore").read_text() == "*\n"
    assert stat.S_IMODE(os.stat(state / "tokens.json").st_mode) == 0o600
    assert live(root, "sources/web/destinations/amplitude")["enabled"] is True


def test_one_field_edit_masks_and_changes_only_that_field(runner, root) -> None:
    seg(runner, root, "apply", "--auto-approve")
    before = live(root, "sources/web/destinations/amplitude")
    path = root / "destinations/all.yaml"
    path.write_text(path.read_text().replace("region: eu", "region: us"))
    plan = json.loads(seg(runner, root, "plan", "-o", "json").stdout)
    (change,) = plan["changes"]
    assert change["address"] == "web/amplitude" and change["action"] == "update"
    assert change["update_mask"] == ["destination.settings.region"]
    assert seg(runner, root, "apply", "--auto-approve").exit_code == 0
    after = live(root, "sources/web/destinations/amplitude")
    assert after["settings"]["region"] == "us"
    ignore = {"settings", "etag", "update_time"}
    assert {k: v for k, v in after.items() if k not in ignore} == {
        k: v for k, v in before.items() if k not in ignore
    }
    assert after["settings"]["api_key"] == before["settings"]["api_key"]


def test_secret_never_printed_and_never_a_perpetual_diff(runner, root, monkeypatch) -> None:
    outputs = [seg(runner, root, "plan", "-o", fmt).output for fmt in ("text", "json", "markdown")]
    outputs.append(seg(runner, root, "apply", "--auto-approve").output)
    outputs.append(seg(runner, root, "plan", "-o", "json").output)
    assert json.loads(outputs[-1])["changes"] == []
    monkeypatch.setenv("AMP_KEY", "ROTATED-secret-99")
    rotated = seg(runner, root, "plan", "-o", "json")
    (change,) = json.loads(rotated.stdout)["changes"]
    assert change["update_mask"] == ["destination.settings.api_key"]
    assert change["field_changes"][0]["after"] == "(sensitive)"
    outputs += [rotated.output, seg(runner, root, "plan").output]
    outputs.append(seg(runner, root, "apply", "--auto-approve").output)
    for text in outputs:
        assert SECRET not in text and "ROTATED-secret-99" not in text
    assert "(sensitive)" in outputs[0]
    raw = json.dumps(live(root, "sources/web/destinations/amplitude"))
    assert "ROTATED" not in raw and SECRET not in raw


def test_server_side_settings_not_in_yaml_are_left_alone(runner, root) -> None:
    seg(runner, root, "apply", "--auto-approve")
    client = open_embedded(root, "acme")
    url = "/v1beta/workspaces/acme/sources/web/destinations/amplitude"
    body = {"destination": {"settings": {"track_session_events": True}},
            "update_mask": {"paths": ["destination.settings.track_session_events"]}}  # fmt: skip
    assert client.http.patch(url, json=body).status_code == 200
    client.close()
    result = seg(runner, root, "plan", "--detailed-exitcode")
    assert result.exit_code == 0, result.output
    assert "track_session_events" not in result.output


def test_removed_document_is_deleted_and_catalog_change_replaces(runner, root) -> None:
    seg(runner, root, "apply", "--auto-approve")
    (root / "destinations/all.yaml").write_text(DESTS.split("---")[0])
    sources = root / "sources.yaml"
    sources.write_text(sources.read_text().replace("catalog: ios", "catalog: android"))
    plan = json.loads(seg(runner, root, "plan", "-o", "json").stdout)
    actions = {(c["address"], c["action"]) for c in plan["changes"]}
    assert actions == {("ios", "replace"), ("ios/webhook", "delete")}
    text = seg(runner, root, "plan").output
    assert "-/+ Source ios" in text and "  - Destination ios/webhook" in text
    assert seg(runner, root, "apply", "--auto-approve").exit_code == 0
    assert live(root, "sources/ios")["catalog"] == "android"
    assert live(root, "sources/-/destinations")["destinations"][0]["name"].endswith("amplitude")
    assert seg(runner, root, "plan", "--detailed-exitcode").exit_code == 0


def test_protected_replace_is_blocked_with_exit_3(runner, root) -> None:
    seg(runner, root, "apply", "--auto-approve")
    sources = root / "sources.yaml"
    sources.write_text(sources.read_text().replace("name: ios\n", "name: ios\nprotect: true\n")
                       .replace("catalog: ios", "catalog: android"))  # fmt: skip
    plan = seg(runner, root, "plan")
    assert plan.exit_code == 3 and "! Source ios" in plan.output and "protected" in plan.output
    applied = seg(runner, root, "apply", "--auto-approve")
    assert applied.exit_code == 3 and "blocked" in applied.output
    assert live(root, "sources/ios")["catalog"] == "ios"


def test_apply_outside_a_terminal_needs_auto_approve(runner, root) -> None:
    result = seg(runner, root, "apply")
    assert result.exit_code == 1 and "--auto-approve" in result.output
    assert live(root, "sources")["sources"] == []


def test_saved_plan_applies_and_a_stale_one_is_refused(runner, root, tmp_path) -> None:
    planfile = tmp_path / "plan.json"
    assert seg(runner, root, "plan", "--out", str(planfile)).exit_code == 0
    assert SECRET not in planfile.read_text()
    assert seg(runner, root, "apply", str(planfile)).exit_code == 0
    assert seg(runner, root, "plan", "--detailed-exitcode").exit_code == 0
    path = root / "destinations/all.yaml"
    path.write_text(path.read_text().replace("region: eu", "region: us"))
    assert seg(runner, root, "plan", "--out", str(planfile)).exit_code == 0
    client = open_embedded(root, "acme")  # someone changes the resource meanwhile
    url = "/v1beta/workspaces/acme/sources/web/destinations/amplitude"
    client.http.patch(url, json={"update_mask": {"paths": ["destination.enabled"]}})
    client.close()
    stale = seg(runner, root, "apply", str(planfile))
    assert stale.exit_code == 4, stale.output
    assert "stale" in stale.output and "web/amplitude" in stale.output
    assert (
        "changed by acme (embedded)" not in stale.output
        and "changed by initial owner token" in stale.output
    )
    assert live(root, "sources/web/destinations/amplitude")["settings"]["region"] == "eu"
    path.write_text(path.read_text().replace("region: us", "region: eu"))
    assert seg(runner, root, "apply", str(planfile)).exit_code == 4


@pytest.mark.parametrize(
    ("files", "expected"),
    [
        ({"bad.yaml": "kind: Source\nname: web\nspec: {catalog: javascript\n"}, "bad.yaml:4:1"),
        ({"bad.yaml": "kind: Source\nname: web\nname: x\nspec: {catalog: javascript}\n"}, "bad.yaml:3:1"),
        ({"bad.yaml": "kind: Source\nname: web\nspec: {catalog: javascript, enabeld: true}\n"},
         "did you mean 'enabled'"),
        ({"bad.yaml": "kind: Source\nname: web\nspec: {catalog: javascript, enabled: 3}\n"}, "bad.yaml:3:38"),
        ({"bad.yaml": "kind: Destination\nname: d\nspec: {source: nope, catalog: amplitude}\n"},
         "bad.yaml:3:16"),
        ({"bad.yaml": "kind: Source\nname: web\nspec: {catalog: javascript}\n---\n"
                      "kind: Source\nname: web\nspec: {catalog: javascript}\n"}, "duplicate address"),
        ({"bad.yaml": "kind: Source\nname: web\nspec: !!python/name:os.system {}\n"}, "not allowed"),
        ({"bad.yaml": "a: &a [1,1,1,1,1,1,1,1,1,1]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n"
                      "c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\n"
                      "e: [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n"}, "expands past"),
    ],
)  # fmt: skip
def test_bad_yaml_exits_1_with_position_and_sends_nothing(
    runner, write_workspace, files, expected
) -> None:
    root = write_workspace(files)
    for command in ("validate", "plan", "apply"):
        result = (
            seg(runner, root, command, "--auto-approve")
            if command == "apply"
            else seg(runner, root, command)
        )
        assert result.exit_code == 1, result.output
        assert expected in result.output
        assert "Found" in result.output
    assert not (root / ".seg" / "control-plane.db").exists()  # never connected to a control plane


def test_validate_reports_counts(runner, root) -> None:
    result = seg(runner, root, "validate")
    assert result.exit_code == 0
    assert "Workspace acme is valid: 4 resources (2 Destinations, 2 Sources)." in result.output
    assert json.loads(seg(runner, root, "validate", "-o", "json").stdout)["resources"] == 4


def test_init_scaffolds_a_valid_workspace(runner, tmp_path) -> None:
    target = tmp_path / "new-ws"
    result = runner.invoke(app, ["init", str(target)])
    assert result.exit_code == 0, result.output
    assert "workspace: new-ws" in (target / "seg.yaml").read_text()
    assert seg(runner, target, "validate", "--env", "prod").exit_code == 0
    again = runner.invoke(app, ["init", str(target)])
    assert again.exit_code == 1 and "already exists" in again.output
