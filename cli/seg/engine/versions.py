"""Versioned fields in a plan (``Kind.versioning``: a function's code): the version a change
makes (``v4 → v5`` from the live ``latest_version``), the deploy pin after it, and the
declared instances that receive it (``Kind.instances`` over the desired workspace). Pure;
no kind is named here."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace
from typing import Any

from seg.catalog import Catalog
from seg.engine.plan import Action, Change, VersionNote
from seg.kinds.lookup import IndexLookup
from seg.model.kinds import Kind
from seg.model.resource import CurrentResource, DesiredResource

__all__ = ["annotate_versions", "diff_file", "pinned_version"]

Key = tuple[str, str]
_NEW = (Action.CREATE, Action.REPLACE)


def pinned_version(kind: Kind, fields: Mapping[str, Any] | None) -> int | None:
    """The version a deploy field pins, or None for ``latest`` (and when absent)."""
    if kind.versioning is None or fields is None:
        return None
    value = fields.get(kind.versioning.deploy_field)
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    return None


def diff_file(kind: Kind, address: str, desired: DesiredResource | None) -> str:
    """The file a versioned field's diff names: the declared ``*_file`` it was read from, else
    where ``seg export`` writes it (``functions/<name>.js``)."""
    assert kind.versioning is not None
    spec = kind.field(kind.versioning.field)
    suffix = spec.export_suffix if spec is not None and spec.export_suffix else "txt"
    for attached in desired.attachments if desired is not None else ():
        if attached.endswith(f".{suffix}"):
            return attached
    return f"{kind.collection}/{address.replace('/', '-')}.{suffix}"


def _changes_field(change: Change, field: str) -> bool:
    if change.action in _NEW:
        return True
    return change.action is Action.UPDATE and any(fc.path == (field,) and not fc.meta
                                                  for fc in change.field_changes)  # fmt: skip


def _note(change: Change, live: CurrentResource | None, lookup: IndexLookup) -> VersionNote:
    kind = change.kind
    before = 0 if change.action in _NEW or live is None else live.latest_version
    # a live resource whose versions are not known (seg diff between revisions): no numbers
    after = 0 if change.action is Action.UPDATE and before == 0 else before + 1
    instances = tuple(kind.instances(change.address, lookup)) if kind.instances else ()
    return VersionNote(diff_file(kind, change.address, change.desired), before, after,
                       pinned_version(kind, change.after), instances)  # fmt: skip


def annotate_versions(changes: list[Change], want: Mapping[Key, DesiredResource],
                      have: Mapping[Key, CurrentResource]) -> list[Change]:  # fmt: skip
    """``changes`` with a ``VersionNote`` on each create, replace or update that sets a
    versioned field (a blocked change shows none: it makes no version)."""
    if not any(c.kind.versioning is not None for c in changes):
        return changes
    # the instances hook reads only the declared fields: no catalog (and no file) is needed
    lookup = IndexLookup({key: r.fields for key, r in want.items()}, Catalog())
    out = []
    for change in changes:
        versioning = change.kind.versioning
        if versioning is not None and _changes_field(change, versioning.field):
            change = replace(change, version=_note(change, have.get(change.key), lookup))
        out.append(change)
    return out
