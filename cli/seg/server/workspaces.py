"""Workspaces and their tokens: creating them, authenticating a token (with its per-token rate
limit), and reading and changing a workspace's settings."""

from __future__ import annotations

import hmac
import secrets
from typing import Any

from seg.kinds import kinds_in_order
from seg.kinds.names import SLUG_RE, resource_name
from seg.model.kinds import PLAN_TIERS
from seg.policy.models import POLICIES, ModelChangePolicy
from seg.server import errors
from seg.server.access_service import AccessService
from seg.server.audit import AuditLog
from seg.server.auth import SCOPES, hash_token, new_token
from seg.server.bodies import mask_paths, workspace_view
from seg.server.change_service import history_fields
from seg.server.clock import Clock
from seg.server.core import Action, Conflict, Need, Principal, run_write
from seg.server.crypto import SecretBox
from seg.server.lock_service import LockService
from seg.server.resources import compute_etag
from seg.server.token_service import admit
from seg.store.base import (
    HistoryRecord,
    ResourceRecord,
    Store,
    StoreTx,
    TokenRecord,
    WorkspaceRecord,
)

__all__ = ["WorkspaceService"]

SETTINGS = ("display_name", "model_change_policy", "plan_tier")  # what PATCH may change
DEFAULTS = {"display_name": "", "model_change_policy": "strict", "plan_tier": "business"}


class WorkspaceService:
    """``rate_limit``: requests per token per minute, counted in the database (shared by
    every server on it); 0 turns it off."""

    def __init__(self, store: Store, clock: Clock, access: AccessService, audit: AuditLog,
                 locks: LockService, rate_limit: int = 0) -> None:  # fmt: skip
        self.store = store
        self.clock = clock
        self.access = access
        self.audit = audit
        self.locks = locks
        self.rate_limit = rate_limit
        self.box: SecretBox | None = None  # set by ControlPlane: the epoch carries its key tag

    def init(self, slug: str, display_name: str = "", model_change_policy: str = "strict",
             plan_tier: str = "business") -> tuple[WorkspaceRecord, str]:  # fmt: skip
        """Create a workspace and its first owner token; returns the token secret (once)."""
        if not SLUG_RE.fullmatch(slug):
            raise errors.InvalidArgument(f"workspace slug {slug!r} must match {SLUG_RE.pattern}")
        if ModelChangePolicy.of(model_change_policy) is None:
            raise errors.InvalidArgument(f"model_change_policy must be one of {POLICIES}")
        if plan_tier not in PLAN_TIERS:
            raise errors.InvalidArgument(f"plan_tier must be one of {', '.join(PLAN_TIERS)}")
        record = WorkspaceRecord(slug, secrets.token_hex(5), display_name or slug,
                                 self.clock.iso(), model_change_policy, plan_tier)  # fmt: skip
        with self.store.tx() as tx:
            if tx.get_workspace(slug):
                raise errors.AlreadyExists(f"workspace {slug!r} already exists")
            tx.insert_workspace(record)
            secret = self._insert_token(tx, slug, "workspace:owner", "initial owner token")
            self._insert_system_labels(tx, slug)
        return record, secret

    def _insert_system_labels(self, tx: StoreTx, slug: str) -> None:
        """The resources the control plane makes itself (built-in labels), per kind."""
        for kind in kinds_in_order():
            for address in sorted(kind.system_names):
                name = resource_name(slug, kind, address)
                now = self.clock.iso()
                data = dict(kind.system_fields)
                tx.insert_resource(ResourceRecord(name, slug, kind.name, None, data, [], "",
                                                  compute_etag(data, []), now, now))  # fmt: skip

    def create_token(self, workspace: str, scope: str, description: str, user: str = ""
                     ) -> tuple[str, str]:  # fmt: skip
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

    def _insert_token(self, tx: StoreTx, workspace: str, scope: str, description: str,
                      user: str = "") -> str:  # fmt: skip
        token_id, secret = new_token()
        tx.insert_token(TokenRecord(token_id, workspace, scope, description, hash_token(secret),
                                    self.clock.iso(), user))  # fmt: skip
        return secret

    def authenticate(self, token: str, lock_id: str = "", lock_override: bool = False
                     ) -> Principal:  # fmt: skip
        """The caller holding ``token`` (the bearer credential; "" when none was sent), with
        the lease it claims and whether it overrides the lock."""
        if not token:
            raise errors.Unauthenticated()
        with self.store.tx() as tx:
            found = tx.find_token(hash_token(token))
            if found is not None:
                admit(tx, found, self.clock.now())  # expired: 401; last use, once a minute
        if found is None:
            raise errors.Unauthenticated()
        self._count_request(found.id)
        return Principal(found.id, found.workspace, found.scope, found.description,
                         found.user_email, lock_id, lock_override)  # fmt: skip

    def principal_for(self, token_id: str, secret_hash: str) -> Principal:
        """The caller of a console session, which holds the id and the secret's hash of the
        token it signed in with (never the token): admitted as ``authenticate`` admits it, so
        a token revoked, rotated, expired or over its rate limit ends the session's access the
        same way."""
        with self.store.tx() as tx:
            found = tx.get_token(token_id)
            if found is not None and not hmac.compare_digest(found.secret_hash, secret_hash):
                found = None  # rotated: the secret the session signed in with is gone
            if found is not None:
                admit(tx, found, self.clock.now())
        if found is None:
            raise errors.Unauthenticated()
        self._count_request(found.id)
        return Principal(found.id, found.workspace, found.scope, found.description,
                         found.user_email)  # fmt: skip

    def _count_request(self, key: str) -> None:
        """A fixed one-minute window per token, counted in the database."""
        if self.rate_limit <= 0:
            return
        now = self.clock.now()
        with self.store.tx() as tx:
            count = tx.count_request(key, int(now // 60))
        if count > self.rate_limit:
            raise errors.RateLimited(max(1, 60 - int(now % 60)))

    def get(self, principal: Principal, workspace: str) -> dict[str, Any]:
        """The workspace's settings, and whether the caller is an owner (a plan says when a
        change needs one: ``FieldSpec.owner_only``)."""
        caller = self.access.caller(principal, workspace, Need.READ)
        with self.store.tx() as tx:
            ws = tx.get_workspace(workspace)
            owner = caller.is_owner(tx) if ws is not None else False
            history = tx.history(workspace) if ws is not None else None
        if ws is None:
            raise errors.NotFound(f"workspace {workspace!r} not found")
        revision = history_fields(history, self.box) if self.box is not None else {}
        return {**workspace_view(ws), "caller_is_owner": owner, **revision}

    def update(self, principal: Principal, workspace: str, body: dict[str, Any]
               ) -> dict[str, Any]:  # fmt: skip
        """Change the workspace's settings (owner only): display_name, model_change_policy,
        plan_tier."""
        caller = self.access.caller(principal, workspace, Need.OWNER)
        obj = body.get("workspace", {})
        obj = {} if obj is None else obj
        if not isinstance(obj, dict):
            raise errors.InvalidArgument("workspace must be an object")
        paths = mask_paths(body) + mask_paths(obj)
        name = f"workspaces/{workspace}"

        def step(tx: StoreTx) -> tuple[WorkspaceRecord, HistoryRecord | None]:
            ws = tx.get_workspace(workspace)
            if ws is None:
                raise errors.NotFound(f"workspace {workspace!r} not found")
            self.locks.check(tx, caller, Action.UPDATE, name)
            new = _changed(ws, obj, paths)
            if new != ws:
                if not tx.update_workspace(new, ws):  # a concurrent change got there first
                    raise Conflict
                self.audit.record(tx, principal, Action.UPDATE, name, sorted(paths))
            return new, tx.history(workspace)

        # only owners get here: the same answer as GET
        new, history = run_write(self.store, name, step)
        revision = history_fields(history, self.box) if self.box is not None else {}
        return {**workspace_view(new), "caller_is_owner": True, **revision}


def _changed(ws: WorkspaceRecord, obj: dict[str, Any], paths: list[str]) -> WorkspaceRecord:
    """``ws`` with the masked settings taken from ``obj`` (absent: their defaults)."""
    values = dict(ws.__dict__)
    for path in paths:
        key = path.removeprefix("workspace.")
        if key not in SETTINGS:
            raise errors.InvalidArgument(f"unknown or immutable field {path!r}")
        values[key] = obj.get(key, DEFAULTS[key])
    if ModelChangePolicy.of(values["model_change_policy"]) is None:
        raise errors.InvalidArgument(
            f"workspace.model_change_policy must be one of {', '.join(POLICIES)}"
        )
    if values["plan_tier"] not in PLAN_TIERS:
        raise errors.InvalidArgument(
            f"workspace.plan_tier must be one of {', '.join(PLAN_TIERS)}"
        )
    if not isinstance(values["display_name"], str) or len(values["display_name"]) > 200:
        raise errors.InvalidArgument(
            "workspace.display_name must be a string of at most 200 characters"
        )
    return WorkspaceRecord(**values)
