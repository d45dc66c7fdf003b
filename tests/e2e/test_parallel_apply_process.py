"""`seg apply --parallelism N` as a process against `seg serve`: the text is the same at 10 as
at 1 (lines in plan order), a bad value is refused before anything is sent, and a lease
broken while several creates are in flight stops the apply: those finish (refused), nothing
new is sent, the rest is "not attempted"."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.processes import Server, database_for, run

pytestmark = pytest.mark.e2e


def sources(names: str, destinations: bool = True) -> str:
    out = ""
    for name in names:
        out += f"---\nkind: Source\nname: {name}\nspec:\n  catalog: javascript\n"
        if destinations:
            out += (f"---\nkind: Destination\nname: hook\nspec:\n  source: {name}\n"
                    f"  catalog: webhook\n  settings:\n    url: https://hooks.example/{name}\n")  # fmt: skip
    return out


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path: Path, slug: str) -> Iterator[Server]:
    srv = Server(database_for(request, tmp_path), tmp_path, slug)
    yield srv
    srv.stop()


def test_the_text_is_the_same_at_parallelism_10_and_1(
    served: Server, write_workspace: Callable[..., Path], slug: str
) -> None:
    root = write_workspace({"sources.yaml": sources("abcdefgh")}, workspace=slug)
    env = served.client_env()
    texts = []
    for parallelism in ("10", "1", "10"):
        applied = run("apply", "-w", str(root), "--auto-approve", "--parallelism", parallelism,
                      env=env)  # fmt: skip
        assert applied.returncode == 0, applied.stderr
        texts.append(applied.stdout)
        (root / "sources.yaml").write_text("")  # then delete everything, at 10
        removed = run("apply", "-w", str(root), "--auto-approve", env=env)
        assert removed.returncode == 0, removed.stderr
        assert "16 applied" in removed.stdout
        (root / "sources.yaml").write_text(sources("abcdefgh"))
    assert texts[0] == texts[1] == texts[2]
    lines = [line for line in texts[0].splitlines() if line.startswith("created")]
    assert lines[:3] == ["created Source a", "created Source b", "created Source c"]
    assert len(lines) == 16 and "16 applied, 0 failed, 0 skipped" in texts[0]


def test_a_bad_parallelism_is_refused_before_anything_is_sent(
    served: Server, write_workspace: Callable[..., Path], slug: str
) -> None:
    root = write_workspace({"sources.yaml": sources("a")}, workspace=slug)
    for args, env_value in ((("--parallelism", "0"), None), (("--parallelism", "65"), None),
                            ((), "many"), ((), "-3")):  # fmt: skip
        extra = {"SEG_PARALLELISM": env_value} if env_value else {}
        refused = run("apply", "-w", str(root), "--auto-approve", *args,
                      env=served.client_env(**extra))  # fmt: skip
        assert refused.returncode == 2, refused.stdout + refused.stderr
        assert "--parallelism" in refused.stderr and "Traceback" not in refused.stderr
    assert served.get(f"workspaces/{slug}/sources")["sources"] == []


class HoldingProxy:
    """An HTTP proxy in front of ``seg serve`` holding every source create from the
    ``hold_from``-th on until released; it records what it forwards."""

    def __init__(self, upstream: str, hold_from: int) -> None:
        self.upstream, self.hold_from = upstream, hold_from
        self.seen: list[tuple[str, str, int]] = []
        self.arrived = 0
        self.held = 0
        self.lock = threading.Lock()
        self.release = threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def forward(self) -> None:
                proxy.handle(self)

            do_GET = do_POST = do_PATCH = do_DELETE = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def creates(self) -> list[tuple[str, str, int]]:
        with self.lock:
            return [s for s in self.seen if s[0] == "POST" and s[1].endswith("/sources")]

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        if handler.command == "POST" and handler.path.endswith("/sources"):
            with self.lock:
                self.arrived += 1
                hold = self.arrived >= self.hold_from
                self.held += hold
            if hold:
                assert self.release.wait(90), "the test never released the held creates"
        skip = {"host", "content-length", "connection", "accept-encoding"}
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in skip}
        response = httpx.request(handler.command, self.upstream + handler.path,
                                 headers=headers, content=body, timeout=30)  # fmt: skip
        with self.lock:
            self.seen.append((handler.command, handler.path.split("?")[0],
                              response.status_code))  # fmt: skip
        handler.send_response(response.status_code)
        handler.send_header("Content-Type", response.headers.get("content-type", "text/plain"))
        handler.send_header("Content-Length", str(len(response.content)))
        handler.end_headers()
        handler.wfile.write(response.content)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.02)


def test_a_lease_broken_mid_apply_lets_in_flight_creates_finish_and_sends_nothing_new(
    served: Server, write_workspace: Callable[..., Path], slug: str
) -> None:
    """At parallelism 3, the first create passes and the next three are held at the proxy;
    an owner breaks the lease and the renewal finds it gone. Released, the three are refused
    (they name a lease that is gone); the last three sources are never sent."""
    root = write_workspace({"sources.yaml": sources("abcdefg", destinations=False)},
                           workspace=slug)  # fmt: skip
    proxy = HoldingProxy(served.url, hold_from=2)
    env = served.client_env(SEG_API_URL=proxy.url, SEG_LOCK_TTL="6")
    result: dict[str, Any] = {}
    try:
        apply = threading.Thread(target=lambda: result.update(done=run(
            "apply", "-w", str(root), "--auto-approve", "--parallelism", "3", env=env)))
        apply.start()
        wait_for(lambda: proxy.held == 3, "three creates held at the proxy")
        owner = {"Authorization": f"Bearer {served.token}"}
        lock_url = f"{served.url}/v1beta/workspaces/{slug}/lock"
        assert httpx.delete(lock_url, headers=owner).status_code == 200
        wait_for(lambda: any(s[0] == "PATCH" and s[2] == 409 for s in proxy.seen),
                 "the apply's renewal to be refused")  # fmt: skip
        proxy.release.set()
        apply.join(120)
        done = result["done"]
    finally:
        proxy.close()
    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: the workspace lock was lost")
    assert line.endswith("stopped before the next write: 1 applied, 6 not applied (listed above)")
    # a, b and c start together: whichever reaches the proxy first goes through
    (passed,) = [name for name in "abc" if f"created Source {name}\n" in done.stdout]
    for name in sorted(set("abcd") - {passed}):
        assert f"failed to create Source {name}: the workspace lock was lost" in done.stdout
    for name in "efg":
        assert f"not attempted: create Source {name}" in done.stdout
    assert "1 applied, 3 failed, 0 skipped, 3 not attempted." in done.stdout
    assert [s[2] for s in proxy.creates()] == [200, 409, 409, 409]  # e, f, g never sent
    names = [s["name"].rsplit("/", 1)[1] for s in served.get(f"workspaces/{slug}/sources")["sources"]]
    assert names == [passed]
