"""--target: unknown targets, and the pending changes a target pulls in. Pure engine."""

from __future__ import annotations

import pytest

from seg.engine import Action, compute_plan
from seg.engine.scope import check_targets, target_plan
from seg.errors import ConfigError
from seg.kinds import KINDS
from seg.model.resource import CurrentResource, DesiredResource
from seg.render.plan_json import plan_to_json
from seg.render.plan_markdown import render_plan_markdown
from seg.render.plan_text import plan_lines

SRC, DST, FLT = KINDS["Source"], KINDS["Destination"], KINDS["DestinationFilter"]
MODEL, MAPPING = KINDS["Model"], KINDS["Mapping"]
LABEL, GROUP, BINDING = KINDS["Label"], KINDS["Group"], KINDS["RoleBinding"]


def want(kind, address, **fields):
    return DesiredResource(kind, address, fields)


def have(kind, address, **fields):
    return CurrentResource(kind, address, fields, "e1")


def actions(plan) -> dict[str, tuple[str, tuple[str, ...]]]:
    return {c.address: (c.action.value, c.included_by) for c in plan.changes}


def test_an_unknown_target_is_an_error_with_a_did_you_mean() -> None:
    with pytest.raises(ConfigError) as info:
        check_targets(["wbe"], ["web", "web/amplitude", "ios"])
    message = str(info.value)
    assert message.startswith("unknown target 'wbe': no resource")
    assert message.endswith("(did you mean 'web'?)")
    assert "\n" not in message


def test_targets_match_declared_live_and_parent_addresses() -> None:
    check_targets(["web"], ["web/amplitude"])  # a parent of a declared address
    check_targets(["old"], ["old"])  # only live (to be deleted)
    check_targets(["team:growth", "web/amplitude"], ["team:growth", "web/amplitude"])


def test_every_unknown_target_is_named_in_one_line() -> None:
    with pytest.raises(ConfigError) as info:
        check_targets(["web", "wbe/amplitude", "zzz"], ["web", "web/amplitude"])
    message = str(info.value)
    assert "unknown targets 'wbe/amplitude' (did you mean 'web/amplitude'?), 'zzz':" in message
    assert "\n" not in message


def test_a_huge_target_is_clipped_and_gets_no_hint() -> None:
    with pytest.raises(ConfigError) as info:
        check_targets(["web" * 10_000], ["web"])
    assert len(str(info.value)) < 300
    assert "did you mean" not in str(info.value)


def test_a_destination_pulls_in_its_missing_source() -> None:
    desired = [want(SRC, "web", catalog="javascript"), want(DST, "web/amp", catalog="amplitude"),
               want(SRC, "ios", catalog="ios")]  # fmt: skip
    plan = target_plan(compute_plan("ws", desired, []), ["web/amp"])
    assert actions(plan) == {"web": ("create", ("web/amp",)), "web/amp": ("create", ())}
    assert plan.targets == ("web/amp",)
    assert [c.address for c in plan.changes] == ["web", "web/amp"]  # parents first


def test_a_present_and_equal_dependency_is_not_pulled_in() -> None:
    desired = [want(SRC, "web", catalog="javascript"), want(DST, "web/amp", catalog="amplitude")]
    plan = target_plan(compute_plan("ws", desired, [have(SRC, "web", catalog="javascript")]), ["web/amp"])
    assert actions(plan) == {"web/amp": ("create", ())}


def test_a_dependency_with_a_pending_update_is_pulled_in() -> None:
    desired = [want(SRC, "web", catalog="javascript", display_name="Web"),
               want(DST, "web/amp", catalog="amplitude")]  # fmt: skip
    current = [have(SRC, "web", catalog="javascript", display_name="Old")]
    plan = target_plan(compute_plan("ws", desired, current), ["web/amp"])
    assert actions(plan) == {"web": ("update", ("web/amp",)), "web/amp": ("create", ())}


def test_deletes_are_never_pulled_in_and_a_target_covers_what_is_beneath_it() -> None:
    desired = [want(SRC, "web", catalog="javascript"), want(DST, "web/amp", catalog="amplitude")]
    current = [have(SRC, "old", catalog="javascript"), have(DST, "web/gone", catalog="webhook")]
    plan = target_plan(compute_plan("ws", desired, current), ["web"])
    assert actions(plan) == {"web": ("create", ()), "web/amp": ("create", ()),
                             "web/gone": ("delete", ())}  # fmt: skip


def test_a_mapping_pulls_in_its_model_and_the_source_transitively() -> None:
    desired = [
        want(SRC, "wh", catalog="postgres"),
        want(DST, "wh/braze", catalog="braze"),
        want(MODEL, "wh/users", query="SELECT id FROM u", identifier_column="id"),
        want(MAPPING, "wh/braze/sync", action="a", model="wh/users",
             schedule={"strategy": "MANUAL"}),
        want(MODEL, "wh/other", query="SELECT id FROM o", identifier_column="id"),
    ]  # fmt: skip
    plan = target_plan(compute_plan("ws", desired, []), ["wh/braze/sync"])
    assert actions(plan) == {
        "wh": ("create", ("wh/braze/sync",)),
        "wh/braze": ("create", ("wh/braze/sync",)),
        "wh/users": ("create", ("wh/braze/sync",)),
        "wh/braze/sync": ("create", ()),
    }


def test_a_filter_pulls_in_its_destination_and_source() -> None:
    desired = [want(SRC, "web", catalog="javascript"), want(DST, "web/amp", catalog="amplitude"),
               want(FLT, "web/amp/drop", title="t", **{"if": "all"},
                    actions=[{"type": "DROP"}])]  # fmt: skip
    plan = target_plan(compute_plan("ws", desired, []), ["web/amp/drop"])
    assert set(actions(plan)) == {"web", "web/amp", "web/amp/drop"}
    assert plan.changes[0].included_by == ("web/amp/drop",)


def test_labels_groups_and_sources_a_binding_or_source_refers_to_are_pulled_in() -> None:
    desired = [
        want(LABEL, "team:growth"),
        want(GROUP, "growth", members=[]),
        want(SRC, "web", catalog="javascript", labels={"team": "growth"}),
        want(BINDING, "b", subject={"group": "growth"}, role="source_admin",
             scope={"sources": ["web"]}),
        want(SRC, "ios", catalog="ios"),
    ]  # fmt: skip
    plan = target_plan(compute_plan("ws", desired, []), ["b"])
    assert actions(plan) == {
        "team:growth": ("create", ("b",)),  # through the source's label
        "growth": ("create", ("b",)),
        "web": ("create", ("b",)),
        "b": ("create", ()),
    }


def test_a_dependency_two_targets_need_names_both() -> None:
    desired = [want(SRC, "web", catalog="javascript"), want(DST, "web/a", catalog="amplitude"),
               want(DST, "web/b", catalog="mixpanel")]  # fmt: skip
    plan = target_plan(compute_plan("ws", desired, []), ["web/a", "web/b"])
    assert plan.changes[0].included_by == ("web/a", "web/b")
    text = "\n".join(line for _, line in plan_lines(plan))
    assert "(included: web/a, web/b depend on it)" in text


def test_every_view_says_the_plan_is_targeted_and_why_a_change_is_there() -> None:
    desired = [want(SRC, "web", catalog="javascript"), want(DST, "web/amp", catalog="amplitude")]
    plan = target_plan(compute_plan("ws", desired, []), ["web/amp"])
    text = "\n".join(line for _, line in plan_lines(plan))
    assert "Plan (targeted: web/amp): 2 to add, 0 to change, 0 to destroy." in text
    assert "(included: web/amp depends on it)" in text
    markdown = render_plan_markdown(plan)
    assert "**Plan (targeted: web/amp): 2 to add" in markdown
    assert "<i>(included: web/amp depends on it)</i>" in markdown
    data = plan_to_json(plan)
    assert data["targets"] == ["web/amp"]
    by_address = {c["address"]: c for c in data["changes"]}
    assert by_address["web"]["included_by"] == ["web/amp"]
    assert by_address["web/amp"]["included_by"] == []


def test_a_targeted_plan_without_changes_says_so() -> None:
    desired = [want(SRC, "web", catalog="javascript"), want(SRC, "ios", catalog="ios")]
    plan = target_plan(compute_plan("ws", desired, [have(SRC, "web", catalog="javascript")]), ["web"])
    assert plan.changes == ()
    (line,) = [line for _, line in plan_lines(plan)]
    assert line == "No changes (targeted: web). The targets match the configuration."
    assert "No changes (targeted: web): the targets match." in render_plan_markdown(plan)


def test_a_blocked_dependency_is_pulled_in_so_the_plan_is_blocked() -> None:
    desired = [DesiredResource(SRC, "web", {"catalog": "new"}, protect=True),
               want(DST, "web/amp", catalog="amplitude")]  # fmt: skip
    current = [CurrentResource(SRC, "web", {"catalog": "old"}, "e1", protect=True)]
    plan = target_plan(compute_plan("ws", desired, current), ["web/amp"])
    assert actions(plan)["web"] == ("blocked", ("web/amp",))
    assert plan.blocked == 1
    assert plan.changes[0].action is Action.BLOCKED


def test_a_targeted_plan_lists_only_its_own_values_not_compared() -> None:
    desired = [
        DesiredResource(SRC, "web", {"catalog": "javascript", "settings": {"k": "${env:A}"}},
                        unknown_paths=frozenset({("settings", "k")})),
        DesiredResource(SRC, "ios", {"catalog": "ios", "settings": {"k": "${env:B}"}},
                        unknown_paths=frozenset({("settings", "k")})),
        want(DST, "web/amp", catalog="amplitude"),
    ]  # fmt: skip
    full = compute_plan("ws", desired, [have(SRC, "web", catalog="javascript")])
    assert full.not_compared == (("ios", "settings.k"), ("web", "settings.k"))
    plan = target_plan(full, ["web/amp"])
    assert plan.not_compared == ()  # web is present: its unknown value is not the target's
    assert target_plan(full, ["web"]).not_compared == (("web", "settings.k"),)
