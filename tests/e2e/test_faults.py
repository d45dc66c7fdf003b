"""Fault tests against `seg serve` as a process: SIGKILLed applies, concurrent applies, a
server killed mid-apply (the apply stops within its retry budget and says what was left), and
two servers on one PostgreSQL behaving as one control plane.

No assertion depends on the machine's speed: faults are triggered by progress (writes the
server has seen), never by a sleep; waits poll a condition up to a generous deadline; lock
waits and process timeouts are far above any honest run, and time bounds derive from the
retry budget with a wide margin. They must pass on a loaded machine."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import httpx
import pytest

from tests.conftest import POSTGRES_URL
from tests.e2e.processes import SEG, Server, free_port

pytestmark = pytest.mark.e2e

SOURCES = 40  # 40 sources × (1 + 2 destinations) = 120 resources
TOTAL = 3 * SOURCES
DEADLINE = 600.0  # seconds: only a hang gets near this; no honest run does
LOCK_WAIT = str(int(DEADLINE))  # --lock-timeout for applies that queue behind another
BUDGET = 5.0  # the retry budget of applies that see the server die
MARGIN = 60.0  # process start, planning and the last attempts, even on a loaded machine


def run(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SEG, *args], env=env, capture_output=True, text=True,
                          timeout=DEADLINE)  # fmt: skip


# Each catalog entry's integer setting that carries the workspace's version.
VERSION = {"javascript": "user_cookie_days", "amplitude": "batch_size",
           "google-analytics": "site_speed_sample_rate"}  # fmt: skip


def write_workspace(root: Path, slug: str, version: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {slug}\n")
    docs = []
    for i in range(SOURCES):
        docs.append(f"kind: Source\nname: s{i:03d}\nspec:\n  catalog: javascript\n"
                    f"  settings: {{user_cookie_days: {version}}}\n")  # fmt: skip
        for dest, catalog in (("amp", "amplitude"), ("ga", "google-analytics")):
            docs.append(f"kind: Destination\nname: {dest}\nspec:\n  source: s{i:03d}\n"
                        f"  catalog: {catalog}\n  settings: {{{VERSION[catalog]}: {version}}}\n")  # fmt: skip
    (root / "all.yaml").write_text("---\n".join(docs))


def live(server: Server, slug: str) -> list[dict]:
    headers = {"Authorization": f"Bearer {server.token}"}
    base = f"{server.url}/v1beta/workspaces/{slug}"
    sources = httpx.get(f"{base}/sources", params={"page_size": 1000}, headers=headers,
                        timeout=DEADLINE).json()["sources"]  # fmt: skip
    dests = httpx.get(f"{base}/sources/-/destinations", params={"page_size": 1000},
                      headers=headers, timeout=DEADLINE).json()["destinations"]  # fmt: skip
    return list(sources) + list(dests)


def counts(server: Server, slug: str) -> tuple[int, int]:
    items = live(server, slug)
    names = [i["name"] for i in items]
    assert len(names) == len(set(names))
    return sum("/destinations/" not in n for n in names), sum("/destinations/" in n for n in names)


def at_version(server: Server, slug: str, version: int) -> int:
    return sum((i.get("settings") or {}).get(VERSION[i["catalog"]]) == version
               for i in live(server, slug))  # fmt: skip


def progressed(server: Server, slug: str, version: int, writes: int,
               proc: subprocess.Popen[str]) -> Callable[[], bool]:  # fmt: skip
    """Whether the server holds ``writes`` resources at ``version``, or the apply ended."""
    return lambda: at_version(server, slug, version) >= writes or proc.poll() is not None


def wait_for(condition: Callable[[], bool], what: str, timeout: float = DEADLINE) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:g}s waiting for {what}")
        time.sleep(0.05)


@pytest.fixture
def server(tmp_path: Path, slug: str) -> Iterator[Server]:
    srv = Server(f"sqlite:///{tmp_path / 'cp.db'}", tmp_path, slug)
    yield srv
    srv.stop()


def apply_env(server: Server, url: str | None = None) -> dict[str, str]:
    env = server.client_env(SEG_LOCK_TTL="1", SEG_RETRY_BUDGET=str(BUDGET))
    return {**env, "SEG_API_URL": url} if url else env


def recovery_env(server: Server) -> dict[str, str]:
    """For the apply that finishes a killed one: the dead run's 1 s lease lapses at once, and
    this run's own lease is long enough for ten writers on a loaded machine (a renewal late
    past a 1 s lease would lose it)."""
    return {**apply_env(server), "SEG_LOCK_TTL": "20"}


def popen_apply(root: Path, env: dict[str, str], *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen([*SEG, "apply", "-w", str(root), "--auto-approve", *extra], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip


class DyingProxy:
    """A reverse proxy in front of `seg serve` that SIGKILLs it on the ``die_on``-th resource
    write (lock and apply-run calls do not count) and stops listening: that write and every later request
    find nothing there, exactly as when the server dies — at a point fixed by progress."""

    def __init__(self, server: Server, die_on: int) -> None:
        self.server, self.die_on, self.writes, self.dead = server, die_on, 0, False
        self.upstream = httpx.Client(base_url=server.url, timeout=DEADLINE)
        self.lock = threading.Lock()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.httpd = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self.httpd.daemon_threads = True
        self.thread = threading.Thread(target=self.httpd.serve_forever, daemon=True)
        self.thread.start()

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args: object) -> None:
                pass

            def _forward(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                if not proxy.admit(self.command, self.path):
                    self.close_connection = True  # no response: the client sees a dead peer
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in ("host", "content-length", "connection")}  # fmt: skip
                r = proxy.upstream.request(self.command, self.path, content=body, headers=headers)
                self.send_response(r.status_code)
                for key, value in r.headers.items():
                    if key.lower() not in ("content-length", "transfer-encoding", "connection"):
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(r.content)))
                self.end_headers()
                self.wfile.write(r.content)

            do_GET = do_POST = do_PATCH = do_DELETE = _forward  # noqa: N815

        return Handler

    def admit(self, method: str, path: str) -> bool:
        with self.lock:
            bare = path.split("?")[0]
            # the lock and the apply run are the apply's bookkeeping, not its writes
            if (not self.dead and method != "GET" and not bare.endswith("/lock")
                    and "/applies" not in bare):  # fmt: skip
                self.writes += 1
                if self.writes == self.die_on:
                    self.dead = True
                    self.server.proc.send_signal(signal.SIGKILL)
                    self.server.proc.wait()
                    self._stop_listening()  # from here on, connecting is refused
            return not self.dead

    def _stop_listening(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()

    def close(self) -> None:
        if not self.dead:
            self._stop_listening()
        self.upstream.close()


def test_a_server_killed_mid_apply_stops_it_within_the_retry_budget(
    server: Server, tmp_path: Path, slug: str
) -> None:
    root = tmp_path / "ws"
    write_workspace(root, slug, 1)
    proxy = DyingProxy(server, die_on=11)  # ten creates go through; the server dies on the 11th
    try:
        # one write at a time, so exactly ten go through before the kill
        proc = popen_apply(root, {**apply_env(server, proxy.url), "SEG_PARALLELISM": "1"})
        wait_for(lambda: proxy.dead or proc.poll() is not None, "the server to be killed")
        killed_at = time.monotonic()
        out, err = proc.communicate(timeout=DEADLINE)
        took = time.monotonic() - killed_at
    finally:
        proxy.close()
    assert proxy.dead, out + err
    assert proc.returncode == 1, out + err
    assert took < BUDGET + MARGIN, f"{took:.0f}s after the kill"  # not minutes per change
    (summary,) = [line for line in out.splitlines() if line.startswith("Apply stopped:")]
    # the write's retries spend the budget, or the lease renewal (retrying too) gives up
    # first: either way the apply stops because the control plane cannot be reached
    assert "cannot reach the control plane" in summary, summary
    assert f"budget of {BUDGET:g}s" in summary or "lock was lost (renewal failed" in summary
    numbers = summary.rsplit(". ", 1)[1]
    applied, failed, skipped, left = (int(part.split()[0]) for part in numbers.split(", "))
    assert applied == 10 and failed >= 1 and applied + failed + skipped + left == TOTAL
    listed = [line for line in out.splitlines() if line.startswith("  not attempted: ")]
    assert len(listed) == left > 0
    server.restart()
    assert sum(counts(server, slug)) == 10  # exactly the writes that went through
    again = run("apply", "-w", str(root), "--auto-approve", "--lock-timeout", LOCK_WAIT,
                env=recovery_env(server))  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert (
        run("plan", "-w", str(root), "--detailed-exitcode", env=apply_env(server)).returncode == 0
    )
    assert counts(server, slug) == (SOURCES, 2 * SOURCES)


def test_sigkilled_applies_converge_without_duplicates(
    server: Server, tmp_path: Path, slug: str
) -> None:
    root = tmp_path / "ws"
    rng = random.Random(7)
    env = apply_env(server)
    runs = 5
    for version in range(1, runs + 1):
        write_workspace(root, slug, version)
        kill_after = rng.randint(1, TOTAL - 1)  # writes of this version seen by the server
        proc = popen_apply(root, env)
        wait_for(progressed(server, slug, version, kill_after, proc), f"{kill_after} writes")
        proc.send_signal(signal.SIGKILL)
        proc.communicate(timeout=DEADLINE)
        again = run("apply", "-w", str(root), "--auto-approve", "--lock-timeout", LOCK_WAIT,
                    env=recovery_env(server))  # fmt: skip
        assert again.returncode == 0, again.stdout + again.stderr
        plan = run("plan", "-w", str(root), "--detailed-exitcode", env=env)
        assert plan.returncode == 0, plan.stdout + plan.stderr
        assert counts(server, slug) == (SOURCES, 2 * SOURCES)
        assert at_version(server, slug, version) == TOTAL


def test_concurrent_applies_are_serialised_by_the_lock(
    server: Server, tmp_path: Path, slug: str
) -> None:
    root = tmp_path / "ws"
    write_workspace(root, slug, 1)
    # a 1 s lease renewed every 0.33 s: ten writers at once on a loaded machine can delay a
    # renewal past it (a real lease is minutes); the lock's serialisation is what is tested
    env = {**apply_env(server), "SEG_PARALLELISM": "1"}
    procs = [popen_apply(root, env) for _ in range(2)]
    outputs = [p.communicate(timeout=DEADLINE) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes in ([0, 1], [0, 0])  # one holds the lock; the other fails at once, clearly
    for proc, (_, err) in zip(procs, outputs, strict=True):
        if proc.returncode == 1:
            assert "is locked by seg apply" in err and "--lock-timeout" in err
    write_workspace(root, slug, 2)
    waiting = [popen_apply(root, env, "--lock-timeout", LOCK_WAIT) for _ in range(2)]
    results = [(p.communicate(timeout=DEADLINE), p.returncode) for p in waiting]
    assert [code for _, code in results] == [0, 0], results
    assert run("plan", "-w", str(root), "--detailed-exitcode", env=env).returncode == 0
    assert counts(server, slug) == (SOURCES, 2 * SOURCES)


def test_server_restart_mid_apply(server: Server, tmp_path: Path, slug: str) -> None:
    root = tmp_path / "ws"
    write_workspace(root, slug, 1)
    env = apply_env(server)
    proc = popen_apply(root, env)
    wait_for(lambda: sum(counts(server, slug)) >= 10 or proc.poll() is not None, "10 creates")
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    killed_at = time.monotonic()
    out, err = proc.communicate(timeout=DEADLINE)
    assert time.monotonic() - killed_at < BUDGET + MARGIN
    if proc.returncode != 0:  # it had not finished: it says what it left (a write or the
        # lease renewal found the control plane gone)
        (summary,) = [line for line in out.splitlines() if line.startswith("Apply stopped:")]
        assert "cannot reach the control plane" in summary, out + err
    server.restart()
    again = run("apply", "-w", str(root), "--auto-approve", "--lock-timeout", LOCK_WAIT,
                env=recovery_env(server))  # fmt: skip
    assert again.returncode == 0, again.stdout + again.stderr
    assert run("plan", "-w", str(root), "--detailed-exitcode", env=env).returncode == 0
    assert counts(server, slug) == (SOURCES, 2 * SOURCES)


@pytest.mark.postgres
def test_two_servers_on_one_postgresql_act_as_one(tmp_path: Path, slug: str, request) -> None:
    if not POSTGRES_URL:
        request.getfixturevalue("pg_store")
    first = Server(POSTGRES_URL, tmp_path, slug)
    second = Server(POSTGRES_URL, tmp_path, slug, init=False)
    second.token = first.token  # one control plane: the same tokens work on both
    try:
        root = tmp_path / "ws"
        write_workspace(root, slug, 1)
        env_a = apply_env(first)
        env_b = apply_env(second)
        held = httpx.post(f"{second.url}/v1beta/workspaces/{slug}/lock", json={"holder": "b"},
                          headers={"Authorization": f"Bearer {first.token}"}).json()  # fmt: skip
        blocked = run("apply", "-w", str(root), "--auto-approve", env=env_a)
        assert blocked.returncode == 1 and "is locked by b" in blocked.stderr
        httpx.delete(f"{first.url}/v1beta/workspaces/{slug}/lock", params={"id": held["id"]},
                     headers={"Authorization": f"Bearer {first.token}"})  # fmt: skip
        procs = [popen_apply(root, env, "--lock-timeout", LOCK_WAIT) for env in (env_a, env_b)]
        results = [(p.communicate(timeout=DEADLINE), p.returncode) for p in procs]
        assert [code for _, code in results] == [0, 0], results
        for env in (env_a, env_b):
            assert run("plan", "-w", str(root), "--detailed-exitcode", env=env).returncode == 0
        assert counts(second, slug) == (SOURCES, 2 * SOURCES)
        events = httpx.get(f"{second.url}/v1beta/workspaces/{slug}/audit-events",
                           params={"page_size": 1000}, timeout=DEADLINE,
                           headers={"Authorization": f"Bearer {first.token}"}).json()  # fmt: skip
        creates = [e for e in events["audit_events"] if e["method"] == "POST"
                   and "/lock" not in e["resource"]]  # fmt: skip
        assert len(creates) == 3 * SOURCES and json.dumps(events).count("/lock") >= 4
    finally:
        first.stop()
        second.stop()
