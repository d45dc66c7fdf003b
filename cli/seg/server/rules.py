"""The control plane's adapter of the kinds' rules, checked inside the write's transaction.

Generic rules (names, parents, masks, schemas) live in ``service``. Here: references that
must exist (generic, from ``FieldSpec.ref`` and the kind's ``references`` hook), limits on
one call's payload, and each kind's own rules (``Kind.rules``, ``value_rules``,
``delete_rules``) — the same pure functions ``seg validate`` runs — over a ``Lookup`` of the
transaction, the subject's new value overlaid. A violation becomes the domain error its code
names, with the rule's message.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from typing import Any

from seg.catalog import Catalog
from seg.kinds import KINDS
from seg.kinds.catalogs import secret_paths
from seg.kinds.lookup import IndexLookup
from seg.kinds.names import parse_resource_name, resource_name
from seg.model.kinds import AnyPath, Code, Kind, Lookup, Rule, Subject, Violation, only_warns
from seg.model.paths import parse_path
from seg.policy.models import ModelChangePolicy
from seg.server import errors
from seg.server.private_catalog import workspace_catalog
from seg.store.base import ResourceRecord, StoreTx

__all__ = [
    "TxLookup",
    "check_call_limits",
    "check_delete",
    "check_expressions",
    "check_write",
    "raise_first",
]

_ERRORS: dict[Code, type[errors.DomainError]] = {
    Code.INVALID_ARGUMENT: errors.InvalidArgument,
    Code.NOT_FOUND: errors.NotFound,
    Code.FAILED_PRECONDITION: errors.FailedPrecondition,
    Code.ALREADY_EXISTS: errors.AlreadyExists,
}
_PAGE = 500
Entry = tuple[str, Mapping[str, Any]]


def _address(name: str) -> str:
    return parse_resource_name(name)[2]


def _as_address(value: Any) -> Any:
    try:
        return _address(value) if isinstance(value, str) else value
    except ValueError:
        return value  # not a resource name: left as written (the reference check refuses it)


def normalised(kind: Kind, data: Mapping[str, Any]) -> dict[str, Any]:
    """Stored fields as rules see them: reference fields hold addresses, as in a workspace."""
    out = dict(data)
    for spec in kind.fields:
        if spec.ref and spec.name in out:
            out[spec.name] = _as_address(out[spec.name])
    return out


class TxLookup:
    """The workspace's resources inside one transaction; ``subject`` (kind name, address,
    fields) stands in for the stored row of the resource being written."""

    def __init__(self, tx: StoreTx, workspace: str,
                 subject: tuple[str, str, Mapping[str, Any]] | None = None) -> None:  # fmt: skip
        self._tx, self._workspace, self._subject = tx, workspace, subject
        self._catalog: Catalog | None = None

    def _overlay(self, kind_name: str, rows: Iterable[ResourceRecord],
                 fits: Callable[[str], bool]) -> Iterator[Entry]:  # fmt: skip
        kind, seen = KINDS[kind_name], False
        mine = self._subject if self._subject and self._subject[0] == kind_name else None
        for row in rows:
            address = _address(row.name)
            if mine is not None and address == mine[1]:
                seen = True
                yield address, mine[2]
            else:
                yield address, normalised(kind, row.data)
        if mine is not None and not seen and fits(mine[1]):
            yield mine[1], mine[2]

    def _rows(self, kind_name: str, parent: str | None) -> Iterator[ResourceRecord]:
        after: str | None = None
        while True:
            rows = self._tx.list_resources(self._workspace, kind_name, parent, after, _PAGE)
            yield from rows
            if len(rows) < _PAGE:
                return
            after = rows[-1].name

    @property
    def catalog(self) -> Catalog:
        """The built-in catalog and the workspace's private entries (read once, when first
        asked for)."""
        if self._catalog is None:
            self._catalog = workspace_catalog(self._tx, self._workspace)
        return self._catalog

    @property
    def dbt(self) -> None:
        """The control plane never sees a dbt project."""
        return None

    @property
    def plan_tier(self) -> str | None:
        """The workspace's plan tier, from its row (None if it is gone)."""
        ws = self._tx.get_workspace(self._workspace)
        return ws.plan_tier if ws is not None else None

    def get(self, kind_name: str, address: str) -> Mapping[str, Any] | None:
        if self._subject and self._subject[:2] == (kind_name, address):
            return self._subject[2]
        kind = KINDS[kind_name]
        try:
            row = self._tx.get_resource(resource_name(self._workspace, kind, address))
        except ValueError:
            return None  # an address that does not fit the kind names nothing
        return normalised(kind, row.data) if row is not None else None

    def under(self, kind_name: str, parent_address: str) -> list[tuple[str, Mapping[str, Any]]]:
        parent_kind = KINDS[kind_name].parent_kind
        assert parent_kind is not None
        parent = resource_name(self._workspace, parent_kind, parent_address)
        rows = self._rows(kind_name, parent)
        return list(self._overlay(kind_name, rows,
                                  lambda a: a.rsplit("/", 1)[0] == parent_address))  # fmt: skip

    def every(self, kind_name: str) -> Iterable[tuple[str, Mapping[str, Any]]]:
        return self._overlay(kind_name, self._rows(kind_name, None), lambda _a: True)


def raise_first(rules: Iterable[Rule], subject: Subject, lookup: Lookup) -> None:
    """Raise the domain error of the first violation (rules run in the kind's order);
    warnings refuse nothing (and rules that only warn are not run)."""
    for rule in rules:
        if only_warns(rule):
            continue
        found: list[Violation] = [v for v in rule(subject, lookup) if not v.warning]
        if found:
            raise _ERRORS[found[0].code](found[0].message)


def _secret_paths(paths: Iterable[str]) -> frozenset[tuple[str | int, ...]]:
    out = set()
    for text in paths:
        try:
            out.add(parse_path(text))
        except ValueError:
            continue
    return frozenset(out)


def check_expressions(kind: Kind, data: dict[str, Any], secret_paths: list[str]) -> None:
    """The kind's rules on clear values (FQL must parse); run before secrets are sealed, and
    never echoing a secret value."""
    if kind.value_rules:
        subject = Subject(kind, "", data, secret_paths=_secret_paths(secret_paths))
        raise_first(kind.value_rules, subject, IndexLookup({}))  # no others: values alone


def check_call_limits(kind: Kind, obj: dict[str, Any]) -> None:
    """Limits on one call's payload (a tracking plan may hold more rules than one call)."""
    for spec in kind.fields:
        value = obj.get(spec.name)
        if spec.max_per_call is not None and isinstance(value, list):
            if len(value) > spec.max_per_call:
                raise errors.InvalidArgument(
                    f"{spec.name} must contain less than or equal to {spec.max_per_call} items"
                )


def _check_field_refs(tx: StoreTx, workspace: str, kind: Kind, name: str,
                      data: dict[str, Any]) -> None:  # fmt: skip
    """A reference field holds the full name of a resource that exists; one to a nested kind
    (a mapping's model) must lie under the same ancestor (the mapping's source)."""
    for spec in kind.fields:
        value = data.get(spec.name)
        if not (spec.ref and value):
            continue
        target = KINDS[spec.ref]
        depth = 2 * len(target.chain())  # workspaces/<ws>/<collection>/<slug>… of its owner
        owner = "/".join(name.split("/")[:depth]) if target.parent_kind else ""
        if owner and not str(value).startswith(f"{owner}/{target.collection}/"):
            raise errors.InvalidArgument(
                f"{kind.key}.{spec.name} must be a {target.noun} of {owner}"
            )
        prefix = f"workspaces/{workspace}/{target.collection}/"
        if (not owner and not str(value).startswith(prefix)) or tx.get_resource(str(value)) is None:
            raise errors.NotFound(f"{target.noun} {value} not found")


def _check_named_refs(tx: StoreTx, workspace: str, kind: Kind, data: dict[str, Any]) -> None:
    """What the kind's ``references`` hook names (labels, a binding's group and sources)
    must exist."""
    for ref_kind, address, path in kind.references(data):
        target = KINDS[ref_kind]
        try:
            found = tx.get_resource(resource_name(workspace, target, address))
        except ValueError:
            found = None
        if found is None:
            where = ".".join([kind.key, *path])
            raise errors.InvalidArgument(f"{where}: {target.noun} {address!r} does not exist")


def catalog_secrets(tx: StoreTx, kind: Kind, name: str, data: Mapping[str, Any]
                    ) -> set[AnyPath]:  # fmt: skip
    """The paths of ``data`` that are secret whatever the client declared: its
    ``FieldSpec.secret`` fields and the settings its catalog entry marks secret (the entry of
    a function instance is its function's settings schema, read in this transaction)."""
    if kind.catalog_section is None and not any(spec.secret for spec in kind.fields):
        return set()
    workspace, address = name.split("/")[1], _address(name)
    fields = normalised(kind, dict(data))
    return secret_paths(kind, fields, TxLookup(tx, workspace, (kind.name, address, fields)))


def check_write(
    tx: StoreTx, kind: Kind, policy: ModelChangePolicy, name: str, data: dict[str, Any],
    old: ResourceRecord | None,
) -> None:  # fmt: skip
    """Raise a DomainError if creating (``old`` None) or updating ``name`` to ``data``
    breaks a rule."""
    workspace = name.split("/")[1]
    _check_field_refs(tx, workspace, kind, name, data)
    _check_named_refs(tx, workspace, kind, data)
    address = _address(name)
    fields = normalised(kind, data)
    before = normalised(kind, old.data) if old is not None else None
    subject = Subject(kind, address, fields, before, policy=policy)
    raise_first(kind.rules, subject, TxLookup(tx, workspace, (kind.name, address, fields)))


def check_delete(
    tx: StoreTx, kind: Kind, policy: ModelChangePolicy, rec: ResourceRecord,
    visible: Callable[[str, str], bool] = lambda _kind, _address: True,
) -> None:  # fmt: skip
    """Raise a DomainError if deleting ``rec`` breaks a rule (it is still in use); the
    message names only what ``visible`` (the caller may read) allows."""
    fields = normalised(kind, rec.data)
    subject = Subject(kind, _address(rec.name), fields, fields, policy=policy, visible=visible)
    raise_first(kind.delete_rules, subject, TxLookup(tx, rec.workspace))
