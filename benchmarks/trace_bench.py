"""The delivery simulator's pure part (``seg.trace.pipeline.trace_event``): N sample events
through one source with D destinations, each with two destination filters (a drop and a drop
properties) and a mapping on the Actions ones, a warehouse with selective sync,
a tracking plan enforcing unplanned events and properties, consent categories on
half of the destinations and a source-scoped transformation (issue 19's figure: 10,000 events
through 50 destinations in under 5 s without functions).

    python benchmarks/trace_bench.py [--events 10000] [--destinations 50] [--runs 3]
        [--impact filter|consent|source] [--distinct]

Prints each run's time, the median, the events per second, the deliveries counted and the
peak memory. ``--impact`` times a plan's delivery impact instead (``seg.trace.impact``): one
destination's new filter, a consent category mapping half the destinations more, or a
source-level change (the tracking plan's enforcement: every destination traced twice).
"""

from __future__ import annotations

import argparse
import random
import resource
import statistics
import time
from typing import Any

from seg.catalog import builtin
from seg.kinds.lookup import IndexLookup
from seg.trace.pipeline import trace_event

TYPES = ("amplitude", "mixpanel", "webhook", "google-ads", "braze")
EVENTS = ("Product Viewed", "Order Completed", "Cart Viewed", "Signed Up")
ACTIONS = {"mixpanel": ("trackEvent", 'type = "track"'),
           "google-ads": ("uploadClickConversion", 'event = "Order Completed"'),
           "braze": ("trackEvent", 'type = "track"')}  # fmt: skip


def workspace(destinations: int, distinct: bool = False) -> IndexLookup:
    return IndexLookup(resources(destinations, distinct), builtin())


def resources(destinations: int, distinct: bool = False) -> dict[Any, Any]:
    index: dict[Any, Any] = {
        ("Source", "web"): {"catalog": "javascript", "tracking_plan": "web", "schema_settings": {
            "track": {"allow_unplanned_events": False,
                      "allow_unplanned_event_properties": False}}},
        ("TrackingPlan", "web"): {"rules": [
            {"type": "TRACK", "key": name, "version": 1, "json_schema": {
                "type": "object", "properties": {"properties": {"type": "object", "properties": {
                    "price": {"type": "number"}, "sku": {"type": "string"},
                    "email": {"type": "string"}}}}}} for name in EVENTS[:3]]},
        ("Transformation", "web/sku-lower"): {
            "type": "fql_defined_properties", "event": "Product Viewed",
            "fql_defined_properties": [{"property": "properties.sku",
                                        "fql": "lowercase(properties.sku)"}]},
    }  # fmt: skip
    consented = []
    for n in range(destinations):
        address = f"web/d{n}"
        index[("Destination", address)] = {"catalog": TYPES[n % len(TYPES)], "enabled": True}
        # --distinct: no two destinations alike (the simulator runs alike ones once an event)
        tests = f"contains(userId, 'test') and userId != 'x{n}'" if distinct else \
            "contains(userId, 'test')"
        index[("DestinationFilter", f"{address}/no-tests")] = {
            "if": tests, "actions": [{"type": "DROP"}]}
        index[("DestinationFilter", f"{address}/no-pii")] = {
            "if": "all", "actions": [{"type": "DROP_PROPERTIES",
                                      "fields": {"properties": ["email"]}}]}  # fmt: skip
        if TYPES[n % len(TYPES)] in ACTIONS:  # Actions destinations send through a mapping
            action, trigger = ACTIONS[TYPES[n % len(TYPES)]]
            index[("Mapping", f"{address}/main")] = {
                "action": action, "enabled": True, "trigger": trigger,
                "fields": {"event": "$.event", "price": "$.properties.price"}}
        if n % 2:
            consented.append(address)
    index[("ConsentCategory", "Advertising")] = {"destinations": consented}
    index[("Warehouse", "dwh")] = {"catalog": "snowflake", "sources": ["web"], "selective_sync": {
        "web": {"collections": {"cart_viewed": {"enabled": False}}}}}
    return index


def planned(before: dict[Any, Any], change: str) -> dict[Any, Any]:
    after = dict(before)
    if change == "filter":
        after[("DestinationFilter", "web/d0/priced")] = {
            "if": "properties.price < 10", "actions": [{"type": "DROP"}]}
    elif change == "consent":
        everyone = [a for (k, a) in before if k == "Destination"]
        after[("ConsentCategory", "Advertising")] = {"destinations": everyone}
    else:
        source = dict(after[("Source", "web")])
        source["schema_settings"] = {"track": {"allow_unplanned_events": True}}
        after[("Source", "web")] = source
    return after


def events(count: int) -> list[dict[str, Any]]:
    rng = random.Random(7)
    out = []
    for n in range(count):
        event: dict[str, Any] = {
            "type": "track", "event": rng.choice(EVENTS),
            "userId": rng.choice(["u", "test"]) + str(n),
            "properties": {"price": rng.randint(1, 99), "sku": f"SKU-{n}", "email": "a@b.c",
                           "extra": n}}  # fmt: skip
        if n % 3 == 0:
            event["context"] = {"consent": {"categoryPreferences": {"Advertising": n % 2 == 0}}}
        out.append(event)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=10_000)
    parser.add_argument("--destinations", type=int, default=50)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--impact", choices=["filter", "consent", "source"])
    parser.add_argument("--distinct", action="store_true",
                        help="every destination's filters differ (no two paths alike)")
    args = parser.parse_args()
    if args.impact:
        impact(args)
        return
    lookup, sample = workspace(args.destinations, args.distinct), events(args.events)
    times, delivered = [], 0
    for _ in range(args.runs):
        start = time.perf_counter()
        traces = [trace_event(lookup, "web", event) for event in sample]
        times.append(time.perf_counter() - start)
        delivered = sum(1 for t in traces for d in t.deliveries if d.delivered)
    median = statistics.median(times)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"{args.events} events × {args.destinations} "
          f"{'distinct ' if args.distinct else ''}destinations: runs "
          f"{', '.join(f'{t:.2f}' for t in times)} s; median {median:.2f} s "
          f"({args.events / median:,.0f} events/s); {delivered} deliveries; peak {peak:.0f} MB")


def impact(args: argparse.Namespace) -> None:
    from seg.trace.impact import delivery_impact

    before = resources(args.destinations, args.distinct)
    after = planned(before, args.impact)
    samples = [("web", n, e) for n, e in enumerate(events(args.events), 1)]
    times, found = [], []
    for _ in range(args.runs):
        start = time.perf_counter()
        found = delivery_impact(before, after, samples, builtin())
        times.append(time.perf_counter() - start)
    median = statistics.median(times)
    lost = sum(i.lost for i in found)
    print(f"impact ({args.impact}) of {args.events} events × {args.destinations} destinations: "
          f"runs {', '.join(f'{t:.2f}' for t in times)} s; median {median:.2f} s; "
          f"{len(found)} destinations changed, {lost} deliveries lost")


if __name__ == "__main__":
    main()
