"""Tracking plans as code: rules, batching, source connections, rendering and check-events."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from seg.embedded import open_embedded
from tests.conftest import Api
from tests.conftest import run_cli as seg
from tests.helpers import error
from tests.repo_files import copy_repo_dir

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "tracking-plans"
SCHEMA = {"$schema": "http://json-schema.org/draft-07/schema#", "type": "object"}


@pytest.fixture
def root(tmp_path: Path, clean_seg_env: None) -> Path:
    target = tmp_path / "tp"
    copy_repo_dir(EXAMPLE, target)
    return target


def big_plan(root: Path, rules: int, changed: int | None = None) -> None:
    items = []
    for i in range(rules):
        schema = {**SCHEMA, "properties": {"properties": {"type": "object",
                  "required": ["x"] if i == changed else []}}}  # fmt: skip
        items.append(
            {"type": "TRACK", "key": f"Event {i:03d}", "version": 1, "json_schema": schema}
        )
    doc = {"kind": "TrackingPlan", "name": "big", "spec": {"rules": items}}
    (root / "big.yaml").write_text(yaml.safe_dump(doc))


def rule_calls(root: Path) -> list[dict]:
    client = open_embedded(root, "shop")
    events = client.http.get("/v1beta/workspaces/shop/audit-events",
                             params={"page_size": 1000}).json()["audit_events"]  # fmt: skip
    client.close()
    return [e for e in events if e["resource"].endswith("/rules")]


def test_450_rules_apply_in_batches_and_one_edit_is_one_changed_rule(root: Path) -> None:
    big_plan(root, 450)
    applied = seg("apply", "-w", str(root), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    calls = rule_calls(root)
    assert [c["method"] for c in calls] == ["PATCH", "PATCH"]  # 200 in the create, 2 batches
    assert seg("plan", "-w", str(root), "--detailed-exitcode").exit_code == 0
    big_plan(root, 450, changed=321)
    plan = seg("plan", "-w", str(root))
    assert "rules: 0 added, 0 removed, 1 changed" in plan.output
    assert "rule TRACK 'Event 321' v1: json_schema" in plan.output
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    newest = rule_calls(root)[0]
    assert newest["method"] == "PATCH" and newest["paths"] == ["TRACK 'Event 321' v1"]
    assert seg("plan", "-w", str(root), "--detailed-exitcode").exit_code == 0
    big_plan(root, 440)
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    assert [c["method"] for c in rule_calls(root)[:2]] == ["PATCH", "DELETE"]  # 321 back, 10 gone
    assert seg("plan", "-w", str(root), "--detailed-exitcode").exit_code == 0


def test_invalid_draft07_schema_is_a_validate_error(root: Path) -> None:
    text = (root / "tracking-plan.yaml").read_text()
    (root / "tracking-plan.yaml").write_text(text.replace("type: object", "type: objekt", 1))
    result = seg("validate", "-w", str(root))
    assert result.exit_code == 1
    assert "tracking-plan.yaml:" in result.output
    assert "json_schema is not a valid draft-07 schema" in result.output


def test_schema_file_and_disconnect_before_delete(root: Path) -> None:
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    (root / "tracking-plan.yaml").unlink()
    (root / "sources.yaml").write_text("kind: Source\nname: web\nspec:\n  catalog: javascript\n")
    plan = json.loads(seg("plan", "-w", str(root), "-o", "json").stdout)
    assert {(c["address"], c["action"]) for c in plan["changes"]} == {
        ("ecommerce", "delete"), ("web", "update")}  # fmt: skip
    applied = seg("apply", "-w", str(root), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    lines = [x for x in applied.output.splitlines() if x.startswith(("updated", "deleted"))]
    assert lines == ["updated Source web", "deleted TrackingPlan ecommerce"]


def test_switching_plans_disconnects_first(root: Path) -> None:
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    (root / "other.yaml").write_text(yaml.safe_dump({"kind": "TrackingPlan", "name": "other",
        "spec": {"rules": [{"type": "COMMON", "version": 1, "json_schema": SCHEMA}]}}))  # fmt: skip
    (root / "sources.yaml").write_text((root / "sources.yaml").read_text()
                                       .replace("tracking_plan: ecommerce", "tracking_plan: other"))  # fmt: skip
    applied = seg("apply", "-w", str(root), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert seg("plan", "-w", str(root), "--detailed-exitcode").exit_code == 0


def test_check_events_reports_violation_kinds_and_paths(root: Path) -> None:
    result = seg("tracking-plan", "check-events", "ecommerce", "-w", str(root),
                 "--events", str(root / "events.jsonl"))  # fmt: skip
    assert result.exit_code == 3
    out = result.output
    assert "line 2 (Product Added): invalid type at properties.quantity" in out
    assert "line 3 (Order Completed): not a permitted value at properties.currency" in out
    assert "line 4 (Order Completed): valid" in out  # no version: the oldest (v1)
    assert "line 5 (Checkout Started): valid" in out  # unknown version 7: the oldest
    assert "line 6 (Checkout Started): required missing at properties.value" in out
    assert "line 7 (identify): required missing at traits.email" in out
    assert "line 8 (Wishlist Shared): unplanned event at event" in out
    data = json.loads(seg("tracking-plan", "check-events", "ecommerce", "-w", str(root),
                          "--events", str(root / "events.jsonl"), "-o", "json").stdout)  # fmt: skip
    assert data["format_version"] == "1.0" and data["summary"]["with_violations"] == 5
    events = data["events"]
    assert events[0]["violations"] == [] and events[1]["violations"][0]["kind"] == "invalid type"


def test_server_rules_for_tracking_plans(api: Api) -> None:
    url = api.url("/tracking-plans")

    def create(external_id: str, rules: list) -> object:
        body = {"tracking_plan": {"external_id": external_id, "rules": rules}}
        return api.http.post(url, json=body)

    rule = {"type": "COMMON", "version": 1, "json_schema": SCHEMA}
    made = create("a", [rule]).json()
    assert made["name"].startswith(f"workspaces/{api.workspace}/tracking-plans/tp_")
    assert len(made["name"].rsplit("/", 1)[1]) == 3 + 27 and made["external_id"] == "a"
    error(create("a", [rule]), 409, 6)
    bad = error(create("b", [{**rule, "json_schema": {"type": "objekt"}}]), 400, 3)
    assert "not a valid draft-07 schema" in bad
    many = [
        {"type": "TRACK", "key": f"e{i}", "version": 1, "json_schema": SCHEMA} for i in range(201)
    ]
    assert error(create("c", many), 400, 3) == "rules must contain less than or equal to 200 items"
    rules_url = made["name"].replace(f"workspaces/{api.workspace}", api.url())
    assert error(api.http.patch(f"{rules_url}/rules", json={"rules": many}), 400, 3) == (
        "rules must contain less than or equal to 200 items")  # fmt: skip
    other = create("other", [rule]).json()
    api.create_source("web", tracking_plan=made["name"])
    switch = {"source": {"tracking_plan": other["name"]},
              "update_mask": {"paths": ["source.tracking_plan"]}}  # fmt: skip
    assert "at most one tracking plan" in error(
        api.http.patch(api.url("/sources/web"), json=switch), 409, 9
    )
    assert "connected to sources web" in error(api.http.delete(rules_url), 409, 9)
