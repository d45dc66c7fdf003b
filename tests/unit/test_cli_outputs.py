"""Views behind the CLI habits: a plan read back from its JSON renders as the plan did, the
machine-readable apply result, the apply headline, counted nouns."""

from __future__ import annotations

import io

import pytest
from rich.console import Console

from seg.apply.executor import ApplyResult, StepResult
from seg.engine import compute_plan, plan_steps
from seg.engine.plan import Plan
from seg.kinds import KINDS
from seg.model.resource import CurrentResource, DesiredResource
from seg.model.wording import plural
from seg.render.apply_view import apply_to_json, render_apply_summary
from seg.render.plan_json import plan_from_json, plan_to_json
from seg.render.plan_markdown import render_plan_markdown
from seg.render.plan_text import render_plan_text

SRC, DST, TP, RB = (KINDS[k] for k in ("Source", "Destination", "TrackingPlan", "RoleBinding"))
RULE = {"type": "TRACK", "key": "Order Completed", "version": 1,
        "json_schema": {"type": "object", "required": ["properties"]}}  # fmt: skip


def varied_plan() -> Plan:
    """Creates with secrets, an update with a cleared field, unmanaged fields and a protect
    flag (metadata outside the mask), a replace, a delete, rule changes, an access change."""
    desired = [
        DesiredResource(SRC, "new", {"catalog": "javascript", "settings": {"api_key": "s3cret"}},
                        frozenset({("settings", "api_key")})),
        DesiredResource(SRC, "upd", {"catalog": "javascript", "enabled": False}, protect=True),
        DesiredResource(SRC, "rep", {"catalog": "ios"}),
        DesiredResource(TP, "orders", {"display_name": "Orders",
                                       "rules": [RULE, {**RULE, "version": 2}]}),
        DesiredResource(RB, "ops", {"subject": {"user": "a@example.com"},
                                    "role": "workspace_owner", "scope": "workspace"}),
    ]  # fmt: skip
    current = [
        CurrentResource(SRC, "upd", {"catalog": "javascript", "enabled": True, "display_name": "U",
                                     "settings": {"batch": 10, "ui": 1}}, "e1",
                        managed=frozenset({"enabled", "settings.batch"})),
        CurrentResource(SRC, "rep", {"catalog": "android"}, "e2"),
        CurrentResource(SRC, "gone", {"catalog": "javascript"}, "e3"),
        CurrentResource(TP, "orders", {"display_name": "Orders", "rules": [RULE]}, "e4",
                        managed=frozenset({"display_name", "rules"})),
    ]  # fmt: skip
    return compute_plan("acme", desired, current, "digest")


def text_of(plan: Plan) -> str:
    buf = io.StringIO()
    render_plan_text(plan, Console(file=buf, width=100, color_system=None))
    return buf.getvalue()


def test_a_plan_read_back_from_json_renders_as_the_plan_did() -> None:
    plan = varied_plan()
    data = plan_to_json(plan)
    actions = {(c["address"], c["action"]) for c in data["changes"]}
    assert {("upd", "update"), ("rep", "replace"), ("gone", "delete"),
            ("orders", "update"), ("ops", "create")} <= actions  # fmt: skip
    upd = next(c for c in data["changes"] if c["address"] == "upd")
    assert upd["unmanaged_fields"] > 0 and any(f["cleared"] for f in upd["field_changes"])
    assert any(f["path"] == "protect" for f in upd["field_changes"])  # metadata, not masked
    assert "source.protect" not in upd["update_mask"]
    again = plan_from_json(data)
    assert plan_to_json(again) == data
    assert text_of(again) == text_of(plan)
    assert render_plan_markdown(again) == render_plan_markdown(plan)
    assert "s3cret" not in text_of(again)


def test_a_plan_without_changes_keeps_its_resource_count() -> None:
    plan = compute_plan("acme", [DesiredResource(SRC, "web", {"catalog": "javascript"})],
                        [CurrentResource(SRC, "web", {"catalog": "javascript"}, "e")])  # fmt: skip
    assert text_of(plan_from_json(plan_to_json(plan))) == (
        "No changes. Workspace acme matches the configuration (1 resource).\n")  # fmt: skip


@pytest.mark.parametrize(
    ("statuses", "stopped", "status", "headline"),
    [
        (["applied", "applied"], "", "applied", "Apply complete: 2 applied, 0 failed, 0 skipped."),
        (["failed", "skipped"], "", "failed", "Apply failed: 0 applied, 1 failed, 1 skipped."),
        (["applied", "failed"], "", "partial",
         "Apply partly failed: 1 applied, 1 failed, 0 skipped."),
        (["applied", "not_attempted"], "the workspace lock was lost", "stopped",
         "Apply stopped: the workspace lock was lost. 1 applied, 0 failed, 0 skipped, "
         "1 not attempted."),
    ],
)  # fmt: skip
def test_apply_result_as_json_and_headline(
    statuses: list, stopped: str, status: str, headline: str
) -> None:
    steps = plan_steps(varied_plan())[: len(statuses)]
    errors = {"failed": "boom [HTTP 409, code 9]", "skipped": "depends on a failed change"}
    result = ApplyResult([StepResult(s, st, errors.get(st, "")) for s, st in
                          zip(steps, statuses, strict=True)], stopped)  # fmt: skip
    data = apply_to_json("acme", result)
    assert data["format_version"] == "1.0" and data["status"] == status
    assert data["stopped"] == (stopped or None)
    assert sum(data["summary"].values()) == len(statuses)
    for entry, step, st in zip(data["changes"], steps, statuses, strict=True):
        assert entry == {"address": step.change.address, "kind": step.change.kind.name,
                         "action": step.change.action.value, "operation": step.op,
                         "status": st, "error": errors.get(st)}  # fmt: skip
    buf = io.StringIO()
    render_apply_summary(result, Console(file=buf, width=200, color_system=None))
    assert buf.getvalue().splitlines()[0] == headline
    assert apply_to_json("acme", None)["status"] == "no_changes"


def test_plural() -> None:
    assert [plural(n, "resource") for n in (0, 1, 2)] == ["0 resources", "1 resource",
                                                          "2 resources"]  # fmt: skip
    assert plural(1, "policy", "policies") == "1 policy"
    assert plural(3, "policy", "policies") == "3 policies"
