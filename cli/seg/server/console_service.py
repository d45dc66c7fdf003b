"""What the web console reads that no single API call answers: every resource of a workspace
at once (searched and filtered), one resource with its secrets as "set"/"not set", its
children and what refers to it, and the sign-in of a console session. Each answer goes
through the same access checks as the API: a user-bound token sees only what its user may
read."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from seg.kinds import kinds_in_order
from seg.kinds.names import resource_name
from seg.kinds.refs import references
from seg.kinds.source import KIND as SOURCE
from seg.model.kinds import Kind
from seg.model.paths import MISSING, get_path, parse_path, set_path
from seg.model.secrets import is_digest
from seg.policy.access import is_owner
from seg.server import errors
from seg.server.access_service import AccessService, Caller
from seg.server.core import Action, Need, Principal, address_of
from seg.store.base import ResourceRecord, Store, StoreTx

__all__ = [
    "MAX_LISTED",
    "SECRET_NOT_SET",
    "SECRET_SET",
    "ConsoleService",
    "ResourceDetail",
    "ResourceFilter",
    "ResourceRow",
]

SECRET_SET = "set"  # a secret's value as the console shows it: never the value, nor a digest
SECRET_NOT_SET = "not set"
MAX_LISTED = 1000  # the rows of one search (then "narrow the search")
_BATCH = 500  # rows read per store call while scanning a workspace


@dataclass(frozen=True)
class ResourceFilter:
    """A search of the resource browser: text in the address or display name, one kind (its
    key), one source (its slug: the source and what lives under it or refers to it), one label
    (``key`` or ``key:value``), managed by seg or not (None: both)."""

    text: str = ""
    kind: str = ""
    source: str = ""
    label: str = ""
    managed: bool | None = None


@dataclass(frozen=True)
class ResourceRow:
    kind: Kind
    address: str
    display_name: str
    manager: str
    update_time: str


@dataclass(frozen=True)
class ResourceDetail:
    """One resource for its page: its fields with secrets replaced (``SECRET_SET``, and the
    secret paths without a value listed in ``unset_secrets``), ownership, and its neighbours
    as (kind, address, field) triples the caller may read."""

    kind: Kind
    address: str
    name: str
    fields: dict[str, Any]
    set_secrets: list[str]
    unset_secrets: list[str]
    manager: str
    protect: bool
    managed_paths: list[str]
    create_time: str
    update_time: str
    etag: str
    parent: tuple[Kind, str] | None = None
    children: list[tuple[Kind, str]] = field(default_factory=list)
    refers_to: list[tuple[str, str, str]] = field(default_factory=list)
    referred_by: list[tuple[str, str, str]] = field(default_factory=list)


class ConsoleService:
    def __init__(self, store: Store, access: AccessService) -> None:
        self.store = store
        self.access = access

    def capabilities(self, principal: Principal, workspace: str) -> dict[str, Any]:
        """What the signed-in token may do: read always; write with a write or owner scope
        (and, for a user-bound token, only where its roles allow); owner actions (release
        another's lock, manage tokens) with the owner scope and, bound to a user, the
        workspace_owner role."""
        caller = self.access.caller(principal, workspace, Need.READ)
        access = caller.access()
        scope = principal.scope
        writes = scope in ("workspace:write", "workspace:owner")
        return {
            "scope": scope,
            "user": principal.user,
            "roles": sorted(access["workspace_roles"]) if access else [],
            # the sources it holds a role on (never the names of the others)
            "source_roles": {s: sorted(r) for s, r in sorted(access["sources"].items()) if r}
            if access else {},
            "read": True,
            "write": writes and caller.may_write_anything(),
            "owner": scope == "workspace:owner" and (access is None or is_owner(access)),
            "limited": access is not None,
        }  # fmt: skip

    def resources(self, principal: Principal, workspace: str, search: ResourceFilter,
                  ) -> tuple[list[ResourceRow], bool]:  # fmt: skip
        """The resources matching ``search`` that the caller may read, by kind then address;
        and whether more than ``MAX_LISTED`` matched (only the first are returned)."""
        text = search.text.strip().lower()
        rows: list[ResourceRow] = []
        for kind, rec in self._readable(principal, workspace, search.kind):
            if not _matches(kind, rec, search, text):
                continue
            if len(rows) == MAX_LISTED:
                return rows, True
            rows.append(ResourceRow(kind, address_of(rec.name), _display(rec), rec.manager,
                                    rec.update_time))  # fmt: skip
        return rows, False

    def counts(self, principal: Principal, workspace: str) -> dict[str, int]:
        """How many resources of each kind the caller may read (kinds with none left out)."""
        out: dict[str, int] = {}
        for kind, _ in self._readable(principal, workspace):
            out[kind.name] = out.get(kind.name, 0) + 1
        return out

    def graph_resources(self, principal: Principal, workspace: str
                        ) -> dict[tuple[str, str], dict[str, Any]]:  # fmt: skip
        """Every readable resource's fields by (kind, address), secrets replaced: what the
        console's graph is drawn from."""
        return {(kind.name, address_of(rec.name)): _shown_fields(rec)[0]
                for kind, rec in self._readable(principal, workspace)}  # fmt: skip

    def _readable(self, principal: Principal, workspace: str, kind_key: str = ""
                  ) -> Iterator[tuple[Kind, ResourceRecord]]:  # fmt: skip
        """The resources of the workspace (of one kind, by its key) the caller may read, in
        one transaction."""
        caller = self.access.caller(principal, workspace, Need.READ)
        with self.store.tx() as tx:
            for kind, rec in _scan(tx, workspace, kind_key):
                if caller.readable(rec.name, tx):
                    yield kind, rec

    def resource(self, principal: Principal, workspace: str, kind: Kind, address: str
                 ) -> ResourceDetail:  # fmt: skip
        caller = self.access.caller(principal, workspace, Need.READ)
        caller.check(kind.name, address, Action.READ)
        try:
            name = resource_name(workspace, kind, address)
        except ValueError:
            raise errors.NotFound(f"no {kind.name} at {address!r}") from None
        with self.store.tx() as tx:
            rec = tx.get_resource(name)
            if rec is None or rec.kind != kind.name:
                raise errors.NotFound(f"{name} not found")
            shown, unset = _shown_fields(rec)
            held = [raw for raw in rec.secret_paths if raw not in unset]
            children = self._children(tx, caller, rec)
            refers_to = [(k, a, ".".join(map(str, at)))
                         for k, a, at in references(kind.name, rec.data)
                         if caller.may_read(k, a, tx)]  # fmt: skip
            referred_by = self._referred_by(tx, caller, workspace, kind, address)
        return ResourceDetail(
            kind, address, name, shown, held, unset, rec.manager, rec.protect,
            list(rec.managed_paths), rec.create_time, rec.update_time, rec.etag,
            (kind.parent_kind, address.rsplit("/", 1)[0]) if kind.parent_kind else None,
            children, refers_to, referred_by,
        )  # fmt: skip

    def _children(self, tx: StoreTx, caller: Caller, rec: ResourceRecord
                  ) -> list[tuple[Kind, str]]:  # fmt: skip
        out = []
        for kind in kinds_in_order():
            if kind.parent_kind is None or kind.parent_kind.name != rec.kind:
                continue
            for child in tx.list_resources(rec.workspace, kind.name, rec.name, None, MAX_LISTED):
                if caller.readable(child.name, tx):
                    out.append((kind, address_of(child.name)))
        return out

    def _referred_by(self, tx: StoreTx, caller: Caller, workspace: str, kind: Kind,
                     address: str) -> list[tuple[str, str, str]]:  # fmt: skip
        out = []
        for other, rec in _scan(tx, workspace, ""):
            for ref_kind, ref_address, at in references(other.name, rec.data):
                if (ref_kind, ref_address) == (kind.name, address) and caller.readable(
                        rec.name, tx):  # fmt: skip
                    out.append((other.name, address_of(rec.name), ".".join(map(str, at))))
        return out


def _scan(tx: StoreTx, workspace: str, kind_key: str) -> Iterator[tuple[Kind, ResourceRecord]]:
    """Every resource of the workspace (of one kind, by its key, when given), in batches."""
    for kind in kinds_in_order():
        if kind_key and kind.key != kind_key:
            continue
        after: str | None = None
        while True:
            batch = tx.list_resources(workspace, kind.name, None, after, _BATCH)
            yield from ((kind, rec) for rec in batch)
            if len(batch) < _BATCH:
                break
            after = batch[-1].name


def _display(rec: ResourceRecord) -> str:
    """The resource's display name (or name field); never a secret's digest."""
    for key in ("display_name", "name"):
        value = rec.data.get(key)
        if isinstance(value, str) and value and key not in rec.secret_paths \
                and not is_digest(value):  # fmt: skip
            return value
    return ""


def _matches(kind: Kind, rec: ResourceRecord, search: ResourceFilter, text: str) -> bool:
    address = address_of(rec.name)
    if text and text not in address.lower() and text not in _display(rec).lower():
        return False
    if search.managed is not None and bool(rec.manager) != search.managed:
        return False
    if search.source and not _in_source(kind, rec, address, search.source):
        return False
    if search.label:
        labels = rec.data.get("labels")
        key, _, value = search.label.partition(":")
        if not isinstance(labels, dict) or key not in labels:
            return False
        if value and str(labels[key]) != value:
            return False
    return True


def _in_source(kind: Kind, rec: ResourceRecord, address: str, source: str) -> bool:
    """The source itself, what lives under it, and what refers to it."""
    if kind.chain()[0] is SOURCE and address.split("/", 1)[0] == source:
        return True
    return any(k == SOURCE.name and a == source for k, a, _ in references(kind.name, rec.data))


def _shown_fields(rec: ResourceRecord) -> tuple[dict[str, Any], list[str]]:
    """The record's fields with every secret replaced by ``SECRET_SET``, and the secret paths
    that hold no value."""
    data = copy.deepcopy(rec.data)
    data.pop("external_id", None)
    unset = []
    for raw in rec.secret_paths:
        path = parse_path(raw)
        if get_path(data, path) is MISSING:
            unset.append(raw)
        else:
            set_path(data, path, SECRET_SET)
    return data, unset
