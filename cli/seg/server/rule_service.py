"""A tracking plan's rules, read and written on their own: replace them all, add or replace
some by (type, key, version), or remove some (at most 200 per call)."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

from seg.kinds.tracking_plan import KIND as TRACKING_PLAN
from seg.server import errors
from seg.server.access_service import AccessService, Caller
from seg.server.audit import AuditLog
from seg.server.bodies import check_rule_ids
from seg.server.clock import Clock
from seg.server.core import Action, Conflict, Need, Principal, get_for_write, policy_of, run_write
from seg.server.lock_service import LockService
from seg.server.resources import compute_etag
from seg.server.rules import check_call_limits, check_write
from seg.server.validation import FieldChecker
from seg.store.base import Store, StoreTx
from seg.tracking.rules import rule_id, rule_label

__all__ = ["RuleService"]

Change = Callable[[list[Any]], list[Any]]  # the current rules to the new ones

PLAN = TRACKING_PLAN


class RuleService:
    def __init__(self, store: Store, clock: Clock, access: AccessService, audit: AuditLog,
                 locks: LockService, fields: FieldChecker) -> None:  # fmt: skip
        self.store = store
        self.clock = clock
        self.access = access
        self.audit = audit
        self.locks = locks
        self.fields = fields

    def list_rules(self, principal: Principal, workspace: str, plan_id: str) -> dict[str, Any]:
        self._caller(principal, workspace, plan_id, Action.READ)
        name = _plan_name(workspace, plan_id)
        with self.store.tx() as tx:
            rec = tx.get_resource(name)
        if rec is None:
            raise errors.NotFound(f"{name} not found")
        return {"rules": rec.data.get("rules", [])}

    def replace(self, principal: Principal, workspace: str, plan_id: str, body: dict[str, Any],
                if_match: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Replace every rule of a tracking plan."""
        caller = self._caller(principal, workspace, plan_id, Action.REPLACE)
        rules = self._given_rules(body, ids_only=False)
        return self._change(caller, plan_id, Action.REPLACE, rules, lambda _: rules, if_match)

    def upsert(self, principal: Principal, workspace: str, plan_id: str, body: dict[str, Any],
               if_match: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Add or replace rules by (type, key, version)."""
        caller = self._caller(principal, workspace, plan_id, Action.UPDATE)
        rules = self._given_rules(body, ids_only=False)

        def merged(current: list[Any]) -> list[Any]:
            given = {rule_id(r): r for r in rules}
            return [given.pop(rule_id(r), r) for r in current] + list(given.values())

        return self._change(caller, plan_id, Action.UPDATE, rules, merged, if_match)

    def delete(self, principal: Principal, workspace: str, plan_id: str, body: dict[str, Any],
               if_match: str | None = None) -> dict[str, Any]:  # fmt: skip
        """Remove rules by (type, key, version)."""
        caller = self._caller(principal, workspace, plan_id, Action.DELETE)
        rules = self._given_rules(body, ids_only=True)
        gone = {rule_id(r) for r in rules}

        def kept(current: list[Any]) -> list[Any]:
            return [r for r in current if rule_id(r) not in gone]

        return self._change(caller, plan_id, Action.DELETE, rules, kept, if_match)

    def _caller(self, principal: Principal, workspace: str, plan_id: str, action: Action
                ) -> Caller:  # fmt: skip
        need = Need.WRITE if action.writes else Need.READ
        caller = self.access.caller(principal, workspace, need)
        caller.check(PLAN.name, plan_id, action)
        return caller

    def _given_rules(self, body: dict[str, Any], ids_only: bool) -> list[Any]:
        """The rules of one call: whole rules as the TrackingPlan routes check them, or (to
        delete) their identities."""
        rules = body.get("rules")
        if not isinstance(rules, list):
            raise errors.InvalidArgument("rules must be a list")
        check_call_limits(PLAN, {"rules": rules})
        if ids_only:
            check_rule_ids(rules)
        else:
            self.fields.validate(PLAN, {"rules": rules}, set())
        return rules

    def _change(self, caller: Caller, plan_id: str, action: Action, rules: list[Any],
                change: Change, if_match: str | None) -> dict[str, Any]:  # fmt: skip
        """One rule write: ``change`` maps the current rules to the new ones; ``action`` is
        how the audit trail names it. ``if_match`` names the tracking plan's etag, as for its
        other writes."""
        principal = caller.principal
        workspace = principal.workspace
        name = _plan_name(workspace, plan_id)

        def step(tx: StoreTx) -> dict[str, Any]:
            self.locks.check(tx, caller, action, name + "/rules")
            rec = get_for_write(tx, name, if_match)
            new_rules = change(list(rec.data.get("rules", [])))
            data = {**rec.data, "rules": new_rules}
            self.fields.validate(PLAN, {"rules": new_rules}, set())
            check_write(tx, PLAN, policy_of(tx, workspace), name, data, rec)
            new = dataclasses.replace(rec, data=data, etag=compute_etag(data, rec.secret_paths),
                                      update_time=self.clock.iso())  # fmt: skip
            if not tx.update_resource(new, rec):
                raise Conflict
            labels = [rule_label(r) for r in rules][:50]
            self.audit.record(tx, principal, action, name + "/rules", labels, before=rec,
                              after=new)  # fmt: skip
            return {"rules": new_rules}

        return run_write(self.store, name, step)


def _plan_name(workspace: str, plan_id: str) -> str:
    return f"workspaces/{workspace}/tracking-plans/{plan_id}"
