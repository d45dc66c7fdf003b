"""The function runtime (``seg.sandbox.node``): N calls of an insert function and of a
destination function through one sandboxed node process, as the delivery simulator makes them.

    python benchmarks/function_runtime_bench.py [--calls 10000] [--runs 3] [--functions 1]

Prints each run's time and calls per second for each kind, and the median. ``--functions``
spreads the calls over that many distinct functions (each compiled once, in its own context).
The first call of a run starts node (about 50 ms), which is included.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time

from seg.sandbox.node import node_runner
from seg.trace.functions import FunctionCall

INSERT = """
async function onTrack(event, settings) {
  event.properties = event.properties || {};
  event.properties.region = settings.region;
  if (event.properties.price > 100) event.properties.tier = 'high';
  return event;
}
"""

DESTINATION = """
async function onTrack(event, settings) {
  const response = await fetch('https://api.example.test/track', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${settings.apiKey}` },
    body: JSON.stringify({ name: event.event, properties: event.properties }),
  });
  if (!response.ok) throw new RetryError('status ' + response.status);
}
"""


def calls(kind: str, count: int, functions: int) -> list[FunctionCall]:
    code = INSERT if kind == "insert" else DESTINATION
    return [
        FunctionCall(
            kind="insert" if kind == "insert" else "destination",
            name=f"{kind}-{i % functions}",
            code=f"{code}// function {i % functions}\n",
            event={
                "type": "track",
                "event": "Order Completed",
                "messageId": f"m-{i}",
                "properties": {"price": i % 200, "currency": "EUR"},
            },
            settings={"region": "eu", "apiKey": "k-123"},
        )
        for i in range(count)
    ]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--functions", type=int, default=1)
    args = parser.parse_args()
    for kind in ("insert", "destination"):
        batch = calls(kind, args.calls, max(1, args.functions))
        times = []
        for run in range(args.runs):
            runner = node_runner()
            if runner is None:
                print("node (20 or later) is not installed", file=sys.stderr)
                return 1
            with runner:
                start = time.perf_counter()
                for call in batch:
                    result = runner(call)
                    if result.outcome != "ok":
                        print(f"unexpected {result.outcome}: {result.message}", file=sys.stderr)
                        return 1
                elapsed = time.perf_counter() - start
            times.append(elapsed)
            print(f"{kind} run {run + 1}: {args.calls} calls in {elapsed:.2f} s "
                  f"({args.calls / elapsed:,.0f} calls/s)")  # fmt: skip
        median = statistics.median(times)
        print(f"{kind} median: {median:.2f} s ({args.calls / median:,.0f} calls/s)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
