"""Empty containers, removed map keys and unordered rules in the differ (issue 11, item 10).

Each case also runs the plan's update mask through the server's pure mask function, so the
test checks what the control plane would hold, not only what the plan says.
"""

from __future__ import annotations

from typing import Any

from seg.apply.executor import _values
from seg.engine import Action, compute_plan, plan_steps
from seg.kinds import KINDS
from seg.model.resource import CurrentResource, DesiredResource
from seg.model.secrets import keyed_digest
from seg.model.values import same_items
from seg.render.values import field_lines
from seg.server.masks import apply_update_mask
from seg.tracking.rules import diff_rules

SRC, GRP, TP = KINDS["Source"], KINDS["Group"], KINDS["TrackingPlan"]


def want(kind: Any, address: str, **fields: Any) -> DesiredResource:
    return DesiredResource(kind, address, fields)


def have(kind: Any, address: str, managed: tuple[str, ...] = (), **fields: Any) -> CurrentResource:
    return CurrentResource(kind, address, fields, "e1", "", frozenset(managed))


def applied(desired: DesiredResource, current: CurrentResource) -> dict[str, Any]:
    """The server's fields after applying the plan's one update (the real mask function)."""
    (change,) = compute_plan("ws", [desired], [current]).changes
    assert change.action is Action.UPDATE
    (step,) = plan_steps(compute_plan("ws", [desired], [current]))
    return apply_update_mask(current.kind, dict(current.fields), _values(step),
                             list(change.update_mask))  # fmt: skip


def test_an_explicitly_empty_settings_map_removes_every_key() -> None:
    desired = want(SRC, "web", settings={})
    current = have(SRC, "web", ("settings.url",), settings={"url": "https://x"})
    (change,) = compute_plan("ws", [desired], [current]).changes
    assert change.update_mask == ("source.settings",)
    assert change.after["settings"] == {}
    assert applied(desired, current)["settings"] == {}


def test_an_empty_settings_map_is_no_change_when_the_server_is_empty() -> None:
    desired = want(SRC, "web", settings={})
    assert compute_plan("ws", [desired], [have(SRC, "web", settings={})]).changes == ()


def test_an_empty_nested_map_is_a_declared_value() -> None:
    desired = want(SRC, "web", settings={"opt": {"k": {}}})
    current = have(SRC, "web", settings={"opt": {"k": {"x": 1}}})
    (change,) = compute_plan("ws", [desired], [current]).changes
    assert change.update_mask == ("source.settings.opt.k",)
    assert applied(desired, current)["settings"] == {"opt": {"k": {}}}


def test_a_removed_nested_empty_map_is_cleared_with_its_parent() -> None:
    desired = want(SRC, "web", settings={"url": "u"})
    current = have(SRC, "web", ("settings.url", "settings.opt.k"),
                   settings={"url": "u", "opt": {"k": {}}})  # fmt: skip
    (change,) = compute_plan("ws", [desired], [current]).changes
    assert change.update_mask == ("source.settings.opt",)
    assert change.after["settings"] == {"url": "u"}
    assert applied(desired, current)["settings"] == {"url": "u"}


def test_a_removed_deep_map_is_cleared_at_its_outermost_undeclared_key() -> None:
    desired = want(SRC, "web", settings={"a": {"keep": 1}})
    current = have(SRC, "web", ("settings.a.keep", "settings.a.b.c", "settings.a.b.d"),
                   settings={"a": {"keep": 1, "b": {"c": 1, "d": {}}}})  # fmt: skip
    (change,) = compute_plan("ws", [desired], [current]).changes
    assert change.update_mask == ("source.settings.a.b",)
    assert applied(desired, current)["settings"] == {"a": {"keep": 1}}


def test_an_unmanaged_sibling_keeps_its_map() -> None:
    desired = want(SRC, "web", settings={"url": "u"})
    current = have(SRC, "web", ("settings.url", "settings.opt.k"),
                   settings={"url": "u", "opt": {"k": 1, "set_in_ui": 2}})  # fmt: skip
    (change,) = compute_plan("ws", [desired], [current]).changes
    assert change.update_mask == ("source.settings.opt.k",)
    assert applied(desired, current)["settings"] == {"url": "u", "opt": {"set_in_ui": 2}}


def test_the_last_managed_key_removed_with_settings_dropped_from_the_yaml() -> None:
    desired = want(SRC, "web", display_name="w")
    current = have(SRC, "web", ("display_name", "settings.opt.k"), display_name="w",
                   settings={"opt": {"k": "v"}})  # fmt: skip
    (change,) = compute_plan("ws", [desired], [current]).changes
    assert change.update_mask == ("source.settings.opt",)
    assert applied(desired, current)["settings"] == {}


def test_a_removed_null_settings_key_is_cleared() -> None:
    # found while building the convergence property test: `a: null` stayed forever
    desired = want(SRC, "web", settings={"b": 1})
    current = have(SRC, "web", ("settings.a", "settings.b"), settings={"a": None, "b": 1})
    (change,) = compute_plan("ws", [desired], [current]).changes
    assert change.update_mask == ("source.settings.a",)
    assert applied(desired, current)["settings"] == {"b": 1}


def test_emptying_or_clearing_a_map_that_holds_a_secret_is_sensitive() -> None:
    digest = keyed_digest(b"server key", "workspaces/ws/sources/web", "settings.auth.key", "s3cret")
    current = have(SRC, "web", ("settings.url", "settings.auth.key"),
                   settings={"url": "u", "auth": {"key": digest}})  # fmt: skip
    emptied = compute_plan("ws", [want(SRC, "web", settings={})], [current]).changes[0]
    cleared = compute_plan("ws", [want(SRC, "web", settings={"url": "u"})], [current]).changes[0]
    assert cleared.update_mask == ("source.settings.auth",)
    for change in (emptied, cleared):
        assert change.field_changes[0].sensitive
        assert digest not in repr(field_lines(change))


def test_an_explicitly_empty_list_is_a_declared_value() -> None:
    desired = want(GRP, "g", members=[])
    current = have(GRP, "g", members=["a@example.com"])
    (change,) = compute_plan("ws", [desired], [current]).changes
    assert change.update_mask == ("group.members",)
    assert applied(desired, current)["members"] == []


def rule(key: str, schema: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"type": "TRACK", "key": key, "version": 1, "json_schema": schema or {"type": "object"}}


def test_rules_in_another_order_are_not_a_change() -> None:
    desired = want(TP, "tp", rules=[rule("A"), rule("B"), rule("C")])
    current = have(TP, "tp", rules=[rule("A"), rule("C"), rule("B")])
    assert compute_plan("ws", [desired], [current]).changes == ()


def test_a_rule_inserted_in_the_middle_or_edited_is_a_change() -> None:
    current = have(TP, "tp", rules=[rule("A"), rule("C")])
    inserted = want(TP, "tp", rules=[rule("A"), rule("B"), rule("C")])
    assert compute_plan("ws", [inserted], [current]).changes[0].update_mask == (
        "tracking_plan.rules",
    )
    edited = want(TP, "tp", rules=[rule("C"), rule("A", {"type": "object", "required": ["x"]})])
    assert len(compute_plan("ws", [edited], [current]).changes) == 1


def test_unordered_comparison_tells_true_from_one_and_counts_duplicates() -> None:
    assert same_items([{"a": 1}, {"b": [1, 2]}], [{"b": [1, 2.0]}, {"a": 1}])
    assert not same_items([{"const": True}], [{"const": 1}])
    assert not same_items([1, 1, 2], [1, 2, 2])
    assert not same_items([1, 2], [[2, 1]])
    assert not same_items([], None)


def test_rule_sync_sees_a_schema_change_from_true_to_one() -> None:
    diff = diff_rules([rule("A", {"const": True})], [rule("A", {"const": 1})])
    assert [after["key"] for _, after in diff.changed] == ["A"]
