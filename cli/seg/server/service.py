"""The control plane's operations and rules, independent of HTTP framing."""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import jsonschema

from seg.model.kinds import KINDS, Kind
from seg.model.names import SLUG_RE, collection_name, parse_resource_name, resource_name
from seg.model.paths import format_path, parse_path
from seg.model.secrets import is_catalog_secret, is_digest
from seg.policy.access import allowed, explain
from seg.policy.models import POLICIES
from seg.schemas import load_schema
from seg.server import errors, pages
from seg.server.auth import SCOPES, can_write, hash_token, new_token
from seg.server.bodies import (
    declared_secrets,
    mask_paths,
    new_name,
    ownership,
    resource_object,
    workspace_view,
)
from seg.server.compare import answer, read_questions
from seg.server.crypto import SecretBox
from seg.server.locks import Locks
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
    ResourceRecord,
    Store,
    StoreTx,
    TokenRecord,
    WorkspaceRecord,
    iter_all,
)
from seg.tracking.rules import rule_id, rule_label

__all__ = ["ControlPlane", "Page", "Principal"]


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


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_page_token: str


def _validator(kind: Kind) -> jsonschema.Draft202012Validator:
    """The kind's YAML schema, for API fields: no parent field, references as full names."""
    schema = json.loads(json.dumps(load_schema(kind.schema_file)))
    if kind.parent_field:
        schema["properties"].pop(kind.parent_field, None)
        schema["required"] = [r for r in schema.get("required", []) if r != kind.parent_field]
    for spec in kind.fields:
        if spec.ref:
            schema["properties"][spec.name] = {"type": "string", "minLength": 1}
    return jsonschema.Draft202012Validator(schema)


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
        if not SLUG_RE.match(slug):
            raise errors.invalid_argument(f"workspace slug {slug!r} must match {SLUG_RE.pattern}")
        if model_change_policy not in POLICIES:
            raise errors.invalid_argument(f"model_change_policy must be one of {POLICIES}")
        record = WorkspaceRecord(
            slug, secrets.token_hex(5), display_name or slug, self.clock(), model_change_policy
        )
        with self.store.tx() as tx:
            if tx.get_workspace(slug):
                raise errors.already_exists(f"workspace {slug!r} already exists")
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
            raise errors.invalid_argument(f"token.scope must be one of {', '.join(SCOPES)}")
        if not description.strip():
            raise errors.invalid_argument("token.description is required")
        with self.store.tx() as tx:
            if not tx.get_workspace(workspace):
                raise errors.not_found(f"workspace {workspace!r} not found")
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
            raise errors.not_found(f"workspace {workspace!r} not found")
        return workspace_view(ws)

    def update_workspace(
        self, principal: Principal, workspace: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """PATCH the workspace's settings (owner only): display_name, model_change_policy."""
        self._authorize(principal, workspace, "PATCH", owner_only=True)
        obj = body.get("workspace") or {}
        paths = mask_paths(body) + (mask_paths(obj) if isinstance(obj, dict) else [])
        with self.store.tx() as tx:
            ws = tx.get_workspace(workspace)
            if ws is None:
                raise errors.not_found(f"workspace {workspace!r} not found")
            values = dict(ws.__dict__)
            for path in paths:
                key = path.removeprefix("workspace.")
                if key not in ("display_name", "model_change_policy"):
                    raise errors.invalid_argument(f"unknown or immutable field {path!r}")
                values[key] = obj.get(key, "" if key == "display_name" else "strict")
            if values["model_change_policy"] not in POLICIES:
                raise errors.invalid_argument(
                    f"workspace.model_change_policy must be one of {', '.join(POLICIES)}"
                )
            if not isinstance(values["display_name"], str):
                raise errors.invalid_argument("workspace.display_name must be a string")
            new = WorkspaceRecord(**values)
            if new != ws:
                tx.update_workspace(new)
                self._audit(tx, principal, "PATCH", f"workspaces/{workspace}", sorted(paths))
        return workspace_view(new)

    # -- authentication --------------------------------------------------------------------

    def authenticate(self, authorization: str | None) -> Principal:
        if not authorization or not authorization.startswith("Bearer "):
            raise errors.unauthenticated()
        with self.store.tx() as tx:
            token = tx.find_token(hash_token(authorization[7:].strip()))
        if token is None:
            raise errors.unauthenticated()
        principal = Principal(
            token.id, token.workspace, token.scope, token.description, token.user_email
        )
        self._count_request(token.id)
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
            raise errors.rate_limited(max(1, 60 - int(now % 60)))

    def _authorize(
        self, principal: Principal, workspace: str, method: str, owner_only: bool = False
    ) -> None:
        if principal.workspace != workspace:
            raise errors.permission_denied(
                f"permission denied: the token does not belong to workspace {workspace!r}"
            )
        if method != "GET" and not can_write(principal.scope, owner_only):
            raise errors.insufficient_scope()

    def _authorize_resource(
        self, principal: Principal, workspace: str, kind: Kind, address: str, method: str
    ) -> None:
        """A user-bound token is also held to the user's roles — the same evaluation as
        ``seg access explain``, so what explain says is what the server does."""
        if not principal.user:
            return
        access = self.explain_access(principal, workspace, principal.user)
        if not allowed(access, kind.name, address, method != "GET"):
            raise errors.permission_denied(
                f"permission denied: {principal.user} may not {method} {kind.name} {address}"
            )

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
        """List ``kind`` under ``parent`` (an address, or None for the ``-`` wildcard)."""
        self._authorize(principal, workspace, "GET")
        size = pages.page_size(page_size)
        after = pages.decode_page_token(page_token, kind.name)
        parent_name = None
        with self.store.tx() as tx:
            if parent is not None:
                assert kind.parent is not None
                parent_name = resource_name(workspace, KINDS[kind.parent], parent)
                if tx.get_resource(parent_name) is None:
                    raise errors.not_found(f"{parent_name} not found")
            rows = tx.list_resources(workspace, kind.name, parent_name, after, size + 1)
        more = len(rows) > size
        rows = rows[:size]
        token = pages.encode_page_token(rows[-1].name, kind.name) if more else ""
        if principal.user:  # a user's token lists only what the user may read
            access = self.explain_access(principal, workspace, principal.user)
            rows = [r for r in rows if allowed(access, kind.name, _address(r.name), False)]
        return Page([public_view(kind, r, self.box) for r in rows], token)

    def get(self, principal: Principal, workspace: str, kind: Kind, address: str) -> dict[str, Any]:
        self._authorize(principal, workspace, "GET")
        self._authorize_resource(principal, workspace, kind, address, "GET")
        name = resource_name(workspace, kind, address)
        with self.store.tx() as tx:
            rec = tx.get_resource(name)
        if rec is None:
            raise errors.not_found(f"{name} not found")
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
        if external_id is not None:
            data["external_id"] = external_id
        secret = secret_paths_for(data, declared)
        check_expressions(kind, data, secret)
        managed, protect = ownership(kind, body)
        salt = secrets.token_hex(8)
        data, sealed = seal_secrets(name, data, secret, self.box, {})
        now = self.clock()
        rec = ResourceRecord(
            name, workspace, kind.name, parent_name, data, secret,
            salt, compute_etag(data, secret), now, now,
            managed or [], bool(protect), sealed,
        )  # fmt: skip
        with self.store.tx() as tx:
            if parent_name is not None and tx.get_resource(parent_name) is None:
                raise errors.not_found(f"{parent_name} not found")
            if tx.get_resource(name) is not None:
                raise errors.already_exists(f"{name} already exists")
            check_write(tx, kind, self._policy(tx, workspace), name, data, None)
            try:
                tx.insert_resource(rec)
            except AlreadyExistsError:
                raise errors.already_exists(f"{name} already exists") from None
            self._audit(tx, principal, "POST", name, [f"{kind.key}.{k}" for k in sorted(data)])
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
                    raise errors.invalid_argument(
                        f"{kind.key}.{key} must be {parent_name!r} (from the collection)"
                    )
                continue
            if kind.field(key) is None:
                raise errors.invalid_argument(f"unknown field {kind.key}.{key}")
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
            raise errors.invalid_argument(f"{where}: the secret value fails {error.validator!r}")
        raise errors.invalid_argument(f"{where}: {error.message}")

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
            raise errors.invalid_argument(str(exc)) from None
        managed, protect = ownership(kind, body)
        with self.store.tx() as tx:
            rec = self._get_for_write(tx, name, if_match)
            data, secret = rec.data, rec.secret_paths
            if paths:
                try:
                    data = apply_update_mask(kind, rec.data, values, paths)
                except MaskError as exc:
                    raise errors.invalid_argument(str(exc)) from None
                declared = declared_secrets(kind, body)
                self._validate(kind, data, declared | set(rec.secret_paths))
                secret = _next_secret_paths(rec, data, masked, declared)
                check_expressions(kind, data, secret)
            data, sealed = seal_secrets(name, data, secret, self.box,
                                        self.box.open(rec.secret_values))  # fmt: skip
            new = replace(
                rec, data=data, secret_paths=secret, etag=compute_etag(data, secret),
                secret_values=sealed,
                managed_paths=rec.managed_paths if managed is None else managed,
                protect=rec.protect if protect is None else protect,
            )  # fmt: skip
            if new == rec:
                return public_view(kind, rec, self.box)
            if data != rec.data:
                check_write(tx, kind, self._policy(tx, workspace), name, data, rec)
            new = replace(new, update_time=self.clock())
            tx.update_resource(new)
            meta = ["protect"] if new.protect != rec.protect else []
            self._audit(tx, principal, "PATCH", name, sorted(set(paths)) + meta)
        return public_view(kind, new, self.box)

    def delete(
        self, principal: Principal, workspace: str, kind: Kind, address: str, if_match: str | None
    ) -> None:
        self._authorize(principal, workspace, "DELETE", owner_only=kind.owner_only)
        self._authorize_resource(principal, workspace, kind, address, "DELETE")
        name = resource_name(workspace, kind, address)
        with self.store.tx() as tx:
            rec = self._get_for_write(tx, name, if_match)
            if rec.protect:
                raise errors.failed_precondition(
                    f"{name} is protected (protect: true); unprotect it before deleting"
                )
            check_delete(tx, kind, self._policy(tx, workspace), rec)
            children = tx.child_names(name, 11)
            if children:
                shown = ", ".join(parse_resource_name(c)[2] for c in children[:10])
                more = " and more" if len(children) > 10 else ""
                raise errors.failed_precondition(
                    f"{name} is in use by {shown}{more}; delete those first"
                )
            tx.delete_resource(name)
            self._audit(tx, principal, "DELETE", name, [])

    def _policy(self, tx: StoreTx, workspace: str) -> str:
        ws = tx.get_workspace(workspace)
        return ws.model_change_policy if ws else "strict"

    def _get_for_write(self, tx: StoreTx, name: str, if_match: str | None) -> ResourceRecord:
        rec = tx.get_resource(name)
        if rec is None:
            raise errors.not_found(f"{name} not found")
        if if_match is not None:
            wanted = if_match.strip().strip('"')
            if wanted != "*" and wanted != rec.etag:
                raise errors.precondition_etag(
                    f"etag mismatch for {name}: the resource was modified "
                    f"(expected {wanted}, current {rec.etag})"
                )
        return rec

    # -- access ----------------------------------------------------------------------------

    def explain_access(self, principal: Principal, workspace: str, email: str) -> dict[str, Any]:
        """A user's effective access per source, from the live bindings, groups and labels."""
        self._authorize(principal, workspace, "GET")
        with self.store.tx() as tx:
            bindings = [b.data for b in iter_all(tx, workspace, "RoleBinding")]
            groups = {_address(g.name): g.data.get("members", [])
                      for g in iter_all(tx, workspace, "Group")}  # fmt: skip
            sources = {_address(s.name): s.data.get("labels") or {}
                       for s in iter_all(tx, workspace, "Source")}  # fmt: skip
        return explain(email, bindings, groups, sources)

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
        access = self.explain_access(principal, workspace, user) if user else None
        with self.store.tx() as tx:
            found = tx.get_resources(names)
            self._audit(tx, principal, "POST", f"workspaces/{workspace}/secrets:compare", names)
        records = {n: rec for n, rec in found.items() if _readable(access, n)}
        matches, digest = answer(questions, records, self.box)
        return {"matches": matches, "digest": digest}

    # -- tracking-plan rules -----------------------------------------------------------------

    def list_rules(self, principal: Principal, workspace: str, plan_id: str) -> dict[str, Any]:
        self._authorize(principal, workspace, "GET")
        name = f"workspaces/{workspace}/tracking-plans/{plan_id}"
        with self.store.tx() as tx:
            rec = tx.get_resource(name)
        if rec is None:
            raise errors.not_found(f"{name} not found")
        return {"rules": rec.data.get("rules", [])}

    def change_rules(
        self, principal: Principal, workspace: str, plan_id: str, method: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        """PUT replaces every rule, PATCH adds or replaces rules by (type, key, version), DELETE
        removes rules by (type, key, version); at most 200 rules per call."""
        self._authorize(principal, workspace, method)
        kind = KINDS["TrackingPlan"]
        rules = body.get("rules")
        if not isinstance(rules, list):
            raise errors.invalid_argument("rules must be a list")
        check_call_limits(kind, {"rules": rules})
        name = f"workspaces/{workspace}/tracking-plans/{plan_id}"
        with self.store.tx() as tx:
            rec = self._get_for_write(tx, name, None)
            current = list(rec.data.get("rules", []))
            if method == "PUT":
                new_rules = rules
            elif method == "PATCH":
                given = {rule_id(r): r for r in rules}
                new_rules = [given.pop(rule_id(r), r) for r in current] + list(given.values())
            else:
                gone = {rule_id(r) for r in rules}
                new_rules = [r for r in current if rule_id(r) not in gone]
            data = {**rec.data, "rules": new_rules}
            check_write(tx, kind, self._policy(tx, workspace), name, data, rec)
            new = replace(rec, data=data, etag=compute_etag(data, rec.secret_paths),
                          update_time=self.clock())  # fmt: skip
            tx.update_resource(new)
            self._audit(tx, principal, method, name + "/rules", [rule_label(r) for r in rules][:50])
        return {"rules": new_rules}

    # -- locks -----------------------------------------------------------------------------

    def acquire_lock(
        self, principal: Principal, workspace: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        self._authorize(principal, workspace, "POST")
        lock = self.locks.acquire(workspace, principal.token_id, body)
        with self.store.tx() as tx:
            self._audit(tx, principal, "POST", f"workspaces/{workspace}/lock", [lock["id"]])
        return lock

    def renew_lock(
        self, principal: Principal, workspace: str, lock_id: str, body: dict[str, Any]
    ) -> dict[str, Any]:
        self._authorize(principal, workspace, "PATCH")
        return self.locks.renew(workspace, lock_id, body)

    def release_lock(self, principal: Principal, workspace: str, lock_id: str | None) -> None:
        """Release one's own lease by id; without an id (forcing), owners only."""
        self._authorize(principal, workspace, "DELETE", owner_only=lock_id is None)
        self.locks.release(workspace, lock_id)
        with self.store.tx() as tx:
            self._audit(tx, principal, "DELETE", f"workspaces/{workspace}/lock", [lock_id or "*"])

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
            rows = tx.list_audit(workspace, int(before) if before else None, size + 1)
        more = len(rows) > size
        rows = rows[:size]
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
        return Page(items, pages.encode_page_token(str(rows[-1].id), "audit") if more else "")


def _readable(access: dict[str, Any] | None, name: str) -> bool:
    """Whether a user-bound token's access (None: not user-bound) lets it read ``name``."""
    if access is None:
        return True
    _, kind, address = parse_resource_name(name)
    return allowed(access, kind.name, address, False)


def _sealed_at(error: jsonschema.ValidationError, secret: set[str]) -> bool:
    """An error about a sealed secret's digest (validated in clear before it was sealed)."""
    return is_digest(error.instance) and format_path(tuple(error.absolute_path)) in secret


def _address(name: str) -> str:
    return parse_resource_name(name)[2]


def _next_secret_paths(
    rec: ResourceRecord, data: dict[str, Any], masked: list[tuple[str, ...]], declared: set[str]
) -> list[str]:
    """Secret paths after an update: masked paths are re-decided, others keep their status."""

    def under_mask(raw: str) -> bool:
        path = parse_path(raw)
        return any(path[: len(m)] == m for m in masked)

    kept = {p for p in rec.secret_paths if not under_mask(p)}
    return secret_paths_for(data, kept | declared)
