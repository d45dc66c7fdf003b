"""A token's life after it is minted: listing, creating with an expiry, revoking and rotating
(owners through the API; an administrator with database access through ``seg server token``),
and what authentication checks of a stored token (its expiry) and records (its last use).

Authentication reads the token from the database on every request and nothing caches it, so a
revocation or rotation committed by one server is seen by every server on that database at
the next request. Every create, revoke and rotate is an audit event on
``workspaces/<ws>/tokens/<id>``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from seg.model.clip import clip_repr
from seg.model.printable import UNSAFE
from seg.server import errors
from seg.server.access_service import AccessService
from seg.server.audit import AuditLog
from seg.server.auth import SCOPES, hash_token, new_token, secret_for
from seg.server.clock import Clock, iso
from seg.server.core import Action, Conflict, Need, Principal, run_write
from seg.store.base import Store, StoreTx, TokenRecord

__all__ = [
    "ADMIN_ACTOR",
    "LAST_USE_GRANULARITY",
    "MAX_EXPIRES_IN",
    "MAX_TOKENS",
    "TOKEN_KEYS",
    "TokenService",
    "admit",
    "parse_expires_in",
]

# A token's last use is written at most once per this many seconds: authentication stays a
# read on almost every request (one conditional UPDATE per token per minute, whichever server
# gets there first).
LAST_USE_GRANULARITY = 60
MAX_EXPIRES_IN = 1825 * 86400  # five years: a longer-lived credential should not expire at all
MAX_TOKENS = 1000  # per workspace: the list is one bounded answer, never paged
MAX_DESCRIPTION = 200
MAX_EMAIL = 320
# Who the audit trail names for the CLI's writes: someone with the database's credentials.
ADMIN_ACTOR = ("seg-server-admin", "seg server (database access)")
TOKEN_KEYS = frozenset({"description", "scope", "user", "expires_in_seconds"})
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
_DURATION = re.compile(r"(\d{1,9})([smhd])")
_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


@dataclass(frozen=True)
class _NewToken:
    """What a create asks for, already checked."""

    scope: str
    description: str
    user: str
    expires_in: int  # seconds; 0 = never


def admit(tx: StoreTx, token: TokenRecord, now: float) -> None:
    """Refuse an expired token (401, "token expired"); record a use of a live one when the
    stored last use is older than ``LAST_USE_GRANULARITY`` (so not on every request)."""
    stamp = iso(now)
    if token.expire_time and token.expire_time <= stamp:
        raise errors.Unauthenticated("token expired")
    if token.last_used_time < iso(now - LAST_USE_GRANULARITY):
        tx.record_token_use(token.id, stamp, iso(now - LAST_USE_GRANULARITY))


def parse_expires_in(text: str) -> int:
    """``30d``, ``12h``, ``90m``, ``3600s`` as seconds (1 s up to five years)."""
    match = _DURATION.fullmatch(text.strip())
    if match is None:
        raise errors.InvalidArgument(
            f"--expires-in must be a whole number and a unit s, m, h or d (30d, 12h, 90m); "
            f"got {clip_repr(text)}"
        )
    seconds = int(match.group(1)) * _UNITS[match.group(2)]
    if not 0 < seconds <= MAX_EXPIRES_IN:
        raise errors.InvalidArgument(
            f"--expires-in must be between 1s and {MAX_EXPIRES_IN // 86400}d; got {text.strip()}"
        )
    return seconds


def token_name(workspace: str, token_id: str) -> str:
    return f"workspaces/{workspace}/tokens/{token_id}"


def token_view(token: TokenRecord, now: float) -> dict[str, Any]:
    """A token as listed: never its secret nor the secret's hash."""
    return {
        "name": token_name(token.workspace, token.id),
        "id": token.id,
        "description": token.description,
        "scope": token.scope,
        "user": token.user_email,
        "create_time": token.create_time,
        "last_used_time": token.last_used_time,
        "expire_time": token.expire_time,
        "expired": bool(token.expire_time) and token.expire_time <= iso(now),
    }


def _text(obj: dict[str, Any], key: str, limit: int) -> str:
    value = obj.get(key)
    value = "" if value is None else value
    if not isinstance(value, str):
        raise errors.InvalidArgument(f"token.{key} must be a string")
    if len(value) > limit:
        raise errors.InvalidArgument(f"token.{key} must be at most {limit} characters")
    return value


def _spec(scope: str, description: str, user: str, expires_in: int) -> _NewToken:
    """The checks every create passes, from the API or the CLI. The description and user are
    shown in lists, audit events and terminals: one visible line, no escape sequences."""
    user = user.strip()
    for key, value in (("description", description), ("user", user)):
        if UNSAFE.search(value):
            raise errors.InvalidArgument(
                f"token.{key} holds a control, line-break or bidi character"
            )
    if len(description) > MAX_DESCRIPTION or len(user) > MAX_EMAIL:
        raise errors.InvalidArgument(f"token.description must be at most {MAX_DESCRIPTION} "
                                     f"characters and token.user at most {MAX_EMAIL}")  # fmt: skip
    if scope not in SCOPES:
        raise errors.InvalidArgument(f"token.scope must be one of {', '.join(SCOPES)}")
    if not description.strip():
        raise errors.InvalidArgument("token.description is required")
    if user and not _EMAIL.fullmatch(user):
        raise errors.InvalidArgument(f"token.user must be an email address; got {clip_repr(user)}")
    if not 0 <= expires_in <= MAX_EXPIRES_IN:
        raise errors.InvalidArgument(
            f"token.expires_in_seconds must be between 1 and {MAX_EXPIRES_IN}"
        )
    return _NewToken(scope, description.strip(), user.lower(), expires_in)


def _body_spec(body: dict[str, Any]) -> _NewToken:
    """The ``token`` object of a create request (strict: unknown keys are refused)."""
    obj = body.get("token")
    if not isinstance(obj, dict):
        raise errors.InvalidArgument("token must be an object")
    unknown = sorted(set(obj) - TOKEN_KEYS)
    if unknown:
        shown = ", ".join(clip_repr(k, 40) for k in unknown[:5])
        raise errors.InvalidArgument(
            f"unknown token field(s) {shown}; expected {', '.join(sorted(TOKEN_KEYS))}"
        )
    expires = obj.get("expires_in_seconds")
    if expires is None:
        expires = 0  # never
    elif isinstance(expires, bool) or not isinstance(expires, int) or expires < 1:
        raise errors.InvalidArgument("token.expires_in_seconds must be a positive integer")
    scope = _text(obj, "scope", 32)
    return _spec(scope, _text(obj, "description", MAX_DESCRIPTION), _text(obj, "user", MAX_EMAIL),
                 expires)  # fmt: skip


def _find(tx: StoreTx, workspace: str, token_id: str) -> TokenRecord:
    """The workspace's token ``token_id``; another workspace's is as missing as none."""
    found = tx.get_token(token_id)
    if found is None or found.workspace != workspace:
        raise errors.NotFound(f"token {clip_repr(token_id)} not found in workspace {workspace!r}")
    return found


def _is_owner_token(token: TokenRecord, now: float) -> bool:
    """A live owner token bound to no user: one that can always manage the workspace's tokens
    (a user-bound one also needs its user's workspace_owner role, which can go)."""
    live = not token.expire_time or token.expire_time > iso(now)
    return token.scope == "workspace:owner" and not token.user_email and live


class TokenService:
    def __init__(self, store: Store, clock: Clock, access: AccessService, audit: AuditLog) -> None:
        self.store = store
        self.clock = clock
        self.access = access
        self.audit = audit

    # --- the API: owners of the workspace ------------------------------------------------

    def list_tokens(self, principal: Principal, workspace: str) -> dict[str, Any]:
        self.access.caller(principal, workspace, Need.OWNER)
        return {"tokens": self._list(workspace)}

    def create(self, principal: Principal, workspace: str, body: dict[str, Any]
               ) -> dict[str, Any]:  # fmt: skip
        """Mint a token (the secret is in the answer, once). A user-bound caller mints only
        tokens bound to its own user; a caller whose token expires mints only tokens that
        expire no later (so no token outlives the credential that made it)."""
        self.access.caller(principal, workspace, Need.OWNER)
        spec = _body_spec(body)
        if principal.user:
            if spec.user and spec.user != principal.user:
                raise errors.PermissionDenied(
                    f"permission denied: {principal.user} may create tokens only for "
                    "themselves (token.user)"
                )
            spec = _NewToken(spec.scope, spec.description, principal.user, spec.expires_in)
        if SCOPES.index(spec.scope) > SCOPES.index(principal.scope):
            raise errors.PermissionDenied("permission denied: a token may not mint a wider scope")
        return self._create(principal, workspace, spec)

    def revoke(self, principal: Principal, workspace: str, token_id: str) -> None:
        """Delete a token (the next request with it is 401). The workspace's last live owner
        token is kept (409): without it nobody could manage tokens through the API."""
        self.access.caller(principal, workspace, Need.OWNER)
        self._revoke(principal, workspace, token_id, force=False)

    def rotate(self, principal: Principal, workspace: str, token_id: str) -> dict[str, Any]:
        """A new secret for the token (same id, description, scope, user and expiry); the old
        one stops working at once. A user-bound caller rotates only its own user's tokens:
        the answer holds the new secret."""
        self.access.caller(principal, workspace, Need.OWNER)
        return self._rotate(principal, workspace, token_id)

    # --- an administrator with database access (seg server token ...) -------------------

    def admin_list(self, workspace: str) -> list[dict[str, Any]]:
        return self._list(workspace)

    def admin_create(self, workspace: str, scope: str, description: str, user: str = "",
                     expires_in: int = 0) -> dict[str, Any]:  # fmt: skip
        return self._create(_admin(workspace), workspace,
                            _spec(scope, description, user, expires_in))  # fmt: skip

    def admin_revoke(self, workspace: str, token_id: str, force: bool = False) -> None:
        self._revoke(_admin(workspace), workspace, token_id, force)

    def admin_rotate(self, workspace: str, token_id: str) -> dict[str, Any]:
        return self._rotate(_admin(workspace), workspace, token_id)

    # --- shared steps ----------------------------------------------------------------------

    def _list(self, workspace: str) -> list[dict[str, Any]]:
        now = self.clock.now()
        with self.store.tx() as tx:
            if tx.get_workspace(workspace) is None:
                raise errors.NotFound(f"workspace {workspace!r} not found")
            return [token_view(t, now) for t in tx.list_tokens(workspace)]

    def _create(self, actor: Principal, workspace: str, spec: _NewToken) -> dict[str, Any]:
        def step(tx: StoreTx) -> dict[str, Any]:
            if tx.get_workspace(workspace) is None:
                raise errors.NotFound(f"workspace {workspace!r} not found")
            now = self.clock.now()
            expire_time = iso(now + spec.expires_in) if spec.expires_in else ""
            self._check_outlives(tx, actor, expire_time)
            if len(tx.list_tokens(workspace)) >= MAX_TOKENS:
                raise errors.FailedPrecondition(
                    f"workspace {workspace!r} has {MAX_TOKENS} tokens, the most it may hold; "
                    "revoke unused ones first"
                )
            token_id, secret = new_token()
            record = TokenRecord(token_id, workspace, spec.scope, spec.description,
                                 hash_token(secret), iso(now), spec.user, expire_time)  # fmt: skip
            tx.insert_token(record)
            self.audit.record(tx, actor, Action.CREATE, token_name(workspace, token_id), [])
            return {**token_view(record, now), "secret": secret}

        return run_write(self.store, f"workspaces/{workspace}/tokens", step)

    def _check_outlives(self, tx: StoreTx, actor: Principal, expire_time: str) -> None:
        """A token the caller mints or rotates (either hands out its secret) expires no later
        than the caller's own token."""
        if actor.token_id == ADMIN_ACTOR[0]:
            return
        mine = tx.get_token(actor.token_id)
        if mine is None or not mine.expire_time:
            return
        if not expire_time or expire_time > mine.expire_time:
            raise errors.PermissionDenied(
                f"permission denied: this token expires at {mine.expire_time}, so the tokens it "
                "creates must expire no later (set token.expires_in_seconds)"
            )

    def _revoke(self, actor: Principal, workspace: str, token_id: str, force: bool) -> None:
        name = token_name(workspace, token_id)

        def step(tx: StoreTx) -> None:
            token = _find(tx, workspace, token_id)
            now = self.clock.now()
            if not force and _is_owner_token(token, now):
                others = [t for t in tx.list_tokens(workspace)
                          if t.id != token.id and _is_owner_token(t, now)]  # fmt: skip
                if not others:
                    hint = ("--force revokes it anyway" if actor.token_id == ADMIN_ACTOR[0]
                            else "an administrator may still: seg server token revoke --force")
                    raise errors.FailedPrecondition(
                        f"{token_id} is the last owner token of workspace {workspace!r}; "
                        f"create another owner token first ({hint})"
                    )  # fmt: skip
            if not tx.delete_token(token.id):
                raise Conflict
            self.audit.record(tx, actor, Action.DELETE, name, [])

        run_write(self.store, name, step)

    def _rotate(self, actor: Principal, workspace: str, token_id: str) -> dict[str, Any]:
        name = token_name(workspace, token_id)

        def step(tx: StoreTx) -> dict[str, Any]:
            token = _find(tx, workspace, token_id)
            if actor.user and token.user_email != actor.user:
                raise errors.PermissionDenied(
                    f"permission denied: {actor.user} may rotate only their own tokens"
                )
            now = self.clock.now()
            if token.expire_time and token.expire_time <= iso(now):
                raise errors.FailedPrecondition(
                    f"{token_id} has expired; a rotation keeps the expiry, so create a new token"
                )
            self._check_outlives(tx, actor, token.expire_time)  # its secret is in the answer
            secret = secret_for(token.id)
            if not tx.replace_token_secret(token.id, token.secret_hash, hash_token(secret)):
                raise Conflict  # rotated or revoked concurrently: look again
            self.audit.record(tx, actor, Action.UPDATE, name, ["secret"])
            return {**token_view(token, now), "secret": secret}

        return run_write(self.store, name, step)


def _admin(workspace: str) -> Principal:
    token_id, description = ADMIN_ACTOR
    return Principal(token_id, workspace, "workspace:owner", description)
