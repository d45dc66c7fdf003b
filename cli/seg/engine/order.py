"""Apply order: deletes first, children before parents; then creates and updates, parents
before children. Each step names the steps it depends on."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from seg.engine.plan import Action, Change, Plan

__all__ = ["Step", "plan_steps"]

Op = Literal["create", "update", "delete"]


@dataclass(frozen=True)
class Step:
    index: int
    op: Op
    change: Change
    depends_on: tuple[int, ...] = ()


def _parent(address: str) -> str | None:
    return address.rsplit("/", 1)[0] if "/" in address else None


def plan_steps(plan: Plan) -> list[Step]:
    steps: list[Step] = []
    deletes = [c for c in plan.applicable if c.action in (Action.DELETE, Action.REPLACE)]
    deletes.sort(key=lambda c: (-c.kind.order, c.address))
    deleted_children: dict[str, list[int]] = {}
    for change in deletes:
        index = len(steps)
        children = tuple(deleted_children.get(change.address, ()))
        steps.append(Step(index, "delete", change, children))
        parent = _parent(change.address)
        if parent is not None:
            deleted_children.setdefault(parent, []).append(index)
    own_delete = {s.change.address: s.index for s in steps}
    writes = [c for c in plan.applicable if c.action in (Action.CREATE, Action.UPDATE,
                                                          Action.REPLACE)]  # fmt: skip
    writes.sort(key=lambda c: (c.kind.order, c.address))
    written: dict[str, int] = {}
    for change in writes:
        index = len(steps)
        needs: list[int] = []
        parent = _parent(change.address)
        if parent is not None and parent in written:
            needs.append(written[parent])
        if change.action is Action.REPLACE:
            needs.append(own_delete[change.address])
        op: Op = "update" if change.action is Action.UPDATE else "create"
        steps.append(Step(index, op, change, tuple(needs)))
        written[change.address] = index
    return steps
