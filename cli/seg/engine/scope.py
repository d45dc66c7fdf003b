"""Narrowing a plan: to targets or a sub-directory, and within a delete budget."""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable, Sequence
from dataclasses import replace

from seg.engine.plan import Action, Change, Plan
from seg.errors import ConfigError
from seg.kinds.refs import references
from seg.model.clip import MAX_ECHO, clip_repr
from seg.model.wording import did_you_mean

__all__ = ["apply_delete_budget", "check_targets", "restrict", "target_plan"]

Key = tuple[str, str]
# What a change may pull into a targeted plan: what it creates, changes or replaces (a
# blocked one too, so the plan says it is blocked). Deletes are never pulled in.
_PULLED = (Action.CREATE, Action.UPDATE, Action.REPLACE)


def restrict(plan: Plan, keep: Callable[[Change], bool]) -> Plan:
    """Only the changes ``keep`` accepts (a scoped plan)."""
    return replace(plan, changes=tuple(c for c in plan.changes if keep(c)))


def _covers(target: str, address: str) -> bool:
    """A target covers its own address and everything beneath it (``web`` covers
    ``web/amplitude``)."""
    return address == target or address.startswith(target + "/")


def check_targets(targets: Sequence[str], addresses: Collection[str]) -> None:
    """Raise ConfigError (one line, with a did-you-mean) when a target matches no address
    among ``addresses`` (the declared and the live ones)."""
    known = sorted(set(addresses))
    unknown = [t for t in targets if not any(_covers(t, a) for a in known)]
    if not unknown:
        return
    if len(unknown) == 1:
        only = unknown[0]
        raise ConfigError(f"unknown target {clip_repr(only)}: no resource in the workspace or "
                          f"on the control plane has that address{_hint(only, known)}")  # fmt: skip
    shown = ", ".join(f"{clip_repr(t)}{_hint(t, known)}" for t in unknown)
    raise ConfigError(f"unknown targets {shown}: no resource in the workspace or on the "
                      "control plane has those addresses")  # fmt: skip


def _hint(target: str, known: list[str]) -> str:
    """`` (did you mean 'web'?)`` for the closest known address (none for a target far longer
    than any address: difflib's cost grows with its length)."""
    return did_you_mean(target, known, limit=MAX_ECHO)


def _needs(change: Change) -> Iterable[tuple[Key, bool]]:
    """What ``change`` depends on: its parent and every resource it refers to (when it
    writes), and the changes it must wait for. ``True`` marks a ``waits_for`` key, which is
    pulled in whatever its action."""
    desired = change.desired
    if desired is not None and change.action is not Action.DELETE:
        kind = change.kind
        if kind.parent is not None and "/" in change.address:
            yield (kind.parent, change.address.rsplit("/", 1)[0]), False
        for ref_kind, address, _path in references(kind.name, desired.fields):
            yield (ref_kind, address), False
    for key in change.waits_for:
        yield key, True


def _pulls(change: Change, waited: bool) -> bool:
    action = change.blocked_action if change.action is Action.BLOCKED else change.action
    return waited or action in _PULLED


def target_plan(plan: Plan, targets: Sequence[str]) -> Plan:
    """The changes to the targets (and what is beneath them), plus every pending change they
    depend on, transitively: a missing parent, a referenced model, label or tracking plan
    being created or changed. Each pulled-in change names the targeted changes it is there
    for (``included_by``); a dependency that is already present and equal has no change and
    is not pulled in."""
    by_key = {c.key: c for c in plan.changes}
    direct = {c.key for c in plan.changes if any(_covers(t, c.address) for t in targets)}
    included: dict[Key, set[str]] = {}
    queue = [(by_key[k], by_key[k].address) for k in sorted(direct)]
    while queue:
        change, origin = queue.pop()
        for key, waited in _needs(change):
            dep = by_key.get(key)
            if dep is None or key in direct or not _pulls(dep, waited):
                continue
            origins = included.setdefault(key, set())
            if origin not in origins:
                origins.add(origin)
                queue.append((dep, origin))
    changes = tuple(
        replace(c, included_by=tuple(sorted(included[c.key]))) if c.key in included else c
        for c in plan.changes
        if c.key in direct or c.key in included
    )
    kept = {c.address for c in changes}
    unknown = tuple((address, path) for address, path in plan.not_compared
                    if address in kept or any(_covers(t, address) for t in targets))  # fmt: skip
    return replace(plan, changes=changes, targets=tuple(targets), not_compared=unknown)


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
