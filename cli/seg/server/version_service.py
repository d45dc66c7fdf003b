"""A versioned resource's versions: list them (newest first), read one, restore one (a write
that makes the next version with that version's value, under the usual access, lock and
audit rules). Generic over every kind with ``versioning``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from seg.kinds.names import resource_name
from seg.model.kinds import Kind
from seg.model.values import json_equal
from seg.server import errors, pages
from seg.server.access_service import AccessService
from seg.server.audit import AuditLog
from seg.server.clock import Clock
from seg.server.core import (
    Action,
    Conflict,
    Need,
    Page,
    Principal,
    get_for_write,
    policy_of,
    run_write,
)
from seg.server.crypto import SecretBox
from seg.server.lock_service import LockService
from seg.server.resources import compute_etag, public_view
from seg.server.rules import check_write
from seg.server.versions import (
    advance,
    check_deploy,
    parse_version,
    version_cursor,
    version_view,
)
from seg.store.base import ResourceRecord, Store, StoreTx

__all__ = ["RESTORED", "VersionService"]

RESTORED = "restored:"  # the audit path of a restore that names the version restored


class VersionService:
    def __init__(self, store: Store, clock: Clock, box: SecretBox, access: AccessService,
                 audit: AuditLog, locks: LockService) -> None:  # fmt: skip
        self.store = store
        self.clock = clock
        self.box = box
        self.access = access
        self.audit = audit
        self.locks = locks

    def list_versions(self, principal: Principal, workspace: str, kind: Kind, address: str,
                      page_size: str | None, page_token: str | None) -> Page:  # fmt: skip
        """The resource's versions, newest first, without their values."""
        name = self._readable(principal, workspace, kind, address)
        size = pages.page_size(page_size)
        before = version_cursor(page_token)
        with self.store.tx() as tx:
            rec = _existing(tx, name)
            rows = tx.list_versions(name, before, size + 1)
        more = len(rows) > size
        rows = rows[:size]
        token = pages.encode_page_token(str(rows[-1].version), "versions") if more else ""
        return Page([version_view(kind, row, rec, False) for row in rows], token)

    def get_version(self, principal: Principal, workspace: str, kind: Kind, address: str,
                    raw_version: str) -> dict[str, Any]:  # fmt: skip
        """One version, with its value."""
        name = self._readable(principal, workspace, kind, address)
        number = parse_version(raw_version)
        with self.store.tx() as tx:
            rec = _existing(tx, name)
            row = tx.get_version(name, number)
        if row is None:
            raise errors.NotFound(f"{name}/versions/{number} not found")
        return version_view(kind, row, rec, True)

    def restore(self, principal: Principal, workspace: str, kind: Kind, address: str,
                raw_version: str, if_match: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Make the version's value the resource's again, as the next version (a write: the
        token's scope, the user's roles and the workspace lock decide as for any update).
        Restoring the value the resource already holds changes nothing. ``if_match``: only
        while the resource's etag is this one."""
        caller = self.access.caller(principal, workspace,
                                    Need.OWNER if kind.owner_only else Need.WRITE)  # fmt: skip
        caller.check(kind.name, address, Action.UPDATE)
        number = parse_version(raw_version)
        name = resource_name(workspace, kind, address)
        assert kind.versioning is not None
        field = kind.versioning.field

        def step(tx: StoreTx) -> dict[str, Any]:
            self.locks.check(tx, caller, Action.UPDATE, name)
            rec = get_for_write(tx, name, if_match)
            row = tx.get_version(name, number)
            if row is None:
                raise errors.NotFound(f"{name}/versions/{number} not found")
            if json_equal(rec.data.get(field), row.value):
                return public_view(kind, rec, self.box)
            data = {**rec.data, field: row.value}
            check_write(tx, kind, policy_of(tx, workspace), name, data, rec)
            now = self.clock.iso()
            new = replace(rec, data=data, etag=compute_etag(data, rec.secret_paths),
                          update_time=now)  # fmt: skip
            new, versions = advance(kind, rec, new, principal.token_id, now)
            check_deploy(kind, new)
            if not tx.update_resource(new, rec):
                raise Conflict
            for version in versions:
                tx.insert_version(version)
            self.audit.record(tx, principal, Action.UPDATE, name,
                              [f"{kind.key}.{field}", f"{RESTORED}{number}"],
                              before=rec, after=new)  # fmt: skip
            return public_view(kind, new, self.box)

        return run_write(self.store, name, step)

    def _readable(self, principal: Principal, workspace: str, kind: Kind, address: str) -> str:
        caller = self.access.caller(principal, workspace, Need.READ)
        caller.check(kind.name, address, Action.READ)
        return resource_name(workspace, kind, address)


def _existing(tx: StoreTx, name: str) -> ResourceRecord:
    rec = tx.get_resource(name)
    if rec is None:
        raise errors.NotFound(f"{name} not found")
    return rec
