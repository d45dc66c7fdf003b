"""Review 19 (delivery simulator): a plan's Delivery impact must not say "no destination
receives anything different" when what a destination receives changes."""

from __future__ import annotations

from typing import Any

from seg.catalog import builtin
from seg.trace.impact import delivery_impact

Resources = dict[tuple[str, str], dict[str, Any]]

MAPPING = ("Mapping", "web/braze/track")
SAMPLES = [("web", 1, {"type": "track", "event": "Order Completed", "userId": "u1",
                       "properties": {"total": 3}})]  # fmt: skip


def _live() -> Resources:
    return {
        ("Source", "web"): {"catalog": "javascript"},
        ("Destination", "web/braze"): {"catalog": "braze", "enabled": True},
        MAPPING: {"action": "trackEvent", "enabled": True, "trigger": 'type = "track"',
                  "fields": {"name": "$.event", "external_id": "$.userId",
                             "properties": "$.properties"}},
        ("Destination", "web/amplitude"): {"catalog": "amplitude", "enabled": True},
    }  # fmt: skip


def test_a_mapping_that_stops_sending_fields_shows_in_the_impact() -> None:
    """An Actions destination receives its mappings' payloads. A plan that drops the
    mapping's ``external_id`` and ``properties`` fields makes Braze receive neither, yet the
    impact compares only the event and the names of the mappings that fire: it is empty,
    and the PR comment says no destination receives anything different."""
    live = _live()
    planned = {**live, MAPPING: {**live[MAPPING], "fields": {"name": "$.event"}}}
    found = delivery_impact(live, planned, SAMPLES, builtin())
    assert [i.destination for i in found] == ["web/braze"]


def test_a_destination_scoped_event_rename_shows_in_the_impact() -> None:
    """A destination-scoped transformation renaming every Order Completed event changes what
    Amplitude receives (its event name), but leaves the payload's leaf paths as they were:
    the impact, which compares only paths, reports nothing."""
    live = _live()
    planned = {**live, ("Transformation", "web/rename"): {
        "type": "rename_event", "event": "Order Completed", "destination": "web/amplitude",
        "new_event_name": "Something Else"}}  # fmt: skip
    found = delivery_impact(live, planned, SAMPLES, builtin())
    assert [i.destination for i in found] == ["web/amplitude"]
