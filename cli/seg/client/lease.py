"""Holding the workspace lock during an apply: acquire (waiting up to a timeout), renew in
the background, release at the end. An expired lease is taken over by the server.

While held, the client names the lease on every write (the server refuses writes from anyone
else). When a renewal fails, or the server says the lease is gone, the client sends no further
write (``LockLost``), so the apply stops instead of racing whoever holds the lock now."""

from __future__ import annotations

import getpass
import os
import socket
import threading
import time
from types import TracebackType
from typing import Any

from seg.client.errors import FailedPrecondition
from seg.client.http import ControlPlaneClient
from seg.errors import SegError

__all__ = ["Lease", "LockedError", "lease_info"]


class LockedError(SegError):
    """Raised when another apply holds the workspace lock past --lock-timeout."""


def lease_info(plan: str) -> dict[str, str]:
    """Who is applying: user, host, plan and CI run (from the usual CI variables)."""
    names = ("GITHUB_RUN_ID", "CI_JOB_ID", "BUILD_ID", "CIRCLE_BUILD_NUM")
    ci_run = next((os.environ[v] for v in names if os.environ.get(v)), "")
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return {"holder": f"seg apply by {user}", "host": socket.gethostname(), "plan": plan,
            "ci_run": ci_run}  # fmt: skip


class Lease:
    def __init__(self, client: ControlPlaneClient, info: dict[str, str], ttl: float,
                 timeout: float) -> None:  # fmt: skip
        self.client = client
        self.info = info
        self.ttl = ttl
        self.timeout = timeout
        self.lock: dict[str, Any] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="seg-lease", daemon=True)

    def __enter__(self) -> Lease:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                self.lock = self.client.acquire_lock(self.info, self.ttl)
                break
            except FailedPrecondition as exc:  # held by another run
                left = deadline - time.monotonic()
                if left <= 0:
                    raise LockedError(
                        f"{exc.message} (waited {self.timeout:g}s; see --lock-timeout, "
                        "seg lock status and seg lock release)"
                    ) from None
                time.sleep(min(1.0, left))
        self.client.lock_id, self.client.lock_lost = self.lock["id"], ""
        self._thread.start()
        return self

    def _renew(self) -> None:
        while not self._stop.wait(self.ttl / 3):
            try:
                self.client.renew_lock(self.lock["id"], self.ttl)
            except SegError as exc:
                self.client.lock_lost = f"the workspace lock was lost (renewal failed: {exc})"
                return

    @property
    def lost(self) -> bool:
        """Whether the lease was lost while held (a renewal or a write found it gone)."""
        return bool(self.client.lock_lost)

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:  # fmt: skip
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)
        lost, self.client.lock_id = self.lost, ""
        if lost:
            return  # someone else may hold the lock now: leave it alone
        try:
            self.client.release_lock(self.lock["id"])
        except SegError:
            pass  # an expired lease may already be gone; it frees itself anyway
