"""The control plane's errors as types: callers ask ``isinstance(exc, NotFound)``, never
compare bare codes or statuses. ``ApiError`` (``seg.errors``) stays the base, so every
command's error handler is unchanged."""

from __future__ import annotations

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


_BY_STATUS: dict[int, type[ApiError]] = {
    400: InvalidArgument,
    401: Unauthenticated,
    403: PermissionDenied,
    404: NotFound,
    412: PreconditionFailed,
    415: InvalidArgument,
    429: RateLimited,
    503: Unavailable,
}
_CONFLICTS: dict[int, type[ApiError]] = {6: AlreadyExists, 9: FailedPrecondition, 10: Aborted}


def error_class(status: int, code: int) -> type[ApiError]:
    """The type of an error response: by status, and for 409 by the API's code."""
    if status == 409:
        return _CONFLICTS.get(code, ApiError)
    return _BY_STATUS.get(status, ApiError)


def api_error(status: int, code: int, message: str, method: str = "", url: str = "") -> ApiError:
    """The error of the type the status and code name (``ApiError`` itself for the others)."""
    return error_class(status, code)(status, code, message, method, url)
