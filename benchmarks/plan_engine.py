"""The plan's pure part on a no-op plan: ``engine.compute_plan`` over N desired resources and
the same N live ones (as the client reads them: references as addresses, secrets as keyed
digests the server confirmed equal, the managed paths and manager of the last apply).

    python benchmarks/generate.py /tmp/ws --resources 100000
    BENCH_API_KEY=x BENCH_SLACK_WEBHOOK=https://hooks.slack.com/services/T0/B0/bench \\
        python benchmarks/plan_engine.py /tmp/ws [--runs 5]

Prints the load time once, then each run's compute_plan time, the median, and the number of
changes (0: the plan is a no-op, as it must be).
"""

from __future__ import annotations

import argparse
import resource
import statistics
import time
from pathlib import Path

from seg.engine.diff import compute_plan
from seg.engine.ownership import Ownership
from seg.engine.secrets import SecretKey
from seg.model.paths import format_path, get_path, set_path
from seg.model.resource import CurrentResource, DesiredResource
from seg.model.secrets import keyed_digest
from seg.workspace.loader import load_workspace

_KEY = b"plan-engine-bench"


def live_copy(res: DesiredResource, manager: str) -> tuple[CurrentResource, list[SecretKey]]:
    """``res`` as the control plane would list it after an apply, and its matched secrets."""
    fields = _copy(dict(res.fields))
    matched: list[SecretKey] = []
    for path in sorted(res.secret_paths, key=repr):
        value = get_path(fields, path)
        digest = keyed_digest(_KEY, res.address, format_path(path), value)
        set_path(fields, path, digest)
        matched.append((res.kind.name, res.address, path))
    managed = frozenset(format_path(p) for p in res.declared_paths())
    current = CurrentResource(res.kind, res.address, fields, etag="e1", managed=managed,
                              protect=res.protect, manager=manager)  # fmt: skip
    return current, matched


def _copy(value: object) -> object:
    """A JSON-shaped copy, as a response body decodes to (nothing shared with the YAML's)."""
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_copy(v) for v in value]
    return value


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("workspace", type=Path)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    ws = load_workspace(args.workspace)
    print(f"loaded {len(ws.resources)} resources in {time.perf_counter() - started:.2f} s")
    manager = ws.config.manager
    current: list[CurrentResource] = []
    matched: set[SecretKey] = set()
    for res in ws.resources:
        live, keys = live_copy(res, manager)
        current.append(live)
        matched.update(keys)
    ownership = Ownership(manager)
    times = []
    changes = -1
    for _ in range(args.runs):
        started = time.perf_counter()
        plan = compute_plan(ws.config.workspace, ws.resources, current, ws.digest,
                            secrets_matched=matched, ownership=ownership)  # fmt: skip
        times.append(time.perf_counter() - started)
        changes = len(plan.changes)
    shown = " ".join(f"{t:.3f}" for t in times)
    print(f"compute_plan (no-op, {len(current)} live): {shown} s; median "
          f"{statistics.median(times):.3f} s; {changes} changes")  # fmt: skip
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"peak memory {peak:.0f} MB")


if __name__ == "__main__":
    main()
