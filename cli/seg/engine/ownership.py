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

from collections.abc import Iterable
from dataclasses import dataclass, replace
from enum import StrEnum

from seg.engine.plan import Action, Change, FieldChange
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


def keep_parents(changes: list[Change], have: Iterable[CurrentResource]) -> list[Change]:
    """Block deleting a resource that keeps something beneath it the plan does not delete (a
    resource nobody manages, or another manager's): the control plane would refuse anyway.
    "Beneath" follows the kinds' parent chain, not the address alone (a Group ``web`` holds
    nothing, whatever Source ``web`` holds)."""
    deleting = {c.key for c in changes if c.action in (Action.DELETE, Action.REPLACE)}
    kept: dict[tuple[str, str], list[str]] = {}  # (kind, address) → what stays beneath it
    for res in have:
        if (res.kind.name, res.address) in deleting:
            continue
        chain = res.kind.chain()
        parts = res.address.split("/")
        for depth, kind in enumerate(chain[:-1], start=1):
            kept.setdefault((kind.name, "/".join(parts[:depth])), []).append(res.address)
    out = []
    for change in changes:
        below = sorted(kept.get(change.key, ())) if change.action is Action.DELETE else []
        if not below:
            out.append(change)
            continue
        shown = ", ".join(below[:3]) + (f" and {len(below) - 3} more" if len(below) > 3 else "")
        reason = f"{shown} stays beneath it (not managed by this tree); delete or move it first"
        out.append(replace(change, action=Action.BLOCKED, blocked_action=Action.DELETE,
                           reason=reason))  # fmt: skip
    return out
