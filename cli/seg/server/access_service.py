"""Who may do what. A user-bound token is held to its user's roles — the same evaluation as
``seg access explain`` (``seg.policy.access``), so what explain says is what the server does.
The user's effective access is assembled at most once per call, from the live bindings,
groups and source labels."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from seg.kinds import KINDS
from seg.kinds.names import parse_resource_name
from seg.kinds.role_binding import effective_access
from seg.model.kinds import AccessScope, Kind
from seg.policy.access import allowed, is_owner, may_write_any
from seg.server import errors
from seg.server.auth import can_write
from seg.server.core import Action, Need, Principal
from seg.server.rules import TxLookup
from seg.store.base import Store, StoreTx

__all__ = ["AccessService", "Caller", "assemble", "readable"]


def assemble(tx: StoreTx, workspace: str, email: str) -> dict[str, Any]:
    """``email``'s effective access from the live bindings, groups and source labels."""
    return effective_access(email, TxLookup(tx, workspace))


def readable(access: dict[str, Any] | None, name: str) -> bool:
    """Whether an access (None: a token not bound to a user) lets its holder read ``name``."""
    if access is None:
        return True
    try:
        _, kind, address = parse_resource_name(name)
    except ValueError:
        return False  # not a resource name: nothing a user may read
    return allowed(access, kind.access_scope, address, False)


class Caller:
    """A principal admitted to its workspace. Methods taking ``tx`` read the access in that
    transaction the first time it is needed (so no second transaction opens inside one)."""

    def __init__(self, store: Store, principal: Principal) -> None:
        self.principal = principal
        self._store = store
        self._access: dict[str, Any] | None = None

    def access(self, tx: StoreTx | None = None) -> dict[str, Any] | None:
        """The user's effective access; None for a token not bound to a user."""
        user, workspace = self.principal.user, self.principal.workspace
        if not user:
            return None
        if self._access is None:
            if tx is None:
                with self._store.tx() as own:
                    self._access = assemble(own, workspace, user)
            else:
                self._access = assemble(tx, workspace, user)
        return self._access

    def require(self, need: Need) -> None:
        """The token's scope allows ``need``; an owner-only call from a user-bound token also
        needs its user to hold the workspace_owner role."""
        p = self.principal
        if need is not Need.READ and not can_write(p.scope, need is Need.OWNER):
            raise errors.InsufficientScope()
        if need is Need.OWNER and p.user and not is_owner(self.access() or {}):
            raise errors.PermissionDenied(
                f"permission denied: {p.user} does not have the workspace_owner role"
            )

    def is_owner(self, tx: StoreTx | None = None) -> bool:
        """Whether the caller may act as an owner (override a lease held by another)."""
        if self.principal.scope != "workspace:owner":
            return False
        access = self.access(tx)
        return access is None or is_owner(access)

    def check(self, kind: str, address: str, action: Action, tx: StoreTx | None = None) -> None:
        """The user may do ``action`` on the resource of ``kind`` at ``address``."""
        access = self.access(tx)
        scope = KINDS[kind].access_scope
        if access is not None and not allowed(access, scope, address, action.writes):
            raise errors.PermissionDenied(
                f"permission denied: {self.principal.user} may not {action.value} {kind} "
                f"{address}"
            )

    @property
    def identity(self) -> str:
        """Who the caller is, as a resource's ``creator`` records it: ``user:<email>`` for a
        user-bound token (so rotating the token keeps the user's resources theirs), else
        ``token:<id>``."""
        p = self.principal
        return f"user:{p.user}" if p.user else f"token:{p.token_id}"

    def check_creator(self, kind: Kind, creator: str, action: Action,
                      tx: StoreTx | None = None) -> None:  # fmt: skip
        """Of a ``Kind.creator_edits`` resource, only its creator edits or deletes it; a
        workspace owner (an owner token not bound to a user, or a user with the
        workspace_owner role) may delete it too. Without a recorded creator (made before
        creators were kept) anyone who may write it may."""
        if not kind.creator_edits or not creator or creator == self.identity:
            return
        if action is Action.DELETE and self._owner_identity(tx):
            return
        raise errors.PermissionDenied(
            f"permission denied: only its creator ({creator}) may edit this {kind.noun}; "
            "workspace owners may delete it"
        )

    def _owner_identity(self, tx: StoreTx | None) -> bool:
        """Whether the caller is a workspace owner: a user with the workspace_owner role, or a
        token with the owner scope that is not bound to a user."""
        if self.principal.user:
            return is_owner(self.access(tx) or {})
        return self.principal.scope == "workspace:owner"

    def may_read(self, kind: str, address: str, tx: StoreTx | None = None) -> bool:
        """Whether the user may read the resource of ``kind`` at ``address``."""
        access = self.access(tx)
        return access is None or allowed(access, KINDS[kind].access_scope, address, False)

    def readable(self, name: str, tx: StoreTx | None = None) -> bool:
        return readable(self.access(tx), name)

    def may_write_anything(self) -> bool:
        access = self.access()
        return access is None or may_write_any(access)

    def check_refs(self, kind: Kind, data: dict[str, Any], before: dict[str, Any],
                   tx: StoreTx | None = None) -> None:  # fmt: skip
        """A user may point a reference (``Source.tracking_plan``, ``Mapping.model``) only at
        what the user may read: otherwise the write would reveal, and pin, a hidden resource."""
        access = self.access(tx)
        if access is None:
            return
        for spec in kind.fields:
            value = data.get(spec.name)
            if not (spec.ref and value and isinstance(value, str)) or spec.open_ref:
                continue
            if value == before.get(spec.name):
                continue
            try:
                address = parse_resource_name(value)[2]
            except ValueError:
                continue  # not a resource name: the kind's rules refuse it
            if not allowed(access, KINDS[spec.ref].access_scope, address, False):
                raise errors.PermissionDenied(
                    f"permission denied: {self.principal.user} may not refer to {spec.ref} "
                    f"{address}"
                )
        self._check_hook_refs(access, kind, data, before)
        self._check_connections(access, kind, data, before)

    def _check_hook_refs(self, access: dict[str, Any], kind: Kind, data: dict[str, Any],
                         before: dict[str, Any]) -> None:  # fmt: skip
        """References the kind's hook finds in a ``FieldSpec.refers`` field (a source's
        forwarding targets): each new one must be readable, like a ``ref`` field's."""
        def named(fields: dict[str, Any]) -> set[tuple[str, str]]:
            return {(ref_kind, address) for ref_kind, address, path in kind.references(fields)
                    if (spec := kind.field(path[0])) is not None and spec.refers}  # fmt: skip

        for ref_kind, address in sorted(named(data) - named(before)):
            if not allowed(access, KINDS[ref_kind].access_scope, address, False):
                raise errors.PermissionDenied(
                    f"permission denied: {self.principal.user} may not refer to {ref_kind} "
                    f"{address}"
                )

    def _check_connections(self, access: dict[str, Any], kind: Kind, data: dict[str, Any],
                           before: dict[str, Any]) -> None:  # fmt: skip
        """Connecting or disconnecting a resource (a ``FieldSpec.connects`` field: a
        warehouse's sources) needs write access on it too (source_admin on the source)."""
        def connected(fields: dict[str, Any]) -> set[tuple[str, str]]:
            return {(ref_kind, address) for ref_kind, address, path in kind.references(fields)
                    if (spec := kind.field(path[0])) is not None and spec.connects}  # fmt: skip

        for ref_kind, address in sorted(connected(data) ^ connected(before)):
            if not allowed(access, KINDS[ref_kind].access_scope, address, True):
                raise errors.PermissionDenied(
                    f"permission denied: {self.principal.user} may not connect or disconnect "
                    f"{ref_kind} {address} (that needs write access on it)"
                )

    def check_owner_fields(self, kind: Kind, touched: Iterable[str],
                           tx: StoreTx | None = None) -> None:  # fmt: skip
        """Fields only workspace owners may set or change (``FieldSpec.owner_only``)."""
        names = sorted({name for name in touched
                        if (spec := kind.field(name)) is not None and spec.owner_only})  # fmt: skip
        if names and not self.is_owner(tx):
            who = self.principal.user or "this token"
            raise errors.PermissionDenied(
                f"permission denied: only workspace owners may change {kind.key}.{names[0]} "
                f"({who} is not one)"
            )


class AccessService:
    """Admits callers to a workspace and explains a user's access."""

    def __init__(self, store: Store) -> None:
        self.store = store

    def caller(self, principal: Principal, workspace: str, need: Need) -> Caller:
        """``principal`` admitted to ``workspace`` for a call needing ``need``."""
        if principal.workspace != workspace:
            raise errors.PermissionDenied(
                f"permission denied: the token does not belong to workspace {workspace!r}"
            )
        caller = Caller(self.store, principal)
        caller.require(need)
        return caller

    def explain(self, principal: Principal, workspace: str, email: str) -> dict[str, Any]:
        """A user's effective access per source, from the live bindings, groups and labels.

        A user-bound token may explain its own user; explaining anyone else needs the
        workspace_owner role. Its answer lists only the sources the token's user may read."""
        caller = self.caller(principal, workspace, Need.READ)
        with self.store.tx() as tx:
            access = assemble(tx, workspace, email)
            mine = caller.access(tx)
        if mine is None:
            return access
        if access["user"] != principal.user and not is_owner(mine):
            raise errors.PermissionDenied(
                f"permission denied: {principal.user} may explain only their own access "
                "(explaining another user needs the workspace_owner role)"
            )
        shown = {source: roles for source, roles in access["sources"].items()
                 if allowed(mine, AccessScope.SOURCE, source, False)}  # fmt: skip
        return {**access, "sources": shown}
