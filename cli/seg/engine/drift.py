"""Drift: what changed on the control plane outside seg, told apart from what git changed.

A plan (the tree against the live state) lists every difference, whichever side made it. Drift
keeps the ones the control plane made, with three values per field:

- *declared*: what the tree says now;
- *live*: what the control plane holds;
- *base*: what the tree said at the git revision of the last apply the control plane recorded
  (the state that apply left behind), when it is known.

A field whose declared value is still the base value changed on the control plane (drift); one
whose live value is still the base value changed in git and waits for an apply (pending); one
where all three differ changed on both sides (a conflict: nobody picks a side). Without a base
(no apply recorded with a git revision, or that revision is not in this repository) the audit
trail decides: a field an outside write touched since the last apply is drift, any other
difference is pending, and no conflict can be told.

Who and when come from the audit trail's writes since the last apply that no apply made
(``OutsideEdit``). Pure: the caller reads the tree, the base revision, the live state and the
audit trail.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from seg.engine.plan import Action, Change, FieldChange, Plan
from seg.model.kinds import Kind
from seg.model.paths import MISSING, AnyPath, get_path
from seg.model.resource import CurrentResource, DesiredResource
from seg.model.values import json_equal

__all__ = ["DriftReport", "FieldDrift", "OutsideEdit", "ResourceDrift", "Side", "Since",
           "What", "find_drift"]  # fmt: skip

Key = tuple[str, str]


class Side(StrEnum):
    """Who made a difference: the control plane (drift), git (pending) or both (conflict)."""

    DRIFT = "drift"
    PENDING = "pending"
    CONFLICT = "conflict"


class What(StrEnum):
    """What happened to a resource on the control plane."""

    CHANGED = "changed"
    CREATED = "created"
    DELETED = "deleted"


@dataclass(frozen=True)
class OutsideEdit:
    """One write in the audit trail since the last apply that no apply made: ``method`` is
    POST, PATCH or DELETE; ``paths`` the fields it wrote (rooted at the resource, without the
    kind's key)."""

    id: str
    time: str
    actor: str
    method: str
    kind: str
    address: str
    paths: tuple[AnyPath, ...] = ()


@dataclass(frozen=True)
class Since:
    """The last apply the control plane recorded for this tree (None fields: not known)."""

    run: str | None = None
    time: str | None = None
    git_revision: str | None = None
    base_known: bool = False  # the tree at that revision was read


@dataclass(frozen=True)
class FieldDrift:
    path: AnyPath
    side: Side
    live: Any = MISSING  # MISSING: not set on the control plane
    declared: Any = MISSING  # MISSING: the tree does not set it
    base: Any = MISSING  # MISSING: not set at the base revision, or no base
    sensitive: bool = False
    meta: bool = False  # resource metadata (protect), not a spec field
    who: str = ""
    when: str = ""


@dataclass(frozen=True)
class ResourceDrift:
    kind: Kind
    address: str
    what: What
    side: Side
    fields: tuple[FieldDrift, ...] = ()
    who: str = ""
    when: str = ""
    live: CurrentResource | None = None
    desired: DesiredResource | None = None

    @property
    def key(self) -> Key:
        return (self.kind.name, self.address)


@dataclass(frozen=True)
class DriftReport:
    workspace: str
    since: Since
    resources: tuple[ResourceDrift, ...]
    pending: int = 0  # differences git made that an apply would send (not drift)

    def of(self, *sides: Side) -> list[ResourceDrift]:
        return [r for r in self.resources if r.side in sides]

    @property
    def conflicts(self) -> list[tuple[ResourceDrift, FieldDrift | None]]:
        """Each conflict: a field (or a whole resource, ``None``)."""
        out: list[tuple[ResourceDrift, FieldDrift | None]] = []
        for res in self.resources:
            if res.what is What.CHANGED:
                out += [(res, f) for f in res.fields if f.side is Side.CONFLICT]
            elif res.side is Side.CONFLICT:
                out.append((res, None))
        return out

    @property
    def has_drift(self) -> bool:
        return bool(self.resources)


class _Edits:
    """The outside writes, newest first per resource."""

    def __init__(self, edits: Iterable[OutsideEdit]) -> None:
        self.by_key: dict[Key, list[OutsideEdit]] = {}
        for edit in sorted(edits, key=lambda e: (e.time, _id_order(e.id)), reverse=True):
            self.by_key.setdefault((edit.kind, edit.address), []).append(edit)

    def last(self, key: Key, method: str | None = None, path: AnyPath | None = None
             ) -> OutsideEdit | None:  # fmt: skip
        """The newest outside write of ``key`` (of ``method``, touching ``path``: at, above
        or beneath it)."""
        for edit in self.by_key.get(key, ()):
            if method is not None and edit.method != method:
                continue
            if path is not None and not any(_overlap(path, p) for p in edit.paths):
                continue
            return edit
        return None


def _id_order(raw: str) -> int:
    return int(raw) if raw.isdigit() else 0


def _overlap(a: AnyPath, b: AnyPath) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def find_drift(plan: Plan, live: Iterable[CurrentResource],
               base: Mapping[Key, DesiredResource] | None, edits: Iterable[OutsideEdit],
               since: Since = Since()) -> DriftReport:  # fmt: skip
    """The drift in ``plan`` (the tree against ``live``, with ownership). ``base``: the tree's
    resources at the last applied revision (None: not known); ``edits``: the outside writes
    since that apply."""
    outside = _Edits(edits)
    have = {(r.kind.name, r.address): r for r in live}
    found: list[ResourceDrift] = []
    pending = 0
    for change in plan.changes:
        action = change.blocked_action or change.action
        if action in (Action.UPDATE, Action.REPLACE):
            item, waiting = _changed(change, have.get(change.key), base, outside)
        elif action is Action.CREATE:
            item, waiting = _deleted(change, base, outside)
        elif action is Action.DELETE:
            item, waiting = _created(change.key, have.get(change.key), base, outside)
        else:
            continue
        pending += waiting
        if item is not None:
            found.append(item)
    for key in plan.not_managed:  # made through the API and never adopted
        res = have.get(key)
        if res is not None and outside.last(key, "POST") is not None:
            item, _ = _created(key, res, base, outside)
            if item is not None:
                found.append(item)
    found.sort(key=lambda r: (r.kind.order, r.address))
    return DriftReport(plan.workspace, since, tuple(found), pending)


def _field_side(fc: FieldChange, base_value: Any, has_base: bool, touched: bool) -> Side:
    declared = MISSING if fc.cleared else fc.after
    if fc.sensitive or not has_base:  # a digest compares with nothing: the audit trail decides
        return Side.DRIFT if touched else Side.PENDING
    if _same(base_value, declared):
        return Side.DRIFT
    if _same(base_value, fc.before):
        return Side.PENDING
    return Side.CONFLICT


def _same(a: Any, b: Any) -> bool:
    if a is MISSING or b is MISSING:
        return a is b or (a is MISSING and b is None) or (b is MISSING and a is None)
    return json_equal(a, b)


def _changed(change: Change, live: CurrentResource | None,
             base: Mapping[Key, DesiredResource] | None, outside: _Edits
             ) -> tuple[ResourceDrift | None, int]:  # fmt: skip
    has_base = base is not None and change.key in base
    base_res = base.get(change.key) if base is not None else None
    fields: list[FieldDrift] = []
    pending = 0
    for fc in change.field_changes:
        if fc.meta and fc.path != ("protect",):
            continue  # the manager: adoption, not a value
        path = fc.path
        edit = outside.last(change.key, path=path if not fc.meta else None)
        if fc.meta:
            base_value = base_res.protect if base_res is not None else MISSING
        else:
            base_value = get_path(base_res.fields, path) if base_res is not None else MISSING
        side = _field_side(fc, base_value, has_base, edit is not None)
        if side is Side.PENDING:
            pending += 1
            continue
        now = fc.before  # the differ shows a key the control plane does not hold as None
        if not fc.meta and now is None and live is not None:
            now = get_path(live.fields, path)
        fields.append(FieldDrift(
            path, side, now, MISSING if fc.cleared else fc.after, base_value,
            fc.sensitive, fc.meta, edit.actor if edit else "", edit.time if edit else "",
        ))  # fmt: skip
    if not fields:
        return None, pending
    side = Side.CONFLICT if all(f.side is Side.CONFLICT for f in fields) else Side.DRIFT
    last = outside.last(change.key)
    return ResourceDrift(change.kind, change.address, What.CHANGED, side, tuple(fields),
                         last.actor if last else "", last.time if last else "",
                         desired=change.desired), pending  # fmt: skip


def _deleted(change: Change, base: Mapping[Key, DesiredResource] | None, outside: _Edits
             ) -> tuple[ResourceDrift | None, int]:  # fmt: skip
    """Declared, not live: deleted outside seg, or new in git."""
    edit = outside.last(change.key, "DELETE")
    if base is not None:
        before = base.get(change.key)
        if before is None:
            return None, 1  # new in git
        desired = change.desired
        edited = desired is not None and not (
            json_equal(dict(before.fields), dict(desired.fields))
            and before.protect == desired.protect)  # fmt: skip
        side = Side.CONFLICT if edited else Side.DRIFT
    elif edit is None:
        return None, 1
    else:
        side = Side.DRIFT
    return ResourceDrift(change.kind, change.address, What.DELETED, side,
                         who=edit.actor if edit else "", when=edit.time if edit else "",
                         desired=change.desired), 0  # fmt: skip


def _created(key: Key, live: CurrentResource | None,
             base: Mapping[Key, DesiredResource] | None, outside: _Edits
             ) -> tuple[ResourceDrift | None, int]:  # fmt: skip
    """Live, not declared: created outside seg, or removed in git."""
    if live is None:
        return None, 0
    edit = outside.last(key, "POST")
    if base is not None and key in base:
        return None, 1  # removed in git: the apply deletes it
    if base is None and edit is None:
        return None, 1
    return ResourceDrift(live.kind, live.address, What.CREATED, Side.DRIFT,
                         who=edit.actor if edit else "", when=edit.time if edit else "",
                         live=live), 0  # fmt: skip
