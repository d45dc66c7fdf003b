"""The control plane's one source of time: every service, lease and rate-limit window reads
the injected ``Clock``, so tests move time forward instead of sleeping."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol

__all__ = ["Clock", "ManualClock", "SystemClock", "iso"]


def iso(seconds: float) -> str:
    """A timestamp as the API shows it: UTC, milliseconds, ``Z``."""
    stamp = datetime.fromtimestamp(seconds, UTC).isoformat(timespec="milliseconds")
    return stamp.replace("+00:00", "Z")


class Clock(Protocol):
    def now(self) -> float:
        """Seconds since the epoch."""
        ...

    def iso(self) -> str:
        """``now()`` as the API's timestamp text."""
        ...


class SystemClock:
    """The real clock (the default)."""

    def now(self) -> float:
        return time.time()

    def iso(self) -> str:
        return iso(self.now())


class ManualClock:
    """A clock that moves only when told to (tests, simulations)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.seconds = start

    def now(self) -> float:
        return self.seconds

    def iso(self) -> str:
        return iso(self.seconds)

    def advance(self, seconds: float) -> None:
        self.seconds += seconds
