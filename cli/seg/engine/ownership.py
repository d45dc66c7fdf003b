"""Who owns a live resource, seen from one tree: this tree's manager, nobody, or another
manager — and what a plan may do with it.

- Ours (its manager is this tree's): diffed, and deleted when the YAML no longer declares it.
- Nobody's (manager ""; made through the API or a UI): declared → adopted (the change sets
  the manager); undeclared → listed as not managed, deleted only under ``unmanaged: delete``.
- Another manager's: undeclared → left alone (never deleted, never listed as ours); declared →
  blocked, naming that manager: a tree never takes over another's resource silently.
- Built in (``Kind.system_names``: the environment labels): the control plane's own. Never
  deleted, never listed, never adopted; declaring one diffs its fields as before.

Resources in ``external`` (seg.yaml) are referred to by this tree without being managed by it:
they are never deleted by its plans.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import Any

from seg.engine.plan import Action, Change, FieldChange
from seg.kinds.refs import references
from seg.model.resource import CurrentResource, DesiredResource

__all__ = ["Claim", "Ownership", "adopt", "blocked_by_owner", "claim", "keep_parents"]


class Claim(StrEnum):
    OURS = "ours"
    NOBODY = "nobody"
    OTHER = "other"
    BUILT_IN = "built-in"


@dataclass(frozen=True)
class Ownership:
    """This tree's side of ownership (from seg.yaml)."""

    manager: str
    unmanaged: str = "keep"  # or "delete": resources nobody manages are deleted when undeclared
    external: frozenset[tuple[str, str]] = frozenset()

    def may_delete(self, current: CurrentResource) -> bool:
        """Whether a plan may delete ``current`` when the YAML does not declare it."""
        if (current.kind.name, current.address) in self.external:
            return False
        found = claim(self, current)
        return found is Claim.OURS or (found is Claim.NOBODY and self.unmanaged == "delete")


def claim(ownership: Ownership, current: CurrentResource) -> Claim:
    if current.address in current.kind.system_names:
        return Claim.BUILT_IN
    if current.manager == ownership.manager:
        return Claim.OURS
    return Claim.NOBODY if not current.manager else Claim.OTHER


def adopt(change: Change | None, desired: DesiredResource, current: CurrentResource,
          manager: str) -> Change:  # fmt: skip
    """The change that takes ``current`` (nobody's) into this tree: its field changes, if
    any, and the manager (metadata beside the mask, like protect)."""
    taking = FieldChange(("manager",), current.manager, manager, meta=True)
    if change is None:
        return Change(current.address, current.kind, Action.UPDATE, before=dict(current.fields),
                      after=dict(current.fields), field_changes=(taking,), etag=current.etag,
                      sensitive_paths=desired.secret_paths, desired=desired,
                      adopt=True)  # fmt: skip
    if change.action is Action.UPDATE:
        return replace(change, field_changes=(*change.field_changes, taking), adopt=True)
    return replace(change, adopt=True)  # a replace creates it anew, under this manager


def blocked_by_owner(change: Change | None, current: CurrentResource, manager: str) -> Change:
    """A declared resource another manager owns: blocked, whatever its fields say."""
    reason = (f"managed by {current.manager!r}, not by {manager!r} (this tree's manager): "
              "remove it from this tree, or refer to it with external: in seg.yaml")  # fmt: skip
    if change is None:
        return Change(current.address, current.kind, Action.BLOCKED, before=dict(current.fields),
                      reason=reason, etag=current.etag, blocked_action=Action.UPDATE)  # fmt: skip
    return replace(change, action=Action.BLOCKED, blocked_action=change.action, reason=reason)


Key = tuple[str, str]
_GONE = (Action.DELETE, Action.REPLACE)  # a replace deletes the live resource first


def _holds(res: CurrentResource, fields: Mapping[str, Any]) -> Iterator[tuple[Key, bool]]:
    """What ``res`` keeps in place while it lives: each resource above it on the kinds'
    parent chain (True), and each resource ``fields`` refer to (False)."""
    parts = res.address.split("/")
    for depth, kind in enumerate(res.kind.chain()[:-1], start=1):
        yield (kind.name, "/".join(parts[:depth])), True
    for kind_name, address, _ in references(res.kind.name, fields):
        yield (kind_name, address), False


def keep_parents(changes: list[Change], have: Iterable[CurrentResource]) -> list[Change]:
    """Block deleting or replacing a resource the control plane would refuse to delete,
    because something the plan keeps still needs it: a resource beneath it (nobody's, another
    manager's, or one whose own change is blocked) or a resource that refers to it (another
    manager's source carrying our label). A blocked change keeps its resource in turn, so its
    parents and what it refers to are kept too. Linear in the resources: each enters the
    kept set once and is looked at once."""
    by_key = {c.key: c for c in changes}
    gone = {key for key, c in by_key.items() if c.action in _GONE}
    if not gone:
        return list(changes)  # nothing deleted or replaced: nothing to keep
    live: dict[Key, CurrentResource] = {}
    queue: list[tuple[CurrentResource, Mapping[str, Any]]] = []
    for res in have:
        key = (res.kind.name, res.address)
        live[key] = res
        if key not in gone:
            queue.append((res, _kept_fields(res, by_key.get(key))))
    beneath: dict[Key, list[str]] = {}  # a resource the plan would delete → what stays below it
    users: dict[Key, list[str]] = {}  # … → what keeps referring to it
    while queue:
        res, fields = queue.pop()
        for target, below in _holds(res, fields):
            if target not in gone:
                continue
            if target not in beneath and target not in users and target in live:
                queue.append((live[target], live[target].fields))  # blocked: it stays as is
            if below:
                beneath.setdefault(target, []).append(res.address)
            else:
                users.setdefault(target, []).append(f"{res.kind.name} {res.address}")
    return [_blocked(c, beneath.get(c.key, []), users.get(c.key, []))
            if c.key in beneath or c.key in users else c for c in changes]  # fmt: skip


def _kept_fields(res: CurrentResource, change: Change | None) -> Mapping[str, Any]:
    """The fields ``res`` has after the plan, when the plan keeps it."""
    if change is not None and change.action is Action.UPDATE and change.after is not None:
        return change.after
    return res.fields


def _shown(names: list[str]) -> str:
    names = sorted(names)
    return ", ".join(names[:3]) + (f" and {len(names) - 3} more" if len(names) > 3 else "")


def _blocked(change: Change, beneath: list[str], users: list[str]) -> Change:
    why = []
    if beneath:
        why.append(f"{_shown(beneath)} stays beneath it (not deleted by this plan): "
                   + ("declare it too, so it is replaced with it, or delete or move it first"
                      if change.action is Action.REPLACE else "delete or move it first"))
    if users:
        why.append(f"it is in use by {_shown(users)}, which this plan keeps: remove the "
                   "reference first")  # fmt: skip
    reason = "; ".join(why)
    if change.action is Action.REPLACE:
        reason = f"would be replaced ({change.reason}), but {reason}"
    return replace(change, action=Action.BLOCKED, blocked_action=change.action, reason=reason)
