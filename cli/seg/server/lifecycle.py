"""Graceful shutdown for ``seg serve``: SIGTERM (or SIGINT) drains instead of dropping work.

On the first signal the server turns *unready* at once: ``/readyz`` answers 503 "draining",
and every response carries ``Connection: close`` so keep-alive clients reconnect (to another
server, behind a load balancer). For ``drain_delay`` seconds it still accepts and serves new
requests, which gives a load balancer polling ``/readyz`` time to stop sending; then it stops
accepting connections and lets the requests in flight finish, for up to ``drain_timeout``
seconds (uvicorn's ``timeout_graceful_shutdown``). A request still running then is cut (its
task cancelled) and the process exits 0 all the same: the shutdown was asked for and done.
A second signal skips what is left of the drain.

uvicorn re-raises a captured signal once it has shut down (so an embedding program sees it),
which would end ``seg serve`` killed by SIGTERM (exit -15). ``DrainingServer.handle_exit``
does not record the signal, so a drained server exits 0.
"""

from __future__ import annotations

import json
import logging
import signal
import time
from dataclasses import dataclass
from types import FrameType

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["DrainGuard", "DrainState", "DrainingServer", "run_server"]

log = logging.getLogger("uvicorn.error")  # beside uvicorn's own "Shutting down"

DRAINING_BODY = json.dumps({"error": "draining: the server is shutting down", "code": 14})


@dataclass
class DrainState:
    """Whether the server is draining, and since when (``time.monotonic``)."""

    since: float | None = None

    @property
    def draining(self) -> bool:
        return self.since is not None

    def begin(self) -> None:
        if self.since is None:
            self.since = time.monotonic()


class DrainGuard:
    """ASGI middleware: while draining, ``/readyz`` is 503 and responses close the connection.

    It sits outside the application, so ``create_app`` (and its callers) need not know about
    shutdown; ``/healthz`` stays 200 (the process is alive and still finishing work)."""

    def __init__(self, app: ASGIApp, state: DrainState) -> None:
        self.app = app
        self.state = state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.state.draining and scope["path"] == "/readyz":
            await _send_draining(scope, send)
            return

        async def closing(message: Message) -> None:
            # decided when the response starts: a request begun before the signal counts too
            if message["type"] == "http.response.start" and self.state.draining:
                headers = [(k, v) for k, v in message.get("headers", [])
                           if k.lower() != b"connection"]  # fmt: skip
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, closing)


async def _send_draining(scope: Scope, send: Send) -> None:
    from seg.server.observe import error_body

    body = json.dumps(error_body(scope, json.loads(DRAINING_BODY))).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()),
               (b"connection", b"close")]  # fmt: skip
    await send({"type": "http.response.start", "status": 503, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class DrainingServer(uvicorn.Server):
    """A uvicorn server that drains on SIGTERM/SIGINT as the module describes."""

    def __init__(self, config: uvicorn.Config, state: DrainState, drain_delay: float) -> None:
        super().__init__(config)
        self.state = state
        self.drain_delay = drain_delay
        self._signal_name = ""
        self._announced = False

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:  # noqa: ARG002
        # A signal handler: set flags only (logging here could re-enter a handler's lock).
        if self.state.draining:  # the second signal: stop waiting
            self.should_exit = self.force_exit = True
            return
        self._signal_name = signal.Signals(sig).name
        self.state.begin()
        if self.drain_delay <= 0:
            self.should_exit = True

    async def on_tick(self, counter: int) -> bool:
        since = self.state.since
        if since is not None:
            if not self._announced:
                self._announced = True
                log.info("%s: draining; /readyz is 503, serving for %.3g s more, then finishing "
                         "requests in flight for up to %s s", self._signal_name or "signal",
                         self.drain_delay, self.config.timeout_graceful_shutdown)  # fmt: skip
            if time.monotonic() - since >= self.drain_delay:
                self.should_exit = True
        return await super().on_tick(counter)


def run_server(config: uvicorn.Config, state: DrainState, drain_delay: float) -> bool:
    """Serve until drained; False when the server never started (e.g. the port is taken)."""
    server = DrainingServer(config, state, drain_delay)
    server.run()
    return server.started
