"""The control plane's errors as types: callers ask ``isinstance(exc, NotFound)``, never
compare bare codes or statuses. ``ApiError`` (``seg.errors``) stays the base, so every
command's error handler is unchanged."""

from __future__ import annotations

import re

from seg.errors import ApiError

__all__ = [
    "Aborted",
    "AlreadyExists",
    "ApiError",
    "FailedPrecondition",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "PreconditionFailed",
    "RateLimited",
    "Unauthenticated",
    "Unavailable",
    "api_error",
    "request_id",
]


class InvalidArgument(ApiError):
    """400 (or 415): the request is malformed or a value is refused."""


class Unauthenticated(ApiError):
    """401: the token is missing, unknown, expired or revoked."""


class PermissionDenied(ApiError):
    """403: the token may not do this."""


class NotFound(ApiError):
    """404: no such workspace, resource or lock."""


class AlreadyExists(ApiError):
    """409, code 6: a resource of that name exists."""


class FailedPrecondition(ApiError):
    """409, code 9: the state forbids it (held lock, children or references, models in use)."""


class Aborted(ApiError):
    """409, code 10: a concurrent writer, or another holder of the workspace lock, won."""


class PreconditionFailed(ApiError):
    """412: ``If-Match`` named an etag the resource no longer has."""


class RateLimited(ApiError):
    """429: the token's rate limit is exhausted."""


class Unavailable(ApiError):
    """503: the control plane (its database) is unavailable."""


# (status, the API's code) of each refusal the control plane makes; anything else — a proxy's
# page, a wrong URL prefix (code 0: not the API's error body) — stays a plain ``ApiError``.
_TYPES: dict[tuple[int, int], type[ApiError]] = {
    (400, 3): InvalidArgument,
    (415, 3): InvalidArgument,
    (401, 16): Unauthenticated,
    (403, 7): PermissionDenied,
    (404, 5): NotFound,
    (409, 6): AlreadyExists,
    (409, 9): FailedPrecondition,
    (409, 10): Aborted,
    (412, 10): PreconditionFailed,
    (429, 8): RateLimited,
    (503, 14): Unavailable,
}


def error_class(status: int, code: int) -> type[ApiError]:
    """The type of an error response: by status and the API's code together."""
    return _TYPES.get((status, code), ApiError)


def api_error(status: int, code: int, message: str, method: str = "", url: str = "",
              request_id: str = "") -> ApiError:  # fmt: skip
    """The error of the type the status and code name (``ApiError`` itself for the others)."""
    return error_class(status, code)(status, code, message, method, url, request_id)


# The request ids the CLI quotes: what the server makes or accepts (anything else, from a
# proxy or a hostile server, is left out of the error line).
_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


def request_id(body: object, header: str | None) -> str:
    """The request id of an error answer: the body's ``request_id``, else the
    ``X-Request-Id`` header; "" when neither is a plain id."""
    candidate = body.get("request_id") if isinstance(body, dict) else None
    for value in (candidate, header):
        if isinstance(value, str) and _REQUEST_ID.fullmatch(value):
            return value
    return ""
