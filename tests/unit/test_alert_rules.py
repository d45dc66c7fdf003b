"""The Alert kind's pure parts: the canonical channels, its rules on their own, and the
generic whole-field secret (``FieldSpec.secret``) both sides ask ``secret_paths`` about."""

from __future__ import annotations

from typing import Any

import pytest

from seg.kinds import KINDS
from seg.kinds.catalogs import secret_paths
from seg.kinds.lookup import IndexLookup
from seg.model.kinds import Subject
from seg.server.resources import secret_paths_for

ALERT = KINDS["Alert"]
HOOK = "https://hooks.slack.com/services/T0/B0/unit-secret"


def rule_messages(fields: dict[str, Any], secret: frozenset[tuple[str | int, ...]] = frozenset(),
                  unknown: frozenset[tuple[str | int, ...]] = frozenset()) -> list[str]:  # fmt: skip
    subject = Subject(ALERT, "shop/a", fields, None, unknown, secret)
    lookup = IndexLookup({})
    return [v.message for rule in (*ALERT.value_rules, *ALERT.rules) for v in rule(subject, lookup)]


def test_channels_are_sorted_and_once() -> None:
    assert ALERT.canonical({"channels": ["slack", "in_app", "slack"]}) == {
        "channels": ["in_app", "slack"]}
    assert ALERT.canonical({"channels": "odd"}) == {"channels": "odd"}  # the schema refuses it


def test_a_valid_alert_breaks_no_rule() -> None:
    assert rule_messages({"type": "source_volume", "threshold_percent": 1000}) == []
    assert rule_messages({"type": "delivery_rate", "destination": "shop/amp",
                          "threshold_percent": 100, "channels": ["slack"],
                          "slack_webhook_url": HOOK}) == []  # fmt: skip


@pytest.mark.parametrize(
    ("fields", "needle"),
    [
        ({"type": "source_volume", "destination": "shop/amp"}, "watches the whole source"),
        ({"type": "delivery_rate", "threshold_percent": 100.5}, "at most 100 (it is 100.5)"),
        ({"channels": ["slack"]}, "slack_webhook_url is required"),
        ({"slack_webhook_url": HOOK}, "channels do not include slack"),
        ({"channels": ["slack"], "slack_webhook_url": "http://x.example/unit-secret"},
         "is not an https URL"),
    ],
)  # fmt: skip
def test_each_rule(fields: dict[str, Any], needle: str) -> None:
    found = rule_messages(fields)
    assert any(needle in m for m in found), found
    assert not [m for m in found if "unit-secret" in m]


def test_sealed_and_unknown_values_are_not_judged() -> None:
    sealed = {"channels": ["slack"], "slack_webhook_url": "secret:hmac:" + "0" * 64}
    assert rule_messages(sealed) == []
    unknown = {"channels": ["slack"], "slack_webhook_url": "${env:X}"}
    assert rule_messages(unknown, unknown=frozenset({("slack_webhook_url",)})) == []
    assert rule_messages({"type": "delivery_rate", "threshold_percent": 500},
                         unknown=frozenset({("type",)})) == []  # fmt: skip


def test_a_secret_field_is_secret_at_any_depth_whatever_was_declared() -> None:
    fields = {"type": "source_volume", "slack_webhook_url": HOOK}
    assert secret_paths(ALERT, fields, IndexLookup({})) == {("slack_webhook_url",)}
    assert secret_paths(ALERT, {"type": "source_volume"}, IndexLookup({})) == set()
    found = secret_paths_for(fields, set(), {("slack_webhook_url",)})
    assert found == ["slack_webhook_url"]
    nested = {"slack_webhook_url": {"a": [HOOK, None]}}  # the schema refuses it; still sealed
    assert secret_paths_for(nested, set(), {("slack_webhook_url", "a", 0)}) == [
        "slack_webhook_url.a[0]"]


def test_settings_secrets_are_unchanged() -> None:
    destination = KINDS["Destination"]
    fields = {"catalog": "amplitude", "settings": {"api_key": "k", "region": "eu"}}
    paths = secret_paths(destination, fields, IndexLookup({}))
    assert paths == {("settings", "api_key")}
    assert secret_paths_for(fields, set(), paths) == ["settings.api_key"]
