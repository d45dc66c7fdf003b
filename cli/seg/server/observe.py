"""What the server says about each request: its id, one access-log line, and the metrics.

``Observe`` is a pure ASGI middleware, the outermost of the application's own layers (inside
Starlette's server-error layer). For every HTTP request it

- takes the request id from ``X-Request-Id`` when the caller's value is safe (``SAFE_ID``:
  bounded, ASCII letters, digits, ``.``, ``_``, ``-``), else makes one, so a hostile header
  never reaches a log line or a metric; it is echoed in the response's ``X-Request-Id`` and
  every error body carries it as ``request_id`` (``error_body``);
- logs one line to ``seg.access`` (time, request id, token id, method, route template, status,
  latency, bytes) — the route is the template of the route that matched, never the raw path;
- counts the request in ``Metrics`` under bounded labels only (``method_label``,
  ``route_label``, the status, the API error code);
- renders an unexpected exception as the 500 error body (logged once, with its traceback)
  instead of letting it escape, so even that answer carries the request id.

Handlers reach the request's id and report the token and the error code through the ASGI
scope's ``state`` (``request.state``), which every layer shares.
"""

from __future__ import annotations

import contextvars
import json
import logging
import re
import secrets
import time
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seg.server import errors
from seg.server.http_errors import http_error
from seg.server.metrics import Metrics

__all__ = [
    "REQUEST_ID_HEADER",
    "SAFE_ID",
    "UNMATCHED_ROUTE",
    "Observe",
    "current_request_id",
    "error_body",
    "method_label",
    "request_id_of",
]

REQUEST_ID_HEADER = "X-Request-Id"
# What a caller's request id may be; anything else is replaced by a generated one.
SAFE_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")
# The route label of a request no route matched (any unknown path, one series).
UNMATCHED_ROUTE = "unmatched"
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
_HEADER = REQUEST_ID_HEADER.lower().encode()

access_log = logging.getLogger("seg.access")
log = logging.getLogger("seg.server")

# The request id of the request being served, for log lines written while serving it.
current_request_id: contextvars.ContextVar[str] = contextvars.ContextVar(
    "seg_request_id", default="-"
)


def _state(scope: Scope) -> dict[str, Any]:
    state: dict[str, Any] = scope.setdefault("state", {})
    return state


def request_id_of(scope: Scope) -> str:
    """The id ``Observe`` gave this request ("-" outside it, e.g. an app without it)."""
    return str(_state(scope).get("request_id", "-"))


def error_body(scope: Scope, body: dict[str, Any]) -> dict[str, Any]:
    """``body`` (``error`` and ``code``) with the request id; notes the code for the metrics."""
    _state(scope)["error_code"] = body.get("code")
    return {**body, "request_id": request_id_of(scope)}


def accepted_id(headers: list[tuple[bytes, bytes]]) -> str:
    """The caller's ``X-Request-Id`` when it is safe, else a new one (32 hex digits)."""
    for name, value in headers:
        if name.lower() == _HEADER:
            text = value.decode("latin-1")
            if SAFE_ID.fullmatch(text):
                return text
            break
    return secrets.token_hex(16)


def method_label(method: str) -> str:
    """The method as a label: one of the HTTP methods, else ``OTHER``."""
    return method if method in _METHODS else "OTHER"


def route_label(scope: Scope) -> str:
    """The template of the route that matched (``/v1beta/workspaces/{workspace}``), else
    ``UNMATCHED_ROUTE``."""
    route = scope.get("route")
    template = getattr(route, "path_format", None)
    return template if isinstance(template, str) else UNMATCHED_ROUTE


class _Exchange:
    """What the middleware learns of one response as it passes."""

    def __init__(self) -> None:
        self.status = 0
        self.bytes = 0


class Observe:
    """ASGI middleware: request id, access log line and metrics for every HTTP request."""

    def __init__(self, app: ASGIApp, metrics: Metrics, access: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        self.access = access

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = accepted_id(scope.get("headers", []))
        _state(scope)["request_id"] = request_id
        reset = current_request_id.set(request_id)
        exchange = _Exchange()
        echo = (_HEADER, request_id.encode())

        async def send_observed(message: Message) -> None:
            if message["type"] == "http.response.start":
                exchange.status = int(message["status"])
                kept = [(k, v) for k, v in message.get("headers", []) if k.lower() != _HEADER]
                message = {**message, "headers": [*kept, echo]}
            elif message["type"] == "http.response.body":
                exchange.bytes += len(message.get("body", b""))
            await send(message)

        started = time.perf_counter()
        self.metrics.in_flight.inc()
        try:
            await self.app(scope, receive, send_observed)
        except Exception:
            if exchange.status:  # the answer has begun: nothing more can be said to the caller
                raise
            log.exception("internal error")
            await _send_internal(scope, send_observed)
        finally:
            self.metrics.in_flight.dec()
            seconds = time.perf_counter() - started
            self._record(scope, exchange, seconds)
            current_request_id.reset(reset)

    def _record(self, scope: Scope, exchange: _Exchange, seconds: float) -> None:
        state = _state(scope)
        method, route = method_label(str(scope.get("method", ""))), route_label(scope)
        status = exchange.status or 499  # the caller went away before any answer (nginx's 499)
        code = state.get("error_code")
        self.metrics.observe(method, route, status, seconds, code if status >= 400 else None)
        if not self.access:
            return
        token = str(state.get("token_id") or "-")
        access_log.info(
            "%s %s %d %.1fms %dB token=%s", method, route, status, seconds * 1000,
            exchange.bytes, token,
            extra={"access": {"request_id": state["request_id"], "token_id": token,
                              "method": method, "route": route, "status": status,
                              "latency_ms": round(seconds * 1000, 3), "bytes": exchange.bytes}},
        )  # fmt: skip


async def _send_internal(scope: Scope, send: Send) -> None:
    error = http_error(errors.Internal())
    body = json.dumps(error_body(scope, error.body())).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    await send({"type": "http.response.start", "status": error.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
