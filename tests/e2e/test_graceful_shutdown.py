"""SIGTERM drains a real `seg serve`: a request in flight when the signal arrives completes,
/readyz answers 503 "draining" from the moment of the signal (while --drain-delay keeps the
server serving), the process exits 0, and a request that outlives --drain-timeout is cut
without keeping the process alive. A request is kept in flight honestly: its body is sent in
two halves over a raw socket, the second half after the signal."""

from __future__ import annotations

import json
import signal
import socket
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import Server

pytestmark = pytest.mark.e2e

DRAINING = {"error": "draining: the server is shutting down", "code": 14}


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        if server.proc.poll() is None:
            server.proc.kill()
            server.proc.wait(timeout=15)
        server.log.close()


def serve(started: list[Server], tmp_path: Path, slug: str, *args: str) -> Server:
    server = Server(f"sqlite:///{tmp_path / 'cp.db'}", tmp_path, slug, serve_args=args)
    started.append(server)
    return server


def half_sent_create(server: Server, slug: str, source: str) -> tuple[socket.socket, bytes]:
    """A POST creating a source, its headers and the first half of its body sent; returns the
    socket and the rest of the body."""
    body = json.dumps({"source": {"name": f"workspaces/{slug}/sources/{source}",
                                  "catalog": "javascript"}}).encode()  # fmt: skip
    head = (f"POST /v1beta/workspaces/{slug}/sources HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {server.token}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\n\r\n").encode()  # fmt: skip
    sock = socket.create_connection(("127.0.0.1", server.port), timeout=30)
    half = len(body) // 2
    sock.sendall(head + body[:half])
    time.sleep(0.5)  # the server has read the headers: the request is in flight
    return sock, body[half:]


def read_response(sock: socket.socket) -> bytes:
    chunks = []
    while chunk := sock.recv(65536):
        chunks.append(chunk)
    return b"".join(chunks)


def wait_refused(server: Server, limit: float = 30) -> None:
    """Until the server stops accepting connections (it has begun draining)."""
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", server.port), timeout=1).close()
        except OSError:
            return
        time.sleep(0.05)
    raise AssertionError("the server kept accepting connections after SIGTERM")


def test_a_request_in_flight_at_sigterm_completes_and_the_server_exits_0(
    servers: list[Server], tmp_path: Path, slug: str
) -> None:
    server = serve(servers, tmp_path, slug, "--drain-timeout", "60")
    sock, rest = half_sent_create(server, slug, "web")
    server.proc.send_signal(signal.SIGTERM)
    wait_refused(server)  # draining: no new connections, the old one still open
    sock.sendall(rest)
    response = read_response(sock)
    sock.close()
    status, _, payload = response.partition(b"\r\n\r\n")
    assert status.startswith(b"HTTP/1.1 200"), response
    assert b"connection: close" in status.lower()
    assert json.loads(payload)["name"] == f"workspaces/{slug}/sources/web"
    assert server.proc.wait(timeout=30) == 0
    log = server.log_text()
    assert "SIGTERM: draining" in log and "Traceback" not in log
    server.start()  # the drained request's write is in the database
    assert server.get(f"workspaces/{slug}/sources/web")["name"].endswith("/sources/web")


def test_readyz_is_503_draining_from_the_signal_while_the_delay_keeps_serving(
    servers: list[Server], tmp_path: Path, slug: str
) -> None:
    server = serve(servers, tmp_path, slug, "--drain-delay", "6", "--drain-timeout", "10")
    assert httpx.get(f"{server.url}/readyz").json() == {"status": "ok"}
    signalled = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    time.sleep(0.3)
    ready = httpx.get(f"{server.url}/readyz", headers={"X-Request-Id": "drain-check"})
    assert (ready.status_code, ready.json()) == (503, {**DRAINING, "request_id": "drain-check"})
    assert ready.headers["x-request-id"] == "drain-check"  # an answer like any other
    assert httpx.get(f"{server.url}/healthz").status_code == 200  # alive, finishing work
    listed = httpx.get(f"{server.url}/v1beta/workspaces/{slug}/sources",
                       headers={"Authorization": f"Bearer {server.token}"})  # fmt: skip
    assert listed.status_code == 200  # still serving during the delay…
    assert listed.headers["connection"] == "close"  # …but sends keep-alive clients away
    assert time.monotonic() - signalled < 6, "the checks above ran after the delay"
    assert server.proc.wait(timeout=30) == 0
    assert time.monotonic() - signalled >= 5.9  # it served out its delay


def test_a_request_outliving_the_drain_timeout_is_cut_and_the_server_still_exits(
    servers: list[Server], tmp_path: Path, slug: str
) -> None:
    server = serve(servers, tmp_path, slug, "--drain-timeout", "1")
    sock, _ = half_sent_create(server, slug, "never")  # the rest never comes
    signalled = time.monotonic()
    server.proc.send_signal(signal.SIGTERM)
    assert server.proc.wait(timeout=30) == 0
    assert 0.9 <= time.monotonic() - signalled < 25
    try:
        response = read_response(sock)
    except ConnectionResetError:
        response = b""
    sock.close()
    assert not response.startswith(b"HTTP/1.1 200")
    assert "timeout graceful shutdown exceeded" in server.log_text()


def test_a_second_signal_ends_the_drain_at_once(
    servers: list[Server], tmp_path: Path, slug: str
) -> None:
    server = serve(servers, tmp_path, slug, "--drain-delay", "120")
    server.proc.send_signal(signal.SIGINT)
    time.sleep(0.5)
    ready = httpx.get(f"{server.url}/readyz", headers={"X-Request-Id": "drain-check"})
    assert (ready.status_code, ready.json()) == (503, {**DRAINING, "request_id": "drain-check"})
    assert ready.headers["x-request-id"] == "drain-check"  # an answer like any other
    signalled = time.monotonic()
    server.proc.send_signal(signal.SIGINT)
    assert server.proc.wait(timeout=30) == 0
    assert time.monotonic() - signalled < 25
    assert "SIGINT: draining" in server.log_text()
