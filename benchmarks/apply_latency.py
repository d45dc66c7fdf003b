"""Apply N creates through the latency proxy at several parallelisms (issue 18: 1,000 creates
at 50 ms per request in at most 8 s with the default parallelism).

    python benchmarks/apply_latency.py --resources 1000 --delay-ms 50 --parallelism 10 1

Each parallelism applies the same generated workspace into a fresh workspace of one
`seg serve` on SQLite; reported: wall time, the requests the proxy forwarded, and the
server's CPU seconds during the apply (so a slow figure says whether the client or the
server was the limit).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from generate import generate  # noqa: E402
from latency_proxy import start_proxy  # noqa: E402
from run import SEG, Server  # noqa: E402


def cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of a process so far (Linux /proc)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def main() -> None:
    raw = argparse.RawDescriptionHelpFormatter
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=raw)
    parser.add_argument("--resources", type=int, default=1000)
    parser.add_argument("--delay-ms", type=float, default=50.0)
    parser.add_argument("--parallelism", type=int, nargs="+", default=[10, 1])
    args = parser.parse_args()
    results = {}
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        names = [f"p{p}" for p in args.parallelism]
        counts = {ws: generate(tmp / ws, args.resources, ws) for ws in names}
        server = Server(tmp, names)
        proxy = start_proxy("127.0.0.1", server.port, delay_ms=args.delay_ms)
        try:
            for p, ws in zip(args.parallelism, names, strict=True):
                env = {**server.env, "SEG_API_URL": proxy.url, "SEG_TOKEN": server.tokens[ws]}
                before, cpu = proxy.requests, cpu_seconds(server.proc.pid)
                start = time.perf_counter()
                done = subprocess.run(
                    [*SEG, "apply", "-w", str(tmp / ws), "--auto-approve",
                     "--parallelism", str(p)],
                    env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                )  # fmt: skip
                elapsed = time.perf_counter() - start
                if done.returncode != 0:
                    raise SystemExit(f"seg apply --parallelism {p} failed: {done.stderr}")
                results[f"apply ({counts[ws]} creates, parallelism {p})"] = {
                    "seconds": round(elapsed, 2),
                    "requests": proxy.requests - before,
                    "server_cpu_seconds": round(cpu_seconds(server.proc.pid) - cpu, 2),
                }
        finally:
            proxy.close()
            server.stop()
    print(json.dumps({"delay_ms": args.delay_ms, **results}, indent=2))


if __name__ == "__main__":
    main()
