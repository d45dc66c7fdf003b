"""How HTTP says a domain error: status, gRPC-style code, headers and the JSON body."""

from __future__ import annotations

from dataclasses import dataclass, field

from seg.server import errors

__all__ = ["ERROR_STATUSES", "HttpError", "http_error"]


@dataclass(frozen=True)
class HttpError:
    status: int
    code: int
    message: str
    headers: dict[str, str] = field(default_factory=dict)

    def body(self) -> dict[str, object]:
        return {"error": self.message, "code": self.code}


# Most specific class first: the first match wins.
ERROR_STATUSES: tuple[tuple[type[errors.DomainError], int, int], ...] = (
    (errors.InvalidArgument, 400, 3),
    (errors.UnsupportedMediaType, 415, 3),
    (errors.Unauthenticated, 401, 16),
    (errors.PermissionDenied, 403, 7),
    (errors.NotFound, 404, 5),
    (errors.AlreadyExists, 409, 6),
    (errors.FailedPrecondition, 409, 9),
    (errors.Aborted, 409, 10),
    (errors.EtagMismatch, 412, 10),
    (errors.HistoryGone, 410, 11),  # OUT_OF_RANGE: resync
    (errors.PayloadTooLarge, 413, 8),
    (errors.RateLimited, 429, 8),
    (errors.Unavailable, 503, 14),
    (errors.Internal, 500, 13),
)


def http_error(exc: errors.DomainError) -> HttpError:
    for cls, status, code in ERROR_STATUSES:
        if isinstance(exc, cls):
            headers = {}
            if isinstance(exc, errors.RateLimited):
                headers["Retry-After"] = str(exc.retry_after)
            return HttpError(status, code, exc.message, headers)
    return HttpError(500, 13, errors.Internal.default)
