"""Errors that seg raises, and the exit code each one maps to.

SegError                    any failure seg reports to the user (exit 1)
├── WorkspaceInvalid        the YAML workspace failed to load or validate
├── ConfigError             options or environment are wrong (missing token, unknown env)
├── ApiError                the control plane answered with an error body
│   └── TransportError      the control plane could not be reached
│       └── RetryBudgetSpent    … and the run's retry budget is spent: stop, do not go on
├── StalePlan               a saved plan no longer matches the live state (exit 4)
├── PlanBlocked             a plan holds changes blocked by policy (exit 3)
├── ApplyFailed             some changes of an apply failed
└── ApplyStopped            a writer refuses every further write: the apply stops
    └── LockLost            the apply's lease on the workspace lock is gone
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, ClassVar

if TYPE_CHECKING:
    from seg.workspace.diagnostics import Diagnostic

__all__ = [
    "ApiError",
    "ApplyFailed",
    "ApplyStopped",
    "ConfigError",
    "LockLost",
    "PlanBlocked",
    "RetryBudgetSpent",
    "SegError",
    "StalePlan",
    "TransportError",
    "WorkspaceInvalid",
]


class SegError(Exception):
    """Base class: a failure with a one-line message for the user."""

    exit_code: ClassVar[int] = 1


class WorkspaceInvalid(SegError):
    """Raised when the workspace's YAML cannot be loaded or fails validation."""

    def __init__(self, diagnostics: Sequence[Diagnostic]) -> None:
        self.diagnostics = list(diagnostics)
        n = sum(1 for d in self.diagnostics if not d.is_warning)
        super().__init__(f"workspace is invalid: {n} error{'s' if n != 1 else ''}")


class ConfigError(SegError):
    """Raised when command-line options or the environment are wrong."""


class ApiError(SegError):
    """Raised when the control plane answers with an error; carries its message and code."""

    def __init__(
        self, status: int, code: int, message: str, method: str = "", url: str = "",
        request_id: str = "",
    ) -> None:  # fmt: skip
        self.status = status
        self.code = code
        self.message = message
        self.method = method
        self.url = url
        self.request_id = request_id  # the server's id of the request, for its operator
        parts = [f"{method} {url}"] if method else []
        if request_id:
            parts.append(f"request id {request_id}")
        where = f" ({', '.join(parts)})" if parts else ""
        super().__init__(f"{message} [HTTP {status}, code {code}]{where}")


class TransportError(ApiError):
    """Raised when the control plane cannot be reached at all."""

    def __init__(self, message: str, method: str = "", url: str = "") -> None:
        super().__init__(0, 14, message, method, url)


class RetryBudgetSpent(TransportError):
    """Raised when a request fails and the client's retry budget (shared by every request of
    one run) is spent: the control plane is down, and further requests would fail too."""


class StalePlan(SegError):
    """Raised when a saved plan was computed against state that has since moved."""

    exit_code = 4


class PlanBlocked(SegError):
    """Raised when the plan holds changes that policy blocks."""

    exit_code = 3


class ApplyFailed(SegError):
    """Raised after an apply in which at least one change failed."""


class ApplyStopped(SegError):
    """Raised by a writer when no further write may be sent; the apply stops there and
    reports the remaining changes as not attempted."""


class LockLost(ApplyStopped):
    """Raised when the apply's lease on the workspace lock was lost (renewal failed, or the
    lease was broken or taken over): writing on would race whoever holds it now."""
