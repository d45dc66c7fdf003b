"""Apply order. Deletes come first (children before parents), then creates and updates
(parents and referenced resources first: ``FieldSpec.ref`` fields and the kind's ``references``
hook, such as a source deploying a function). Within that, changes wait for the changes they name
in ``waits_for``; ties break by kind order, then address, so the order is deterministic.

A step names the steps it ``depends_on`` (it is skipped unless they applied) and the steps it
runs ``after`` whatever their outcome: an update or create after the update of its parent or
of a resource it references in an earlier kind, whose new value its checks may read. With
several steps running at once (``seg.apply.schedule``) these edges are the whole order, but
for one rule the scheduler keeps itself: a write starts once the deletes before it have
finished."""

from __future__ import annotations

import heapq
from dataclasses import dataclass
from typing import Literal

from seg.engine.plan import Action, Change, Plan
from seg.errors import SegError
from seg.kinds import KINDS
from seg.kinds.refs import references

__all__ = ["Step", "plan_steps"]

Op = Literal["create", "update", "delete"]
Key = tuple[str, str]


@dataclass(frozen=True)
class Step:
    index: int
    op: Op
    change: Change
    depends_on: tuple[int, ...] = ()
    after: tuple[int, ...] = ()  # steps that finish first, whatever their outcome


@dataclass(frozen=True)
class _Node:
    op: Op
    change: Change

    @property
    def phase(self) -> int:
        return 0 if self.op == "delete" else 1

    def sort_key(self) -> tuple[int, int, str]:
        order = self.change.kind.order
        return (self.phase, -order if self.op == "delete" else order, self.change.address)


def _parent(address: str) -> str | None:
    return address.rsplit("/", 1)[0] if "/" in address else None


def _nodes(plan: Plan) -> list[_Node]:
    nodes = []
    for change in plan.applicable:
        if change.action in (Action.DELETE, Action.REPLACE):
            nodes.append(_Node("delete", change))
        if change.action in (Action.CREATE, Action.REPLACE):
            nodes.append(_Node("create", change))
        elif change.action is Action.UPDATE:
            nodes.append(_Node("update", change))
    return nodes


def _parent_key(change: Change) -> Key | None:
    parent = _parent(change.address)
    if parent is None or change.kind.parent is None:
        return None
    return (change.kind.parent, parent)


def _edges(nodes: list[_Node]) -> tuple[dict[int, set[int]], dict[int, set[int]]]:
    """For each node, the nodes it depends on, and the nodes it only runs after."""
    deletes = {n.change.key: i for i, n in enumerate(nodes) if n.op == "delete"}
    writes = {n.change.key: i for i, n in enumerate(nodes) if n.op != "delete"}
    created = {n.change.key for n in nodes if n.op == "create"}
    needs: dict[int, set[int]] = {i: set() for i in range(len(nodes))}
    after: dict[int, set[int]] = {i: set() for i in range(len(nodes))}
    for i, node in enumerate(nodes):
        change = node.change
        parent = _parent_key(change)
        for key in change.waits_for:
            for table in (writes, deletes):
                if key in table and table[key] != i:
                    needs[i].add(table[key])
        if node.op == "delete":
            if parent in deletes:
                needs[deletes[parent]].add(i)  # children are deleted before their parent
            continue
        if change.action is Action.REPLACE:
            needs[i].add(deletes[change.key])
        if parent in created:
            needs[i].add(writes[parent])
        elif parent in writes:  # the parent's update lands first: its rules read it
            after[i].add(writes[parent])
        fields = change.desired.fields if change.desired else {}
        for ref_kind, target, _path in references(change.kind.name, fields):
            key = (ref_kind, target)
            if key in created:  # field references and the kind's own hook
                needs[i].add(writes[key])
            elif key in writes and KINDS[ref_kind].order < change.kind.order:
                after[i].add(writes[key])  # e.g. a function made an insert function first
    return needs, {i: found - needs[i] for i, found in after.items()}


def plan_steps(plan: Plan) -> list[Step]:
    nodes = _nodes(plan)
    needs, after = _edges(nodes)
    hard = {i: set(deps) for i, deps in needs.items()}
    soft = {i: set(deps) for i, deps in after.items()}
    users: dict[int, list[int]] = {i: [] for i in needs}
    for i in needs:
        for dep in needs[i] | after[i]:
            users[dep].append(i)
    # Deletes sort first: every delete runs before any write but for one that waits for an
    # update (waits_for), which comes after it.
    ready = [(nodes[i].sort_key(), i) for i in needs if not hard[i] and not soft[i]]
    heapq.heapify(ready)
    position: dict[int, int] = {}
    steps: list[Step] = []
    while len(steps) < len(nodes):
        if not ready:
            # Only "after" edges left in a cycle (an update that waits for one that would
            # otherwise follow it, e.g. a mapping disabled before its model changes): the
            # explicit wait wins; the first such step runs without its soft edges.
            free = [(nodes[i].sort_key(), i) for i in needs
                    if i not in position and not hard[i]]  # fmt: skip
            if not free:
                stuck = sorted(nodes[i].change.address for i in needs if i not in position)
                raise SegError("the plan's changes depend on each other in a cycle: "
                               f"{', '.join(stuck)}")  # fmt: skip
            first = min(free)
            soft[first[1]].clear()
            ready.append(first)
        _, i = heapq.heappop(ready)
        position[i] = len(steps)
        depends = tuple(sorted(position[d] for d in needs[i]))
        runs_after = tuple(sorted(position[d] for d in after[i] if d in position))
        steps.append(Step(len(steps), nodes[i].op, nodes[i].change, depends, runs_after))
        for user in users[i]:
            hard[user].discard(i)
            soft[user].discard(i)
            if user not in position and not hard[user] and not soft[user]:
                heapq.heappush(ready, (nodes[user].sort_key(), user))
    return steps
