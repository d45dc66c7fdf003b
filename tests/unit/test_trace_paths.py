"""The delivery simulator's later steps: the event types a destination accepts, mapping
triggers and the payload each mapping sends, and warehouses' selective sync
(``config-resources.md`` §1.5, §1.12, §7)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from seg.catalog import builtin, parse_entries
from seg.kinds.lookup import IndexLookup
from seg.trace.impact import delivery_impact
from seg.trace.pipeline import TO_WAREHOUSE, Delivery, trace_event, warehouse_column

ORDER = {"type": "track", "event": "Order Completed", "userId": "u1", "timestamp": "2026-01-01",
         "properties": {"total": 30, "currency": "EUR", "card_last4": "4242",
                        "shipping": {"city": "Oslo"}}}  # fmt: skip
IDENTIFY = {"type": "identify", "userId": "u1", "traits": {"email": "a@b.c", "plan": "pro"}}


def _lookup(extra: dict[Any, Any], catalog: Any = None) -> IndexLookup:
    index: dict[Any, Any] = {("Source", "web"): {"catalog": "javascript"}, **extra}
    return IndexLookup(index, catalog or builtin())


def _one(lookup: IndexLookup, event: dict[str, Any], address: str) -> Delivery:
    trace = trace_event(lookup, "web", event)
    assert trace.stop is None, trace.stop
    return next(d for d in trace.deliveries if d.destination == address)


MIXPANEL = {("Destination", "web/mixpanel"): {"catalog": "mixpanel", "enabled": True}}


def _mapping(action: str, trigger: str, fields: dict[str, str], enabled: bool = True
             ) -> dict[str, Any]:  # fmt: skip
    return {"action": action, "trigger": trigger, "fields": fields, "enabled": enabled}


def test_an_actions_destination_without_an_enabled_mapping_sends_nothing() -> None:
    """"You must configure and enable at least one mapping" — the event is discarded with
    "No matching mapping"."""
    delivery = _one(_lookup(MIXPANEL), ORDER, "web/mixpanel")
    assert delivery.stop is not None and delivery.stop.step == "mapping triggers"
    assert "No matching mapping" in delivery.stop.reason
    disabled = {("Mapping", "web/mixpanel/p"): _mapping("trackPurchase", "type = 'track'",
                                                        {}, enabled=False)}  # fmt: skip
    assert not _one(_lookup({**MIXPANEL, **disabled}), ORDER, "web/mixpanel").delivered


def test_every_matching_mapping_fires_in_order_with_its_payload() -> None:
    """Fan-out: one event matching two enabled mappings makes two requests, in the order
    seg keeps mappings (by address); a field's value is an event path (``$.``-prefixed or
    not), and a path the event lacks is left out."""
    mappings = {
        ("Mapping", "web/mixpanel/purchase"): _mapping(
            "trackPurchase", 'event = "Order Completed"',
            {"event": "$.event", "revenue": "properties.total", "order_id": "$.properties.id",
             "currency": "$.properties.currency"}),
        ("Mapping", "web/mixpanel/all-tracks"): _mapping(
            "trackEvent", 'type = "track"', {"event": "event", "distinct_id": "userId"}),
        ("Mapping", "web/mixpanel/identify"): _mapping(
            "identifyUser", 'type = "identify"', {"user_id": "userId"}),
    }  # fmt: skip
    delivery = _one(_lookup({**MIXPANEL, **mappings}), ORDER, "web/mixpanel")
    assert delivery.delivered
    assert [(f.mapping, f.action) for f in delivery.fired] == [
        ("web/mixpanel/all-tracks", "trackEvent"), ("web/mixpanel/purchase", "trackPurchase")]
    assert delivery.payload == ORDER  # the event itself goes on unchanged
    payloads = {f.mapping: dict(f.payload) for f in delivery.fired}
    assert payloads["web/mixpanel/purchase"] == {"event": "Order Completed", "revenue": 30,
                                                  "currency": "EUR"}  # fmt: skip
    assert payloads["web/mixpanel/all-tracks"] == {"event": "Order Completed", "distinct_id": "u1"}
    identify = _one(_lookup({**MIXPANEL, **mappings}), IDENTIFY, "web/mixpanel")
    assert [f.mapping for f in identify.fired] == ["web/mixpanel/identify"]


def test_a_trigger_sees_the_event_after_filters_and_destination_transformations() -> None:
    """Mapping triggers come after destination filters and destination-scoped
    transformations (§7 steps 5–7): a renamed event fires the mapping for the new name."""
    extra = {
        ("Transformation", "web/rename"): {
            "type": "rename_event", "event": "Order Completed", "new_event_name": "Purchase",
            "destination": "web/mixpanel"},
        ("Mapping", "web/mixpanel/purchase"): _mapping(
            "trackPurchase", 'event = "Purchase"', {"event": "event"}),
    }  # fmt: skip
    delivery = _one(_lookup({**MIXPANEL, **extra}), ORDER, "web/mixpanel")
    assert [f.payload for f in delivery.fired] == [{"event": "Purchase"}]
    dropped = {("DestinationFilter", "web/mixpanel/no-orders"): {
        "if": 'event = "Order Completed"', "actions": [{"type": "DROP"}]}}  # fmt: skip
    stopped = _one(_lookup({**MIXPANEL, **extra, **dropped}), ORDER, "web/mixpanel")
    assert stopped.stop is not None and stopped.stop.step == "destination filter"


def test_a_classic_destination_without_mappings_still_receives_everything() -> None:
    lookup = _lookup({("Destination", "web/amplitude"): {"catalog": "amplitude", "enabled": True}})
    delivery = _one(lookup, ORDER, "web/amplitude")
    assert delivery.delivered and delivery.fired == ()


def test_the_event_types_a_destination_accepts_are_checked_before_filters() -> None:
    """The unsupported-event-type check comes before destination filters (§7 step 4); a
    catalog entry says which types it accepts (``event_types``)."""
    private = parse_entries({"format_version": 1, "entries": [{
        "id": "tracks-only", "section": "destination", "display_name": "Tracks Only",
        "event_types": ["track", "page"]}]}, private=True)  # fmt: skip
    catalog = builtin().with_entries(private)
    extra = {("Destination", "web/t"): {"catalog": "tracks-only", "enabled": True},
             ("DestinationFilter", "web/t/drop-all"): {"if": "all",
                                                       "actions": [{"type": "DROP"}]}}  # fmt: skip
    stopped = _one(_lookup(extra, catalog), IDENTIFY, "web/t")
    assert stopped.stop is not None and stopped.stop.step == "event type"
    assert "Tracks Only does not accept identify events" in stopped.stop.reason
    assert _one(_lookup(extra, catalog), ORDER, "web/t").stop.step == "destination filter"  # type: ignore[union-attr]


def test_a_catalog_entry_refuses_an_unknown_event_type() -> None:
    from seg.catalog import CatalogError

    with pytest.raises(CatalogError, match="event_types"):
        parse_entries({"format_version": 1, "entries": [{
            "id": "x", "section": "destination", "event_types": ["purchase"]}]})  # fmt: skip


# -- warehouses: selective sync ----------------------------------------------------------------


def _warehouse(selective: dict[str, Any] | None = None, **fields: Any) -> dict[Any, Any]:
    spec = {"catalog": "snowflake", "sources": ["web"], "enabled": True, **fields}
    if selective is not None:
        spec["selective_sync"] = {"web": selective}
    return {("Warehouse", "dwh"): spec}


def test_a_connected_warehouse_receives_every_event_by_default() -> None:
    delivery = _one(_lookup(_warehouse()), ORDER, "dwh")
    assert delivery.kind == TO_WAREHOUSE and delivery.delivered
    assert delivery.payload == ORDER
    assert trace_event(_lookup({**_warehouse(), ("Warehouse", "other"): {
        "catalog": "snowflake", "sources": ["ios"]}}), "web", ORDER).deliveries[-1].destination == "dwh"


def test_selective_sync_turns_a_source_a_collection_or_properties_off() -> None:
    off = _one(_lookup(_warehouse({"enabled": False})), ORDER, "dwh")
    assert off.stop is not None and off.stop.step == "selective sync"
    assert "source web" in off.stop.reason
    collection = {"collections": {"order_completed": {"enabled": False}}}
    stopped = _one(_lookup(_warehouse(collection)), ORDER, "dwh")
    assert stopped.stop is not None and "collection order_completed" in stopped.stop.reason
    identifies = {"collections": {"identifies": {"enabled": False}}}
    assert not _one(_lookup(_warehouse(identifies)), IDENTIFY, "dwh").delivered
    assert _one(_lookup(_warehouse(identifies)), ORDER, "dwh").delivered
    columns = {"collections": {"order_completed": {"properties": {
        "card_last4": False, "shipping_city": False, "currency": True}}}}  # fmt: skip
    synced = _one(_lookup(_warehouse(columns)), ORDER, "dwh")
    assert synced.delivered
    assert synced.payload["properties"] == {"total": 30, "currency": "EUR"}
    assert set(synced.removed) == {"properties.card_last4", "properties.shipping"}
    assert ORDER["properties"]["card_last4"] == "4242"  # the sample itself is untouched


def test_warehouses_skip_consent_the_integrations_object_and_filters() -> None:
    """Warehouses skip steps 5–9 (§7): destination filters, consent and the integrations
    object's All: false do not stop them; a disabled warehouse receives nothing."""
    event = {**ORDER, "integrations": {"All": False},
             "context": {"consent": {"categoryPreferences": {}}}}
    extra = {**_warehouse(), ("ConsentCategory", "Analytics"): {"destinations": ["web/amp"]},
             ("Destination", "web/amp"): {"catalog": "amplitude", "enabled": True}}
    trace = trace_event(_lookup(extra), "web", event)
    assert {d.destination: d.delivered for d in trace.deliveries} == {"web/amp": False, "dwh": True}
    disabled = _one(_lookup(_warehouse(enabled=False)), ORDER, "dwh")
    assert disabled.stop is not None and disabled.stop.step == "warehouse"


def test_a_blocked_event_reaches_no_warehouse() -> None:
    source = {"catalog": "javascript", "schema_settings": {"blocked_events": ["Order Completed"]}}
    trace = trace_event(IndexLookup({("Source", "web"): source, **_warehouse()}, builtin()),
                        "web", ORDER)  # fmt: skip
    assert trace.stop is not None and trace.stop.step == "schema"


@pytest.mark.parametrize(("name", "column"), [
    ("Order Completed", "order_completed"), ("orderCompleted", "order_completed"),
    ("card_last4", "card_last4"), ("Signed Up!", "signed_up"), ("userID", "user_id"),
])  # fmt: skip
def test_warehouse_names_are_snake_case(name: str, column: str) -> None:
    assert warehouse_column(name) == column


# -- the plan's impact on mappings and warehouses ----------------------------------------------


def test_the_impact_counts_mappings_newly_firing_and_silenced() -> None:
    live = {("Source", "web"): {"catalog": "javascript"}, **MIXPANEL,
            ("Mapping", "web/mixpanel/all"): _mapping("trackEvent", 'type = "track"', {}),
            ("Mapping", "web/mixpanel/purchase"): _mapping(
                "trackPurchase", 'event = "Order Completed"', {"revenue": "properties.total"})}
    planned = {**live,
               ("Mapping", "web/mixpanel/purchase"): _mapping(
                   "trackPurchase", 'event = "Checkout Completed"', {}),
               ("Mapping", "web/mixpanel/ident"): _mapping("identifyUser", 'type = "identify"', {})}
    samples = [("web", 1, ORDER), ("web", 2, IDENTIFY), ("web", 3, ORDER)]
    found = delivery_impact(live, planned, samples, builtin())
    assert [i.destination for i in found] == ["web/mixpanel"]
    impact = found[0]
    assert impact.silenced == {"web/mixpanel/purchase": 2}
    # the identify event was not delivered before (no mapping matched): a gain, not a firing
    assert impact.gained == 1 and impact.firing == {}
    assert impact.mapping_example is not None and impact.mapping_example.line == 1


def test_the_impact_of_a_selective_sync_change_names_the_warehouse() -> None:
    live = {("Source", "web"): {"catalog": "javascript"}, **_warehouse()}
    planned = {**live, **_warehouse({"collections": {"order_completed": {"properties": {
        "card_last4": False}}}})}  # fmt: skip
    found = delivery_impact(live, planned, [("web", 1, ORDER), ("web", 2, IDENTIFY)], builtin())
    assert [(i.destination, i.kind, i.removed) for i in found] == [
        ("dwh", TO_WAREHOUSE, {"properties.card_last4": 1})]


def test_filters_on_one_destination_never_change_what_another_receives() -> None:
    """Filtered events share what they did not change with the sample (no copy per
    destination): dropping a property of a list's objects, or a destination-scoped
    transformation, on one destination leaves the others' payloads and the sample as they
    were."""
    event = {"type": "track", "event": "Order Completed", "userId": "u1",
             "properties": {"products": [{"sku": "a", "price": 1}], "shipping": {"city": "Oslo"},
                            "email": "a@b.c"}}  # fmt: skip
    extra = {("Destination", "web/a"): {"catalog": "amplitude", "enabled": True},
             ("Destination", "web/b"): {"catalog": "amplitude", "enabled": True},
             ("DestinationFilter", "web/a/strip"): {"if": "all", "actions": [
                 {"type": "DROP_PROPERTIES", "fields": {"properties": ["products.sku", "email"]}}]},
             ("Transformation", "web/city"): {
                 "type": "rename_properties", "event": "Order Completed", "destination": "web/a",
                 "property_renames": [{"from": "shipping.city", "to": "shipping.town"}]}}  # fmt: skip
    before = json.loads(json.dumps(event))
    trace = trace_event(_lookup(extra), "web", event)
    payloads = {d.destination: d.payload for d in trace.deliveries}
    assert payloads["web/a"]["properties"] == {"products": [{"price": 1}],
                                               "shipping": {"town": "Oslo"}}  # fmt: skip
    assert payloads["web/b"]["properties"] == before["properties"]
    assert event == before
