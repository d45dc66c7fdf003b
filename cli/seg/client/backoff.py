"""One back-off for every thread of a run: a shared "not before" time.

When one request hears 429 (with its Retry-After) or a 5xx, every thread holds its next send
until that moment, so N threads do not each sleep and then retry together into the same
limit. The retry budget is charged with the time the moment moved, once, not N times.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

__all__ = ["Gate"]


class Gate:
    """The earliest time (on ``clock``) the next request may be sent."""

    def __init__(self, clock: Callable[[], float] = time.monotonic,
                 sleep: Callable[[float], None] = time.sleep) -> None:  # fmt: skip
        self.clock = clock
        self.sleep = sleep
        self._not_before = 0.0
        self._lock = threading.Lock()

    def extension(self, wait: float) -> float:
        """How far waiting ``wait`` seconds from now moves the shared moment (0 when another
        thread already holds every sender at least that long)."""
        with self._lock:
            return max(self.clock() + wait - max(self._not_before, self.clock()), 0.0)

    def push(self, wait: float) -> float:
        """Hold every sender until ``wait`` seconds from now (or later, if already so);
        returns how far the moment moved."""
        with self._lock:
            now = self.clock()
            moved = max(now + wait - max(self._not_before, now), 0.0)
            self._not_before = max(self._not_before, now + wait)
            return moved

    def wait_turn(self) -> None:
        """Wait until the shared moment has come (at once when it has)."""
        while True:
            with self._lock:
                left = self._not_before - self.clock()
            if left <= 0:
                return
            self.sleep(left)
