"""The audit trail's field-level changes (``seg.server.field_changes``): leaves of nested maps,
lists whole, a tracking plan's rules one by one, ownership metadata, secrets never shown (at
any depth, inside lists, rewritten or not), and the bounds on entries and values."""

from __future__ import annotations

import json
from typing import Any

import pytest

from seg.model.secrets import DIGEST_PREFIX, LEGACY_PREFIX
from seg.server.field_changes import MAX_ENTRIES, MAX_VALUE, field_changes
from seg.store.base import ResourceRecord

NAME = "workspaces/acme/sources/web/destinations/amp"
KEY_1 = DIGEST_PREFIX + "1" * 64  # the digests a stored record holds in place of secrets
KEY_2 = DIGEST_PREFIX + "2" * 64


def rec(data: dict[str, Any], secrets: list[str] | None = None, kind: str = "Destination",
        protect: bool = False, manager: str = "") -> ResourceRecord:  # fmt: skip
    return ResourceRecord(NAME, "acme", kind, None, data, secrets or [], "salt", "etag", "t", "t",
                          protect=protect, manager=manager,
                          secret_values="SEALED-CIPHERTEXT")  # fmt: skip


def test_a_create_lists_every_leaf_as_after_and_lists_whole() -> None:
    made = rec({"enabled": True, "settings": {"region": "eu", "auth": {"user": "u"}, "tags": [1, 2],
                                              "empty": {}}},
               manager="growth", protect=True)  # fmt: skip
    assert field_changes(None, made) == [
        {"path": "destination.enabled", "after": True},
        {"path": "destination.settings.auth.user", "after": "u"},
        {"path": "destination.settings.empty", "after": {}},
        {"path": "destination.settings.region", "after": "eu"},
        {"path": "destination.settings.tags", "after": [1, 2]},
        {"path": "protect", "after": True},
        {"path": "manager", "after": "growth"},
    ]


def test_a_delete_lists_every_leaf_as_before_and_unset_ownership_not_at_all() -> None:
    gone = rec({"enabled": False, "settings": {"a.b": 1}})
    assert field_changes(gone, None) == [
        {"path": "destination.enabled", "before": False},
        {"path": "destination.settings.`a.b`", "before": 1},  # format_path's quoting
    ]


def test_an_update_lists_only_the_values_that_changed() -> None:
    old = rec({"enabled": True, "settings": {"region": "eu", "auth": {"user": "u", "role": "r"},
                                             "tags": [1, 2], "mode": {"x": 1}, "n": 1, "f": 1}})
    new = rec({"enabled": True, "settings": {"region": "us", "auth": {"user": "u"},
                                             "tags": [2, 1], "mode": "plain", "n": {"y": 2},
                                             "f": 1.0, "added": None}})  # fmt: skip
    assert field_changes(old, new) == [
        {"path": "destination.settings.added", "after": None},
        {"path": "destination.settings.auth.role", "before": "r"},
        {"path": "destination.settings.mode", "after": "plain"},
        {"path": "destination.settings.mode.x", "before": 1},
        {"path": "destination.settings.n", "before": 1},
        {"path": "destination.settings.n.y", "after": 2},
        {"path": "destination.settings.region", "before": "eu", "after": "us"},
        {"path": "destination.settings.tags", "before": [1, 2], "after": [2, 1]},  # whole
    ]
    assert field_changes(old, old) == []


def test_ownership_changes_are_entries_of_their_own() -> None:
    old = rec({"enabled": True}, manager="a")
    new = rec({"enabled": True}, manager="", protect=True)
    assert field_changes(old, new) == [{"path": "protect", "before": False, "after": True},
                                       {"path": "manager", "before": "a", "after": ""}]


def test_secrets_read_set_at_any_depth_and_changed_only_when_their_digest_did() -> None:
    secrets = ["settings.auth.apiKey", "settings.token"]
    old = rec({"settings": {"auth": {"apiKey": KEY_1, "user": "u"}, "token": KEY_1}}, secrets)
    new = rec({"settings": {"auth": {"apiKey": KEY_2, "user": "u"}, "token": KEY_1,
                            "password": KEY_2}}, [*secrets, "settings.password"])  # fmt: skip
    assert field_changes(old, new) == [
        {"path": "destination.settings.auth.apiKey", "before": "set", "after": "set",
         "secret": True},
        {"path": "destination.settings.password", "after": "set", "secret": True},
    ]  # fmt: skip
    assert field_changes(new, old)[1] == {"path": "destination.settings.password",
                                          "before": "set", "secret": True}  # fmt: skip
    assert field_changes(None, old) == [
        {"path": "destination.settings.auth.apiKey", "after": "set", "secret": True},
        {"path": "destination.settings.auth.user", "after": "u"},
        {"path": "destination.settings.token", "after": "set", "secret": True},
    ]


def test_a_secret_the_write_sealed_anew_is_a_change_even_with_the_same_digest() -> None:
    old = rec({"settings": {"apiKey": KEY_1, "region": "eu"}}, ["settings.apiKey"])
    assert field_changes(old, old) == []
    assert field_changes(old, old, rewritten=["settings.apiKey"]) == [
        {"path": "destination.settings.apiKey", "before": "set", "after": "set", "secret": True}]


def test_a_legacy_digest_rekeyed_is_not_a_change() -> None:
    old = rec({"settings": {"apiKey": LEGACY_PREFIX + "a" * 64}}, ["settings.apiKey"])
    new = rec({"settings": {"apiKey": KEY_1}}, ["settings.apiKey"])
    assert field_changes(old, new) == []


def test_a_secret_path_without_a_value_is_no_phantom_secret() -> None:
    old = rec({"settings": {}}, ["settings.apiKey", "settings.gone[3]"])
    new = rec({"settings": {"apiKey": "plain"}}, [])
    assert field_changes(old, new) == [{"path": "destination.settings.apiKey", "after": "plain"}]
    assert field_changes(new, old) == [{"path": "destination.settings.apiKey", "before": "plain"}]


def test_a_secret_turned_plain_shows_set_before_and_the_value_after() -> None:
    old = rec({"settings": {"host": KEY_1}}, ["settings.host"])
    new = rec({"settings": {"host": "db.example.com"}})
    assert field_changes(old, new) == [{"path": "destination.settings.host", "before": "set",
                                        "after": "db.example.com", "secret": True}]  # fmt: skip


def test_secrets_inside_a_list_read_set_and_the_list_stays_one_value() -> None:
    secret = ["settings.headers[1].value"]
    old = rec({"settings": {"headers": [{"name": "a", "value": "plain"},
                                        {"name": "auth", "value": KEY_1}]}}, secret)  # fmt: skip
    same = rec({"settings": {"headers": [{"name": "a", "value": "plain"},
                                         {"name": "auth", "value": KEY_1}]}}, secret)  # fmt: skip
    new = rec({"settings": {"headers": [{"name": "a", "value": "plain"},
                                        {"name": "auth", "value": KEY_2}]}}, secret)  # fmt: skip
    assert field_changes(old, same) == []
    shown = [{"name": "a", "value": "plain"}, {"name": "auth", "value": "set"}]
    assert field_changes(old, new) == [{"path": "destination.settings.headers", "before": shown,
                                        "after": shown, "secret": True}]  # fmt: skip


def test_a_whole_map_held_as_one_secret_is_set_not_its_keys() -> None:
    old = rec({"settings": {"oauth": KEY_1}}, ["settings.oauth"])
    new = rec({"settings": {"oauth": {"client": "c"}}})
    assert field_changes(old, new) == [
        {"path": "destination.settings.oauth", "before": "set", "secret": True},
        {"path": "destination.settings.oauth.client", "after": "c"},
    ]
    # whatever a secret path holds (a value never sealed, a map), it shows only as set
    unsealed = rec({"settings": {"pin": 1234, "oauth": {"client_secret": "PLAIN"}},
                    "hosts": [{"password": "PLAIN"}]},
                   ["settings.pin", "settings.oauth", "hosts[0].password"])  # fmt: skip
    assert field_changes(None, unsealed) == [
        {"path": "destination.hosts", "after": [{"password": "set"}], "secret": True},
        {"path": "destination.settings.oauth", "after": "set", "secret": True},
        {"path": "destination.settings.pin", "after": "set", "secret": True},
    ]


def test_no_digest_or_sealed_value_appears_anywhere() -> None:
    stray = DIGEST_PREFIX + "9" * 64  # a digest no secret path names is hidden all the same
    old = rec({"settings": {"apiKey": KEY_1, "list": [KEY_1, {"deep": [KEY_2]}], "odd": stray}},
              ["settings.apiKey", "settings.list[0]", "settings.list[1].deep[0]"])
    new = rec({"settings": {"apiKey": KEY_2, "list": [KEY_2], "odd": stray + "0"}},
              ["settings.apiKey", "settings.list[0]"])  # fmt: skip
    for entries in (field_changes(None, old), field_changes(old, new), field_changes(new, None),
                    field_changes(old, new, rewritten=["settings.apiKey"])):  # fmt: skip
        text = json.dumps(entries)
        assert "secret:" not in text and "SEALED" not in text, text
        assert all(e.get("secret") is True for e in entries), entries
    assert field_changes(old, new)[1] == {
        "path": "destination.settings.list", "before": ["set", {"deep": ["set"]}],
        "after": ["set"], "secret": True}  # fmt: skip


def test_a_tracking_plans_rules_are_one_entry_per_rule_changed() -> None:
    track = {"type": "TRACK", "key": "Order Completed", "version": 1, "json_schema": {}}
    ident = {"type": "IDENTIFY", "version": 1, "json_schema": {}}
    changed = {**track, "json_schema": {"required": ["id"]}}
    page = {"type": "PAGE", "version": 2, "json_schema": {}}
    old = rec({"display_name": "P", "rules": [track, ident]}, kind="TrackingPlan")
    new = rec({"display_name": "P", "rules": [page, changed]}, kind="TrackingPlan")
    assert field_changes(old, new) == [
        {"path": "tracking_plan.rules[IDENTIFY v1]", "before": ident},
        {"path": "tracking_plan.rules[PAGE v2]", "after": page},
        {"path": "tracking_plan.rules[TRACK 'Order Completed' v1]", "before": track,
         "after": changed},
    ]  # fmt: skip
    reordered = rec({"display_name": "P", "rules": [ident, track]}, kind="TrackingPlan")
    assert field_changes(old, reordered) == []  # their order carries no meaning
    assert field_changes(None, old)[1]["path"] == "tracking_plan.rules[IDENTIFY v1]"
    twice = rec({"display_name": "P", "rules": [track, track]}, kind="TrackingPlan")
    assert field_changes(old, twice) == [{"path": "tracking_plan.rules",
                                          "before": [track, ident], "after": [track, track]}]


def test_at_most_the_bound_of_entries_then_one_that_counts_the_rest() -> None:
    settings = {f"k{i:03}": i for i in range(MAX_ENTRIES + 37)}
    entries = field_changes(None, rec({"settings": settings}))
    assert len(entries) == MAX_ENTRIES + 1
    assert entries[MAX_ENTRIES - 1] == {"path": f"destination.settings.k{MAX_ENTRIES - 1:03}",
                                        "after": MAX_ENTRIES - 1}  # fmt: skip
    assert entries[-1] == {"path": "…", "more": 37}
    exact = field_changes(None, rec({"settings": dict(list(settings.items())[:MAX_ENTRIES])}))
    assert len(exact) == MAX_ENTRIES and "more" not in exact[-1]


@pytest.mark.parametrize("extra", [0, 1])
def test_a_value_longer_than_the_bound_is_replaced_by_its_length(extra: int) -> None:
    text = "é" * (MAX_VALUE - 2 + extra)  # compact JSON: the quotes, characters not bytes
    old = rec({"code": "short", "settings": {"big": [text]}})
    new = rec({"code": text, "settings": {}})
    entries = field_changes(old, new)
    if extra:
        assert entries == [
            {"path": "destination.code", "before": "short", "after": {"truncated": MAX_VALUE + 1}},
            {"path": "destination.settings.big", "before": {"truncated": MAX_VALUE + 3}}]
    else:
        assert entries[0]["after"] == text and entries[1]["before"] == {
            "truncated": MAX_VALUE + 2}  # a list adds its brackets


def test_nothing_to_compare_is_no_entry() -> None:
    assert field_changes(None, None) == []
