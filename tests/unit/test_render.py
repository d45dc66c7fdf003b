"""Views: one Plan value rendered as text, JSON and markdown; apply progress."""

from __future__ import annotations

import io
import json

from rich.console import Console

from seg.apply.executor import ApplyResult, StepResult
from seg.engine import compute_plan, plan_steps
from seg.kinds import KINDS
from seg.model.resource import CurrentResource, DesiredResource
from seg.render.apply_view import HumanApplyView, render_apply_summary
from seg.render.plan_json import plan_to_json
from seg.render.plan_markdown import render_plan_markdown
from seg.render.plan_text import render_plan_text

SRC, DST = KINDS["Source"], KINDS["Destination"]
SECRET = "very-secret-value"


def plan_with_everything():
    desired = [
        DesiredResource(SRC, "new", {"catalog": "javascript", "settings": {"k": SECRET}},
                        frozenset({("settings", "k")})),
        DesiredResource(SRC, "upd", {"catalog": "javascript", "enabled": False}),
        DesiredResource(SRC, "rep", {"catalog": "ios"}),
    ]  # fmt: skip
    current = [
        CurrentResource(SRC, "upd", {"catalog": "javascript", "enabled": True}, "e1"),
        CurrentResource(SRC, "rep", {"catalog": "android"}, "e2"),
        CurrentResource(SRC, "gone", {"catalog": "javascript"}, "e3"),
    ]
    return compute_plan("acme", desired, current, "digest")


def console() -> tuple[Console, io.StringIO]:
    buf = io.StringIO()
    return Console(file=buf, width=100, color_system=None), buf


def test_text_plan_reads_like_terraform() -> None:
    out, buf = console()
    render_plan_text(plan_with_everything(), out)
    text = buf.getvalue()
    assert "  + Source new" in text and "  - Source gone" in text and "-/+ Source rep" in text
    assert "  ~ Source upd" in text and "~ enabled: true → false" in text
    assert "update_mask: source.enabled" in text
    assert "reason: catalog is immutable ('android' → 'ios')" in text
    assert "+ settings.k: (sensitive)" in text and SECRET not in text
    assert text.rstrip().endswith("Plan: 2 to add, 1 to change, 2 to destroy.")


def test_json_plan_is_versioned_and_redacted() -> None:
    data = plan_to_json(plan_with_everything())
    assert data["format_version"] == "1.0" and data["workspace_digest"] == "digest"
    assert data["summary"] == {"adopt": 0, "add": 2, "change": 1, "destroy": 2, "blocked": 0}
    by_address = {c["address"]: c for c in data["changes"]}
    assert set(by_address["upd"]) >= {"address", "kind", "action", "before", "after",
                                      "update_mask", "reason"}  # fmt: skip
    assert by_address["upd"]["update_mask"] == ["source.enabled"]
    assert by_address["new"]["after"]["settings"]["k"] == "(sensitive)"
    assert SECRET not in json.dumps(data)


def test_markdown_leads_with_the_summary_and_stays_bounded() -> None:
    md = render_plan_markdown(plan_with_everything())
    assert md.index("| kind | add |") < md.index("<details>") and SECRET not in md
    many = [DesiredResource(SRC, f"s{i:04d}", {"catalog": "javascript", "display_name": "x" * 200})
            for i in range(2000)]  # fmt: skip
    big = render_plan_markdown(compute_plan("acme", many, []), max_chars=60_000)
    assert len(big) < 60_000 and "1832 more changes not shown" in big


def test_apply_view_uses_a_progress_bar_on_a_terminal() -> None:
    buf = io.StringIO()
    term = Console(file=buf, force_terminal=True, width=100)
    view = HumanApplyView(term)
    steps = plan_steps(plan_with_everything())
    view.started(len(steps))
    assert view.progress is not None
    for step in steps:
        view.step_finished(StepResult(step, "applied"))
    view.close()
    plain, pbuf = console()
    view = HumanApplyView(plain)
    view.started(len(steps))
    assert view.progress is None
    view.step_finished(StepResult(steps[0], "failed", "boom [HTTP 409, code 9]"))
    render_apply_summary(ApplyResult([StepResult(steps[0], "failed", "boom")]), plain)
    text = pbuf.getvalue()
    assert "failed to delete Source gone: boom [HTTP 409, code 9]" in text
    assert "Apply failed: 0 applied, 1 failed, 0 skipped." in text
