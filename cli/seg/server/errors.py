"""Domain errors of the control plane: what went wrong, not how HTTP says it.

Services raise these; only the HTTP layer (``server/http_errors.py``) turns them into a
status, a gRPC-style code and the ``{"error", "code"}`` body.
"""

from __future__ import annotations

from seg.model.clip import clip_message

__all__ = [
    "Aborted",
    "AlreadyExists",
    "DomainError",
    "EtagMismatch",
    "FailedPrecondition",
    "HistoryGone",
    "InsufficientScope",
    "Internal",
    "InvalidArgument",
    "NotFound",
    "PayloadTooLarge",
    "PermissionDenied",
    "RateLimited",
    "Unauthenticated",
    "Unavailable",
    "UnsupportedMediaType",
]


class DomainError(Exception):
    """A refusal the caller is told about, with a message safe to show."""

    default = "error"

    def __init__(self, message: str | None = None) -> None:
        # The backstop: no message echoes a huge value whole.
        self.message = clip_message(message if message is not None else self.default)
        super().__init__(self.message)


class InvalidArgument(DomainError):
    """The request itself is wrong (a field, a value, a header)."""


class Unauthenticated(DomainError):
    default = "the access token is missing or invalid"


class PermissionDenied(DomainError):
    """The caller may not do this."""


class InsufficientScope(PermissionDenied):
    default = "insufficient scope"


class NotFound(DomainError):
    pass


class AlreadyExists(DomainError):
    pass


class FailedPrecondition(DomainError):
    """The state of the workspace refuses it (in use, protected, a limit reached)."""


class HistoryGone(DomainError):
    """A ``since`` revision the workspace's change log cannot answer from (older than it
    keeps, newer than the workspace, or of another history): read the whole state again."""


class Aborted(DomainError):
    """A concurrent writer or the holder of the workspace lock got in the way."""


class EtagMismatch(DomainError):
    """``If-Match`` named another version of the resource."""


class RateLimited(DomainError):
    default = "rate limit exhausted; retry later"

    def __init__(self, retry_after: int) -> None:
        super().__init__()
        self.retry_after = retry_after


class Unavailable(DomainError):
    default = "database unavailable"


class PayloadTooLarge(DomainError):
    def __init__(self, limit: int) -> None:
        super().__init__(f"request body is larger than the limit of {limit} bytes")


class UnsupportedMediaType(DomainError):
    default = "request body must be JSON (Content-Type: application/json)"


class Internal(DomainError):
    default = "internal error"
