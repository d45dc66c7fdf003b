"""Closed map fields (``FieldSpec.closed``, Source.schema_settings): declared whole, diffed and
masked per leaf, keys the YAML does not declare cleared (not left alone), an absent field
standing for the kind's default; ownership never clears inside them on its own, and exports
leave the defaults out."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from seg.engine import Action, compute_plan
from seg.engine.diff import count_unmanaged, diff_fields
from seg.engine.ownership import Ownership
from seg.kinds import KINDS
from seg.kinds.source import DEFAULT_SCHEMA_SETTINGS, normalize
from seg.model.kinds import FieldSpec, Kind
from seg.model.resource import CurrentResource, DesiredResource
from seg.workspace.export import render_export

SRC = KINDS["Source"]
DEFAULTS = {"a": {"x": True, "y": True}, "list": []}
# A kind of its own: the mechanism is generic, not the Source's.
BOX = Kind(name="Box", key="box", collection="boxes", order=99,
           fields=(FieldSpec("opts", "object", map_like=True, closed=True),
                   FieldSpec("settings", "object", map_like=True)),
           defaults={"opts": DEFAULTS})  # fmt: skip


@pytest.fixture(autouse=True)
def registered(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The plan asks the registry (references): Box is registered for each test only."""
    monkeypatch.setitem(KINDS, BOX.name, BOX)
    yield


def want(kind: Kind, fields: dict[str, Any]) -> DesiredResource:
    return DesiredResource(kind, "b", fields)


def have(kind: Kind, fields: dict[str, Any], managed: frozenset[str] = frozenset()
         ) -> CurrentResource:  # fmt: skip
    return CurrentResource(kind, "b", fields, "e1", managed=managed,
                           manager="default" if managed else "")  # fmt: skip


def paths(changes: Any) -> list[tuple[tuple[str, ...], bool]]:
    return [(fc.path, fc.cleared) for fc in changes]


def test_a_key_the_yaml_does_not_declare_is_cleared_in_a_closed_map_only() -> None:
    live = {"opts": {**copy.deepcopy(DEFAULTS), "to": "q"}, "settings": {"k": 1, "ui": 2}}
    changes = diff_fields(want(BOX, {"opts": DEFAULTS, "settings": {"k": 1}}), have(BOX, live))
    assert paths(changes) == [(("opts", "to"), True)]  # settings.ui stays (not closed)


def test_nested_keys_are_cleared_and_changed_leaves_masked_alone() -> None:
    live = {"opts": {"a": {"x": True, "y": True, "z": 1}, "list": ["e"]}}
    desired = {"opts": {"a": {"x": False, "y": True}, "list": []}}
    (change,) = compute_plan("ws", [want(BOX, desired)], [have(BOX, live)]).changes
    assert sorted(change.update_mask) == ["box.opts.a.x", "box.opts.a.z", "box.opts.list"]
    assert sorted(paths(change.field_changes)) == [
        (("opts", "a", "x"), False),
        (("opts", "a", "z"), True),
        (("opts", "list"), False),
    ]
    assert change.after["opts"] == desired["opts"]
    assert change.unmanaged == 0


def test_an_absent_closed_field_is_its_default_on_either_side() -> None:
    assert diff_fields(want(BOX, {}), have(BOX, {"opts": DEFAULTS})) == []
    assert diff_fields(want(BOX, {"opts": DEFAULTS}), have(BOX, {})) == []
    drifted = {"opts": {"a": {"x": False, "y": True}, "list": [], "to": "q"}}
    changes = diff_fields(want(BOX, {}), have(BOX, drifted))
    assert paths(changes) == [(("opts", "a", "x"), False), (("opts", "to"), True)]
    assert changes[0].after is True


def test_adopting_from_nobody_clears_what_the_yaml_does_not_declare() -> None:
    """Not "left alone": a closed map is declared whole even for a resource seg never wrote."""
    live = have(BOX, {"opts": {**DEFAULTS, "to": "q"}})  # no managed paths, no manager
    plan = compute_plan("ws", [want(BOX, {"opts": DEFAULTS})], [live],
                        ownership=Ownership("default"))  # fmt: skip
    (change,) = plan.changes
    assert change.adopt and "box.opts.to" in change.update_mask


def test_ownership_does_not_clear_inside_a_closed_map_on_its_own() -> None:
    """Leaves seg wrote before and the YAML now leaves to their default are compared with the
    default (no change when equal), not cleared."""
    managed = frozenset({"opts.a.x", "opts.a.y", "opts.list"})
    current = have(BOX, {"opts": copy.deepcopy(DEFAULTS)}, managed)
    plan = compute_plan("ws", [want(BOX, {})], [current], ownership=Ownership("default"))
    assert plan.changes == ()


def test_count_unmanaged_counts_nothing_inside_a_closed_map() -> None:
    live = have(BOX, {"opts": {**DEFAULTS, "to": "q"}, "settings": {"ui": 1}})
    desired = want(BOX, {"opts": DEFAULTS})
    assert count_unmanaged(desired, live, diff_fields(desired, live)) == 1  # settings.ui


def test_source_schema_settings_removing_a_forwarding_target_clears_it() -> None:
    on = normalize({"catalog": "javascript", "tracking_plan": "tp",
                    "schema_settings": {"forwarding_violations_to": "q",
                                        "forwarding_blocked_events_to": "q"}})  # fmt: skip
    off = normalize({"catalog": "javascript", "tracking_plan": "tp",
                     "schema_settings": {"forwarding_blocked_events_to": "q"}})  # fmt: skip
    (change,) = compute_plan("ws", [want(SRC, off)], [have(SRC, on)]).changes
    assert change.action is Action.UPDATE
    assert change.update_mask == ("source.schema_settings.forwarding_violations_to",)
    assert change.field_changes[0].cleared


def test_a_source_without_schema_settings_has_the_defaults() -> None:
    live = have(SRC, {"catalog": "javascript", "schema_settings": DEFAULT_SCHEMA_SETTINGS})
    assert diff_fields(want(SRC, normalize({"catalog": "javascript"})), live) == []
    stored_before = have(SRC, {"catalog": "javascript"})  # a row from before the field
    assert diff_fields(want(SRC, normalize({"catalog": "javascript"})), stored_before) == []


def test_export_leaves_defaults_out_of_a_closed_map() -> None:
    blocking = normalize(
        {
            "catalog": "javascript",
            "tracking_plan": "tp",
            "schema_settings": {"track": {"allow_unplanned_events": False}},
        }
    )
    plain = normalize({"catalog": "javascript", "schema_settings": {}})
    plain["schema_settings"] = DEFAULT_SCHEMA_SETTINGS
    files = render_export("ws", [CurrentResource(SRC, "shop", blocking),
                                 CurrentResource(SRC, "web", plain)]).files  # fmt: skip
    assert (
        "schema_settings:\n    track:\n      allow_unplanned_events: false\n"
        in (files["sources/shop.yaml"])
    )
    assert "schema_settings" not in files["sources/web.yaml"]
