"""Resources of every kind: list, get, create, update (by mask), delete, and comparing
submitted values with sealed secrets."""

from __future__ import annotations

import secrets
from dataclasses import replace
from typing import Any

from seg.kinds.names import collection_name, parse_resource_name, resource_name
from seg.model.kinds import AnyPath, Kind
from seg.model.paths import MISSING, format_path, get_path, parse_path
from seg.model.secrets import follow_moved, is_digest
from seg.model.values import json_equal
from seg.server import errors, pages
from seg.server.access_service import AccessService
from seg.server.audit import COMPARED, AuditLog
from seg.server.bodies import declared_secrets, mask_paths, new_name, ownership, resource_object
from seg.server.clock import Clock
from seg.server.compare import answer, read_questions
from seg.server.core import (
    Action,
    Conflict,
    Need,
    Page,
    Principal,
    address_of,
    get_for_write,
    policy_of,
    run_write,
)
from seg.server.crypto import SecretBox
from seg.server.lock_service import LockService
from seg.server.masks import MaskError, apply_update_mask, field_path
from seg.server.resources import compute_etag, public_view, seal_secrets, secret_paths_for
from seg.server.rules import (
    catalog_secrets,
    check_call_limits,
    check_delete,
    check_expressions,
    check_write,
)
from seg.server.validation import FieldChecker
from seg.server.versions import advance, check_deploy, delete_versions
from seg.store.base import (
    AlreadyExistsError,
    MissingReferenceError,
    ResourceRecord,
    StillReferencedError,
    Store,
    StoreTx,
)

__all__ = ["ResourceService"]


class ResourceService:
    def __init__(self, store: Store, clock: Clock, box: SecretBox, access: AccessService,
                 audit: AuditLog, locks: LockService, fields: FieldChecker) -> None:  # fmt: skip
        self.store = store
        self.clock = clock
        self.box = box
        self.access = access
        self.audit = audit
        self.locks = locks
        self.fields = fields

    def list_resources(self, principal: Principal, workspace: str, kind: Kind,
                       parent: str | None, page_size: str | None, page_token: str | None
                       ) -> Page:  # fmt: skip
        """List ``kind`` under ``parent`` (an address, or None for the ``-`` wildcard).

        A user-bound token sees only what its user may read: hidden rows are skipped while the
        page is filled, and the page token names the last row it showed, so neither the items
        nor the token reveal a hidden name. Listing under a parent it may not read is refused,
        whether the parent exists or not."""
        caller = self.access.caller(principal, workspace, Need.READ)
        size = pages.page_size(page_size)
        after = pages.decode_page_token(page_token, kind.name)
        parent_name = None
        if parent is not None:
            assert kind.parent_kind is not None
            caller.check(kind.parent_kind.name, parent, Action.READ)
            parent_name = resource_name(workspace, kind.parent_kind, parent)
        shown: list[ResourceRecord] = []
        with self.store.tx() as tx:
            if parent_name is not None and tx.get_resource(parent_name) is None:
                raise errors.NotFound(f"{parent_name} not found")
            while True:
                rows = tx.list_resources(workspace, kind.name, parent_name, after, size + 1)
                more = len(rows) > size
                rows = rows[:size]
                shown += [r for r in rows if caller.readable(r.name, tx)]
                if len(shown) >= size or not more:
                    break
                after = rows[-1].name
        more = more or len(shown) > size
        shown = shown[:size]
        token = pages.encode_page_token(shown[-1].name, kind.name) if more and shown else ""
        return Page([public_view(kind, r, self.box) for r in shown], token)

    def get(self, principal: Principal, workspace: str, kind: Kind, address: str
            ) -> dict[str, Any]:  # fmt: skip
        caller = self.access.caller(principal, workspace, Need.READ)
        caller.check(kind.name, address, Action.READ)
        name = resource_name(workspace, kind, address)
        with self.store.tx() as tx:
            rec = tx.get_resource(name)
        if rec is None:
            raise errors.NotFound(f"{name} not found")
        return public_view(kind, rec, self.box)

    def create(self, principal: Principal, workspace: str, kind: Kind, parent: str | None,
               body: dict[str, Any]) -> dict[str, Any]:  # fmt: skip
        caller = self.access.caller(principal, workspace, _need(kind))
        obj = dict(resource_object(kind, body))
        collection = collection_name(workspace, kind, parent)
        external_id = obj.pop("external_id", None)
        name = new_name(kind, collection, obj.get("name"), external_id)
        caller.check(kind.name, address_of(name), Action.CREATE)
        check_call_limits(kind, obj)
        parent_name = collection.rsplit("/", 1)[0] if parent is not None else None
        declared = declared_secrets(kind, body)
        data = self.fields.new_fields(kind, obj, parent_name, declared)
        declared = _followed(obj, data, declared)  # normalize may move a declared secret
        caller.check_owner_fields(kind, _set_fields(kind, data))
        caller.check_refs(kind, data, {})
        if external_id is not None:
            data["external_id"] = external_id
        with self.store.tx() as tx:
            tx.lock_workspace(workspace)  # the rules see every write committed before (no skew)
            self.locks.check(tx, caller, Action.CREATE, name)
            if parent_name is not None and tx.get_resource(parent_name) is None:
                raise errors.NotFound(f"{parent_name} not found")
            if tx.get_resource(name) is not None:
                raise errors.AlreadyExists(f"{name} already exists")
            rec = self._new_record(kind, name, workspace, parent_name, data, declared, body,
                                   catalog_secrets(tx, kind, name, data))  # fmt: skip
            rec = replace(rec, creator=caller.identity)
            check_write(tx, kind, policy_of(tx, workspace), name, rec.data, None)
            rec, versions = advance(kind, None, rec, principal.token_id, rec.create_time)
            check_deploy(kind, rec)
            _insert(tx, rec)
            for version in versions:
                tx.insert_version(version)
            meta = ["manager"] if rec.manager else []
            self.audit.record(tx, principal, Action.CREATE, name,
                              [f"{kind.key}.{k}" for k in sorted(rec.data)] + meta,
                              after=rec)  # fmt: skip
        return public_view(kind, rec, self.box)

    def _new_record(self, kind: Kind, name: str, workspace: str, parent_name: str | None,
                    data: dict[str, Any], declared: set[str], body: dict[str, Any],
                    catalog: set[AnyPath]) -> ResourceRecord:  # fmt: skip
        """The row of a new resource: its secrets found, checked and sealed."""
        secret = secret_paths_for(data, declared, catalog)
        check_expressions(kind, data, secret)
        managed, protect, manager = ownership(kind, body)
        salt = secrets.token_hex(8)
        data, sealed = seal_secrets(name, data, secret, self.box, {})
        now = self.clock.iso()
        return ResourceRecord(
            name, workspace, kind.name, parent_name, data, secret,
            salt, compute_etag(data, secret), now, now,
            managed or [], bool(protect), sealed, manager or "",
        )  # fmt: skip

    def update(self, principal: Principal, workspace: str, kind: Kind, address: str,
               body: dict[str, Any], if_match: str | None) -> dict[str, Any]:  # fmt: skip
        """Change the fields the update mask names (none: only ownership metadata)."""
        caller = self.access.caller(principal, workspace, _need(kind))
        caller.check(kind.name, address, Action.UPDATE)
        obj = resource_object(kind, body)
        check_call_limits(kind, obj)
        paths = mask_paths(body) + mask_paths(obj)
        values = {k: v for k, v in obj.items() if k != "update_mask"}
        name = resource_name(workspace, kind, address)
        try:
            masked = [field_path(kind, p) for p in paths]
        except MaskError as exc:
            raise errors.InvalidArgument(str(exc)) from None
        caller.check_owner_fields(kind, [str(path[0]) for path in masked if path])
        managed, protect, manager = ownership(kind, body)

        def step(tx: StoreTx) -> dict[str, Any]:
            self.locks.check(tx, caller, Action.UPDATE, name)
            rec = get_for_write(tx, name, if_match)
            data, secret = rec.data, rec.secret_paths
            if paths:
                data, secret = self._masked(kind, rec, values, paths, masked, body, tx)
            resealed = _resealed(data, secret)
            data, sealed = seal_secrets(name, data, secret, self.box,
                                        self.box.open(rec.secret_values))  # fmt: skip
            new = replace(
                rec, data=data, secret_paths=secret, etag=compute_etag(data, secret),
                secret_values=sealed,
                managed_paths=rec.managed_paths if managed is None else managed,
                protect=rec.protect if protect is None else protect,
                manager=rec.manager if manager is None else manager,
            )  # fmt: skip
            if new == rec:
                return public_view(kind, rec, self.box)
            caller.check_creator(kind, rec.creator, Action.UPDATE, tx)
            if not json_equal(data, rec.data):
                caller.check_refs(kind, data, rec.data, tx)
                check_write(tx, kind, policy_of(tx, workspace), name, data, rec)
            new = replace(new, update_time=self.clock.iso())
            new, versions = advance(kind, rec, new, principal.token_id, new.update_time)
            check_deploy(kind, new)
            if not tx.update_resource(new, rec):
                raise Conflict
            for version in versions:
                tx.insert_version(version)
            meta = [key for key in ("protect", "manager")
                    if getattr(new, key) != getattr(rec, key)]  # fmt: skip
            self.audit.record(tx, principal, Action.UPDATE, name, sorted(set(paths)) + meta,
                              before=rec, after=new, rewritten=resealed)  # fmt: skip
            return public_view(kind, new, self.box)

        return run_write(self.store, name, step)

    def _masked(self, kind: Kind, rec: ResourceRecord, values: dict[str, Any], paths: list[str],
                masked: list[tuple[str, ...]], body: dict[str, Any], tx: StoreTx
                ) -> tuple[dict[str, Any], list[str]]:  # fmt: skip
        """The fields and secret paths after applying the mask to ``rec``."""
        try:
            data = apply_update_mask(kind, rec.data, values, paths)
        except MaskError as exc:
            raise errors.InvalidArgument(str(exc)) from None
        declared = declared_secrets(kind, body)
        # external_id (tracking plans) is stored beside the fields, not one of them
        fields = {k: v for k, v in data.items() if k != "external_id"}
        self.fields.validate(kind, fields, declared | set(rec.secret_paths))
        written, data = data, kind.canonical(data)
        declared = _followed(written, data, declared)  # normalize may move a declared secret
        secret = _next_secret_paths(rec, data, masked, declared,
                                    catalog_secrets(tx, kind, rec.name, data))  # fmt: skip
        check_expressions(kind, data, secret)
        return data, secret

    def delete(self, principal: Principal, workspace: str, kind: Kind, address: str,
               if_match: str | None) -> None:  # fmt: skip
        caller = self.access.caller(principal, workspace, _need(kind))
        caller.check(kind.name, address, Action.DELETE)
        name = resource_name(workspace, kind, address)

        def step(tx: StoreTx) -> None:
            self.locks.check(tx, caller, Action.DELETE, name)
            rec = get_for_write(tx, name, if_match)
            caller.check_creator(kind, rec.creator, Action.DELETE, tx)
            if rec.protect:
                raise errors.FailedPrecondition(
                    f"{name} is protected (protect: true); unprotect it before deleting"
                )
            check_delete(tx, kind, policy_of(tx, workspace), rec,
                         lambda kind_name, at: caller.may_read(kind_name, at, tx))  # fmt: skip
            _check_unused(tx, name)
            delete_versions(tx, kind, name)
            try:
                deleted = tx.delete_resource(name, rec)
            except StillReferencedError:  # a child was created since we looked
                raise errors.FailedPrecondition(
                    f"{name} is in use by a resource created meanwhile; delete that first"
                ) from None
            if not deleted:
                raise Conflict
            self.audit.record(tx, principal, Action.DELETE, name, [], before=rec)

        run_write(self.store, name, step)

    def compare_secrets(self, principal: Principal, workspace: str, body: dict[str, Any]
                        ) -> dict[str, Any]:  # fmt: skip
        """Which submitted values equal the sealed secrets (see ``server/compare.py``). A
        resource the token may not read, or that does not exist, never matches."""
        caller = self.access.caller(principal, workspace, Need.READ)
        questions = read_questions(workspace, body)
        names = sorted({q.resource for q in questions})
        with self.store.tx() as tx:
            found = tx.get_resources(names)
            self.audit.record(tx, principal, Action.CREATE,
                              f"workspaces/{workspace}/secrets:compare",
                              [*names, f"{COMPARED}{len(questions)}"])  # fmt: skip
        records = {n: rec for n, rec in found.items() if caller.readable(n)}
        matches, digest = answer(questions, records, self.box)
        return {"matches": matches, "digest": digest}


def _set_fields(kind: Kind, data: dict[str, Any]) -> list[str]:
    """The fields a create sets to something other than their default."""
    return [name for name, value in data.items()
            if (spec := kind.field(name)) is not None
            and not json_equal(value, kind.defaults.get(name, spec.empty))]  # fmt: skip


def _followed(written: dict[str, Any], data: dict[str, Any], declared: set[str]) -> set[str]:
    """The declared secret paths of the fields as written, as paths of ``data``, their
    canonical form (``seg.model.secrets.follow_moved``)."""
    moved = follow_moved(written, data, [parse_path(raw) for raw in declared])
    return {format_path(path) for path in moved}


def _resealed(data: dict[str, Any], secret_paths: list[str]) -> list[str]:
    """The secret paths whose value an update seals anew: those the update mask gave a value
    (``seal_secrets`` keeps the sealed value where the data still holds a digest), so the
    audit trail can tell a rewritten secret from one left alone without reading either."""
    return [raw for raw in secret_paths
            if (value := get_path(data, parse_path(raw))) is not MISSING
            and not is_digest(value)]  # fmt: skip


def _need(kind: Kind) -> Need:
    return Need.OWNER if kind.owner_only else Need.WRITE


def _insert(tx: StoreTx, rec: ResourceRecord) -> None:
    try:
        tx.insert_resource(rec)
    except AlreadyExistsError:
        raise errors.AlreadyExists(f"{rec.name} already exists") from None
    except MissingReferenceError:  # the parent was deleted since we looked
        raise errors.NotFound(
            f"{rec.parent} not found (deleted while {rec.name} was being created)"
        ) from None


def _check_unused(tx: StoreTx, name: str) -> None:
    """No child resource lives under ``name``."""
    children = tx.child_names(name, 11)
    if children:
        shown = ", ".join(parse_resource_name(c)[2] for c in children[:10])
        more = " and more" if len(children) > 10 else ""
        raise errors.FailedPrecondition(f"{name} is in use by {shown}{more}; delete those first")


def _next_secret_paths(
    rec: ResourceRecord,
    data: dict[str, Any],
    masked: list[tuple[str, ...]],
    declared: set[str],
    catalog: set[AnyPath],
) -> list[str]:
    """Secret paths after an update: masked paths are re-decided, others keep their status."""

    def under_mask(raw: str) -> bool:
        path = parse_path(raw)
        return any(path[: len(m)] == m for m in masked)

    kept = {p for p in rec.secret_paths if not under_mask(p)}
    return secret_paths_for(data, kept | declared, catalog)
