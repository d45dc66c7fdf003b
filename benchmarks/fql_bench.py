"""Events per second: 100,000 generated events through 10 destination filters.

python benchmarks/fql_bench.py [--events 100000]
"""

from __future__ import annotations

import argparse
import random
import resource
import time

from seg.fql.filters import compile_filters, run_filters

FILTERS = [
    ("drop-anon", "length( userId ) < 1", [{"type": "DROP"}]),
    ("strip-pii", "all", [{"type": "DROP_PROPERTIES", "fields": {"properties": ["email"]}}]),
    ("staging", "match( context.page.url, '*staging*' )", [{"type": "DROP"}]),
    ("tests", "contains( lowercase(userId), 'test' )", [{"type": "DROP"}]),
    (
        "checkout",
        "type = 'track' and event in ['Checkout Started', 'Order Completed']",
        [{"type": "ALLOW_PROPERTIES", "fields": {"properties": ["order_id", "total"]}}],
    ),
    (
        "old-lib",
        "context.library.version < '2.0' and context.library.name = 'analytics.js'",
        [{"type": "SAMPLE", "percent": 0.5, "path": "userId"}],
    ),
    ("pages", "type = 'page' and !( properties.path in ['/', '/pricing'] )", [{"type": "DROP"}]),
    (
        "big",
        "number(properties.total) > 1000 or typeof(properties.items) = 'list'",
        [{"type": "DROP_PROPERTIES", "fields": {"": ["anonymousId"]}}],
    ),
    ("titles", "titlecase(event) = 'Button Clicked' and properties.enabled", [{"type": "DROP"}]),
    ("kebab", "kebabcase(properties.plan) = 'pro-plus'", [{"type": "DROP"}]),
]

EVENTS = ["Page Viewed", "Button Clicked", "Order Completed", "Checkout Started", "Signup"]


def make_event(rng: random.Random, i: int) -> dict[str, object]:
    return {
        "type": rng.choice(["track", "track", "page", "identify"]),
        "event": rng.choice(EVENTS),
        "userId": rng.choice(["", f"user-{i}", f"Test-{i}", f"u{i}"]),
        "anonymousId": f"a{i}",
        "context": {
            "page": {"url": rng.choice(["https://example.com", "https://staging.example.com"])},
            "library": {"name": "analytics.js", "version": rng.choice(["1.9", "2.1"])},
        },
        "properties": {
            "email": "x@example.com",
            "order_id": f"o{i}",
            "total": rng.randint(1, 2000),
            "path": rng.choice(["/", "/docs"]),
            "plan": rng.choice(["pro plus", "free"]),
            "enabled": rng.random() < 0.5,
        },  # fmt: skip
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    args = parser.parse_args()
    rng = random.Random(42)
    events = [make_event(rng, i) for i in range(args.events)]
    filters = compile_filters(
        (name, {"if": expr, "actions": actions}) for name, expr, actions in FILTERS
    )
    start = time.perf_counter()
    delivered = sum(1 for e in events if run_filters(filters, e).delivered)
    elapsed = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    rate = args.events / elapsed
    print(f"{args.events} events × {len(filters)} filters: {elapsed:.2f} s, {rate:,.0f} events/s,")
    print(f"{delivered} delivered, peak {peak:.0f} MB")


if __name__ == "__main__":
    main()
