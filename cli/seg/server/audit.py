"""The audit trail: one event per change (written in the change's transaction), and the
events a caller may see."""

from __future__ import annotations

from typing import Any

from seg.kinds.names import parse_resource_name
from seg.policy.access import allowed, is_owner
from seg.server import pages
from seg.server.access_service import AccessService, readable
from seg.server.clock import Clock
from seg.server.core import Action, Need, Page, Principal
from seg.store.base import AuditRecord, Store, StoreTx

__all__ = ["COMPARED", "AuditLog"]

COMPARED = "values:"  # the audit path of a compare event that counts the values asked about


class AuditLog:
    def __init__(self, store: Store, clock: Clock, access: AccessService) -> None:
        self.store = store
        self.clock = clock
        self.access = access

    def record(self, tx: StoreTx, principal: Principal, action: Action, resource: str,
               paths: list[str]) -> None:  # fmt: skip
        """Record that ``principal`` did ``action`` on ``resource`` (``paths``: what changed)."""
        record = AuditRecord(principal.workspace, self.clock.iso(), principal.token_id,
                             principal.description, action.value, resource, paths)  # fmt: skip
        tx.insert_audit(record)

    def events(
        self, principal: Principal, workspace: str, page_size: str | None, page_token: str | None
    ) -> Page:
        """The newest events first; a user-bound token sees those on what its user may read."""
        caller = self.access.caller(principal, workspace, Need.READ)
        size = pages.page_size(page_size)
        before = pages.decode_page_token(page_token, "audit")
        with self.store.tx() as tx:
            rows = tx.list_audit(workspace, pages.audit_cursor(before), size + 1)
        more = len(rows) > size
        rows = rows[:size]
        token = pages.encode_page_token(str(rows[-1].id), "audit") if more else ""
        access = caller.access()
        if access is not None:
            owner = is_owner(access)  # token events are an owner's business, like the tokens
            rows = [r for r in rows if _visible(access, r.resource, r.paths, owner)]
        return Page([_event_view(r) for r in rows], token)


def _event_view(r: AuditRecord) -> dict[str, Any]:
    return {
        "id": str(r.id),
        "time": r.time,
        "actor": {"token_id": r.actor_id, "description": r.actor_description},
        "method": r.method,
        "resource": r.resource,
        "paths": r.paths,
    }


def _visible(access: dict[str, Any], resource: str, paths: list[str], owner: bool) -> bool:
    """Whether a user may see an audit event: one on a resource (or a tracking plan's rules)
    needs read access to it; a ``secrets:compare`` event (whose paths name the resources asked
    about) needs read access to each of them; one on a token (``…/tokens/<id>``) needs the
    workspace_owner role, as managing tokens does; events on the workspace and its lock are
    open."""
    if "/tokens/" in resource:
        return owner
    if resource.endswith("/secrets:compare"):
        return all(readable(access, n) for n in paths if not n.startswith(COMPARED))
    for name in (resource, resource.removesuffix("/rules")):
        try:
            _, kind, address = parse_resource_name(name)
        except ValueError:
            continue
        return allowed(access, kind.access_scope, address, False)
    return True
