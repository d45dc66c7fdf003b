"""The web console's pages on a served control plane holding N resources (issue 21): apply the
generated workspace to `seg serve`, sign in over HTTP like a browser, and time each page (best
of three), with the server's peak memory.

    python benchmarks/console_bench.py --sizes 1000 10000
"""

from __future__ import annotations

import argparse
import json
import re
import tempfile
import time
from pathlib import Path

import httpx
from generate import generate
from run import Server, measure

PAGES = {
    "overview": "",
    "resources (all)": "/resources",
    "search (text)": "/resources?q=src-00001",
    "resources (one kind)": "/resources?kind=source",
    "a destination with history": "/r/destination/src-00001/dest-00001-0",
    "audit (first page)": "/audit",
    "graph (focus on a source)": "/graph?focus=source%3Asrc-00001",
}


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return 0.0


def bench(n: int) -> dict[str, object]:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        count = generate(tmp / "ws", n, "bench")
        server = Server(tmp, ["bench"])
        try:
            measure(server, "bench", "apply", "-w", str(tmp / "ws"), "--auto-approve",
                    "--no-cache")  # fmt: skip
            base = server.url
            browser = httpx.Client(base_url=base, timeout=300)
            signed = browser.post("/console/sign-in", data={"token": server.tokens["bench"]},
                                  headers={"Origin": base})  # fmt: skip
            assert signed.status_code == 303, signed.text
            destination = re.search(r"/r/destination/([^\"]+)\"",
                                    browser.get("/console/w/bench/resources?kind=destination")
                                    .text)  # fmt: skip
            assert destination, "no destination listed"
            pages = {**PAGES, "a destination with history":
                     f"/r/destination/{destination.group(1)}"}  # fmt: skip
            times: dict[str, float] = {}
            for name, path in pages.items():
                best = float("inf")
                for _ in range(3):
                    start = time.perf_counter()
                    page = browser.get(f"/console/w/bench{path}")
                    best = min(best, time.perf_counter() - start)
                    assert page.status_code == 200, (path, page.status_code)
                times[name] = round(best, 3)
            return {"resources": count, "seconds": times,
                    "server_peak_mb": round(peak_rss_mb(server.proc.pid), 1)}
        finally:
            server.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000])
    parser.add_argument("-o", "--output", choices=["text", "json"], default="text")
    args = parser.parse_args()
    rows = [bench(n) for n in args.sizes]
    if args.output == "json":
        print(json.dumps(rows, indent=2))
        return
    for row in rows:
        print(f"{row['resources']} resources (server peak {row['server_peak_mb']} MB):")
        for name, seconds in row["seconds"].items():  # type: ignore[attr-defined]
            print(f"  {name:32} {seconds:7.3f} s")


if __name__ == "__main__":
    main()
