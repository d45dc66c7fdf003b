"""API errors: gRPC-style codes with their HTTP statuses, rendered as ``{"error", "code"}``."""

from __future__ import annotations

from seg.model.clip import clip_message

__all__ = [
    "ApiException",
    "aborted",
    "already_exists",
    "failed_precondition",
    "insufficient_scope",
    "internal",
    "invalid_argument",
    "not_found",
    "permission_denied",
    "precondition_etag",
    "payload_too_large",
    "rate_limited",
    "unauthenticated",
    "unavailable",
    "unsupported_media_type",
]


class ApiException(Exception):
    """An error the API returns to the caller as ``{"error": message, "code": code}``."""

    def __init__(
        self, status: int, code: int, message: str, headers: dict[str, str] | None = None
    ) -> None:
        message = clip_message(message)  # the backstop: no message echoes a huge value whole
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}

    def body(self) -> dict[str, object]:
        return {"error": self.message, "code": self.code}


def invalid_argument(message: str) -> ApiException:
    return ApiException(400, 3, message)


def unauthenticated(message: str = "the access token is missing or invalid") -> ApiException:
    return ApiException(401, 16, message)


def insufficient_scope() -> ApiException:
    return ApiException(403, 7, "insufficient scope")


def permission_denied(message: str) -> ApiException:
    return ApiException(403, 7, message)


def not_found(message: str) -> ApiException:
    return ApiException(404, 5, message)


def already_exists(message: str) -> ApiException:
    return ApiException(409, 6, message)


def failed_precondition(message: str) -> ApiException:
    return ApiException(409, 9, message)


def aborted(message: str) -> ApiException:
    """409/10: the write conflicts with a concurrent writer or holder of the workspace lock."""
    return ApiException(409, 10, message)


def precondition_etag(message: str) -> ApiException:
    return ApiException(412, 10, message)


def unavailable() -> ApiException:
    return ApiException(503, 14, "database unavailable")


def payload_too_large(limit: int) -> ApiException:
    return ApiException(413, 8, f"request body is larger than the limit of {limit} bytes")


def unsupported_media_type() -> ApiException:
    return ApiException(415, 3, "request body must be JSON (Content-Type: application/json)")


def rate_limited(retry_after: int) -> ApiException:
    return ApiException(
        429, 8, "rate limit exhausted; retry later", {"Retry-After": str(retry_after)}
    )


def internal() -> ApiException:
    return ApiException(500, 13, "internal error")
