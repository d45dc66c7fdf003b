"""Models in use, in the plan: block a model change that would break an active mapping
(SPEC §7), and order the changes so that mappings are disabled before their model changes.

"Active" here means active now and still active after the plan: a change set that disables
or removes the mappings releases the model.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any

from seg.engine.plan import Action, Change
from seg.kinds import KINDS
from seg.kinds.lookup import IndexLookup
from seg.kinds.model import MAPPING, SOURCE, model_state, uses
from seg.kinds.model import NAME as MODEL
from seg.kinds.refs import references
from seg.model.resource import CurrentResource, DesiredResource
from seg.policy.models import (
    MappingUse,
    ModelChangePolicy,
    ModelState,
    Verdict,
    judge_model_change,
)

__all__ = ["guard_models", "mapping_states", "order_disconnects", "uses_of"]

Key = tuple[str, str]
State = dict[Key, dict[str, Any]]


def _after(key: Key, want: Mapping[Key, DesiredResource], have: Mapping[Key, CurrentResource],
           ) -> dict[str, Any] | None:  # fmt: skip
    if key not in want:
        return None
    kind, declared = KINDS[key[0]], want[key].fields
    base = dict(have[key].fields) if key in have else dict(kind.defaults)
    # declaring one side of an exclusive group clears the other (as engine.diff does): a
    # model switched from a dbt model to a query no longer reads the dbt model
    for name in kind.cleared_by(declared):
        base.pop(name, None)
    return {**base, **declared}


def mapping_states(want: Mapping[Key, DesiredResource], have: Mapping[Key, CurrentResource]
            ) -> tuple[State, State]:  # fmt: skip
    kinds = (MAPPING, KINDS[MAPPING].parent)
    before = {k: dict(r.fields) for k, r in have.items() if k[0] in kinds}
    after: State = {}
    for key in {*want, *have}:
        if key[0] in kinds:
            fields = _after(key, want, have)
            if fields is not None:
                after[key] = fields
    return before, after


def _model(address: str, fields: Mapping[str, Any] | None, catalog: str | None
           ) -> ModelState | None:  # fmt: skip
    return None if fields is None else model_state(address, fields, catalog)


def _catalog(address: str, want: Mapping[Key, DesiredResource],
             have: Mapping[Key, CurrentResource]) -> str | None:  # fmt: skip
    key = (SOURCE, address.split("/", 1)[0])
    source = have.get(key) or want.get(key)
    return str(source.fields.get("catalog")) if source else None


def uses_of(state: State, model: str) -> dict[str, MappingUse]:
    """The model's active uses in a state (``seg.kinds.model.uses``, the one assembly)."""
    return {u.address: u for u in uses(IndexLookup(state), model)}


def _order_edges(related: Iterable[Change], before: State, after: State, model: str
                 ) -> tuple[list[Key], list[Key]]:  # fmt: skip
    """(mapping changes the model change waits for, mapping changes that wait for it)."""
    first, then = [], []
    for mapping in related:
        was = before.get(mapping.key, {})
        now = after.get(mapping.key, {})
        active_before = was.get("model") == model and bool(was.get("enabled"))
        active_after = now.get("model") == model and bool(now.get("enabled"))
        if active_before and (not active_after or was.get("fields") != now.get("fields")):
            first.append(mapping.key)
        elif active_after and not active_before:
            then.append(mapping.key)
    return first, then


def _judge(change: Change, want: Mapping[Key, DesiredResource],
           have: Mapping[Key, CurrentResource], before: State, after: State,
           policy: ModelChangePolicy,
           ) -> Verdict:  # fmt: skip
    """Active now and still active after the plan: those mappings decide."""
    catalog = _catalog(change.address, want, have)
    old = _model(change.address, have[change.key].fields, catalog)
    assert old is not None
    gone = change.action in (Action.DELETE, Action.REPLACE)
    new = None if gone else _model(change.address, _after(change.key, want, have), catalog)
    still = uses_of(after, change.address)
    uses = [still[a] for a in uses_of(before, change.address) if a in still]
    return judge_model_change(policy, old, new, uses)


def order_disconnects(changes: list[Change], have: Mapping[Key, CurrentResource]) -> list[Change]:
    """Deleting a referenced resource (a tracking plan) waits for the changes that stop
    referring to it (sources updated, replaced or deleted)."""
    referrers: dict[Key, list[Key]] = {}
    for change in changes:
        current = have.get(change.key)
        if current is None or change.action is Action.BLOCKED:
            continue
        for kind, address, _ in references(change.kind.name, current.fields):
            referrers.setdefault((kind, address), []).append(change.key)
    out = []
    for change in changes:
        if change.action in (Action.DELETE, Action.REPLACE) and change.key in referrers:
            change = replace(change, waits_for=(*change.waits_for, *referrers[change.key]))
        out.append(change)
    return out


def guard_models(
    changes: list[Change],
    want: Mapping[Key, DesiredResource],
    have: Mapping[Key, CurrentResource],
    policy: ModelChangePolicy,
) -> list[Change]:
    """Block model changes that break active mappings; add ordering edges for the rest."""
    if not any(c.kind.name == MODEL for c in changes):
        return changes
    before, after = mapping_states(want, have)
    mappings = [c for c in changes if c.kind.name == MAPPING]
    extra_waits: dict[Key, list[Key]] = {}
    out: dict[Key, Change] = {}
    for change in changes:
        if change.kind.name != MODEL or change.key not in have:
            continue
        if change.action is Action.BLOCKED:
            continue
        verdict = _judge(change, want, have, before, after, policy)
        if verdict.blocked:
            out[change.key] = replace(change, action=Action.BLOCKED, reason=verdict.message,
                                      blocked_action=change.action)  # fmt: skip
            continue
        first, then = _order_edges(mappings, before, after, change.address)
        out[change.key] = replace(change, waits_for=tuple(first))
        for mapping_key in then:
            extra_waits.setdefault(mapping_key, []).append(change.key)
    result = []
    for change in changes:
        change = out.get(change.key, change)
        if change.key in extra_waits:
            change = replace(change, waits_for=(*change.waits_for, *extra_waits[change.key]))
        result.append(change)
    return result
