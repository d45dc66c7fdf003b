"""The differ: desired resources (YAML) against current ones (control plane) → a Plan.

Only what the YAML declares is managed. A settings key present on the server but absent from
the YAML is left alone and never shown (except in a ``closed`` map, which the YAML declares
whole: there it is cleared); server-computed fields are never compared. An
explicitly empty map or list (``settings: {}``, ``opt: {k: {}}``, ``members: []``) is a
declared value: the server's must be exactly that. Arrays marked ``unordered`` (tracking-plan
rules) are compared as multisets.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Collection, Iterable, Mapping
from typing import Any

from seg.engine.graph import PLAN_MAX_CHANGES, Graph, neighbourhood, without_paths
from seg.engine.guards import guard_models, order_disconnects
from seg.engine.ownership import (
    Claim,
    Ownership,
    adopt,
    blocked_by_owner,
    claim,
    keep_parents,
)
from seg.engine.plan import Action, Change, FieldChange, Plan
from seg.engine.secrets import SecretKey
from seg.engine.versions import annotate_versions
from seg.model.gcpause import without_gc
from seg.model.kinds import Kind
from seg.model.paths import (
    MISSING,
    AnyPath,
    format_path,
    get_path,
    parse_key_path,
    remove_path,
    set_path,
)
from seg.model.resource import CurrentResource, DesiredResource
from seg.model.secrets import DIGEST_PREFIX, LEGACY_PREFIX, holds_digest, is_digest
from seg.model.values import json_equal, same_items
from seg.policy.models import ModelChangePolicy

__all__ = ["compute_plan", "diff_fields"]

Path = tuple[str, ...]
Key = tuple[str, str]
# Whether the live digest at a path stands for the desired value (the server said so).
Matched = Callable[[AnyPath], bool]
_DIGESTS = (DIGEST_PREFIX, LEGACY_PREFIX)  # is_digest, inlined in the hot comparison


def _never(_: AnyPath) -> bool:
    return False


def _equal(after: Any, before: Any, path: AnyPath, matched: Matched) -> bool:
    """``json_equal``, where a live digest (at any depth) equals the value the server matched."""
    if type(after) is str and type(before) is str:  # the common leaf, without the walk
        return matched(path) if before.startswith(_DIGESTS) else after == before
    if is_digest(before):
        return matched(path)
    if isinstance(after, dict) and isinstance(before, dict):
        return after.keys() == before.keys() and all(
            _equal(after[k], before[k], (*path, k), matched) for k in after
        )
    if isinstance(after, list) and isinstance(before, list):
        pairs = enumerate(zip(after, before, strict=False))
        return len(after) == len(before) and all(
            _equal(a, b, (*path, i), matched) for i, (a, b) in pairs
        )
    return json_equal(after, before)


def _holds_secret(path: Path, secrets: Collection[AnyPath]) -> bool:
    """Whether a secret lies at or beneath ``path`` (a list sent whole holds its secrets)."""
    return any(s[: len(path)] == path for s in secrets)


def _leaf(
    path: Path, after: Any, before: Any, secrets: Collection[AnyPath], matched: Matched
) -> FieldChange | None:
    if before is not MISSING and _equal(after, before, path, matched):
        return None
    sensitive = _holds_secret(path, secrets) or holds_digest(before)
    return FieldChange(path, None if before is MISSING else before, after, sensitive)


def _diff_map(
    desired: Mapping[str, Any],
    current: Any,
    path: Path,
    secrets: Collection[AnyPath],
    matched: Matched,
    unknown: Collection[AnyPath] = (),
) -> list[FieldChange]:
    current = current if isinstance(current, dict) else {}
    out: list[FieldChange] = []
    for key, value in desired.items():
        sub = (*path, key)
        before = current.get(key, MISSING)
        if isinstance(value, dict) and value and isinstance(before, dict):
            out += _diff_map(value, before, sub, secrets, matched, unknown)
        elif _holds_secret(sub, unknown):
            continue  # a value whose variable is not set: not compared
        else:  # an empty map replaces the live one whole, secrets included
            fc = _leaf(sub, value, before, secrets, matched)
            if fc is not None:
                out.append(fc)
    return out


def _with_closed(kind: Kind, fields: Mapping[str, Any]) -> dict[str, Any]:
    """``fields`` with each absent closed field (``FieldSpec.closed``) at its default."""
    out = dict(fields)
    for spec in kind.fields:
        if spec.closed and out.get(spec.name) is None:
            out[spec.name] = copy.deepcopy(kind.defaults.get(spec.name, spec.empty))
    return out


def _closed_clears(desired: Mapping[str, Any], current: Any, path: Path) -> list[FieldChange]:
    """Keys of a closed map (``FieldSpec.closed``) set on the server but not declared:
    cleared, at any depth."""
    if not isinstance(current, dict):
        return []
    out: list[FieldChange] = []
    for key in sorted(current, key=str):
        sub, before = (*path, key), current[key]
        if key not in desired:
            out.append(FieldChange(sub, before, None, holds_digest(before), cleared=True))
        elif isinstance(desired[key], dict) and desired[key] and isinstance(before, dict):
            out += _closed_clears(desired[key], before, sub)
    return out


def _exclusive_clears(desired: DesiredResource, current: CurrentResource) -> list[FieldChange]:
    """Declaring one side of an exclusive group clears the other side's fields."""
    return [FieldChange((name,), current.fields[name], None, cleared=True)
            for name in desired.kind.cleared_by(desired.fields)
            if current.fields.get(name) is not None]  # fmt: skip


def _overlaps(path: Path, declared: list[Path]) -> bool:
    return any(d[: len(path)] == path or path[: len(d)] == d for d in declared)


def _overlap_test(declared: list[Path]) -> Callable[[Path], bool]:
    """``_overlaps`` against a fixed ``declared``, by set look-ups (a resource's managed paths
    were each compared with every declared path: quadratic in its settings)."""
    exact = set(declared)
    above = {d[:size] for d in declared for size in range(1, len(d) + 1)}

    def overlaps(path: Path) -> bool:
        return path in above or any(path[:size] in exact for size in range(1, len(path) + 1))

    return overlaps


def _leaf_paths(value: Any, prefix: Path) -> list[Path]:
    """Leaf paths of a nested map; an empty map is a leaf of its own."""
    if not isinstance(value, dict) or not value:
        return [prefix]
    return [p for key, child in value.items() for p in _leaf_paths(child, (*prefix, str(key)))]


def _widest_clear(path: Path, cleared: set[Path], fields: Mapping[str, Any],
                  declared: list[Path]) -> Path:  # fmt: skip
    """The outermost map key above ``path`` (inside its field) that the YAML no longer
    declares and whose every leaf is being cleared: clearing it leaves no empty map behind."""
    for size in range(2, len(path)):
        ancestor = path[:size]
        if _overlaps(ancestor, declared):
            continue
        leaves = _leaf_paths(get_path(fields, ancestor), ancestor)
        if all(any(leaf[: len(c)] == c for c in cleared) for leaf in leaves):
            return ancestor
    return path


def _ownership_changes(desired: DesiredResource, current: CurrentResource) -> list[FieldChange]:
    """Fields seg managed that the YAML no longer declares are cleared (with the maps left
    empty by that); protect follows the YAML."""
    declared = desired.declared_paths()
    overlaps = _overlap_test(declared)
    cleared: set[Path] = set()
    for raw in sorted(current.managed):
        path = parse_key_path(raw)
        if overlaps(path):
            continue
        spec = desired.kind.field(path[0])
        if spec is None or spec.immutable or spec.closed:
            continue  # a closed field is declared whole (diff_fields)
        before = get_path(current.fields, path)
        # a null inside a map is a stored value; a null field is an unset optional one
        if before is not MISSING and (before is not None or len(path) > 1):
            cleared.add(path)
    widest = {_widest_clear(p, cleared, current.fields, declared) for p in cleared}
    out = []
    for path in sorted(widest):
        if any(path[: len(other)] == other for other in widest if other != path):
            continue  # inside another cleared map
        before = get_path(current.fields, path)
        out.append(FieldChange(path, before, None, holds_digest(before), cleared=True))
    if desired.protect != current.protect:
        out.append(FieldChange(("protect",), current.protect, desired.protect, meta=True))
    return out


def count_unmanaged(
    desired: DesiredResource, current: CurrentResource, changes: Iterable[FieldChange] = ()
) -> int:
    """Leaf fields set on the server that the YAML does not declare (and seg leaves alone); a
    closed field is never left alone (not declared: its defaults), so it never counts."""
    declared = desired.declared_paths() + [fc.path for fc in changes]
    probe = DesiredResource(desired.kind, desired.address, current.fields)
    closed = {spec.name for spec in desired.kind.fields if spec.closed}
    return sum(1 for p in probe.declared_paths()
               if p[0] not in closed and not _overlaps(p, declared))  # fmt: skip


def _unchanged(desired: DesiredResource, current: CurrentResource, matched: Matched) -> bool:
    """Whether the walk below would find nothing: each declared field equal to the live one
    (``_equal``), and each closed field left out (``_with_closed``) at its default there.
    One comparison per field instead of the walk's per-leaf bookkeeping: most resources of a
    plan are unchanged (a no-op plan of 100,000 resources). False means "walk", not "changed"."""
    live = current.fields
    closed = _closed_names(desired.kind)
    for name, value in desired.fields.items():
        if value is None and name in closed:
            continue  # at its default: checked below
        before = live.get(name, MISSING)
        if before is MISSING or not _equal(value, before, (name,), matched):
            return False
    for name in closed:
        if desired.fields.get(name) is not None:
            continue
        spec = desired.kind.field(name)
        assert spec is not None
        default = desired.kind.defaults.get(name, spec.empty)
        before = live.get(name, MISSING)
        if isinstance(default, dict) and default and (before is MISSING or before is None):
            continue  # both sides take the default (the walk fills the live side's in too)
        if before is MISSING or not _equal(default, before, (name,), matched):
            return False
    return True


_CLOSED: dict[str, tuple[str, ...]] = {}


def _closed_names(kind: Kind) -> tuple[str, ...]:
    """The kind's closed fields (``FieldSpec.closed``), worked out once per kind."""
    found = _CLOSED.get(kind.name)
    if found is None:
        found = _CLOSED[kind.name] = tuple(s.name for s in kind.fields if s.closed)
    return found


def diff_fields(
    desired: DesiredResource, current: CurrentResource, matched: Matched = _never
) -> list[FieldChange]:
    """Leaf changes over the fields the YAML declares (values whose variable is not set are
    not compared)."""
    out: list[FieldChange] = _exclusive_clears(desired, current)
    if _unchanged(desired, current, matched):
        return out
    unknown = desired.unknown_paths
    for name, value in _with_closed(desired.kind, desired.fields).items():
        spec = desired.kind.field(name)
        before = current.fields.get(name, MISSING)
        if spec is not None and spec.closed and isinstance(value, dict) and value:
            before = _with_closed(desired.kind, current.fields).get(name, MISSING)
            out += _diff_map(value, before, (name,), desired.secret_paths, matched, unknown)
            out += _closed_clears(value, before, (name,))
        elif spec is not None and spec.map_like and isinstance(value, dict) and value:
            out += _diff_map(value, before, (name,), desired.secret_paths, matched, unknown)
        elif _holds_secret((name,), unknown):
            continue
        elif spec is not None and spec.unordered and same_items(value, before):
            continue  # the same items in another order
        else:  # an explicitly empty map or list is a value like any other
            fc = _leaf((name,), value, before, desired.secret_paths, matched)
            if fc is not None:
                out.append(fc)
    return out


def _merged(current: Mapping[str, Any], changes: Iterable[FieldChange]) -> dict[str, Any]:
    result = copy.deepcopy(dict(current))
    for fc in changes:
        if fc.cleared:
            remove_path(result, fc.path)
        else:
            set_path(result, fc.path, fc.after, create=True)
    return result


def _immutable_change(desired: DesiredResource, current: CurrentResource, matched: Matched) -> str:
    """Why the resource must be replaced: an immutable field changes, or an optional
    immutable field (a scope that is absent or set) is set or dropped."""
    for spec in desired.kind.fields:
        if not spec.immutable or desired.is_unknown((spec.name,)):
            continue
        before = current.fields.get(spec.name, MISSING)
        unset = before is MISSING or before is None
        if spec.name not in desired.fields:
            if spec.optional and not unset:
                return f"{spec.name} is immutable (set → absent)"
            continue
        after = desired.fields[spec.name]
        if spec.optional and unset and after is not None:
            return f"{spec.name} is immutable (absent → set)"
        if before is MISSING or _equal(after, before, (spec.name,), matched):
            continue
        if _holds_secret((spec.name,), desired.secret_paths) or holds_digest(before):
            return f"{spec.name} is immutable (the value from the environment differs)"
        return f"{spec.name} is immutable ({before!r} → {after!r})"
    return ""


def _change_for(
    desired: DesiredResource | None,
    current: CurrentResource | None,
    parent_replaced: bool,
    matched: Matched = _never,
) -> Change | None:
    unknown = tuple(sorted(desired.unknown_paths, key=repr)) if desired else ()
    if current is None:
        assert desired is not None
        return Change(desired.address, desired.kind, Action.CREATE, after=dict(desired.fields),
                      sensitive_paths=desired.secret_paths, desired=desired,
                      not_compared=unknown)  # fmt: skip
    if desired is None:
        if current.address in current.kind.system_names:
            return None  # built in (environment labels): never deleted by a plan
        if current.protect:
            reason = ("protected on the control plane (protect: true); declare it with "
                      "protect: false and apply before removing it")  # fmt: skip
            return Change(current.address, current.kind, Action.BLOCKED,
                          before=dict(current.fields), reason=reason, etag=current.etag,
                          blocked_action=Action.DELETE)  # fmt: skip
        return Change(current.address, current.kind, Action.DELETE, before=dict(current.fields),
                      etag=current.etag)  # fmt: skip
    reason = _immutable_change(desired, current, matched)
    if not reason and parent_replaced:
        reason = "its parent is being replaced"
    if reason:
        return Change(desired.address, desired.kind, Action.REPLACE, before=dict(current.fields),
                      after=dict(desired.fields), reason=reason, etag=current.etag,
                      sensitive_paths=desired.secret_paths, desired=desired,
                      not_compared=unknown)  # fmt: skip
    changes = diff_fields(desired, current, matched)
    seen = {fc.path for fc in changes}
    changes += [fc for fc in _ownership_changes(desired, current) if fc.path not in seen]
    if not changes:
        return None
    return Change(desired.address, desired.kind, Action.UPDATE, before=dict(current.fields),
                  after=_merged(current.fields, [c for c in changes if not c.meta]),
                  field_changes=tuple(changes), etag=current.etag,
                  sensitive_paths=desired.secret_paths, desired=desired, not_compared=unknown,
                  unmanaged=count_unmanaged(desired, current, changes))  # fmt: skip


def _protect(change: Change) -> Change:
    desired = change.desired
    if desired is None or not desired.protect or change.action is not Action.REPLACE:
        return change
    reason = f"protected (protect: true) but would be replaced: {change.reason}"
    return Change(change.address, change.kind, Action.BLOCKED, before=change.before,
                  after=change.after, reason=reason, etag=change.etag,
                  sensitive_paths=change.sensitive_paths, blocked_action=change.action,
                  desired=desired)  # fmt: skip


def _owned_change(
    ownership: Ownership,
    desired: DesiredResource | None,
    current: CurrentResource,
    change: Change | None,
) -> Change | None:
    """``change`` (the plain diff of a live resource) under ``ownership`` (engine.ownership)."""
    found = claim(ownership, current)
    if desired is None:
        return change if ownership.may_delete(current) else None
    if found is Claim.NOBODY:
        return adopt(change, desired, current, ownership.manager)
    if found is Claim.OTHER:
        return blocked_by_owner(change, current, ownership.manager)
    return change


def _not_managed(ownership: Ownership | None, want: Collection[Key],
                 have: Mapping[Key, CurrentResource]) -> tuple[Key, ...]:  # fmt: skip
    """Live resources nobody manages that the plan leaves alone (undeclared, kept)."""
    if ownership is None:
        return ()
    return tuple(sorted(
        (key for key, cur in have.items() if key not in want
         and claim(ownership, cur) is Claim.NOBODY and not ownership.may_delete(cur)),
        key=lambda k: (have[k].kind.order, k[1]),
    ))  # fmt: skip


def _neighbourhood(changes: list[Change], want: Mapping[Key, DesiredResource],
                   have: Mapping[Key, CurrentResource]) -> Graph | None:  # fmt: skip
    """The changes and their direct neighbours, as the workspace will be (the live state, with
    each change's fields after it; a deleted or blocked resource as it is now), for the
    markdown comment's picture. Only for a plan of at most PLAN_MAX_CHANGES changes: it
    reads every resource's references once."""
    if not changes or len(changes) > PLAN_MAX_CHANGES:
        return None
    world: dict[Key, Mapping[str, Any]] = {key: res.fields for key, res in want.items()}
    world.update((key, res.fields) for key, res in have.items())
    for change in changes:
        now = change.before if change.action in (Action.DELETE, Action.BLOCKED) else None
        fields = now if now is not None else change.after
        if fields is not None:  # a value from the environment draws no edge (it is secret)
            world[change.key] = without_paths(fields, change.sensitive_paths)
    return neighbourhood([c.key for c in changes], world)


@without_gc
def compute_plan(
    workspace: str,
    desired: Iterable[DesiredResource],
    current: Iterable[CurrentResource],
    digest: str = "",
    policy: ModelChangePolicy = ModelChangePolicy.STRICT,
    secrets_matched: Collection[SecretKey] = frozenset(),
    ownership: Ownership | None = None,
) -> Plan:
    """Everything that must change for ``current`` to match ``desired``.

    ``secrets_matched`` names the secret leaves whose live digest the control plane confirmed
    equal to the local value (``engine.secrets``); any other live digest counts as changed.
    ``ownership`` (seg.yaml's manager) decides what the plan may delete, adopt or must leave
    alone (``engine.ownership``); without it every live resource counts as the tree's — the
    comparison of two states that ``seg diff`` makes."""
    want: dict[Key, DesiredResource] = {(r.kind.name, r.address): r for r in desired}
    have: dict[Key, CurrentResource] = {(r.kind.name, r.address): r for r in current}
    order: dict[Key, tuple[int, str]] = {}
    for key, cur in have.items():
        order[key] = (cur.kind.order, cur.address)
    for key, des in want.items():
        order[key] = (des.kind.order, des.address)
    replaced: set[str] = set()
    changes: list[Change] = []
    for key in sorted(order, key=order.__getitem__):
        parent = key[1].rsplit("/", 1)[0] if "/" in key[1] else None
        kind_name, address = key

        def matched(path: AnyPath, k: str = kind_name, a: str = address) -> bool:
            return (k, a, path) in secrets_matched

        change = _change_for(want.get(key), have.get(key), parent in replaced, matched)
        if ownership is not None and key in have:
            change = _owned_change(ownership, want.get(key), have[key], change)
        if change is None:
            continue
        change = _protect(change)
        if change.action is Action.REPLACE:
            replaced.add(key[1])
        changes.append(change)
    changes = guard_models(changes, want, have, policy)
    changes = keep_parents(changes, have.values())  # after the guard: a model it keeps, too
    changes = order_disconnects(changes, have)
    changes = annotate_versions(changes, want, have)
    unknown = tuple((r.address, format_path(p)) for key in sorted(want, key=order.__getitem__)
                    for r in [want[key]] for p in sorted(r.unknown_paths, key=repr))  # fmt: skip
    return Plan(workspace, tuple(changes), digest, len(want), not_compared=unknown,
                manager=ownership.manager if ownership else "",
                not_managed=_not_managed(ownership, want, have),
                neighbourhood=_neighbourhood(changes, want, have))
