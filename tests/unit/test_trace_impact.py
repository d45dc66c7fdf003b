"""A plan's delivery impact (``seg.trace.impact``): the sample traced through the live and
the planned configuration; per destination events lost and gained and properties removed and
added, with an example each; a plan without changes reports none."""

from __future__ import annotations

from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from seg.catalog import builtin
from seg.trace import impact as impact_module
from seg.trace.impact import delivery_impact

Resources = dict[tuple[str, str], dict[str, Any]]


def _live() -> Resources:
    return {
        ("Source", "web"): {"catalog": "javascript"},
        ("Source", "ios"): {"catalog": "ios"},
        ("Destination", "web/amplitude"): {"catalog": "amplitude", "enabled": True},
        ("Destination", "web/google-ads"): {"catalog": "google-ads", "enabled": True},
        ("Mapping", "web/google-ads/conversions"): {
            "action": "uploadClickConversion", "enabled": True, "trigger": 'type = "track"',
            "fields": {"conversion_action": "$.event"}},
        ("Destination", "ios/amplitude"): {"catalog": "amplitude", "enabled": True},
    }


SAMPLES = [
    ("web", 1, {"type": "track", "event": "Order Completed", "userId": "u1",
                "properties": {"total": 3, "email": "a@b.c"}}),
    ("web", 2, {"type": "track", "event": "Order Completed", "userId": "test-1",
                "properties": {"total": 4},
                "context": {"consent": {"categoryPreferences": {"Advertising": False}}}}),
    ("ios", 1, {"type": "track", "event": "App Opened", "userId": "u2"}),
]  # fmt: skip


def test_a_new_drop_filter_loses_the_events_it_matches() -> None:
    live = _live()
    planned = {**live, ("DestinationFilter", "web/amplitude/no-tests"): {
        "if": "contains(userId, 'test')", "actions": [{"type": "DROP"}]}}  # fmt: skip
    found = delivery_impact(live, planned, SAMPLES, builtin())
    assert [i.destination for i in found] == ["web/amplitude"]
    amplitude = found[0]
    assert (amplitude.lost, amplitude.gained) == (1, 0)
    assert amplitude.lost_example is not None and amplitude.lost_example.line == 2
    assert "web/amplitude/no-tests" in amplitude.lost_example.detail


def test_a_consent_mapping_silences_the_events_that_refuse_it() -> None:
    live = _live()
    planned = {**live, ("ConsentCategory", "Advertising"): {
        "display_name": "Advertising", "destinations": ["web/google-ads"]}}  # fmt: skip
    found = delivery_impact(live, planned, SAMPLES, builtin())
    assert [(i.destination, i.lost) for i in found] == [("web/google-ads", 1)]
    assert found[0].lost_example is not None
    assert "consent" in found[0].lost_example.detail


def test_a_property_rename_and_a_removed_filter_show_as_properties_and_gains() -> None:
    live = {**_live(), ("DestinationFilter", "web/amplitude/no-pii"): {
        "if": "all", "actions": [{"type": "DROP_PROPERTIES", "fields": {"properties": ["email"]}}]},
        ("DestinationFilter", "web/google-ads/only-real"): {
        "if": "contains(userId, 'test')", "actions": [{"type": "DROP"}]}}  # fmt: skip
    planned = {key: value for key, value in live.items()
               if key != ("DestinationFilter", "web/google-ads/only-real")}  # fmt: skip
    planned[("Transformation", "web/total")] = {
        "type": "rename_properties", "event": "Order Completed",
        "property_renames": [{"from": "total", "to": "revenue"}]}  # fmt: skip
    found = {i.destination: i for i in delivery_impact(live, planned, SAMPLES, builtin())}
    assert set(found) == {"web/amplitude", "web/google-ads"}
    amplitude = found["web/amplitude"]
    assert amplitude.removed == {"properties.total": 2} and amplitude.added == {"properties.revenue": 2}
    assert amplitude.property_example is not None
    assert amplitude.property_example.detail == "-properties.total, +properties.revenue"
    google = found["web/google-ads"]
    assert google.gained == 1 and google.gained_example is not None
    assert google.gained_example.line == 2


def test_a_removed_destination_loses_everything_and_a_new_one_gains() -> None:
    live = _live()
    planned = {k: v for k, v in live.items() if k != ("Destination", "ios/amplitude")}
    planned[("Destination", "web/mixpanel")] = {"catalog": "mixpanel", "enabled": True}
    planned[("Mapping", "web/mixpanel/purchases")] = {
        "action": "trackPurchase", "enabled": True, "trigger": 'event = "Order Completed"',
        "fields": {"event": "event"}}
    found = {i.destination: i for i in delivery_impact(live, planned, SAMPLES, builtin())}
    assert found["ios/amplitude"].lost == 1
    assert found["ios/amplitude"].lost_example is not None
    assert found["ios/amplitude"].lost_example.detail == "the destination is removed"
    assert found["web/mixpanel"].gained == 2


def test_only_what_the_plan_touches_is_traced(monkeypatch: Any) -> None:
    """A change to one destination's filter traces that destination only; the other source
    is not traced at all."""
    traced: list[tuple[str, Any]] = []
    original = impact_module.deliver

    def counted(lookup: Any, staged: Any, only: Any = None, run: Any = None) -> Any:
        traced.append((staged.source, sorted(only or [])))
        return original(lookup, staged, only, run)

    monkeypatch.setattr(impact_module, "deliver", counted)
    live = _live()
    planned = {**live, ("DestinationFilter", "web/amplitude/x"): {"if": "all", "actions": []}}
    delivery_impact(live, planned, SAMPLES, builtin())
    assert traced and all(t == ("web", ["web/amplitude"]) for t in traced)


EVENTS = st.fixed_dictionaries({
    "type": st.sampled_from(["track", "identify"]),
    "event": st.sampled_from(["Order Completed", "Signed Up"]),
    "userId": st.sampled_from(["u1", "test-2", ""]),
    "properties": st.dictionaries(st.sampled_from(["total", "email", "sku"]),
                                  st.integers(0, 9), max_size=3),
})  # fmt: skip


@settings(max_examples=60, deadline=None)
@given(filters=st.lists(st.sampled_from(["drop-tests", "no-email", "sample"]), max_size=3),
       consent=st.booleans(), events=st.lists(EVENTS, min_size=1, max_size=8))  # fmt: skip
def test_a_plan_without_changes_never_reports_an_impact(filters: list[str], consent: bool,
                                                          events: list[dict[str, Any]]) -> None:  # fmt: skip
    actions = {
        "drop-tests": {"if": "contains(userId, 'test')", "actions": [{"type": "DROP"}]},
        "no-email": {"if": "all", "actions": [{"type": "DROP_PROPERTIES",
                                               "fields": {"properties": ["email"]}}]},
        "sample": {"if": "all", "actions": [{"type": "SAMPLE", "percent": 0.5}]},
    }  # fmt: skip
    live = _live()
    for name in filters:
        live[("DestinationFilter", f"web/amplitude/{name}")] = actions[name]
    if consent:
        live[("ConsentCategory", "Advertising")] = {"destinations": ["web/google-ads"]}
    samples = [("web", n, e) for n, e in enumerate(events, 1)]
    copy = {key: dict(value) for key, value in live.items()}
    assert delivery_impact(live, copy, samples, builtin()) == []
    # the same configuration reached another way (a changed then restored value) too
    touched = {**copy, ("Destination", "web/amplitude"): {"enabled": True, "catalog": "amplitude"}}
    assert delivery_impact(live, touched, samples, builtin()) == []
