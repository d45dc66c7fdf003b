"""The control plane's operations and rules, independent of HTTP framing."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, TypeVar

import jsonschema
from jsonschema.protocols import Validator

from seg.model.clip import clip, clip_within
from seg.model.kinds import KINDS, Kind
from seg.model.names import SLUG_RE, collection_name, parse_resource_name, resource_name
from seg.model.paths import format_path, parse_path
from seg.model.secrets import is_catalog_secret, is_digest
from seg.policy.access import allowed, explain, is_owner, may_write_any
from seg.policy.models import POLICIES
from seg.schemas import load_schema, schema_validator
from seg.server import errors, pages
from seg.server.auth import SCOPES, can_write, hash_token, new_token
from seg.server.bodies import (
    check_lock_body,
    check_rule_ids,
    declared_secrets,
    mask_paths,
    new_name,
    ownership,
    resource_object,
    workspace_view,
)
from seg.server.compare import answer, read_questions
from seg.server.crypto import SecretBox
from seg.server.locks import Locks, describe, holds
from seg.server.masks import OUTPUT_ONLY, MaskError, apply_update_mask, field_path
from seg.server.resources import (
    compute_etag,
    leaf_paths,
    public_view,
    seal_secrets,
    secret_paths_for,
)
from seg.server.rules import check_call_limits, check_delete, check_expressions, check_write
from seg.store.base import (
    AlreadyExistsError,
    AuditRecord,
    MissingReferenceError,
    ResourceRecord,
    StillReferencedError,
    Store,
    StoreTx,
    TokenRecord,
    WorkspaceRecord,
    iter_all,
)
from seg.tracking.rules import rule_id, rule_label

__all__ = ["ControlPlane", "Page", "Principal"]

T = TypeVar("T")

# A write that lost a race (its conditional write found the row changed) is rerun on the fresh
# state this many times in all before the caller gets 409/10 ABORTED.
WRITE_ATTEMPTS = 8


class _Conflict(Exception):
    """The row a write read was changed by a concurrent write: roll back and rerun."""


def utcnow() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass(frozen=True)
class Principal:
    """The caller, as authenticated by its token."""

    token_id: str
    workspace: str
    scope: str
    description: str
    user: str = ""  # set for tokens that act for a user (their roles also apply)
    lock_id: str = ""  # the lease this caller claims to hold (the Seg-Lock header)
    lock_override: bool = False  # Seg-Lock-Override: true (honoured for owners only)


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_page_token: str


def _validator(kind: Kind) -> Validator:
    """The kind's YAML schema, for API fields: no parent field, references as full names."""
    schema = json.loads(json.dumps(load_schema(kind.schema_file)))
    if kind.parent_field:
        schema["properties"].pop(kind.parent_field, None)
        schema["required"] = [r for r in schema.get("required", []) if r != kind.parent_field]
    for spec in kind.fields:
        if spec.ref:
            schema["properties"][spec.name] = {"type": "string", "minLength": 1}
    return schema_validator(schema)


class ControlPlane:
    """Operations over one Store. Every public method validates, authorises and audits."""

    def __init__(
        self,
        store: Store,
        rate_limit: int = 0,
        clock: Callable[[], str] = utcnow,
        secret_box: SecretBox | None = None,
    ) -> None:
        self.store = store
        self.box = secret_box or SecretBox.generate()
        self.clock = clock
        self.rate_limit = rate_limit
        self.locks = Locks(store, clock)
        self._validators = {name: _validator(kind) for name, kind in KINDS.items()}

    # -- workspaces and tokens -------------------------------------------------------------

    def init_workspace(
        self, slug: str, display_name: str = "", model_change_policy: str = "strict"
    ) -> tuple[WorkspaceRecord, str]:
        """Create a workspace and its first owner token; returns the token secret (once)."""
        if not SLUG_RE.fullmatch(slug):
            raise errors.InvalidArgument(f"workspace slug {slug!r} must match {SLUG_RE.pattern}")
        if model_change_policy not in POLICIES:
            raise errors.InvalidArgument(f"model_change_policy must be one of {POLICIES}")
        record = WorkspaceRecord(
            slug, secrets.token_hex(5), display_name or slug, self.clock(), model_change_policy
        )
        with self.store.tx() as tx:
            if tx.get_workspace(slug):
                raise errors.AlreadyExists(f"workspace {slug!r} already exists")
            tx.insert_workspace(record)
            secret = self._insert_token(tx, slug, "workspace:owner", "initial owner token")
            for label in sorted(KINDS["Label"].system_names):
                name = resource_name(slug, KINDS["Label"], label)
                now = self.clock()
                data = {"description": "built in"}
                etag = compute_etag(data, [])
                tx.insert_resource(ResourceRecord(name, slug, "Label", None, data, [], "", etag,
                                                  now, now))  # fmt: skip
        return record, secret

    def create_token(
        self, workspace: str, scope: str, description: str, user: str = ""
    ) -> tuple[str, str]:
        """Mint a token for ``workspace`` (acting for ``user`` if given); returns (id, secret)."""
        if scope not in SCOPES:
            raise errors.InvalidArgument(f"token.scope must be one of {', '.join(SCOPES)}")
        if not description.strip():
            raise errors.InvalidArgument("token.description is required")
        with self.store.tx() as tx:
            if not tx.get_workspace(workspace):
                raise errors.NotFound(f"workspace {workspace!r} not found")
            secret = self._insert_token(tx, workspace, scope, description, user.strip().lower())
            found = tx.find_token(hash_token(secret))
        assert found is not None
        return found.id, secret

    def _insert_token(
        self, tx: StoreTx, workspace: str, scope: str, description: str, user: str = ""
    ) -> str:
        token_id, secret = new_token()
        tx.insert_token(TokenRecord(token_id, workspace, scope, description, hash_token(secret),
                                    self.clock(), user))  # fmt: skip
        return secret

    def get_workspace(self, principal: Principal, workspace: str) -> dict[str, Any]:
        self._authorize(principal, workspace, "GET")
        with self.store.tx() as tx:
            ws = tx.get_workspace(workspace)
        if ws is None:
            raise errors.NotFound(f"workspace {workspace!r} not found")
        return workspace_view(ws)

    def update_workspace(
        self, principal: Principal, workspace: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """PATCH the workspace's settings (owner only): display_name, model_change_policy."""
        self._authorize(principal, workspace, "PATCH", owner_only=True)
        obj = body.get("workspace", {})
        obj = {} if obj is None else obj
        if not isinstance(obj, dict):
            raise errors.InvalidArgument("workspace must be an object")
        paths = mask_paths(body) + mask_paths(obj)

        def step(tx: StoreTx) -> WorkspaceRecord:
            ws = tx.get_workspace(workspace)
            if ws is None:
                raise errors.NotFound(f"workspace {workspace!r} not found")
            self._check_lock(tx, principal, "PATCH", f"workspaces/{workspace}")
            values = dict(ws.__dict__)
            for path in paths:
                key = path.removeprefix("workspace.")
                if key not in ("display_name", "model_change_policy"):
                    raise errors.InvalidArgument(f"unknown or immutable field {path!r}")
                values[key] = obj.get(key, "" if key == "display_name" else "strict")
            if values["model_change_policy"] not in POLICIES:
                raise errors.InvalidArgument(
                    f"workspace.model_change_policy must be one of {', '.join(POLICIES)}"
                )
            if not isinstance(values["display_name"], str) or len(values["display_name"]) > 200:
                raise errors.InvalidArgument(
                    "workspace.display_name must be a string of at most 200 characters"
                )
            new = WorkspaceRecord(**values)
            if new != ws:
                if not tx.update_workspace(new, ws):  # a concurrent PATCH got there first
                    raise _Conflict
                self._audit(tx, principal, "PATCH", f"workspaces/{workspace}", sorted(paths))
            return new

        return workspace_view(self._write(f"workspaces/{workspace}", step))

    # -- authentication --------------------------------------------------------------------

    def authenticate(self, token: str, lock_id: str = "", lock_override: bool = False
                     ) -> Principal:  # fmt: skip
        """The caller holding ``token`` (the bearer credential; "" when none was sent), with
        the lease it claims and whether it overrides the lock."""
        if not token:
            raise errors.Unauthenticated()
        with self.store.tx() as tx:
            found = tx.find_token(hash_token(token))
        if found is None:
            raise errors.Unauthenticated()
        principal = Principal(
            found.id, found.workspace, found.scope, found.description, found.user_email,
            lock_id, lock_override,
        )  # fmt: skip
        self._count_request(found.id)
        return principal

    def _count_request(self, key: str) -> None:
        """A fixed one-minute window per token, counted in the database (shared by every
        server on it); ``rate_limit`` 0 turns it off."""
        if self.rate_limit <= 0:
            return
        now = time.time()
        with self.store.tx() as tx:
            count = tx.count_request(key, int(now // 60))
        if count > self.rate_limit:
            raise errors.RateLimited(max(1, 60 - int(now % 60)))

    def _authorize(
        self, principal: Principal, workspace: str, method: str, owner_only: bool = False
    ) -> None:
        if principal.workspace != workspace:
            raise errors.PermissionDenied(
                f"permission denied: the token does not belong to workspace {workspace!r}"
            )
        if method != "GET" and not can_write(principal.scope, owner_only):
            raise errors.InsufficientScope()
        if owner_only and principal.user:
            self._require_owner_role(principal, workspace)

    def _require_owner_role(self, principal: Principal, workspace: str) -> None:
        """A user-bound token does what the owner scope allows only if its user is an owner
        (the same access evaluation as ``seg access explain``)."""
        if principal.user and not is_owner(self._user_access(workspace, principal.user)):
            raise errors.PermissionDenied(
                f"permission denied: {principal.user} does not have the workspace_owner role"
            )

    def _user_access(self, workspace: str, email: str) -> dict[str, Any]:
        with self.store.tx() as tx:
            return _access(tx, workspace, email)

    def _check_lock(self, tx: StoreTx, principal: Principal, method: str, resource: str) -> None:
        """While a live lease is held, only its holder writes: the token that took it, naming
        the lease in ``Seg-Lock``. A caller naming a lease that is no longer live (broken,
        expired, taken over) is told so; an owner's ``Seg-Lock-Override: true`` is audited."""
        now = time.time()
        held = tx.get_lock(principal.workspace)
        if holds(held, principal.lock_id, principal.token_id, now):
            return
        if principal.lock_id:
            now_held = f"; {describe(held, now)}" if held and held.expires_at > now else ""
            raise errors.Aborted(
                f"the workspace lock {principal.lock_id} is no longer held by this caller "
                f"(it expired, was released or was taken over){now_held}"
            )
        if held is None or held.expires_at <= now:
            return
        if principal.lock_override and self._owner_in(tx, principal):
            self._audit(tx, principal, method, resource, ["lock override", held.id])
            return
        raise errors.Aborted(
            f"{describe(held, now)}; writes from anyone but the lock holder are refused "
            "while it is held (an owner may send Seg-Lock-Override: true)"
        )

    def _owner_in(self, tx: StoreTx, principal: Principal) -> bool:
        if principal.scope != "workspace:owner":
            return False
        return not principal.user or is_owner(_access(tx, principal.workspace, principal.user))

    def _authorize_resource(
        self, principal: Principal, workspace: str, kind: Kind, address: str, method: str
    ) -> None:
        """A user-bound token is also held to the user's roles — the same evaluation as
        ``seg access explain``, so what explain says is what the server does."""
        if not principal.user:
            return
        access = self._user_access(workspace, principal.user)
        if not allowed(access, kind.name, address, method != "GET"):
            raise errors.PermissionDenied(
                f"permission denied: {principal.user} may not {method} {kind.name} {address}"
            )

    def _authorize_refs(self, principal: Principal, workspace: str, kind: Kind,
                        data: dict[str, Any], before: dict[str, Any]) -> None:  # fmt: skip
        if principal.user:
            _check_refs(self._user_access(workspace, principal.user), principal.user, kind,
                        data, before)  # fmt: skip

    # -- resources -------------------------------------------------------------------------

    def list_resources(
        self,
        principal: Principal,
        workspace: str,
        kind: Kind,
        parent: str | None,
        page_size: str | None,
        page_token: str | None,
    ) -> Page:
        """List ``kind`` under ``parent`` (an address, or None for the ``-`` wildcard).

        A user-bound token sees only what its user may read: hidden rows are skipped while the
        page is filled, and the page token names the last row it showed, so neither the items
        nor the token reveal a hidden name. Listing under a parent it may not read is 403,
        whether the parent exists or not."""
        self._authorize(principal, workspace, "GET")
        size = pages.page_size(page_size)
        after = pages.decode_page_token(page_token, kind.name)
        access = self._user_access(workspace, principal.user) if principal.user else None
        parent_name = None
        if parent is not None:
            assert kind.parent is not None
            if access is not None and not allowed(access, kind.parent, parent, False):
                raise errors.PermissionDenied(
                    f"permission denied: {principal.user} may not GET {kind.parent} {parent}"
                )
            parent_name = resource_name(workspace, KINDS[kind.parent], parent)
        shown: list[ResourceRecord] = []
        with self.store.tx() as tx:
            if parent_name is not None and tx.get_resource(parent_name) is None:
                raise errors.NotFound(f"{parent_name} not found")
            while True:
                rows = tx.list_resources(workspace, kind.name, parent_name, after, size + 1)
                more = len(rows) > size
                rows = rows[:size]
                shown += [r for r in rows if _readable(access, r.name)]
                if len(shown) >= size or not more:
                    break
                after = rows[-1].name
        more = more or len(shown) > size
        shown = shown[:size]
        token = pages.encode_page_token(shown[-1].name, kind.name) if more and shown else ""
        return Page([public_view(kind, r, self.box) for r in shown], token)

    def get(self, principal: Principal, workspace: str, kind: Kind, address: str) -> dict[str, Any]:
        self._authorize(principal, workspace, "GET")
        self._authorize_resource(principal, workspace, kind, address, "GET")
        name = resource_name(workspace, kind, address)
        with self.store.tx() as tx:
            rec = tx.get_resource(name)
        if rec is None:
            raise errors.NotFound(f"{name} not found")
        return public_view(kind, rec, self.box)

    def create(
        self,
        principal: Principal,
        workspace: str,
        kind: Kind,
        parent: str | None,
        body: dict[str, Any],
    ) -> dict[str, Any]:
        self._authorize(principal, workspace, "POST", owner_only=kind.owner_only)
        obj = dict(resource_object(kind, body))
        collection = collection_name(workspace, kind, parent)
        external_id = obj.pop("external_id", None)
        name = new_name(kind, collection, obj.get("name"), external_id)
        self._authorize_resource(principal, workspace, kind, _address(name), "POST")
        check_call_limits(kind, obj)
        parent_name = collection.rsplit("/", 1)[0] if parent is not None else None
        declared = declared_secrets(kind, body)
        data = self._new_fields(kind, obj, parent_name, declared)
        self._authorize_refs(principal, workspace, kind, data, {})
        if external_id is not None:
            data["external_id"] = external_id
        secret = secret_paths_for(data, declared)
        check_expressions(kind, data, secret)
        managed, protect, manager = ownership(kind, body)
        salt = secrets.token_hex(8)
        data, sealed = seal_secrets(name, data, secret, self.box, {})
        now = self.clock()
        rec = ResourceRecord(
            name, workspace, kind.name, parent_name, data, secret,
            salt, compute_etag(data, secret), now, now,
            managed or [], bool(protect), sealed, manager or "",
        )  # fmt: skip
        with self.store.tx() as tx:
            self._check_lock(tx, principal, "POST", name)
            if parent_name is not None and tx.get_resource(parent_name) is None:
                raise errors.NotFound(f"{parent_name} not found")
            if tx.get_resource(name) is not None:
                raise errors.AlreadyExists(f"{name} already exists")
            check_write(tx, kind, self._policy(tx, workspace), name, data, None)
            try:
                tx.insert_resource(rec)
            except AlreadyExistsError:
                raise errors.AlreadyExists(f"{name} already exists") from None
            except MissingReferenceError:  # the parent was deleted since we looked
                raise errors.NotFound(
                    f"{parent_name} not found (deleted while {name} was being created)"
                ) from None
            meta = ["manager"] if rec.manager else []
            self._audit(tx, principal, "POST", name,
                        [f"{kind.key}.{k}" for k in sorted(data)] + meta)  # fmt: skip
        return public_view(kind, rec, self.box)

    def _new_fields(
        self, kind: Kind, obj: dict[str, Any], parent_name: str | None, secret: set[str]
    ) -> dict[str, Any]:
        data = dict(kind.defaults)
        for key, value in obj.items():
            if key in OUTPUT_ONLY:
                continue
            if key == kind.parent_field:
                if value != parent_name:
                    raise errors.InvalidArgument(
                        f"{kind.key}.{key} must be {parent_name!r} (from the collection)"
                    )
                continue
            if kind.field(key) is None:
                raise errors.InvalidArgument(f"unknown field {kind.key}.{key}")
            data[key] = value
        self._validate(kind, data, secret)
        return data

    def _validate(self, kind: Kind, data: dict[str, Any], secret: set[str]) -> None:
        """Schema-check ``data``; a sealed secret (a digest standing where the schema wants a
        typed value) is not re-validated, and no message echoes a secret value."""
        found = (e for e in self._validators[kind.name].iter_errors(data)
                 if not _sealed_at(e, secret))  # fmt: skip
        error = jsonschema.exceptions.best_match(found)
        if error is None:
            return
        path = tuple(error.absolute_path)
        where = format_path((kind.key, *path))
        holds = [parse_path(raw) for raw in secret]
        holds += [p for p in leaf_paths(data.get("settings"), ("settings",))
                  if is_catalog_secret(p)]  # fmt: skip
        if is_catalog_secret(path) or any(p[: len(path)] == path for p in holds):
            raise errors.InvalidArgument(f"{where}: the secret value fails {error.validator!r}")
        message = clip_within(error.message, error.instance)  # never the whole value
        raise errors.InvalidArgument(f"{clip(where)}: {message}")

    def update(
        self,
        principal: Principal,
        workspace: str,
        kind: Kind,
        address: str,
        body: dict[str, Any],
        if_match: str | None,
    ) -> dict[str, Any]:
        self._authorize(principal, workspace, "PATCH", owner_only=kind.owner_only)
        self._authorize_resource(principal, workspace, kind, address, "PATCH")
        obj = resource_object(kind, body)
        check_call_limits(kind, obj)
        paths = mask_paths(body) + mask_paths(obj)
        values = {k: v for k, v in obj.items() if k != "update_mask"}
        name = resource_name(workspace, kind, address)
        try:
            masked = [field_path(kind, p) for p in paths]
        except MaskError as exc:
            raise errors.InvalidArgument(str(exc)) from None
        managed, protect, manager = ownership(kind, body)
        access = self._user_access(workspace, principal.user) if principal.user else None

        def step(tx: StoreTx) -> dict[str, Any]:
            self._check_lock(tx, principal, "PATCH", name)
            rec = self._get_for_write(tx, name, if_match)
            data, secret = rec.data, rec.secret_paths
            if paths:
                try:
                    data = apply_update_mask(kind, rec.data, values, paths)
                except MaskError as exc:
                    raise errors.InvalidArgument(str(exc)) from None
                declared = declared_secrets(kind, body)
                # external_id (tracking plans) is stored beside the fields, not one of them
                fields = {k: v for k, v in data.items() if k != "external_id"}
                self._validate(kind, fields, declared | set(rec.secret_paths))
                secret = _next_secret_paths(rec, data, masked, declared)
                check_expressions(kind, data, secret)
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
            if data != rec.data:
                if access is not None:
                    _check_refs(access, principal.user, kind, data, rec.data)
                check_write(tx, kind, self._policy(tx, workspace), name, data, rec)
            new = replace(new, update_time=self.clock())
            if not tx.update_resource(new, rec):
                raise _Conflict
            meta = [key for key in ("protect", "manager")
                    if getattr(new, key) != getattr(rec, key)]  # fmt: skip
            self._audit(tx, principal, "PATCH", name, sorted(set(paths)) + meta)
            return public_view(kind, new, self.box)

        return self._write(name, step)

    def delete(
        self, principal: Principal, workspace: str, kind: Kind, address: str, if_match: str | None
    ) -> None:
        self._authorize(principal, workspace, "DELETE", owner_only=kind.owner_only)
        self._authorize_resource(principal, workspace, kind, address, "DELETE")
        name = resource_name(workspace, kind, address)

        def step(tx: StoreTx) -> None:
            self._check_lock(tx, principal, "DELETE", name)
            rec = self._get_for_write(tx, name, if_match)
            if rec.protect:
                raise errors.FailedPrecondition(
                    f"{name} is protected (protect: true); unprotect it before deleting"
                )
            check_delete(tx, kind, self._policy(tx, workspace), rec)
            children = tx.child_names(name, 11)
            if children:
                shown = ", ".join(parse_resource_name(c)[2] for c in children[:10])
                more = " and more" if len(children) > 10 else ""
                raise errors.FailedPrecondition(
                    f"{name} is in use by {shown}{more}; delete those first"
                )
            try:
                deleted = tx.delete_resource(name, rec)
            except StillReferencedError:  # a child was created since we looked
                raise errors.FailedPrecondition(
                    f"{name} is in use by a resource created meanwhile; delete that first"
                ) from None
            if not deleted:
                raise _Conflict
            self._audit(tx, principal, "DELETE", name, [])

        self._write(name, step)

    def _policy(self, tx: StoreTx, workspace: str) -> str:
        ws = tx.get_workspace(workspace)
        return ws.model_change_policy if ws else "strict"

    def _write(self, name: str, step: Callable[[StoreTx], T]) -> T:
        """Run ``step`` in a transaction. Its writes are conditional on the row it read, so
        when a concurrent write got there first it is rerun on the fresh state (where an
        ``If-Match`` then fails with 412/10); never a lost update."""
        for _ in range(WRITE_ATTEMPTS):
            try:
                with self.store.tx() as tx:
                    return step(tx)
            except _Conflict:
                continue
        raise errors.Aborted(f"{name} is being changed concurrently; retry the request")

    def _get_for_write(self, tx: StoreTx, name: str, if_match: str | None) -> ResourceRecord:
        rec = tx.get_resource(name)
        if rec is None:
            raise errors.NotFound(f"{name} not found")
        if if_match is not None:
            wanted = if_match
            if wanted != "*" and wanted != rec.etag:
                raise errors.EtagMismatch(
                    f"etag mismatch for {name}: the resource was modified "
                    f"(expected {wanted}, current {rec.etag})"
                )
        return rec

    # -- access ----------------------------------------------------------------------------

    def explain_access(self, principal: Principal, workspace: str, email: str) -> dict[str, Any]:
        """A user's effective access per source, from the live bindings, groups and labels.

        A user-bound token may explain its own user; explaining anyone else needs the
        workspace_owner role. Its answer lists only the sources the token's user may read."""
        self._authorize(principal, workspace, "GET")
        with self.store.tx() as tx:
            access = _access(tx, workspace, email)
            if not principal.user:
                return access
            caller = _access(tx, workspace, principal.user)
        if access["user"] != principal.user and not is_owner(caller):
            raise errors.PermissionDenied(
                f"permission denied: {principal.user} may explain only their own access "
                "(explaining another user needs the workspace_owner role)"
            )
        readable = {source: roles for source, roles in access["sources"].items()
                    if allowed(caller, "Source", source, False)}  # fmt: skip
        return {**access, "sources": readable}

    # -- secrets ---------------------------------------------------------------------------

    def compare_secrets(
        self, principal: Principal, workspace: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """Which submitted values equal the sealed secrets (see ``server/compare.py``). A
        resource the token may not read, or that does not exist, never matches."""
        self._authorize(principal, workspace, "GET")
        questions = read_questions(workspace, body)
        names = sorted({q.resource for q in questions})
        user = principal.user
        access = self._user_access(workspace, user) if user else None
        with self.store.tx() as tx:
            found = tx.get_resources(names)
            self._audit(tx, principal, "POST", f"workspaces/{workspace}/secrets:compare",
                        [*names, f"{COMPARED}{len(questions)}"])  # fmt: skip
        records = {n: rec for n, rec in found.items() if _readable(access, n)}
        matches, digest = answer(questions, records, self.box)
        return {"matches": matches, "digest": digest}

    # -- tracking-plan rules -----------------------------------------------------------------

    def list_rules(self, principal: Principal, workspace: str, plan_id: str) -> dict[str, Any]:
        self._authorize(principal, workspace, "GET")
        self._authorize_resource(principal, workspace, KINDS["TrackingPlan"], plan_id, "GET")
        name = f"workspaces/{workspace}/tracking-plans/{plan_id}"
        with self.store.tx() as tx:
            rec = tx.get_resource(name)
        if rec is None:
            raise errors.NotFound(f"{name} not found")
        return {"rules": rec.data.get("rules", [])}

    def replace_rules(
        self, principal: Principal, workspace: str, plan_id: str, body: dict[str, Any],
        if_match: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Replace every rule of a tracking plan (at most 200 per call)."""
        self._authorize_rules(principal, workspace, plan_id, "PUT")
        rules = self._given_rules(body, ids_only=False)
        return self._change_rules(principal, workspace, plan_id, "PUT", rules,
                                  lambda _current: rules, if_match)  # fmt: skip

    def upsert_rules(
        self, principal: Principal, workspace: str, plan_id: str, body: dict[str, Any],
        if_match: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Add or replace rules by (type, key, version)."""
        self._authorize_rules(principal, workspace, plan_id, "PATCH")
        rules = self._given_rules(body, ids_only=False)

        def merged(current: list[Any]) -> list[Any]:
            given = {rule_id(r): r for r in rules}
            return [given.pop(rule_id(r), r) for r in current] + list(given.values())

        return self._change_rules(principal, workspace, plan_id, "PATCH", rules, merged, if_match)

    def delete_rules(
        self, principal: Principal, workspace: str, plan_id: str, body: dict[str, Any],
        if_match: str | None = None,
    ) -> dict[str, Any]:  # fmt: skip
        """Remove rules by (type, key, version)."""
        self._authorize_rules(principal, workspace, plan_id, "DELETE")
        rules = self._given_rules(body, ids_only=True)
        gone = {rule_id(r) for r in rules}
        return self._change_rules(
            principal, workspace, plan_id, "DELETE", rules,
            lambda current: [r for r in current if rule_id(r) not in gone], if_match,
        )  # fmt: skip

    def _authorize_rules(self, principal: Principal, workspace: str, plan_id: str,
                         method: str) -> None:  # fmt: skip
        self._authorize(principal, workspace, method)
        self._authorize_resource(principal, workspace, KINDS["TrackingPlan"], plan_id, method)

    def _given_rules(self, body: dict[str, Any], ids_only: bool) -> list[Any]:
        """The rules of one call: at most 200; whole rules as the TrackingPlan routes check
        them, or (to delete) their identities."""
        rules = body.get("rules")
        if not isinstance(rules, list):
            raise errors.InvalidArgument("rules must be a list")
        kind = KINDS["TrackingPlan"]
        check_call_limits(kind, {"rules": rules})
        if ids_only:
            check_rule_ids(rules)
        else:
            self._validate(kind, {"rules": rules}, set())
        return rules

    def _change_rules(
        self,
        principal: Principal,
        workspace: str,
        plan_id: str,
        method: str,
        rules: list[Any],
        change: Callable[[list[Any]], list[Any]],
        if_match: str | None,
    ) -> dict[str, Any]:
        """One rule write: ``change`` maps the current rules to the new ones; ``method`` is
        how the audit trail names it. ``If-Match`` names the tracking plan's etag, as for its
        other writes."""
        kind = KINDS["TrackingPlan"]
        name = f"workspaces/{workspace}/tracking-plans/{plan_id}"

        def step(tx: StoreTx) -> dict[str, Any]:
            self._check_lock(tx, principal, method, name + "/rules")
            rec = self._get_for_write(tx, name, if_match)
            new_rules = change(list(rec.data.get("rules", [])))
            data = {**rec.data, "rules": new_rules}
            self._validate(kind, {"rules": new_rules}, set())
            check_write(tx, kind, self._policy(tx, workspace), name, data, rec)
            new = replace(rec, data=data, etag=compute_etag(data, rec.secret_paths),
                          update_time=self.clock())  # fmt: skip
            if not tx.update_resource(new, rec):
                raise _Conflict
            self._audit(tx, principal, method, name + "/rules", [rule_label(r) for r in rules][:50])
            return {"rules": new_rules}

        return self._write(name, step)

    # -- locks -----------------------------------------------------------------------------

    def acquire_lock(
        self, principal: Principal, workspace: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        self._authorize(principal, workspace, "POST")
        if principal.user and not may_write_any(self._user_access(workspace, principal.user)):
            raise errors.PermissionDenied(
                f"permission denied: {principal.user} may not write anything, so may not lock"
            )
        lock = self.locks.acquire(workspace, principal.token_id, check_lock_body(body))
        with self.store.tx() as tx:
            self._audit(tx, principal, "POST", f"workspaces/{workspace}/lock", [lock["id"]])
        return lock

    def renew_lock(
        self, principal: Principal, workspace: str, lock_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        self._authorize(principal, workspace, "PATCH")
        return self.locks.renew(workspace, lock_id, principal.token_id, body)

    def release_lock(self, principal: Principal, workspace: str, lock_id: str | None) -> None:
        """Release one's own lease (the token that took it, by id). Breaking anyone else's —
        or releasing without an id — is forcing: the owner scope, and for a user-bound token
        the workspace_owner role; it is audited as forced."""
        self._authorize(principal, workspace, "DELETE")
        held = self.locks.get(workspace)
        own = bool(lock_id) and held is not None and held.id == lock_id
        own = own and held is not None and held.token_id == principal.token_id
        if not own:
            self._authorize(principal, workspace, "DELETE", owner_only=True)
        self.locks.release(workspace, lock_id or None)
        paths = [lock_id or "*"] + ([] if own else ["forced"])
        with self.store.tx() as tx:
            self._audit(tx, principal, "DELETE", f"workspaces/{workspace}/lock", paths)

    def lock_status(self, principal: Principal, workspace: str) -> dict[str, Any]:
        self._authorize(principal, workspace, "GET")
        return self.locks.status(workspace)

    # -- audit -----------------------------------------------------------------------------

    def _audit(
        self, tx: StoreTx, principal: Principal, method: str, resource: str, paths: list[str]
    ) -> None:
        tx.insert_audit(
            AuditRecord(
                principal.workspace,
                self.clock(),
                principal.token_id,
                principal.description,
                method,
                resource,
                paths,
            )  # fmt: skip
        )

    def audit_events(
        self, principal: Principal, workspace: str, page_size: str | None, page_token: str | None
    ) -> Page:
        self._authorize(principal, workspace, "GET")
        size = pages.page_size(page_size)
        before = pages.decode_page_token(page_token, "audit")
        with self.store.tx() as tx:
            rows = tx.list_audit(workspace, pages.audit_cursor(before), size + 1)
        more = len(rows) > size
        rows = rows[:size]
        token = pages.encode_page_token(str(rows[-1].id), "audit") if more else ""
        if principal.user:  # a user's token sees events on what the user may read
            access = self._user_access(workspace, principal.user)
            rows = [r for r in rows if _event_visible(access, r.resource, r.paths)]
        items = [
            {
                "id": str(r.id),
                "time": r.time,
                "actor": {"token_id": r.actor_id, "description": r.actor_description},
                "method": r.method,
                "resource": r.resource,
                "paths": r.paths,
            }
            for r in rows
        ]
        return Page(items, token)


def _check_refs(access: dict[str, Any], user: str, kind: Kind, data: dict[str, Any],
                before: dict[str, Any]) -> None:  # fmt: skip
    """A user may point a reference (``Source.tracking_plan``, ``Mapping.model``) only at what
    the user may read: otherwise the write would reveal, and pin, a resource hidden from them."""
    for spec in kind.fields:
        value = data.get(spec.name)
        if not (spec.ref and value and isinstance(value, str)) or value == before.get(spec.name):
            continue
        try:
            address = parse_resource_name(value)[2]
        except ValueError:
            continue  # not a resource name: the kind's rules refuse it
        if not allowed(access, spec.ref, address, False):
            raise errors.PermissionDenied(
                f"permission denied: {user} may not refer to {spec.ref} {address}"
            )


COMPARED = "values:"  # the audit path of a compare event that counts the values asked about


def _readable(access: dict[str, Any] | None, name: str) -> bool:
    """Whether a user-bound token's access (None: not user-bound) lets it read ``name``."""
    if access is None:
        return True
    try:
        _, kind, address = parse_resource_name(name)
    except ValueError:
        return False  # not a resource name: nothing a user may read
    return allowed(access, kind.name, address, False)


def _sealed_at(error: jsonschema.ValidationError, secret: set[str]) -> bool:
    """An error about a sealed secret's digest (validated in clear before it was sealed)."""
    return is_digest(error.instance) and format_path(tuple(error.absolute_path)) in secret


def _address(name: str) -> str:
    return parse_resource_name(name)[2]


def _access(tx: StoreTx, workspace: str, email: str) -> dict[str, Any]:
    """``email``'s effective access from the live bindings, groups and source labels."""
    bindings = [b.data for b in iter_all(tx, workspace, "RoleBinding")]
    groups = {_address(g.name): g.data.get("members", [])
              for g in iter_all(tx, workspace, "Group")}  # fmt: skip
    sources = {_address(s.name): s.data.get("labels") or {}
               for s in iter_all(tx, workspace, "Source")}  # fmt: skip
    return explain(email, bindings, groups, sources)


def _event_visible(access: dict[str, Any], resource: str, paths: list[str]) -> bool:
    """Whether a user may see an audit event: one on a resource (or a tracking plan's rules)
    needs read access to it; a ``secrets:compare`` event (whose paths name the resources asked
    about) needs read access to each of them; events on the workspace and its lock are open."""
    if resource.endswith("/secrets:compare"):
        return all(_readable(access, n) for n in paths if not n.startswith(COMPARED))
    for name in (resource, resource.removesuffix("/rules")):
        try:
            _, kind, address = parse_resource_name(name)
        except ValueError:
            continue
        return allowed(access, kind.name, address, False)
    return True


def _next_secret_paths(
    rec: ResourceRecord, data: dict[str, Any], masked: list[tuple[str, ...]], declared: set[str]
) -> list[str]:
    """Secret paths after an update: masked paths are re-decided, others keep their status."""

    def under_mask(raw: str) -> bool:
        path = parse_path(raw)
        return any(path[: len(m)] == m for m in masked)

    kept = {p for p in rec.secret_paths if not under_mask(p)}
    return secret_paths_for(data, kept | declared)
