"""The differ and the step order: pure functions over desired and current resources."""

from __future__ import annotations

from seg.engine import Action, compute_plan, plan_steps
from seg.kinds import KINDS
from seg.model.resource import CurrentResource, DesiredResource
from seg.model.secrets import DIGEST_PREFIX

SRC, DST = KINDS["Source"], KINDS["Destination"]


def want(kind, address, protect=False, secrets=(), **fields):
    return DesiredResource(kind, address, fields, frozenset(secrets), protect)


def have(kind, address, etag="e1", **fields):
    return CurrentResource(kind, address, fields, etag)


def test_no_changes_when_declared_fields_match_and_extra_fields_exist() -> None:
    desired = [want(SRC, "web", catalog="javascript", settings={"a": 1})]
    current = [have(SRC, "web", catalog="javascript", enabled=True, display_name="",
                    settings={"a": 1, "set_in_ui": "x"})]  # fmt: skip
    assert compute_plan("ws", desired, current).changes == ()


def test_update_mask_names_exactly_the_changed_leaves() -> None:
    desired = [want(DST, "web/amp", catalog="amplitude", enabled=True,
                    settings={"region": "us", "keep": 1})]  # fmt: skip
    current = [have(DST, "web/amp", catalog="amplitude", enabled=False,
                    settings={"region": "eu", "keep": 1, "unmanaged": 2})]  # fmt: skip
    (change,) = compute_plan("ws", desired, current).changes
    assert change.action is Action.UPDATE
    assert change.update_mask == ("destination.enabled", "destination.settings.region")
    assert change.after["settings"] == {"region": "us", "keep": 1, "unmanaged": 2}


def test_booleans_are_not_numbers() -> None:
    desired = [want(SRC, "web", catalog="javascript", settings={"flag": True})]
    current = [have(SRC, "web", catalog="javascript", settings={"flag": 1})]
    assert compute_plan("ws", desired, current).changes[0].update_mask == ("source.settings.flag",)


def test_secrets_compare_through_the_servers_answers_and_are_marked_sensitive() -> None:
    digest = DIGEST_PREFIX + "ab" * 32
    current = [have(SRC, "web", catalog="javascript", settings={"api_key": digest})]
    desired = [want(SRC, "web", catalog="javascript", settings={"api_key": "s3cret"},
                    secrets=[("settings", "api_key")])]  # fmt: skip
    matched = {("Source", "web", ("settings", "api_key"))}
    assert compute_plan("ws", desired, current, secrets_matched=matched).changes == ()
    (change,) = compute_plan("ws", desired, current).changes  # the server said: differs
    assert change.field_changes[0].sensitive
    assert change.redacted_after()["settings"]["api_key"] == "(sensitive)"
    assert change.redacted_before()["settings"]["api_key"] == "(sensitive)"


def test_a_secret_inside_a_list_compares_by_answer_and_hides_the_whole_list() -> None:
    digest = DIGEST_PREFIX + "cd" * 32
    current = [have(SRC, "web", catalog="javascript", settings={"hosts": ["a", digest]})]
    path = ("settings", "hosts", 1)
    desired = [want(SRC, "web", catalog="javascript", settings={"hosts": ["a", "s3cret"]},
                    secrets=[path])]  # fmt: skip
    matched = {("Source", "web", path)}
    assert compute_plan("ws", desired, current, secrets_matched=matched).changes == ()
    (change,) = compute_plan("ws", desired, current).changes
    (fc,) = change.field_changes
    assert fc.path == ("settings", "hosts") and fc.sensitive
    assert change.redacted_after()["settings"]["hosts"] == ["a", "(sensitive)"]
    assert change.update_mask == ("source.settings.hosts",)


def test_immutable_change_replaces_and_cascades_to_children() -> None:
    desired = [want(SRC, "web", catalog="ios"), want(DST, "web/amp", catalog="amplitude")]
    current = [have(SRC, "web", catalog="javascript"), have(DST, "web/amp", catalog="amplitude")]
    plan = compute_plan("ws", desired, current)
    assert [(c.address, c.action) for c in plan.changes] == [
        ("web", Action.REPLACE), ("web/amp", Action.REPLACE)]  # fmt: skip
    assert "catalog is immutable" in plan.changes[0].reason
    assert (plan.to_add, plan.to_change, plan.to_destroy) == (2, 0, 2)
    ops = [(s.op, s.change.address, s.depends_on) for s in plan_steps(plan)]
    assert ops == [("delete", "web/amp", ()), ("delete", "web", (0,)),
                   ("create", "web", (1,)), ("create", "web/amp", (0, 2))]  # fmt: skip


def test_protected_replace_is_blocked_not_performed() -> None:
    desired = [want(SRC, "web", protect=True, catalog="ios")]
    plan = compute_plan("ws", desired, [have(SRC, "web", catalog="javascript")])
    (change,) = plan.changes
    assert change.action is Action.BLOCKED and change.blocked_action is Action.REPLACE
    assert plan.blocked == 1 and plan_steps(plan) == []


def test_creates_parents_first_and_deletes_children_first() -> None:
    desired = [want(DST, "new/amp", catalog="amplitude"), want(SRC, "new", catalog="javascript")]
    current = [have(SRC, "old", catalog="javascript"), have(DST, "old/amp", catalog="amplitude")]
    steps = plan_steps(compute_plan("ws", desired, current))
    assert [(s.op, s.change.address, s.depends_on) for s in steps] == [
        ("delete", "old/amp", ()), ("delete", "old", (0,)),
        ("create", "new", ()), ("create", "new/amp", (2,))]  # fmt: skip


def test_declared_field_missing_on_server_is_an_update() -> None:
    desired = [want(SRC, "web", catalog="javascript", display_name="Web")]
    (change,) = compute_plan("ws", desired, [have(SRC, "web", catalog="javascript")]).changes
    assert change.field_changes[0].before is None and change.update_mask == ("source.display_name",)
