"""The request edge: checks every request passes before it is routed.

A body larger than the limit is refused with 413 — from its ``Content-Length`` before a byte
of it is read, or as soon as a streamed body passes the limit. Path, query and header values
that no database can store as text (NUL, unpaired surrogates) are refused with 400, so that no
route has to think about them.
"""

from __future__ import annotations

import json
from urllib.parse import parse_qsl

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from seg.server import errors
from seg.server.errors import DomainError
from seg.server.http_errors import http_error
from seg.server.observe import error_body
from seg.server.strict_json import JsonInputError, check_text

__all__ = ["DEFAULT_MAX_BODY_BYTES", "InputGuard"]

DEFAULT_MAX_BODY_BYTES = 4 * 1024 * 1024


class InputGuard:
    """ASGI middleware: the body-size limit and storable path, query and header values."""

    def __init__(self, app: ASGIApp, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        try:
            _check_request_line(scope)
            _check_headers(scope["headers"], self.max_body_bytes)
        except DomainError as exc:
            await _respond(scope, send, exc)
            return
        await self.app(scope, _limited(receive, self.max_body_bytes), send)


def _check_request_line(scope: Scope) -> None:
    try:
        check_text("the request path", scope["path"])
        query = scope.get("query_string", b"").decode("latin-1")
        for key, value in parse_qsl(query, keep_blank_values=True):
            check_text(f"query parameter {key[:40]!r}", key + value)
    except JsonInputError as exc:
        raise errors.InvalidArgument(str(exc)) from None


def _check_headers(headers: list[tuple[bytes, bytes]], limit: int) -> None:
    for name, value in headers:
        if b"\x00" in value:
            raise errors.InvalidArgument(f"header {name.decode('latin-1')!r} contains NUL")
        if name.lower() == b"content-length":
            _check_length(value.strip(), limit)


def _check_length(digits: bytes, limit: int) -> None:
    if not digits.isdigit():
        raise errors.InvalidArgument("Content-Length must be a number of bytes")
    if len(digits) > 18 or int(digits) > limit:
        raise errors.PayloadTooLarge(limit)


def _limited(receive: Receive, limit: int) -> Receive:
    """``receive`` that raises (413) once the body passes ``limit`` bytes (chunked bodies)."""
    seen = 0

    async def receive_limited() -> Message:
        nonlocal seen
        message = await receive()
        if message["type"] == "http.request":
            seen += len(message.get("body", b""))
            if seen > limit:
                raise errors.PayloadTooLarge(limit)
        return message

    return receive_limited


async def _respond(scope: Scope, send: Send, domain: DomainError) -> None:
    exc = http_error(domain)
    body = json.dumps(error_body(scope, exc.body())).encode()
    headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in exc.headers.items()]
    await send({"type": "http.response.start", "status": exc.status, "headers": headers})
    await send({"type": "http.response.body", "body": body})
