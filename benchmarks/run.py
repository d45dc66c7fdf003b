"""Benchmark seg against `seg serve` on SQLite (SPEC §8).

For each N it generates a workspace, starts `seg serve` on a free loopback port, and times
`seg validate`, `seg plan` (all creates), `seg apply` (all creates), `seg plan` (no changes)
and an apply of 1,000 creates into an empty workspace, reporting wall time, the command's peak
memory (max RSS, from wait4) and the HTTP requests the server logged for it.

    python benchmarks/run.py --sizes 1000 10000
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))
from generate import generate  # noqa: E402

SEG = [sys.executable, "-m", "seg"]
SLACK_WEBHOOK = "https://hooks.slack.com/services/T0/B0/bench"  # delivery-rate alerts' webhook


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    def __init__(self, tmp: Path, workspaces: list[str]) -> None:
        self.env = {**os.environ, "SEG_DATABASE_URL": f"sqlite:///{tmp / 'cp.db'}",
                    "NO_COLOR": "1", "BENCH_API_KEY": "bench-secret",
                    "BENCH_SLACK_WEBHOOK": SLACK_WEBHOOK}  # fmt: skip
        self.tokens = {}
        for ws in workspaces:
            init = [*SEG, "server", "init", "--slug", ws, "-o", "json"]
            out = subprocess.run(init, env=self.env, capture_output=True, text=True, check=True)
            self.tokens[ws] = json.loads(out.stdout)["token"]
        self.port = free_port()
        self.log_path = tmp / "server.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115
        self.proc = subprocess.Popen([*SEG, "serve", "--port", str(self.port)], env=self.env,
                                     stdout=self.log, stderr=subprocess.STDOUT)  # fmt: skip
        for _ in range(300):
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.2):
                    return
            except OSError:
                time.sleep(0.1)
        raise SystemExit("seg serve did not start")

    def requests_logged(self) -> int:
        return sum(
            1
            for line in self.log_path.read_text().splitlines()
            if '"' in line and "HTTP/1.1" in line
        )

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()
        self.log.close()


def measure(server: Server, ws: str, *args: str) -> dict[str, float]:
    env = {**server.env, "SEG_API_URL": f"http://127.0.0.1:{server.port}",
           "SEG_TOKEN": server.tokens[ws]}  # fmt: skip
    before = server.requests_logged()
    start = time.perf_counter()
    proc = subprocess.Popen([*SEG, *args], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    elapsed = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    time.sleep(0.3)  # let the access log flush
    if code not in (0, 2):
        raise SystemExit(f"seg {' '.join(args)} exited {code}: {proc.stderr.read().decode()}")
    return {"seconds": round(elapsed, 2), "peak_mb": round(usage.ru_maxrss / 1024, 1),
            "requests": server.requests_logged() - before, "exit": code}  # fmt: skip


def bench(n: int) -> dict[str, dict[str, float]]:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        count = generate(tmp / "ws", n, "bench")
        generate(tmp / "ws1k", 1000, "bench1k")
        server = Server(tmp, ["bench", "bench1k"])
        try:
            ws = str(tmp / "ws")
            ws1k, yes = str(tmp / "ws1k"), "--auto-approve"
            results = {
                "validate": measure(server, "bench", "validate", "-w", ws),
                "plan (all creates)": measure(server, "bench", "plan", "-w", ws),
                f"apply ({count} creates)": measure(server, "bench", "apply", "-w", ws, yes),
                "plan (no changes)": measure(
                    server, "bench", "plan", "-w", ws, "--detailed-exitcode"
                ),
                "apply (1,000 creates)": measure(server, "bench1k", "apply", "-w", ws1k, yes),
            }
            if results["plan (no changes)"]["exit"] != 0:
                raise SystemExit("the plan after apply is not empty (seg plan exited 2)")
        finally:
            server.stop()
    return {"resources": count, **results}  # type: ignore[dict-item]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    report = {}
    for n in args.sizes:
        report[str(n)] = result = bench(n)
        print(f"\nN = {result['resources']} resources")
        print(f"  {'command':<24} {'seconds':>8} {'peak MB':>8} {'requests':>9}")
        for name, row in result.items():
            if isinstance(row, dict):
                print(f"  {name:<24} {row['seconds']:>8} {row['peak_mb']:>8} {row['requests']:>9}")
    out = Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(json.dumps(report, indent=2))


if __name__ == "__main__":
    main()
