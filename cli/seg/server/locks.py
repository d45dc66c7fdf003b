"""Workspace locks: leases with a TTL, renewed by their holder, taken over when expired.

While a lease is live, only its holder writes: the token that took it, naming the lease in
the ``Seg-Lock`` header. Anyone else's write is refused (409/10) unless an owner sends
``Seg-Lock-Override: true``."""

from __future__ import annotations

import secrets
from typing import Any

from seg.server import errors
from seg.server.clock import Clock
from seg.store.base import LockRecord, Store

__all__ = ["LOCK_HEADER", "OVERRIDE_HEADER", "Locks", "describe", "holds", "lock_view"]

MAX_TTL = 3600
LOCK_HEADER = "Seg-Lock"
OVERRIDE_HEADER = "Seg-Lock-Override"


def lock_view(lock: LockRecord, now: float) -> dict[str, Any]:
    return {
        "id": lock.id,
        "holder": lock.holder,
        "host": lock.host,
        "plan": lock.plan,
        "ci_run": lock.ci_run,
        "token_id": lock.token_id,
        "acquired_at": lock.acquired_at,
        "expires_in": max(0.0, round(lock.expires_at - now, 1)),
        "blocks_writes": True,  # writes from anyone but the holder are refused while held
    }


def _ttl(body: dict[str, Any]) -> float:
    ttl = body.get("ttl_seconds", 60)
    if not isinstance(ttl, int | float) or isinstance(ttl, bool) or not 0 < ttl <= MAX_TTL:
        raise errors.InvalidArgument(f"lock.ttl_seconds must be in (0, {MAX_TTL}]")
    return float(ttl)


def holds(lock: LockRecord | None, lock_id: str, token_id: str, now: float) -> bool:
    """Whether ``lock`` is a live lease with this id, taken by this token."""
    return (
        lock is not None
        and lock.expires_at > now
        and lock.id == lock_id
        and lock.token_id == token_id
    )


def describe(lock: LockRecord, now: float) -> str:
    parts = [
        f"plan {lock.plan}" if lock.plan else "",
        f"CI run {lock.ci_run}" if lock.ci_run else "",
    ]
    extras = ", ".join(p for p in parts if p)
    return (
        f"workspace {lock.workspace} is locked by {lock.holder} on {lock.host}"
        f"{f' ({extras})' if extras else ''} since {lock.acquired_at}; "
        f"the lease expires in {max(0, int(lock.expires_at - now))}s"
    )


class Locks:
    """Lock operations over the store; the caller has authorised the principal."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store = store
        self.clock = clock

    def acquire(self, workspace: str, token_id: str, body: dict[str, Any]) -> dict[str, Any]:
        now = self.clock.now()
        info = {k: str(body.get(k, ""))[:200] for k in ("holder", "host", "plan", "ci_run")}
        lock = LockRecord(workspace, "lk_" + secrets.token_hex(8), info["holder"] or "unknown",
                          info["host"] or "unknown", info["plan"], info["ci_run"], token_id,
                          self.clock.iso(), now + _ttl(body))  # fmt: skip
        with self.store.tx() as tx:
            held = tx.get_lock(workspace)
            if held is not None and held.expires_at > now:
                raise errors.FailedPrecondition(describe(held, now))
            taken = tx.replace_lock(lock, held.id) if held else _insert(tx, lock)
        if not taken:  # lost a race with another acquirer: report who won
            with self.store.tx() as tx:
                winner = tx.get_lock(workspace)
            if winner is not None:
                raise errors.FailedPrecondition(describe(winner, self.clock.now()))
            raise errors.FailedPrecondition(f"workspace {workspace} was locked by someone else")
        return lock_view(lock, now)

    def renew(
        self, workspace: str, lock_id: str, token_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Extend a lease; only the token that took it may, and only while it is live."""
        now = self.clock.now()
        ttl = _ttl(body)
        with self.store.tx() as tx:
            if not holds(tx.get_lock(workspace), lock_id, token_id, now) or not tx.extend_lock(
                workspace, lock_id, now + ttl
            ):
                raise errors.FailedPrecondition(f"lock {lock_id} is no longer held")
            lock = tx.get_lock(workspace)
        assert lock is not None
        return lock_view(lock, now)

    def release(self, workspace: str, lock_id: str | None) -> None:
        with self.store.tx() as tx:
            if not tx.delete_lock(workspace, lock_id):
                raise errors.NotFound(f"workspace {workspace} holds no such lock")

    def get(self, workspace: str) -> LockRecord | None:
        """The lease row (live or expired), if any."""
        with self.store.tx() as tx:
            return tx.get_lock(workspace)

    def status(self, workspace: str) -> dict[str, Any]:
        now = self.clock.now()
        with self.store.tx() as tx:
            lock = tx.get_lock(workspace)
        if lock is None or lock.expires_at <= now:
            raise errors.NotFound(f"workspace {workspace} is not locked")
        return lock_view(lock, now)


def _insert(tx: Any, lock: LockRecord) -> bool:
    from seg.store.base import AlreadyExistsError

    try:
        tx.insert_lock(lock)
    except AlreadyExistsError:
        return False
    return True
