"""Plans a team can trust: field ownership, remembered protection, scoped plans, delete budgets."""

from __future__ import annotations

import json
import threading
import time
from pathlib import Path

import pytest

from seg.embedded import open_embedded
from tests.conftest import embedded_call, live
from tests.conftest import run_cli as seg

SOURCES = """\
kind: Source
name: web
spec:
  catalog: javascript
  display_name: Web
  settings:
    cookie_domain: eu.example.com
    user_cookie_days: 10
"""

TEAM_A = """\
kind: Source
name: ios
spec:
  catalog: ios
---
kind: Destination
name: mixpanel
spec:
  source: ios
  catalog: mixpanel
"""


@pytest.fixture
def root(write_workspace, clean_seg_env: None) -> Path:
    ws = write_workspace({"sources.yaml": SOURCES, "team-a/ios.yaml": TEAM_A})
    assert seg("apply", "-w", str(ws), "--auto-approve").exit_code == 0
    return ws


def patch(root: Path, path: str, body: dict) -> None:
    assert embedded_call(root, "PATCH", path, body=body).status_code == 200


def test_fields_seg_managed_are_cleared_when_removed_and_others_left_alone(root: Path) -> None:
    assert live(root, "sources/web")["managed_paths"] == [
        "catalog", "display_name", "settings.cookie_domain", "settings.user_cookie_days"]  # fmt: skip
    patch(root, "sources/web", {"source": {"settings": {"anonymize_ip": True}},
                                "update_mask": {"paths": ["source.settings.anonymize_ip"]}})  # fmt: skip
    (root / "sources.yaml").write_text(SOURCES.replace("    user_cookie_days: 10\n", ""))
    plan = json.loads(seg("plan", "-w", str(root), "-o", "json").stdout)
    (change,) = plan["changes"]
    assert change["update_mask"] == ["source.settings.user_cookie_days"]
    assert change["field_changes"][0]["cleared"] is True
    assert change["unmanaged_fields"] == 2  # settings.anonymize_ip and enabled, never declared
    text = seg("plan", "-w", str(root)).output
    assert "settings.user_cookie_days: 10 → (cleared)" in text and "(2 unmanaged fields left alone)" in text
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    settings = live(root, "sources/web")["settings"]
    assert settings == {"cookie_domain": "eu.example.com", "anonymize_ip": True}
    assert seg("plan", "-w", str(root), "--detailed-exitcode").exit_code == 0


def test_protect_is_remembered_after_the_document_is_gone(root: Path) -> None:
    (root / "sources.yaml").write_text(SOURCES.replace("name: web\n", "name: web\nprotect: true\n"))
    plan = seg("plan", "-w", str(root), "-o", "json")
    (change,) = json.loads(plan.stdout)["changes"]
    assert change["field_changes"][0]["path"] == "protect" and change["update_mask"] == []
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    assert live(root, "sources/web")["protect"] is True
    (root / "sources.yaml").unlink()
    blocked = seg("plan", "-w", str(root))
    assert blocked.exit_code == 3 and "! Source web" in blocked.output
    assert "protected on the control plane" in blocked.output
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 3
    client = open_embedded(root, "acme")
    refused = client.http.delete("/v1beta/workspaces/acme/sources/web")
    client.close()
    assert refused.status_code == 409 and refused.json()["code"] == 9
    (root / "sources.yaml").write_text(
        SOURCES.replace("name: web\n", "name: web\nprotect: false\n")
    )
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    (root / "sources.yaml").unlink()
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    assert live(root, "sources")["sources"][0]["name"].endswith("/ios")


def test_max_deletes_blocks_over_budget(root: Path) -> None:
    (root / "team-a/ios.yaml").unlink()
    over = seg("plan", "-w", str(root), "--max-deletes", "1")
    assert over.exit_code == 3 and "over --max-deletes 1" in over.output
    assert seg("apply", "-w", str(root), "--auto-approve", "--max-deletes", "1").exit_code == 3
    assert seg("plan", "-w", str(root), "--max-deletes", "2").exit_code == 0


def test_targets_and_sub_directories_never_delete_outside(root: Path) -> None:
    (root / "sources.yaml").write_text(SOURCES.replace("cookie_domain: eu.example.com", "cookie_domain: us.example.com"))
    (root / "team-a/ios.yaml").write_text(
        TEAM_A.split("---")[0].replace("catalog: ios", "catalog: ios\n  display_name: iOS")
    )
    full = json.loads(seg("plan", "-w", str(root), "-o", "json").stdout)
    assert {(c["address"], c["action"]) for c in full["changes"]} == {
        ("web", "update"), ("ios", "update"), ("ios/mixpanel", "delete")}  # fmt: skip
    targeted = json.loads(seg("plan", "-w", str(root), "--target", "web", "-o", "json").stdout)
    assert [c["address"] for c in targeted["changes"]] == ["web"]
    sub = json.loads(seg("plan", "-w", str(root / "team-a"), "-o", "json").stdout)
    assert [(c["address"], c["action"]) for c in sub["changes"]] == [("ios", "update")]
    assert seg("apply", "-w", str(root / "team-a"), "--auto-approve").exit_code == 0
    assert live(root, "sources/ios")["display_name"] == "iOS"
    assert live(root, "sources/ios/destinations/mixpanel")["catalog"] == "mixpanel"
    assert live(root, "sources/web")["settings"]["cookie_domain"] == "eu.example.com"


def test_apply_waits_for_the_lock_then_fails_clearly(root: Path) -> None:
    client = open_embedded(root, "acme")
    held = client.acquire_lock({"holder": "another apply", "host": "ci-7", "ci_run": "99"}, 30)
    status = seg("lock", "status", "-w", str(root))
    assert "locked by another apply on ci-7" in status.output and "CI run 99" in status.output
    (root / "sources.yaml").write_text(SOURCES.replace("cookie_domain: eu.example.com", "cookie_domain: us.example.com"))
    start = time.monotonic()
    blocked = seg("apply", "-w", str(root), "--auto-approve", "--lock-timeout", "1.5")
    assert blocked.exit_code == 1 and time.monotonic() - start >= 1.4
    assert "locked by another apply on ci-7" in blocked.output and "waited 1.5s" in blocked.output
    assert live(root, "sources/web")["settings"]["cookie_domain"] == "eu.example.com"
    releaser = threading.Timer(1.0, client.release_lock, args=(held["id"],))
    releaser.start()
    waited = seg("apply", "-w", str(root), "--auto-approve", "--lock-timeout", "10")
    releaser.join()
    client.close()
    assert waited.exit_code == 0, waited.output
    assert live(root, "sources/web")["settings"]["cookie_domain"] == "us.example.com"
    assert "is not locked" in seg("lock", "status", "-w", str(root)).output


def test_lock_release_breaks_a_stuck_lock(root: Path) -> None:
    client = open_embedded(root, "acme")
    client.acquire_lock({"holder": "killed apply"}, 3600)
    client.close()
    assert seg("lock", "release", "-w", str(root)).exit_code == 0
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
