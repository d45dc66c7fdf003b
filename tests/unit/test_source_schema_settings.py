"""Source schema settings, pure parts: the docs' spellings of the common-violation actions and
their canonical form (``normalize``), the spec schema accepting exactly those spellings, and
the plan notices for changes that drop data."""

from __future__ import annotations

from typing import Any

import pytest

from seg.kinds import KINDS
from seg.kinds.source import DEFAULT_SCHEMA_SETTINGS, SCHEMA_SETTINGS_SCHEMA, normalize
from seg.schemas import schema_validator

SRC = KINDS["Source"]
VALIDATOR = schema_validator(SCHEMA_SETTINGS_SCHEMA)


def canonical(call: str, written: Any) -> Any:
    fields = normalize({"schema_settings": {call: {"common_event_on_violations": written}}})
    return fields["schema_settings"][call]["common_event_on_violations"]


@pytest.mark.parametrize(
    ("call", "written", "stored"),
    [
        ("track", "ALLOW", "ALLOW"),
        ("track", "allow", "ALLOW"),
        ("track", "Block", "BLOCK"),
        ("track", "Block Event", "BLOCK"),
        ("track", "block-event", "BLOCK"),
        ("track", "BLOCK_EVENT", "BLOCK"),
        ("track", "Omit", "OMIT_PROPERTIES"),
        ("track", "Omit Properties", "OMIT_PROPERTIES"),
        ("track", "omit-properties", "OMIT_PROPERTIES"),
        ("track", "OMIT_PROPERTIES", "OMIT_PROPERTIES"),
        ("identify", "Omit Traits", "OMIT_TRAITS"),
        ("identify", "omit", "OMIT_TRAITS"),
        ("identify", "OMIT_PROPERTIES", "OMIT_TRAITS"),
        ("group", "Omit Properties", "OMIT_TRAITS"),
        ("group", "Block Event", "BLOCK"),
    ],
)
def test_docs_spellings_are_accepted_and_stored_canonically(call: str, written: str,
                                                             stored: str) -> None:  # fmt: skip
    assert not list(VALIDATOR.iter_errors({call: {"common_event_on_violations": written}}))
    assert canonical(call, written) == stored
    assert canonical(call, stored) == stored  # canonical is a fixed point


@pytest.mark.parametrize(
    ("call", "written"),
    [
        ("track", "OMIT_TRAITS"),  # traits are not a track call's
        ("track", "Block  Event"),
        ("track", " ALLOW"),
        ("track", "ALLOWED"),
        ("track", "omit properties!"),
        ("identify", "drop"),
        ("group", ""),
        ("track", "OMIT_PROPERTIEſ"),  # 'ſ'.upper() == 'S': not an ASCII spelling
        ("track", 1),
        ("track", None),
    ],
)
def test_other_spellings_are_refused_and_left_as_written(call: str, written: Any) -> None:
    assert list(VALIDATOR.iter_errors({call: {"common_event_on_violations": written}}))
    assert canonical(call, written) == written


def test_normalize_fills_every_flag_sorts_the_block_list_and_drops_nothing() -> None:
    fields = {"catalog": "javascript", "settings": {"x": 1},
              "schema_settings": {"track": {"allow_unplanned_events": False},
                                  "forwarding_violations_to": "q",
                                  "blocked_events": ["b", "a", "b"]}}  # fmt: skip
    out = normalize(fields)
    settings = out["schema_settings"]
    assert settings["track"] == {**DEFAULT_SCHEMA_SETTINGS["track"],
                                 "allow_unplanned_events": False}  # fmt: skip
    assert settings["identify"] == DEFAULT_SCHEMA_SETTINGS["identify"]
    assert settings["group"] == DEFAULT_SCHEMA_SETTINGS["group"]
    assert settings["blocked_events"] == ["a", "b"]
    assert settings["forwarding_violations_to"] == "q"
    assert "forwarding_blocked_events_to" not in settings  # absent: disabled
    assert out["settings"] == {"x": 1} and out["catalog"] == "javascript"
    assert fields["schema_settings"]["blocked_events"] == ["b", "a", "b"]  # input untouched
    assert normalize(out) == out
    assert normalize({"catalog": "javascript"}) == {"catalog": "javascript"}


@pytest.mark.parametrize("odd", [[], "BLOCK", {"track": []}, {"blocked_events": [1, "a"]},
                                 {"track": {"allow_unplanned_events": "no"}}])  # fmt: skip
def test_normalize_leaves_odd_types_to_the_schema_check(odd: Any) -> None:
    normalize({"schema_settings": odd})  # no exception
    assert list(VALIDATOR.iter_errors(odd))


def test_the_schema_is_closed_at_every_level() -> None:
    for bad in ({"tracks": {}}, {"track": {"allow_unplanned_traits": False}},
                {"identify": {"allow_unplanned_events": True}}, {"blocked_events": [""]},
                {"forwarding_violations_to": "Quarantine"},
                {"blocked_events": ["x" * 201]}, {"blocked_events": ["e"] * 4001}):  # fmt: skip
        assert list(VALIDATOR.iter_errors(bad)), bad
    assert not list(VALIDATOR.iter_errors({"blocked_events": ["e"] * 4000}))


# -- notices ------------------------------------------------------------------------------


def source(plan: str | None = "tp", **settings: Any) -> dict[str, Any]:
    fields: dict[str, Any] = {"catalog": "javascript", "schema_settings": settings}
    if plan:
        fields["tracking_plan"] = plan
    return normalize(fields)


def notices(before: dict[str, Any] | None, after: dict[str, Any] | None) -> list[str]:
    assert SRC.notices is not None
    return SRC.notices(before, after)


def test_turning_a_setting_to_block_or_omit_is_a_notice() -> None:
    before = source()
    after = source(track={"allow_unplanned_events": False,
                          "common_event_on_violations": "BLOCK"},
                   group={"allow_traits_on_violations": False})  # fmt: skip
    assert notices(before, after) == [
        "schema settings now drop data: track.allow_unplanned_events: false, "
        "track.common_event_on_violations: BLOCK, group.allow_traits_on_violations: false"
    ]
    assert notices(after, after) == []
    assert notices(after, before) == []  # allowing more drops nothing


def test_creating_and_connecting_with_blocking_settings_are_notices() -> None:
    blocking = {"identify": {"common_event_on_violations": "OMIT_TRAITS"}}
    assert notices(None, source(**blocking)) == [
        "created with schema settings that drop data: identify.common_event_on_violations: "
        "OMIT_TRAITS"
    ]
    assert notices(source(None, **blocking), source(**blocking)) == [
        "connected to tracking plan tp, which now enforces: identify.common_event_on_violations:"
        " OMIT_TRAITS"
    ]
    assert notices(None, source()) == []


def test_disconnecting_the_plan_with_enforcing_settings_says_they_are_not_enforced() -> None:
    blocking = {"track": {"allow_unplanned_events": False}, "forwarding_violations_to": "q"}
    assert notices(source(**blocking), source(None, **blocking)) == [
        "tracking plan disconnected: its schema settings are kept but not enforced "
        "(track.allow_unplanned_events: false, forwarding_violations_to: q)"
    ]
    assert notices(source(), source(None)) == []


def test_blocked_events_added_and_forwarding_removed_are_notices() -> None:
    assert notices(source(None, blocked_events=["a"]),
                   source(None, blocked_events=["a", "b", "c"])) == [
        "blocks 2 more events (to no destination, warehouses included): 'b', 'c'"
    ]  # fmt: skip
    assert notices(None, source(None, blocked_events=["x"])) == [
        "blocks 1 more event (to no destination, warehouses included): 'x'"
    ]
    forwarding = {"forwarding_blocked_events_to": "q", "forwarding_violations_to": "q"}
    block = {"track": {"allow_unplanned_events": False}}
    assert notices(source(**block, **forwarding), source(**block)) == [
        "stops forwarding blocked events to q: they are discarded from now on",
        "stops forwarding violations to q",
    ]
    # nothing blocks any more: nothing is discarded for want of a forwarding target
    assert notices(source(**forwarding), source()) == ["stops forwarding violations to q"]
    assert notices(source(), source(**forwarding)) == []
    assert notices(source(**forwarding), None) == []  # a delete is shown as a delete
