"""Benchmark seg against `seg serve` on SQLite (SPEC §8, issue 18), beside Terraform.

For each N it generates a workspace (`generate.py`), starts `seg serve` on a free loopback
port and measures, as separate `seg` processes:

- validate: cold (no cache), warm (cache filled, nothing edited), warm after a one-file edit;
- plan (all creates), apply (all creates, default parallelism);
- no-op plan: cold (no cache) and warm (cache filled by a previous plan), plus warm after
  another client changed one resource;
- into a second, empty workspace: 1,000 creates straight and through a proxy adding
  ``--latency-ms`` to every request, with the default parallelism and with ``--parallelism 1``.

Every row has wall seconds, the command's peak memory (max RSS, from wait4) and the HTTP
requests the server logged for it (`seg serve --log-format json`, one `seg.access` record per
request). When `terraform` is on PATH, the same run measures Terraform on `terraform_data`
resources (`--terraform-sizes`): plan (all creates), apply, and the no-op plan.

    python benchmarks/run.py --sizes 10000 100000 [--latency-ms 50] [--terraform-sizes 1000]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).parent))
from generate import generate  # noqa: E402

SEG = [sys.executable, "-m", "seg"]
SLACK_WEBHOOK = "https://hooks.slack.com/services/T0/B0/bench"  # delivery-rate alerts' webhook
Row = dict[str, Any]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, seconds: float = 30.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise SystemExit(f"nothing listens on port {port}")


class Server:
    """`seg serve` on a fresh SQLite database, one workspace (and token) per name."""

    def __init__(self, tmp: Path, workspaces: list[str]) -> None:
        self.env = {**os.environ, "SEG_DATABASE_URL": f"sqlite:///{tmp / 'cp.db'}",
                    "NO_COLOR": "1", "BENCH_API_KEY": "bench-secret",
                    "BENCH_SLACK_WEBHOOK": SLACK_WEBHOOK,
                    "XDG_CACHE_HOME": str(tmp / "home-cache")}  # fmt: skip
        self.env.pop("SEG_NO_CACHE", None)
        self.tokens = {}
        for ws in workspaces:
            init = [*SEG, "server", "init", "--slug", ws, "-o", "json"]
            out = subprocess.run(init, env=self.env, capture_output=True, text=True, check=True)
            self.tokens[ws] = json.loads(out.stdout)["token"]
        self.port = free_port()
        self.log_path = tmp / "server.log"
        self.log = open(self.log_path, "w")  # noqa: SIM115
        serve = [*SEG, "serve", "--port", str(self.port), "--log-format", "json"]
        self.proc = subprocess.Popen(serve, env=self.env, stdout=self.log,
                                     stderr=subprocess.STDOUT)  # fmt: skip
        wait_for_port(self.port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def requests_logged(self) -> int:
        self.log.flush()
        with open(self.log_path, encoding="utf-8") as fh:
            return sum(1 for line in fh if '"logger": "seg.access"' in line)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait()
        self.log.close()


def run_measured(cmd: list[str], env: dict[str, str], cwd: str | None = None,
                 ok: tuple[int, ...] = (0, 2)) -> Row:  # fmt: skip
    """Wall time, peak memory and exit code of one process (its output discarded)."""
    start = time.perf_counter()
    with tempfile.TemporaryFile() as err:
        proc = subprocess.Popen(cmd, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=err)
        _, status, usage = os.wait4(proc.pid, 0)
        elapsed = time.perf_counter() - start
        code = os.waitstatus_to_exitcode(status)
        if code not in ok:
            err.seek(0)
            raise SystemExit(f"{' '.join(cmd[2:])} exited {code}: {err.read().decode()[-2000:]}")
    return {"seconds": round(elapsed, 2), "peak_mb": round(usage.ru_maxrss / 1024, 1),
            "exit": code}  # fmt: skip


def measure(server: Server, ws: str, *args: str, url: str | None = None) -> Row:
    env = {**server.env, "SEG_API_URL": url or server.url, "SEG_TOKEN": server.tokens[ws]}
    before = server.requests_logged()
    row = run_measured([*SEG, *args], env)
    time.sleep(0.3)  # let the access log flush
    row["requests"] = server.requests_logged() - before
    return row


def drop_cache(workspace: Path) -> None:
    shutil.rmtree(workspace / ".seg" / "cache", ignore_errors=True)


def edit_one_file(workspace: Path) -> None:
    """Change one value in one resource file (as a one-line pull request would)."""
    for path in sorted(workspace.rglob("*.yaml")):
        text = path.read_text()
        changed = re.sub(r"flush_at: (\d+)", lambda m: f"flush_at: {int(m[1]) + 1}", text,
                         count=1)  # fmt: skip
        if changed != text:
            path.write_text(changed)
            return
    raise SystemExit("no file to edit")


def change_live_resource(server: Server, ws: str) -> None:
    """Another client (the API, as the web app would) changes one live resource."""
    import httpx

    headers = {"Authorization": f"Bearer {server.tokens[ws]}"}
    with httpx.Client(base_url=server.url, headers=headers, timeout=30) as http:
        name = f"workspaces/{ws}/sources/src-00000"  # declares its display name
        body = {"source": {"display_name": "changed in the web app"},
                "update_mask": {"paths": ["source.display_name"]}}  # fmt: skip
        http.patch(f"/v1beta/{name}", json=body).raise_for_status()


def seg_rows(server: Server, ws: str, root: Path, count: int) -> dict[str, Row]:
    """The validate and plan figures of one workspace of ``count`` resources."""
    w = str(root)
    rows: dict[str, Row] = {}
    drop_cache(root)
    rows["validate (cold)"] = measure(server, ws, "validate", "-w", w)
    rows["validate (warm, no edit)"] = measure(server, ws, "validate", "-w", w)
    edit_one_file(root)
    rows["validate (warm, one file edited)"] = measure(server, ws, "validate", "-w", w)
    rows["plan (all creates)"] = measure(server, ws, "plan", "-w", w)
    rows[f"apply ({count} creates)"] = measure(server, ws, "apply", "-w", w, "--auto-approve")
    drop_cache(root)
    rows["plan (no changes, cold)"] = measure(server, ws, "plan", "-w", w, "--detailed-exitcode")
    rows["plan (no changes, warm)"] = measure(server, ws, "plan", "-w", w, "--detailed-exitcode")
    for name in ("plan (no changes, cold)", "plan (no changes, warm)"):
        if rows[name]["exit"] != 0:
            raise SystemExit(f"{name}: the plan after apply is not empty (seg plan exited 2)")
    rows["drift (none, warm)"] = measure(server, ws, "drift", "-w", w)
    change_live_resource(server, ws)
    rows["plan (one live change, warm)"] = measure(server, ws, "plan", "-w", w,
                                                  "--detailed-exitcode")  # fmt: skip
    if rows["plan (one live change, warm)"]["exit"] != 2:
        raise SystemExit("the plan did not see the change another client made")
    rows["drift (one live change, warm)"] = measure(server, ws, "drift", "-w", w)
    drifts = (rows["drift (none, warm)"]["exit"], rows["drift (one live change, warm)"]["exit"])
    if drifts != (0, 2):
        raise SystemExit("seg drift did not tell the change another client made")
    return rows


def latency_rows(server: Server, roots: dict[str, Path], delay_ms: float) -> dict[str, Row]:
    """1,000 creates through a proxy adding ``delay_ms`` per request, into an empty workspace:
    with the default parallelism, and serially (``--parallelism 1``) into another."""
    from latency_proxy import start_proxy

    proxy = start_proxy("127.0.0.1", server.port, delay_ms=delay_ms)
    url = proxy.url
    rows: dict[str, Row] = {}
    try:
        for (ws, root), extra in zip(roots.items(), ([], ["--parallelism", "1"]), strict=True):
            label = " ".join(extra) or "default parallelism"
            args = ["apply", "-w", str(root), "--auto-approve", *extra]
            rows[f"apply (1,000 creates, {delay_ms:g} ms, {label})"] = measure(
                server, ws, *args, url=url)  # fmt: skip
    finally:
        proxy.close()
    return rows


def terraform_rows(n: int, tmp: Path) -> dict[str, Row]:
    """Terraform on ``n`` `terraform_data` resources: plan (all creates), apply, no-op plan."""
    folder = tmp / f"tf{n}"
    folder.mkdir()
    blocks = [f'resource "terraform_data" "r{i}" {{\n  input = {{ name = "source-{i}", '
              f'type = "javascript", enabled = true }}\n}}\n' for i in range(n)]  # fmt: skip
    (folder / "main.tf").write_text("\n".join(blocks))
    env = {**os.environ, "TF_CLI_CONFIG_FILE": os.devnull, "TF_IN_AUTOMATION": "1",
           "CHECKPOINT_DISABLE": "1"}  # fmt: skip
    tf = ["terraform", "-chdir=" + str(folder)]
    subprocess.run([*tf, "init", "-input=false"], env=env, check=True, capture_output=True)
    rows = {
        "terraform plan (all creates)": run_measured([*tf, "plan", "-input=false", "-out=p"], env),
        f"terraform apply ({n} creates)": run_measured([*tf, "apply", "-input=false", "p"], env),
        "terraform plan (no changes)": run_measured(
            [*tf, "plan", "-input=false", "-detailed-exitcode"], env),
    }  # fmt: skip
    return rows


def bench(n: int, delay_ms: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmpdir:
        tmp = Path(tmpdir)
        count = generate(tmp / "ws", n, "bench")
        small = {ws: tmp / ws for ws in ("bench1k", "bench1k-serial")}
        for ws, root in small.items():
            generate(root, 1000, ws)
        server = Server(tmp, ["bench", *small])
        try:
            rows = seg_rows(server, "bench", tmp / "ws", count)
            if delay_ms > 0:
                rows.update(latency_rows(server, small, delay_ms))
        finally:
            server.stop()
    return {"resources": count, **rows}


def show(title: str, rows: dict[str, Any]) -> None:
    print(f"\n{title}")
    print(f"  {'command':<52} {'seconds':>8} {'peak MB':>8} {'requests':>9}")
    for name, row in rows.items():
        if isinstance(row, dict):
            requests = row.get("requests", "")
            print(f"  {name:<52} {row['seconds']:>8} {row['peak_mb']:>8} {requests:>9}")


def main(argv: list[str] | None = None, out_dir: Path | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    parser.add_argument("--latency-ms", type=float, default=50.0,
                        help="delay the proxy adds per request for the 1,000-create applies "
                             "(0: skip them)")  # fmt: skip
    parser.add_argument("--terraform-sizes", type=int, nargs="*", default=[1000],
                        help="terraform_data counts to measure when terraform is installed")
    args = parser.parse_args(argv)
    report: dict[str, Any] = {}
    for n in args.sizes:
        report[str(n)] = result = bench(n, args.latency_ms)
        show(f"seg, N = {result['resources']} resources", result)
    if shutil.which("terraform") and args.terraform_sizes:
        version = subprocess.run(["terraform", "version", "-json"], capture_output=True,
                                 text=True, check=False).stdout  # fmt: skip
        report["terraform"] = {"version": json.loads(version or "{}").get("terraform_version")}
        for n in args.terraform_sizes:
            with tempfile.TemporaryDirectory() as tmpdir:
                report["terraform"][str(n)] = rows = terraform_rows(n, Path(tmpdir))
            show(f"Terraform {report['terraform']['version']}, N = {n} terraform_data", rows)
    out = out_dir or Path(__file__).parent / "out"
    out.mkdir(exist_ok=True)
    (out / "results.json").write_text(json.dumps(report, indent=2))
    return report


if __name__ == "__main__":
    main()
