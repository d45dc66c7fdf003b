"""The no-op plan with and without the live state kept under .seg/cache (issue 18): for each
N, apply the generated workspace, then time `seg plan --no-cache`, a first `seg plan` (which
fills the cache), and a warm `seg plan`, with the HTTP requests the server logged for each.

    python benchmarks/state_cache_bench.py --sizes 1000 10000
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from generate import generate
from run import Server, measure


def api_requests(server: Server) -> int:
    """The API requests the server's access log holds so far."""
    return sum(" seg.access " in line and " /v1beta/" in line
               for line in server.log_path.read_text().splitlines())  # fmt: skip


def timed(server: Server, *args: str) -> dict[str, float]:
    before = api_requests(server)
    row = measure(server, "bench", *args)
    return {**row, "requests": api_requests(server) - before}


def bench(n: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        count = generate(tmp / "ws", n, "bench")
        server = Server(tmp, ["bench"])
        try:
            ws = str(tmp / "ws")
            measure(server, "bench", "apply", "-w", ws, "--auto-approve", "--no-cache")
            plan = ("plan", "-w", ws, "--detailed-exitcode")
            results = {
                "plan --no-cache": timed(server, *plan, "--no-cache"),
                "plan (fills the cache)": timed(server, *plan),
                "plan (warm)": timed(server, *plan),
            }
        finally:
            server.stop()
    return {"resources": count, **results}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    report = {}
    for n in args.sizes:
        report[str(n)] = result = bench(n)
        print(f"\nN = {result['resources']} resources")
        for name, row in result.items():
            if isinstance(row, dict):
                print(f"  {name:<24} {row['seconds']:>8} s {row['peak_mb']:>8} MB "
                      f"{row['requests']:>6} requests")  # fmt: skip
    print(json.dumps(report))


if __name__ == "__main__":
    main()
