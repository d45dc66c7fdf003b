"""The HTTP client for the control-plane API."""

from seg.client.errors import (
    Aborted,
    AlreadyExists,
    ApiError,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from seg.client.http import ControlPlaneClient

__all__ = [
    "Aborted",
    "AlreadyExists",
    "ApiError",
    "ControlPlaneClient",
    "FailedPrecondition",
    "InvalidArgument",
    "NotFound",
    "PermissionDenied",
    "PreconditionFailed",
    "RateLimited",
    "Unauthenticated",
    "Unavailable",
]
