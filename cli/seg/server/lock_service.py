"""The workspace lock as callers see it: who may take, renew, break and read a lease, and the
check every write passes while one is held."""

from __future__ import annotations

from typing import Any

from seg.server import errors
from seg.server.access_service import AccessService, Caller
from seg.server.audit import AuditLog
from seg.server.bodies import check_lock_body
from seg.server.clock import Clock
from seg.server.core import Action, Need, Principal
from seg.server.locks import Locks, describe, holds
from seg.store.base import Store, StoreTx

__all__ = ["LockService"]


class LockService:
    def __init__(self, store: Store, clock: Clock, access: AccessService, audit: AuditLog) -> None:
        self.store = store
        self.clock = clock
        self.access = access
        self.audit = audit
        self.leases = Locks(store, clock)

    def check(self, tx: StoreTx, caller: Caller, action: Action, resource: str) -> None:
        """While a live lease is held, only its holder writes: the token that took it, naming
        the lease. A caller naming a lease that is no longer live (broken, expired, taken over)
        is told so; an owner's override is audited."""
        principal = caller.principal
        now = self.clock.now()
        held = tx.get_lock(principal.workspace)
        if holds(held, principal.lock_id, principal.token_id, now):
            return
        if principal.lock_id:
            now_held = f"; {describe(held, now)}" if held and held.expires_at > now else ""
            raise errors.Aborted(
                f"the workspace lock {principal.lock_id} is no longer held by this caller "
                f"(it expired, was released or was taken over){now_held}"
            )
        if held is None or held.expires_at <= now:
            return
        if principal.lock_override and caller.is_owner(tx):
            self.audit.record(tx, principal, action, resource, ["lock override", held.id])
            return
        raise errors.Aborted(
            f"{describe(held, now)}; writes from anyone but the lock holder are refused "
            "while it is held (an owner may send Seg-Lock-Override: true)"
        )

    def acquire(self, principal: Principal, workspace: str, body: dict[str, Any]
                ) -> dict[str, Any]:  # fmt: skip
        caller = self.access.caller(principal, workspace, Need.WRITE)
        if not caller.may_write_anything():
            raise errors.PermissionDenied(
                f"permission denied: {principal.user} may not write anything, so may not lock"
            )
        lock = self.leases.acquire(workspace, principal.token_id, check_lock_body(body))
        with self.store.tx() as tx:
            self.audit.record(tx, principal, Action.CREATE, _lock_name(workspace), [lock["id"]])
        return lock

    def renew(self, principal: Principal, workspace: str, lock_id: str, body: dict[str, Any]
              ) -> dict[str, Any]:  # fmt: skip
        self.access.caller(principal, workspace, Need.WRITE)
        return self.leases.renew(workspace, lock_id, principal.token_id, body)

    def release(self, principal: Principal, workspace: str, lock_id: str | None) -> None:
        """Release one's own lease (the token that took it, by id). Breaking anyone else's —
        or releasing without an id — is forcing: the owner scope, and for a user-bound token
        the workspace_owner role; it is audited as forced."""
        caller = self.access.caller(principal, workspace, Need.WRITE)
        held = self.leases.get(workspace)
        own = bool(lock_id) and held is not None and held.id == lock_id
        own = own and held is not None and held.token_id == principal.token_id
        if not own:
            caller.require(Need.OWNER)
        self.leases.release(workspace, lock_id or None)
        paths = [lock_id or "*"] + ([] if own else ["forced"])
        with self.store.tx() as tx:
            self.audit.record(tx, principal, Action.DELETE, _lock_name(workspace), paths)

    def status(self, principal: Principal, workspace: str) -> dict[str, Any]:
        self.access.caller(principal, workspace, Need.READ)
        return self.leases.status(workspace)


def _lock_name(workspace: str) -> str:
    return f"workspaces/{workspace}/lock"
