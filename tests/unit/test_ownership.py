"""Ownership in the pure engine and the views: a plan deletes only what its manager owns,
adopts what nobody manages, blocks another manager's, leaves built-in resources alone, and
reports what it leaves unmanaged (text, markdown, JSON)."""

from __future__ import annotations

import io
import time

from rich.console import Console

from seg.engine import Action, compute_plan, plan_steps
from seg.engine.ownership import Ownership, keep_parents
from seg.engine.plan import Change
from seg.kinds import KINDS
from seg.model.resource import CurrentResource, DesiredResource
from seg.render.plan_json import plan_to_json
from seg.render.plan_markdown import render_plan_markdown
from seg.render.plan_text import render_plan_text

SRC, DST, LABEL = KINDS["Source"], KINDS["Destination"], KINDS["Label"]
A = Ownership("team-a")


def want(kind, address, **fields):
    return DesiredResource(kind, address, fields)


def have(kind, address, manager="", **fields):
    return CurrentResource(kind, address, fields, "e1", manager=manager)


def actions(plan):
    return {(c.address, c.action.value) for c in plan.changes}


def text(plan, show=False) -> str:
    buf = io.StringIO()
    render_plan_text(plan, Console(file=buf, width=200, color_system=None), show)
    return buf.getvalue()


def test_only_this_managers_undeclared_resources_are_deleted() -> None:
    current = [have(SRC, "ours", "team-a", catalog="javascript"), have(SRC, "ui", "", catalog="javascript"),
               have(SRC, "theirs", "team-b", catalog="javascript")]  # fmt: skip
    plan = compute_plan("ws", [], current, ownership=A)
    assert actions(plan) == {("ours", "delete")}
    assert plan.not_managed == (("Source", "ui"),)  # another manager's is not listed either
    assert plan.manager == "team-a"


def test_unmanaged_delete_deletes_what_nobody_manages_but_never_another_managers() -> None:
    current = [have(SRC, "ui", "", catalog="javascript"), have(SRC, "theirs", "team-b", catalog="javascript")]
    plan = compute_plan("ws", [], current, ownership=Ownership("team-a", "delete"))
    assert actions(plan) == {("ui", "delete")} and plan.not_managed == ()


def test_declaring_what_nobody_manages_adopts_it() -> None:
    plan = compute_plan("ws", [want(SRC, "web", catalog="javascript")],
                        [have(SRC, "web", "", catalog="javascript", enabled=True)], ownership=A)  # fmt: skip
    (change,) = plan.changes
    assert change.action is Action.UPDATE and change.adopt
    assert [(fc.path, fc.before, fc.after, fc.meta) for fc in change.field_changes] == [
        (("manager",), "", "team-a", True)]  # fmt: skip
    assert change.update_mask == ()  # metadata beside the mask, like protect
    assert (plan.to_adopt, plan.to_change) == (1, 0) and plan.has_changes
    # once it is ours, the same tree plans nothing
    after = compute_plan("ws", [want(SRC, "web", catalog="javascript")],
                         [have(SRC, "web", "team-a", catalog="javascript")], ownership=A)  # fmt: skip
    assert after.changes == ()


def test_an_adoption_carries_the_field_changes_too() -> None:
    plan = compute_plan("ws", [want(SRC, "web", catalog="javascript", enabled=False)],
                        [have(SRC, "web", "", catalog="javascript", enabled=True)], ownership=A)  # fmt: skip
    (change,) = plan.changes
    assert change.adopt and change.update_mask == ("source.enabled",)
    assert {fc.path for fc in change.field_changes} == {("enabled",), ("manager",)}
    assert (plan.to_adopt, plan.to_change) == (1, 1)


def test_declaring_another_managers_resource_is_blocked_naming_it() -> None:
    for fields in ({"catalog": "javascript"}, {"catalog": "javascript", "enabled": False}):
        plan = compute_plan("ws", [want(SRC, "web", **fields)],
                            [have(SRC, "web", "team-b", catalog="javascript")], ownership=A)  # fmt: skip
        (change,) = plan.changes
        assert change.action is Action.BLOCKED and "'team-b'" in change.reason
        assert plan.blocked == 1 and plan_steps(plan) == []


def test_built_in_labels_are_neither_listed_nor_adopted_nor_deleted() -> None:
    current = [have(LABEL, "environment:dev", "", description=""),
               have(LABEL, "environment:prod", "", description="")]  # fmt: skip
    assert compute_plan("ws", [], current, ownership=Ownership("a", "delete")).changes == ()
    plan = compute_plan("ws", [], current, ownership=A)
    assert plan.changes == () and plan.not_managed == ()
    declared = compute_plan("ws", [want(LABEL, "environment:dev", description="")], current,
                            ownership=A)  # fmt: skip
    assert declared.changes == ()  # declaring one does not adopt it
    edited = compute_plan("ws", [want(LABEL, "environment:dev", description="Dev")], current,
                          ownership=A)  # fmt: skip
    (change,) = edited.changes
    assert not change.adopt and change.update_mask == ("label.description",)


def test_a_parent_keeping_something_beneath_it_is_not_deleted() -> None:
    current = [have(SRC, "web", "team-a", catalog="javascript"),
               have(DST, "web/theirs", "team-b", catalog="amplitude")]  # fmt: skip
    (change,) = compute_plan("ws", [], current, ownership=A).changes
    assert change.action is Action.BLOCKED and change.blocked_action is Action.DELETE
    assert "web/theirs" in change.reason
    # children seg deletes with it keep the existing order: children first
    ours = [have(SRC, "web", "team-a", catalog="javascript"),
            have(DST, "web/amp", "team-a", catalog="amplitude")]  # fmt: skip
    steps = plan_steps(compute_plan("ws", [], ours, ownership=A))
    assert [(s.op, s.change.address) for s in steps] == [("delete", "web/amp"),
                                                         ("delete", "web")]  # fmt: skip


def test_external_resources_are_referred_to_and_never_deleted() -> None:
    theirs = have(SRC, "web", "team-a", catalog="javascript")  # ours, but listed as external
    owned = Ownership("team-a", "delete", frozenset({("Source", "web")}))
    plan = compute_plan("ws", [want(DST, "web/amp", catalog="amplitude")], [theirs],
                        ownership=owned)  # fmt: skip
    assert actions(plan) == {("web/amp", "create")}


def test_without_ownership_every_live_resource_counts_as_the_trees() -> None:
    # seg diff compares two states: nothing is adopted, blocked or listed as not managed
    plan = compute_plan("ws", [want(SRC, "web", catalog="javascript")],
                        [have(SRC, "web", "team-b", catalog="javascript"), have(SRC, "ui", "")])
    assert actions(plan) == {("ui", "delete")} and plan.not_managed == () and plan.manager == ""


def test_views_show_adoptions_and_the_not_managed_summary() -> None:
    current = [have(SRC, "web", "", catalog="javascript"), have(SRC, "ui-a", "", catalog="javascript"),
               have(SRC, "ui-b", "", catalog="javascript")]  # fmt: skip
    plan = compute_plan("ws", [want(SRC, "web", catalog="javascript")], current,
                        ownership=Ownership("growth-team"))  # fmt: skip
    shown = text(plan)
    assert "~ Source web (adopt)" in shown
    assert "Plan: 1 to adopt, 0 to add, 0 to change, 0 to destroy." in shown
    assert ("2 resources in workspace ws are not managed by growth-team (left alone; seg plan "
            "--show-unmanaged lists them)") in shown  # fmt: skip
    assert "ui-a" not in shown
    listed = text(plan, show=True)
    assert "    Source ui-a\n    Source ui-b\n" in listed
    data = plan_to_json(plan)
    assert data["not_managed"] == [{"address": "ui-a", "kind": "Source"},
                                   {"address": "ui-b", "kind": "Source"}]  # fmt: skip
    assert data["manager"] == "growth-team" and data["summary"]["adopt"] == 1
    assert [c["adopt"] for c in data["changes"]] == [True]
    markdown = render_plan_markdown(plan)
    assert "(adopt)" in markdown and "2 resources in workspace ws are not managed" in markdown
    assert "ui-a" not in markdown and "ui-a" in render_plan_markdown(plan, show_unmanaged=True)


def test_a_plan_without_changes_still_reports_what_it_leaves_alone() -> None:
    plan = compute_plan("ws", [], [have(SRC, "ui", "", catalog="javascript")], ownership=A)
    assert not plan.has_changes
    assert text(plan).splitlines()[1] == (
        "1 resource in workspace ws is not managed by team-a (left alone; seg plan "
        "--show-unmanaged lists them)")  # fmt: skip
    assert "1 resource in workspace ws is not managed" in render_plan_markdown(plan)
    assert plan_to_json(plan)["not_managed"] == [{"address": "ui", "kind": "Source"}]


def test_the_markdown_table_counts_adoptions_and_the_listing_is_bounded() -> None:
    current = [have(SRC, "web", "", catalog="javascript")]
    current += [have(SRC, f"ui-{i:03}", "", catalog="javascript") for i in range(250)]
    plan = compute_plan("ws", [want(SRC, "web", catalog="javascript")], current,
                        ownership=Ownership("growth-team"))  # fmt: skip
    markdown = render_plan_markdown(plan, show_unmanaged=True)
    assert "| kind | adopt | add | change | destroy | replace | blocked |" in markdown
    assert "| Source | 1 | 0 | 0 | 0 | 0 | 0 |" in markdown
    assert "- Source ui-199" in markdown and "ui-200" not in markdown
    assert "- … and 50 more (seg plan --show-unmanaged)" in markdown
    assert "ui-249" in text(plan, show=True)  # the text plan lists them all
    plain = compute_plan("ws", [want(SRC, "web", catalog="javascript", enabled=False)],
                         [have(SRC, "web", "team-a", catalog="javascript", enabled=True)], ownership=A)
    assert "| kind | add | change | destroy | replace | blocked |" in render_plan_markdown(plain)


def test_a_kept_child_blocks_only_the_delete_of_its_own_parent() -> None:
    """"Beneath" follows the kinds' parents, not the address: Group ``web`` holds nothing,
    whatever Source ``web`` holds."""
    group = KINDS["Group"]
    current = [have(group, "web", "team-a", display_name="Web"),
               have(SRC, "web", "team-a", catalog="javascript"),
               have(DST, "web/amp", "team-b", catalog="amplitude")]  # fmt: skip
    plan = compute_plan("ws", [], current, ownership=A)
    by_kind = {c.kind.name: c for c in plan.changes}
    assert by_kind["Group"].action is Action.DELETE
    assert by_kind["Source"].action is Action.BLOCKED
    assert "web/amp stays beneath it" in by_kind["Source"].reason


TP, GROUP, BINDING = KINDS["TrackingPlan"], KINDS["Group"], KINDS["RoleBinding"]


def test_a_replace_that_would_delete_a_kept_child_is_blocked() -> None:
    """A replace deletes first: the control plane refuses while a child the plan keeps (here
    nobody's, undeclared) stays beneath it, so the plan blocks it instead of promising it."""
    current = [have(SRC, "uimade", "", catalog="javascript"),
               have(DST, "uimade/amp", "", catalog="amplitude")]  # fmt: skip
    plan = compute_plan("ws", [want(SRC, "uimade", catalog="ios")], current, ownership=A)
    (change,) = plan.changes
    assert change.action is Action.BLOCKED and change.blocked_action is Action.REPLACE
    assert change.reason.startswith("would be replaced (")
    assert "uimade/amp stays beneath it (not deleted by this plan): declare it too" in change.reason
    assert (plan.blocked, plan.to_adopt) == (1, 0) and plan_steps(plan) == []
    assert "! Source uimade" in text(plan)
    # declared too, the child is adopted and replaced with it: nothing blocks
    declared = [want(SRC, "uimade", catalog="ios"), want(DST, "uimade/amp", catalog="amplitude")]
    replaced = compute_plan("ws", declared, current, ownership=A)
    assert actions(replaced) == {("uimade", "replace"), ("uimade/amp", "replace")}
    # another manager's child, declared: its takeover is blocked, so it stays, so the parent too
    theirs = [current[0], have(DST, "uimade/amp", "team-b", catalog="amplitude")]
    both = compute_plan("ws", declared, theirs, ownership=A)
    assert {c.address: c.blocked_action for c in both.changes} == {
        "uimade": Action.REPLACE, "uimade/amp": Action.REPLACE}  # fmt: skip


def test_deleting_what_a_kept_resource_refers_to_is_blocked_naming_it() -> None:
    """Our label and tracking plan, still used by another manager's source: the control plane
    refuses both deletes (409), so the plan shows them blocked, naming the user."""
    current = [have(LABEL, "team:growth", "team-a", description=""),
               have(TP, "tp1", "team-a", display_name="TP"),
               have(SRC, "othersrc", "team-b", catalog="javascript", labels={"team": "growth"},
                    tracking_plan="tp1")]  # fmt: skip
    plan = compute_plan("ws", [], current, ownership=A)
    assert {c.address: c.action for c in plan.changes} == {
        "team:growth": Action.BLOCKED, "tp1": Action.BLOCKED}  # fmt: skip
    for change in plan.changes:
        assert change.blocked_action is Action.DELETE
        assert change.reason == ("it is in use by Source othersrc, which this plan keeps: "
                                 "remove the reference first")  # fmt: skip
    assert plan_steps(plan) == [] and plan.blocked == 2
    assert "0 to destroy" in text(plan) and "! Label team:growth" in text(plan)
    # a role binding's group and scope count too
    bound = [have(GROUP, "devs", "team-a", display_name="Devs"),
             have(SRC, "web", "team-a", catalog="javascript"),
             have(BINDING, "b1", "team-b", role="source_admin", subject={"group": "devs"},
                  scope={"sources": ["web"]})]  # fmt: skip
    blocked = compute_plan("ws", [], bound, ownership=A).changes
    assert {(c.address, c.action) for c in blocked} == {("devs", Action.BLOCKED),
                                                        ("web", Action.BLOCKED)}  # fmt: skip
    assert all("in use by RoleBinding b1" in c.reason for c in blocked)


def test_references_that_the_plan_removes_block_nothing() -> None:
    """The referrer deleted, replaced, or updated so that it no longer refers: the delete goes
    ahead, after the change that stops referring (engine.guards.order_disconnects)."""
    label = have(LABEL, "team:growth", "team-a", description="")
    user = have(SRC, "web", "team-a", catalog="javascript", labels={"team": "growth"})
    deleted = compute_plan("ws", [], [label, user], ownership=A)
    assert actions(deleted) == {("team:growth", "delete"), ("web", "delete")}
    updated = compute_plan("ws", [want(SRC, "web", catalog="javascript", labels={})], [label, user],
                           ownership=A)  # fmt: skip
    assert actions(updated) == {("team:growth", "delete"), ("web", "update")}
    steps = [(s.op, s.change.address) for s in plan_steps(updated)]
    assert steps.index(("update", "web")) < steps.index(("delete", "team:growth"))
    # an update that keeps the reference keeps it blocked (the fields after the plan count)
    kept = compute_plan("ws", [want(SRC, "web", catalog="javascript", enabled=False,
                                    labels={"team": "growth"})], [label, user], ownership=A)
    assert {c.address: c.action for c in kept.changes} == {"team:growth": Action.BLOCKED,
                                                           "web": Action.UPDATE}  # fmt: skip


def test_a_blocked_change_keeps_its_parents_and_what_it_refers_to() -> None:
    """Blocking spreads: our source cannot go (nobody's destination beneath it), so the label
    it carries and the tracking plan it is connected to cannot go either."""
    current = [have(LABEL, "team:growth", "team-a", description=""),
               have(TP, "tp1", "team-a", display_name="TP"),
               have(SRC, "web", "team-a", catalog="javascript", labels={"team": "growth"},
                    tracking_plan="tp1"),
               have(DST, "web/amp", "", catalog="amplitude")]  # fmt: skip
    plan = compute_plan("ws", [], current, ownership=A)
    by_address = {c.address: c for c in plan.changes}
    assert {a: c.action for a, c in by_address.items()} == {
        "team:growth": Action.BLOCKED, "tp1": Action.BLOCKED, "web": Action.BLOCKED}
    assert "web/amp stays beneath it" in by_address["web"].reason
    assert "in use by Source web" in by_address["tp1"].reason
    # the chain of blocks runs any length: a protected mapping keeps its destination and source
    mapping = KINDS["Mapping"]
    chain = [have(SRC, "s", "team-a", catalog="javascript"),
             have(DST, "s/d", "team-a", catalog="amplitude"),
             CurrentResource(mapping, "s/d/m", {"model": "s/q"}, "e1", manager="team-a",
                             protect=True),
             have(KINDS["Model"], "s/q", "team-a", query="select 1")]  # fmt: skip
    blocked = compute_plan("ws", [], chain, ownership=A).changes
    assert {c.address for c in blocked if c.action is Action.BLOCKED} == {"s", "s/d", "s/d/m",
                                                                          "s/q"}  # fmt: skip


def test_keeping_parents_is_linear_in_the_resources() -> None:
    """100,000 live resources, every one kept or blocked by another: one pass, not a scan per
    resource (a nested scan would take hours here)."""
    n = 25_000
    current = [have(LABEL, f"team:t{i}", "team-a", description="") for i in range(n)]
    current += [have(SRC, f"s{i}", "team-a", catalog="javascript", labels={"team": f"t{i}"})
                for i in range(n)]  # fmt: skip
    current += [have(DST, f"s{i}/d", "", catalog="amplitude") for i in range(n)]
    current += [have(SRC, f"o{i}", "team-b", catalog="javascript", labels={"team": f"t{i}"})
                for i in range(n)]  # fmt: skip
    changes = [Change(r.address, r.kind, Action.DELETE, before=r.fields) for r in current
               if r.manager == "team-a"]  # fmt: skip
    started = time.perf_counter()
    out = keep_parents(changes, current)
    assert time.perf_counter() - started < 20
    assert len(out) == 2 * n and all(c.action is Action.BLOCKED for c in out)
    label = next(c for c in out if c.address == "team:t7")
    assert label.reason == ("it is in use by Source o7, Source s7, which this plan keeps: "
                            "remove the reference first")  # fmt: skip
