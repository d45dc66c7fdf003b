"""The plan as a value: what will change, and why. Renderers format it; apply executes it."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any, ClassVar

from seg.engine.graph import PLAN_MAX_CHANGES, PLAN_MAX_NODES, Graph, around
from seg.model.kinds import Kind
from seg.model.paths import AnyPath, format_path
from seg.model.resource import DesiredResource
from seg.model.secrets import REDACTED, is_digest

__all__ = ["Action", "Change", "FieldChange", "Plan", "VersionNote", "fields_after",
           "owner_only_changes", "redact"]

Path = tuple[str, ...]


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    DELETE = "delete"
    REPLACE = "replace"
    BLOCKED = "blocked"

    @property
    def symbol(self) -> str:
        return {"create": "+", "update": "~", "delete": "-", "replace": "-/+", "blocked": "!"}[
            self.value
        ]


@dataclass(frozen=True)
class FieldChange:
    """One managed leaf that differs: ``before`` is the live value, ``after`` the desired."""

    path: Path
    before: Any
    after: Any
    sensitive: bool = False
    # Cleared: sent in the mask without a value (an excluded field set on the server, or a
    # field seg managed that the YAML no longer declares).
    cleared: bool = False
    # Meta: not a field but resource metadata (protect), sent beside the mask.
    meta: bool = False


@dataclass(frozen=True)
class VersionNote:
    """What a change does to a versioned field (a function's code): the file it comes from
    (the diff's name), the version now live (0: none yet) and the one the change makes (0:
    not known, as in ``seg diff`` between revisions), the deploy pin after it (None: latest)
    and the declared instances that run the resource."""

    file: str
    before: int
    after: int
    pinned: int | None = None
    instances: tuple[tuple[str, str], ...] = ()

    @property
    def deploys(self) -> bool:
        """Whether the instances receive the new version (deploy: latest)."""
        return self.pinned is None


@dataclass(frozen=True)
class Change:
    """A change to one resource.

    ``before`` is the live resource (secrets as digests), ``after`` what the YAML declares
    (secrets in clear, so only apply may read it raw; renderers use ``redacted_after``).
    """

    address: str
    kind: Kind
    action: Action
    before: Mapping[str, Any] | None = None
    after: Mapping[str, Any] | None = None
    field_changes: tuple[FieldChange, ...] = ()
    reason: str = ""
    etag: str = ""
    sensitive_paths: frozenset[AnyPath] = frozenset()
    blocked_action: Action | None = None
    # Changes (kind, address) that must be applied before this one (models in use: mappings
    # are disabled before the model they read changes).
    waits_for: tuple[tuple[str, str], ...] = ()
    # Leaf fields set on the server that the YAML does not manage (left alone).
    unmanaged: int = 0
    # A targeted plan: the targets that depend on this change (it was pulled in for them).
    included_by: tuple[str, ...] = ()
    # Declared leaves whose value needs a ${env:…} that is not set (--missing-secrets=skip):
    # neither compared nor sent.
    not_compared: tuple[AnyPath, ...] = ()
    # Adopt: the resource exists and nobody manages it; this change makes it this tree's.
    adopt: bool = False
    # A versioned field (a function's code) that changes: the version it makes, who gets it.
    version: VersionNote | None = None
    desired: DesiredResource | None = field(default=None, compare=False, repr=False)

    @property
    def key(self) -> tuple[str, str]:
        return (self.kind.name, self.address)

    @property
    def only_adopts(self) -> bool:
        """An adoption that changes nothing but the manager."""
        return (self.adopt and self.action is Action.UPDATE
                and all(fc.path == ("manager",) for fc in self.field_changes))  # fmt: skip

    @property
    def update_mask(self) -> tuple[str, ...]:
        if self.action is not Action.UPDATE:
            return ()
        return tuple(
            f"{self.kind.key}.{format_path(fc.path)}" for fc in self.field_changes if not fc.meta
        )

    def redacted_before(self) -> dict[str, Any] | None:
        return None if self.before is None else redact(self.before, frozenset())

    def redacted_after(self) -> dict[str, Any] | None:
        return None if self.after is None else redact(self.after, self.sensitive_paths)


def redact(fields: Mapping[str, Any], sensitive: frozenset[AnyPath]) -> dict[str, Any]:
    """A copy of ``fields`` with every sensitive path and every digest (at any depth, lists
    included) shown as (sensitive)."""

    def walk(value: Any, path: AnyPath) -> Any:
        if path in sensitive or is_digest(value):
            return REDACTED
        if isinstance(value, dict):
            return {k: walk(v, (*path, str(k))) for k, v in value.items()}
        if isinstance(value, list):
            return [walk(v, (*path, i)) for i, v in enumerate(value)]
        return copy.deepcopy(value)

    return {k: walk(v, (k,)) for k, v in fields.items()}


@dataclass(frozen=True)
class Plan:
    """The changes that would make the control plane match the workspace.

    ``changes`` is sorted by (kind order, address) and is what every renderer shows and what
    apply executes; ``workspace_digest`` identifies the YAML it was computed from.
    """

    workspace: str
    changes: tuple[Change, ...]
    workspace_digest: str = ""
    resource_count: int = 0
    # --target: the addresses the plan was narrowed to (what they depend on is included).
    targets: tuple[str, ...] = ()
    # --missing-secrets=skip: the ${env:…} variables that were not set. Such a plan is shown,
    # never applied.
    missing_variables: tuple[str, ...] = ()
    # (address, dotted path) of every declared value that was not compared (its variable is
    # not set), whether or not the resource has a change.
    not_compared: tuple[tuple[str, str], ...] = ()
    # This tree's manager (apply sends it with every write; "" when ownership was not
    # considered, as in ``seg diff``), and the live resources nobody manages that this plan
    # leaves alone, as (kind, address).
    manager: str = ""
    not_managed: tuple[tuple[str, str], ...] = ()
    # The changed resources and every resource one edge away (``engine.graph.neighbourhood``),
    # made with the plan when it has at most PLAN_MAX_CHANGES changes and that picture at
    # most PLAN_MAX_NODES nodes; None otherwise. Views read it through ``drawn``.
    neighbourhood: Graph | None = None

    FORMAT_VERSION: ClassVar[str] = "1.0"

    def count(self, *actions: Action) -> int:
        return sum(1 for c in self.changes if c.action in actions)

    @property
    def to_add(self) -> int:
        return self.count(Action.CREATE, Action.REPLACE)

    @property
    def to_change(self) -> int:
        """Updates, except adoptions that change nothing but the manager."""
        return sum(1 for c in self.changes if c.action is Action.UPDATE and not c.only_adopts)

    @property
    def to_adopt(self) -> int:
        return sum(1 for c in self.changes if c.adopt and c.action is not Action.BLOCKED)

    @property
    def to_destroy(self) -> int:
        return self.count(Action.DELETE, Action.REPLACE)

    @property
    def blocked(self) -> int:
        return self.count(Action.BLOCKED)

    @property
    def has_changes(self) -> bool:
        return bool(self.changes)

    @property
    def applicable(self) -> tuple[Change, ...]:
        return tuple(c for c in self.changes if c.action is not Action.BLOCKED)

    @property
    def drawn(self) -> Graph | None:
        """What a picture of this plan shows: its changes and their direct neighbours (the
        ``neighbourhood`` cut to the changes a targeted or scoped plan kept), or None when
        there is no change, the plan is too large to draw, or a change is not in it."""
        if self.neighbourhood is None or not 0 < len(self.changes) <= PLAN_MAX_CHANGES:
            return None
        keys = {c.key for c in self.changes}
        if not keys <= set(self.neighbourhood.keys):
            return None
        graph = around(self.neighbourhood, keys, 1)
        return graph if len(graph.nodes) <= PLAN_MAX_NODES else None


def owner_only_changes(changes: tuple[Change, ...]) -> list[str]:
    """``Kind address.field`` for each change that sets or changes a field only workspace
    owners may change (``FieldSpec.owner_only``): a create or replace setting it to other
    than its default, an update touching it."""
    out = []
    for change in changes:
        for spec in change.kind.fields:
            if not spec.owner_only:
                continue
            if change.action is Action.UPDATE:
                touched = any(fc.path[:1] == (spec.name,) for fc in change.field_changes)
            elif change.action in (Action.CREATE, Action.REPLACE) and change.after is not None:
                default = change.kind.defaults.get(spec.name, spec.empty)
                touched = spec.name in change.after and change.after[spec.name] != default
            else:
                touched = False
            if touched:
                out.append(f"{change.kind.name} {change.address}.{spec.name}")
    return out


Fields = Mapping[str, Any]


def fields_after(before: Mapping[tuple[str, str], Fields],
                 changes: Iterable[Change]) -> dict[tuple[str, str], Fields]:  # fmt: skip
    """The fields of every resource once ``changes`` are applied to ``before`` (the live
    resources' fields by (kind, address)): a create or replace is what the YAML declares, an
    update the live fields with the declared ones over them, a delete gone; a blocked change
    changes nothing."""
    after = dict(before)
    for change in changes:
        key = (change.kind.name, change.address)
        if change.action is Action.DELETE:
            after.pop(key, None)
        elif change.action in (Action.CREATE, Action.REPLACE) and change.after is not None:
            after[key] = change.after
        elif change.action is Action.UPDATE and change.after is not None:
            after[key] = {**before.get(key, {}), **change.after}
    return after
