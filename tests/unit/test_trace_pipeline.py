"""The delivery simulator's pipeline (``seg.trace.pipeline``) against the docs: every row of
the consent reconciliation table (``config-resources.md`` §1.15), the destination-filter
order, the schema controls with and without a tracking plan (§1.2, §1.3)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from seg.catalog import builtin
from seg.kinds.lookup import IndexLookup
from seg.trace.pipeline import Trace, trace_event

# The table's destinations, by their catalog entries: the integrations object names each by
# its catalog name.
FACEBOOK, GOOGLE_ADS, AMPLITUDE = "web/facebook", "web/google-ads", "web/amplitude"
NAMES = {FACEBOOK: "Facebook Pixel", GOOGLE_ADS: "Google Ads Conversions", AMPLITUDE: "Amplitude"}
CATALOG = {FACEBOOK: "facebook-pixel", GOOGLE_ADS: "google-ads", AMPLITUDE: "amplitude"}


def _workspace(categories: dict[str, list[str]], extra: dict[Any, Any] | None = None,
               source: dict[str, Any] | None = None) -> IndexLookup:  # fmt: skip
    index: dict[Any, Any] = {("Source", "web"): source or {"catalog": "javascript"}}
    for address, entry in CATALOG.items():
        index[("Destination", address)] = {"catalog": entry, "enabled": True}
    # Google Ads is an Actions destination: it sends what an enabled mapping's trigger matches
    index[("Mapping", f"{GOOGLE_ADS}/conversions")] = {
        "action": "uploadClickConversion", "enabled": True, "trigger": 'type = "track"',
        "fields": {"conversion_action": "$.event", "conversion_timestamp": "timestamp"}}
    for name, destinations in categories.items():
        index[("ConsentCategory", name)] = {"display_name": name, "destinations": destinations}
    index.update(extra or {})
    return IndexLookup(index, builtin())


def _delivered(trace: Trace) -> set[str]:
    assert trace.stop is None, trace.stop
    return {d.destination for d in trace.deliveries if d.delivered}


def _event(consent: Any = None, integrations: Any = None) -> dict[str, Any]:
    event: dict[str, Any] = {"type": "track", "event": "Order Completed", "userId": "u1",
                             "properties": {"total": 3}}  # fmt: skip
    if consent is not None:
        event["context"] = {"consent": consent}
    if integrations is not None:
        event["integrations"] = {NAMES.get(k, k): v for k, v in integrations.items()}
    return event


ALL = {FACEBOOK, GOOGLE_ADS, AMPLITUDE}
AD_ONLY = {"ad": [FACEBOOK, GOOGLE_ADS], "analytics": [AMPLITUDE]}
FACEBOOK_BOTH = {"ad": [FACEBOOK, GOOGLE_ADS], "analytics": [FACEBOOK, AMPLITUDE]}
INTEGRATIONS = {FACEBOOK: True, AMPLITUDE: False}


@pytest.mark.parametrize(("categories", "consent", "integrations", "expected"), [
    # 1. no consent object (or {}), no integrations: every destination
    (AD_ONLY, None, None, ALL),
    (AD_ONLY, {}, None, ALL),
    (AD_ONLY, {}, {}, ALL),
    # 2. empty categoryPreferences: no mapped destination (every category false)
    ({"ad": [FACEBOOK]}, {"categoryPreferences": {}}, None, {GOOGLE_ADS, AMPLITUDE}),
    # 3. no consent object, integrations {facebook: true, amplitude: false}
    (AD_ONLY, None, INTEGRATIONS, {FACEBOOK, GOOGLE_ADS}),
    # 4. empty categoryPreferences and integrations: not the mapped; the unmapped true in the
    #    integrations object or absent from it
    ({"ad": [GOOGLE_ADS]}, {"categoryPreferences": {}}, INTEGRATIONS, {FACEBOOK}),
    ({"ad": [FACEBOOK]}, {"categoryPreferences": {}}, INTEGRATIONS, {GOOGLE_ADS}),
    # 5. preferences but no category mappings: every destination; integrations still apply
    ({}, {"categoryPreferences": {"ad": True, "analytics": False}}, None, ALL),
    ({}, {"categoryPreferences": {"ad": True, "analytics": False}}, INTEGRATIONS,
     {FACEBOOK, GOOGLE_ADS}),
    # 6. ad = facebook, google-ads: ad destinations only
    ({"ad": [FACEBOOK, GOOGLE_ADS]}, {"categoryPreferences": {"ad": True, "analytics": False}},
     None, ALL),
    (AD_ONLY, {"categoryPreferences": {"ad": True, "analytics": False}}, None,
     {FACEBOOK, GOOGLE_ADS}),
    # 7. and analytics = amplitude, integrations {facebook: true, amplitude: false}: every ad
    #    destination (Google Ads although absent from the integrations object)
    (AD_ONLY, {"categoryPreferences": {"ad": True, "analytics": False}}, INTEGRATIONS,
     {FACEBOOK, GOOGLE_ADS}),
    # 8. integrations {facebook: false, amplitude: false}: Google Ads only
    (AD_ONLY, {"categoryPreferences": {"ad": True, "analytics": False}},
     {FACEBOOK: False, AMPLITUDE: False}, {GOOGLE_ADS}),
    # 9. facebook in ad and analytics, analytics false: Google Ads only (all categories needed)
    (FACEBOOK_BOTH, {"categoryPreferences": {"ad": True, "analytics": False}}, INTEGRATIONS,
     {GOOGLE_ADS}),
    # 10. both true: Google Ads and Facebook, not Amplitude (false in integrations)
    (FACEBOOK_BOTH, {"categoryPreferences": {"ad": True, "analytics": True}}, INTEGRATIONS,
     {GOOGLE_ADS, FACEBOOK}),
    # 11. ad false, analytics true: no destination
    (FACEBOOK_BOTH, {"categoryPreferences": {"ad": False, "analytics": True}}, INTEGRATIONS,
     set()),
])  # fmt: skip
def test_the_consent_reconciliation_table(categories: dict[str, list[str]], consent: Any,
                                          integrations: Any, expected: set[str]) -> None:  # fmt: skip
    lookup = _workspace(categories)
    assert _delivered(trace_event(lookup, "web", _event(consent, integrations))) == expected


def test_a_consent_stop_says_which_categories_and_the_integrations_stop_which_key() -> None:
    lookup = _workspace(FACEBOOK_BOTH)
    trace = trace_event(lookup, "web", _event({"categoryPreferences": {"ad": True}},
                                              {"All": False, AMPLITUDE: True}))  # fmt: skip
    stops = {d.destination: d.stop for d in trace.deliveries}
    assert stops[FACEBOOK] is not None and stops[FACEBOOK].step == "consent"
    assert stops[FACEBOOK].reason.endswith("no consent for analytics")
    assert stops[GOOGLE_ADS] is not None and stops[GOOGLE_ADS].step == "integrations"
    assert "'All' to false" in stops[GOOGLE_ADS].reason
    assert stops[AMPLITUDE] is not None and stops[AMPLITUDE].step == "consent"


def test_a_disabled_category_and_a_storage_destination_do_not_enforce_consent() -> None:
    disabled = {("ConsentCategory", "ad"): {"display_name": "ad", "enabled": False,
                                           "destinations": [FACEBOOK]}}  # fmt: skip
    lookup = _workspace({}, disabled)
    refused = _event({"categoryPreferences": {}})
    assert _delivered(trace_event(lookup, "web", refused)) == ALL
    storage = {("Destination", "web/lake"): {"catalog": "s3", "enabled": True},
               ("ConsentCategory", "ad"): {"display_name": "ad", "destinations": ["web/lake"]}}
    lookup = _workspace({}, storage)
    assert "web/lake" in _delivered(trace_event(lookup, "web", refused))


def test_a_disabled_destination_or_source_stops_there() -> None:
    lookup = _workspace({}, {("Destination", "web/off"): {"catalog": "amplitude"}})
    off = next(d for d in trace_event(lookup, "web", _event()).deliveries
               if d.destination == "web/off")  # fmt: skip
    assert off.stop is not None and off.stop.step == "destination"
    lookup = _workspace({}, source={"catalog": "javascript", "enabled": False})
    stopped = trace_event(lookup, "web", _event())
    assert stopped.stop is not None and stopped.stop.step == "source" and not stopped.deliveries


def _filter(name: str, condition: str, *actions: dict[str, Any]) -> dict[Any, Any]:
    return {("DestinationFilter", f"{AMPLITUDE}/{name}"): {"if": condition,
                                                           "actions": list(actions)}}  # fmt: skip


def test_destination_filters_run_in_the_documented_order() -> None:
    """Sample → drop → drop properties → allow properties; a drop wins over property
    changes, and each filter's condition sees the event as it arrived."""
    filters = {
        **_filter("allow", "all", {"type": "ALLOW_PROPERTIES", "fields": {"properties": ["total", "email"]}}),
        **_filter("strip", "all", {"type": "DROP_PROPERTIES", "fields": {"properties": ["email"]}}),
        **_filter("tests", "contains(userId, 'test')", {"type": "DROP"}),
    }  # fmt: skip
    lookup = _workspace({}, filters)
    event = _event()
    event["properties"] = {"total": 3, "email": "a@example.com", "coupon": "X"}
    amplitude = next(d for d in trace_event(lookup, "web", event).deliveries
                     if d.destination == AMPLITUDE)  # fmt: skip
    assert amplitude.delivered and amplitude.payload["properties"] == {"total": 3}
    assert sorted(amplitude.removed) == ["properties.coupon", "properties.email"]
    event["userId"] = "a-test-user"
    dropped = next(d for d in trace_event(lookup, "web", event).deliveries
                   if d.destination == AMPLITUDE)  # fmt: skip
    assert dropped.stop is not None and dropped.stop.step == "destination filter"
    assert dropped.stop.reason.endswith(f"{AMPLITUDE}/tests")


def test_sampling_is_reproducible() -> None:
    lookup = _workspace({}, _filter("half", "all", {"type": "SAMPLE", "percent": 0.5}))
    events = [{**_event(), "userId": f"u{i}"} for i in range(200)]
    first = [trace_event(lookup, "web", e).deliveries for e in events]
    again = [trace_event(lookup, "web", e).deliveries for e in events]
    assert first == again
    kept = sum(1 for ds in first for d in ds if d.destination == AMPLITUDE and d.delivered)
    assert 60 < kept < 140  # about half


PLAN = {"rules": [
    {"type": "TRACK", "key": "Order Completed", "version": 1, "json_schema": {
        "type": "object", "properties": {"properties": {
            "type": "object", "required": ["total"],
            "properties": {"total": {"type": "number"}, "currency": {"type": "string"}}}}}},
    {"type": "IDENTIFY", "version": 1, "json_schema": {
        "type": "object", "properties": {"email": {"type": "string"}}}},
    {"type": "COMMON", "version": 1, "json_schema": {
        "type": "object", "properties": {"properties": {
            "type": "object", "properties": {"currency": {"type": "string", "maxLength": 3}}}}}},
]}  # fmt: skip


def _planned(settings: dict[str, Any]) -> IndexLookup:
    source = {"catalog": "javascript", "tracking_plan": "orders", "schema_settings": settings}
    return _workspace({}, {("TrackingPlan", "orders"): PLAN}, source)


def test_an_unplanned_event_is_blocked_when_the_settings_say_so_and_forwarded() -> None:
    settings = {"track": {"allow_unplanned_events": False},
                "forwarding_blocked_events_to": "quarantine"}  # fmt: skip
    trace = trace_event(_planned(settings), "web", {"type": "track", "event": "Secret"})
    assert trace.stop is not None and trace.stop.step == "tracking plan"
    assert "unplanned event 'Secret'" in trace.stop.reason
    assert trace.notes == ("blocked events are forwarded to source quarantine",)
    allowed = trace_event(_planned({}), "web", {"type": "track", "event": "Secret"})
    assert allowed.stop is None and len(allowed.deliveries) == 3


def test_unplanned_properties_and_traits_are_omitted_into_context_protocols() -> None:
    settings = {"track": {"allow_unplanned_event_properties": False},
                "identify": {"allow_unplanned_traits": False}}  # fmt: skip
    lookup = _planned(settings)
    trace = trace_event(lookup, "web", {"type": "track", "event": "Order Completed",
                                        "properties": {"total": 3, "newProperty": 1}})  # fmt: skip
    assert trace.payload["properties"] == {"total": 3}
    assert trace.payload["context"]["protocols"] == {"omitted": ["newProperty"]}
    assert all(d.removed == ("properties.newProperty",) for d in trace.deliveries)
    identify = trace_event(lookup, "web", {"type": "identify", "userId": "u1",
                                           "traits": {"email": "a@b.c", "age": 3}})  # fmt: skip
    assert identify.payload["traits"] == {"email": "a@b.c"}


def test_violations_block_or_omit_as_the_settings_say() -> None:
    bad = {"type": "track", "event": "Order Completed", "properties": {"total": "three"}}
    blocked = trace_event(_planned({"track": {"allow_event_on_violations": False}}), "web", bad)
    assert blocked.stop is not None and "invalid type at properties.total" in blocked.stop.reason
    omitted = trace_event(_planned({"track": {"allow_properties_on_violations": False}}),
                          "web", dict(bad))  # fmt: skip
    assert omitted.stop is None and omitted.payload["properties"] == {}
    assert omitted.payload["context"]["protocols"] == {"omitted_on_violation": ["total"]}
    kept = trace_event(_planned({}), "web", dict(bad))
    assert kept.stop is None and kept.payload["properties"] == {"total": "three"}


def test_the_common_json_schema_action_comes_after_the_standard_controls() -> None:
    euros = {"type": "track", "event": "Order Completed",
             "properties": {"total": 3, "currency": "EURO"}}  # fmt: skip
    blocked = trace_event(_planned({"track": {"common_event_on_violations": "BLOCK"}}),
                          "web", euros)  # fmt: skip
    assert blocked.stop is not None and "common JSON schema" in blocked.stop.reason
    omitted = trace_event(_planned({"track": {"common_event_on_violations": "OMIT_PROPERTIES"}}),
                          "web", euros)  # fmt: skip
    assert omitted.payload["properties"] == {"total": 3}
    allowed = trace_event(_planned({}), "web", euros)
    assert allowed.payload["properties"]["currency"] == "EURO"


def test_without_a_plan_the_block_list_stops_the_event_for_every_destination() -> None:
    source = {"catalog": "javascript", "schema_settings": {"blocked_events": ["Order Completed"]}}
    lookup = _workspace({}, source=source)
    trace = trace_event(lookup, "web", _event())
    assert trace.stop is not None and trace.stop.step == "schema" and not trace.deliveries
    other = {**_event(), "event": "Signed Up"}
    assert _delivered(trace_event(lookup, "web", other)) == ALL


def _rule(name: str, **fields: Any) -> dict[Any, Any]:
    return {("Transformation", f"web/{name}"): {"enabled": True, **fields}}


def test_transformations_at_source_scope_and_scoped_to_one_destination() -> None:
    """Source scope: every destination sees the change; destination scope: only that one,
    after its filters (the filter still sees the event's original name)."""
    rules = {
        **_rule("lower", type="fql_defined_properties", event="Order Completed",
                fql_defined_properties=[{"property": "properties.code", "fql": "lowercase(properties.code)"}]),
        **_rule("placed", type="rename_event", event="Order Completed", destination=AMPLITUDE,
                new_event_name="Order Placed"),
        **_rule("renames", type="rename_properties", event="Order Completed",
                property_renames=[{"from": "total", "to": "order.total"},
                                  {"from": "missing", "to": "nowhere"}]),
        **_rule("values", type="transform_values", event="Order Completed",
                value_transforms=[{"paths": ["currency", "absent"], "value": "EUR"}]),
        **_rule("off", type="rename_event", event="Order Completed", new_event_name="Never",
                enabled=False),
        **_filter("only-orders", "event = 'Order Completed'", {"type": "DROP"}),
    }  # fmt: skip
    event = {**_event(), "properties": {"total": 3, "code": "SPRING", "currency": "usd"}}
    trace = trace_event(_workspace({}, rules), "web", event)
    by = {d.destination: d for d in trace.deliveries}
    assert by[AMPLITUDE].stop is not None  # dropped by its filter, before its transformation
    assert by[FACEBOOK].payload["event"] == "Order Completed"
    assert by[FACEBOOK].payload["properties"] == {"code": "spring", "currency": "EUR",
                                                  "order": {"total": 3}}  # fmt: skip
    del rules[("DestinationFilter", f"{AMPLITUDE}/only-orders")]
    trace = trace_event(_workspace({}, rules), "web", event)
    by = {d.destination: d for d in trace.deliveries}
    assert by[AMPLITUDE].payload["event"] == "Order Placed"
    assert by[GOOGLE_ADS].payload["event"] == "Order Completed"
    assert event["properties"]["code"] == "SPRING"  # the input is not changed


def test_trait_renames_apply_to_their_call_only() -> None:
    rules = _rule("traits", type="rename_traits", event="identify",
                  property_renames=[{"from": "traits.mail", "to": "email"}])  # fmt: skip
    lookup = _workspace({}, rules)
    identify = trace_event(lookup, "web", {"type": "identify", "traits": {"mail": "a@b.c"}})
    assert identify.payload["traits"] == {"email": "a@b.c"}
    group = trace_event(lookup, "web", {"type": "group", "traits": {"mail": "a@b.c"}})
    assert group.payload["traits"] == {"mail": "a@b.c"}


def test_filters_never_change_the_event_they_are_given() -> None:
    """A filter that removes properties works on its own copy of what it changes (the rest
    is shared): the event, and every other destination's payload, stay as they were."""
    from seg.fql.filters import compile_filters, run_filters

    event = {"type": "track", "properties": {"address": {"city": "Oslo", "zip": "0150"},
                                             "items": [{"sku": "a", "price": 1}], "total": 3},
             "context": {"traits": {"email": "a@b.c", "name": "A"}}}  # fmt: skip
    before = json.loads(json.dumps(event))
    filters = compile_filters([("f", {"if": "all", "actions": [
        {"type": "DROP_PROPERTIES", "fields": {"properties.address": ["zip"],
                                               "properties": ["items.price"]}},
        {"type": "ALLOW_PROPERTIES", "fields": {"context.traits": ["name"]}}]})])  # fmt: skip
    outcome = run_filters(filters, event)
    assert event == before
    assert outcome.event["properties"] == {"address": {"city": "Oslo"}, "items": [{"sku": "a"}],
                                           "total": 3}  # fmt: skip
    assert outcome.event["context"]["traits"] == {"name": "A"}
    assert sorted(outcome.removed) == ["context.traits.email", "properties.address.zip",
                                       "properties.items[].price"]  # fmt: skip
    untouched = run_filters(compile_filters([("g", {"if": "all", "actions": []})]), event)
    assert untouched.event is event and untouched.removed == []


# -- the docs' own examples (config-resources.md §1.3, §1.6, §1.8) ------------------------


def _amplitude(trace: Trace) -> Any:
    return next(d for d in trace.deliveries if d.destination == AMPLITUDE)


def test_the_docs_filter_drop_events_without_a_user_id() -> None:
    """ "Don't send event if userId is null": ``length( userId ) < 1`` → DROP."""
    lookup = _workspace({}, _filter("no-user", "length( userId ) < 1", {"type": "DROP"}))
    anonymous = {"type": "track", "event": "Order Completed", "anonymousId": "a1"}
    assert not _amplitude(trace_event(lookup, "web", anonymous)).delivered
    assert _amplitude(trace_event(lookup, "web", _event())).delivered


def test_the_docs_filter_drop_user_id_at_the_top_level() -> None:
    """ "Don't send userId at all": ``all`` → DROP_PROPERTIES ``{"": ["userId"]}`` (the empty
    path is the top level)."""
    lookup = _workspace({}, _filter("no-user-id", "all", {"type": "DROP_PROPERTIES",
                                                          "fields": {"": ["userId"]}}))  # fmt: skip
    delivered = _amplitude(trace_event(lookup, "web", _event()))
    assert "userId" not in delivered.payload and delivered.removed == ("userId",)


def test_the_docs_filter_drop_events_received_after_a_time() -> None:
    lookup = _workspace({}, _filter("after", "(received_at >= '2023-04-21T19:55:00.933Z')",
                                    {"type": "DROP"}))  # fmt: skip
    late = {**_event(), "received_at": "2023-04-22T00:00:00.000Z"}
    early = {**_event(), "received_at": "2023-04-20T00:00:00.000Z"}
    assert not _amplitude(trace_event(lookup, "web", late)).delivered
    assert _amplitude(trace_event(lookup, "web", early)).delivered


def test_the_docs_array_rule_drops_a_property_from_every_element() -> None:
    """ "you can drop a property from every object in an array"
    (``properties.products.newElement``)."""
    lookup = _workspace({}, _filter("elements", "all", {"type": "DROP_PROPERTIES",
                                                        "fields": {"properties": ["products.newElement"]}}))  # fmt: skip
    event = {**_event(), "properties": {"products": [{"sku": "a", "newElement": 1},
                                                     {"sku": "b", "newElement": 2}]}}  # fmt: skip
    delivered = _amplitude(trace_event(lookup, "web", event))
    assert delivered.payload["properties"]["products"] == [{"sku": "a"}, {"sku": "b"}]


def test_filters_do_not_reach_storage_destinations() -> None:
    """ "Destination filters aren't available for, and don't prevent data from reaching your
    warehouse(s) or S3 destinations." """
    extra = {("Destination", "web/lake"): {"catalog": "s3", "enabled": True},
             ("DestinationFilter", "web/lake/drop-all"): {"if": "all", "actions": [{"type": "DROP"}]}}
    trace = trace_event(_workspace({}, extra), "web", _event())
    assert next(d for d in trace.deliveries if d.destination == "web/lake").delivered


def test_the_docs_case_sensitive_event_name_is_unplanned() -> None:
    """ "TP `Subscription Cancelled` blocks `analytics.track('subscription_cancelled')`"."""
    plan = {"rules": [{"type": "TRACK", "key": "Subscription Cancelled", "version": 1,
                       "json_schema": {"type": "object"}}]}  # fmt: skip
    source = {"catalog": "javascript", "tracking_plan": "subs",
              "schema_settings": {"track": {"allow_unplanned_events": False}}}  # fmt: skip
    lookup = _workspace({}, {("TrackingPlan", "subs"): plan}, source)
    blocked = trace_event(lookup, "web", {"type": "track", "event": "subscription_cancelled"})
    assert blocked.stop is not None and blocked.stop.step == "tracking plan"
    planned = trace_event(lookup, "web", {"type": "track", "event": "Subscription Cancelled"})
    assert planned.stop is None


def test_the_docs_fql_defined_properties_and_an_escaped_dot() -> None:
    """``lowercase(properties.prop1)`` into ``properties.prop2`` (the docs' third example), and
    ``ingredients\\.salad`` naming the key "ingredients.salad"."""
    rules = {
        **_rule("prop2", type="fql_defined_properties", event="Order Completed",
                fql_defined_properties=[{"property": "properties.prop2",
                                         "fql": "lowercase(properties.prop1)"}]),
        **_rule("salad", type="rename_properties", event="Order Completed",
                property_renames=[{"from": "ingredients\\.salad", "to": "salad"}]),
    }  # fmt: skip
    event = {**_event(), "properties": {"prop1": "ABC", "ingredients.salad": "yes"}}
    trace = trace_event(_workspace({}, rules), "web", event)
    assert trace.payload["properties"] == {"prop1": "ABC", "prop2": "abc", "salad": "yes"}
