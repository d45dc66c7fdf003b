"""Narrowing a plan: to targets or a sub-directory, and within a delete budget."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace

from seg.engine.plan import Action, Change, Plan

__all__ = ["apply_delete_budget", "restrict", "under_targets"]


def restrict(plan: Plan, keep: Callable[[Change], bool]) -> Plan:
    """Only the changes ``keep`` accepts (a scoped plan)."""
    return replace(plan, changes=tuple(c for c in plan.changes if keep(c)))


def under_targets(targets: list[str]) -> Callable[[Change], bool]:
    """A change to a target or to anything beneath it (``web`` covers ``web/amplitude``)."""
    return lambda c: any(c.address == t or c.address.startswith(t + "/") for t in targets)


def apply_delete_budget(plan: Plan, max_deletes: int | None) -> Plan:
    """Block every delete (and replace) when there are more than ``max_deletes``."""
    deleting = [c for c in plan.changes if c.action in (Action.DELETE, Action.REPLACE)]
    if max_deletes is None or len(deleting) <= max_deletes:
        return plan
    reason = f"the plan destroys {len(deleting)} resources, over --max-deletes {max_deletes}"
    changes = tuple(
        replace(c, action=Action.BLOCKED, blocked_action=c.action,
                reason=f"{reason}{'; ' + c.reason if c.reason else ''}")
        if c in deleting else c
        for c in plan.changes
    )  # fmt: skip
    return replace(plan, changes=changes)
