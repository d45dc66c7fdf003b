"""An httpx transport that serves requests from an ASGI app in this process.

The embedded control plane and the in-process tests use it, so they go through exactly the
same HTTP client code as a remote ``seg serve`` — only the socket is missing.
"""

from __future__ import annotations

import queue
import threading
from typing import Any

import anyio
import httpx
from anyio.from_thread import BlockingPortal

__all__ = ["InProcessTransport"]


class InProcessTransport(httpx.BaseTransport):
    """Runs each request through ``app`` on a private event-loop thread."""

    def __init__(self, app: Any) -> None:
        self.app = app
        self._portal, self._thread = _start_portal()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = request.read()
        status, headers, content = self._portal.call(self._call, request, body)
        return httpx.Response(status, headers=headers, content=content, request=request)

    async def _call(
        self, request: httpx.Request, body: bytes
    ) -> tuple[int, list[tuple[bytes, bytes]], bytes]:
        url = request.url
        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": request.method,
            "scheme": url.scheme,
            "path": url.path,
            "raw_path": url.raw_path.split(b"?")[0],
            "query_string": url.query,
            "root_path": "",
            "headers": [(k.lower(), v) for k, v in request.headers.raw],
            "client": ("127.0.0.1", 0),
            "server": (url.host or "embedded", url.port or 80),
        }
        sent = False
        result: dict[str, Any] = {"status": 500, "headers": [], "body": bytearray()}

        async def receive() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            await anyio.sleep_forever()
            raise AssertionError("unreachable")

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                result["status"] = message["status"]
                result["headers"] = list(message.get("headers", []))
            elif message["type"] == "http.response.body":
                result["body"] += message.get("body", b"")

        await self.app(scope, receive, send)
        return result["status"], result["headers"], bytes(result["body"])

    def close(self) -> None:
        if self._thread.is_alive():
            self._portal.call(self._portal.stop)
            self._thread.join(timeout=5)


def _start_portal() -> tuple[BlockingPortal, threading.Thread]:
    """An event loop on a daemon thread (so a forgotten close never blocks interpreter exit)."""
    ready: queue.Queue[BlockingPortal] = queue.Queue()

    async def serve() -> None:
        async with BlockingPortal() as portal:
            ready.put(portal)
            await portal.sleep_until_stopped()

    thread = threading.Thread(target=anyio.run, args=(serve,), name="seg-inprocess", daemon=True)
    thread.start()
    return ready.get(), thread
