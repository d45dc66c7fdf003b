"""Effective access (SPEC §6 rule 4): roles are additive — the union of a user's own bindings
and their groups' — and a label scope matches a source carrying all of its labels (AND).

``explain`` serves `seg access explain` and the control plane's access endpoint alike.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from seg.model.kinds import AccessScope

__all__ = [
    "LABEL_SCOPED_ROLES",
    "SOURCE_ROLES",
    "allowed",
    "explain",
    "is_owner",
    "may_write_any",
]

LABEL_SCOPED_ROLES = frozenset(
    {"source_admin", "source_read_only", "engage_admin", "engage_user", "engage_read_only"}
)
# Kinds governed by a workspace-wide admin role and its read-only twin.
WORKSPACE_ROLES = {
    AccessScope.TRACKING_PLAN: ("tracking_plan_admin", "tracking_plan_read_only"),
    AccessScope.WAREHOUSE: ("warehouse_admin", "warehouse_read_only"),
    AccessScope.FUNCTION: ("function_admin", "function_read_only"),
}
# Roles that grant something on sources when bound at the workspace scope.
SOURCE_ROLES = frozenset({"workspace_owner", "source_admin", "source_read_only"})


def _applies(subject: Mapping[str, Any], email: str, groups: Mapping[str, Iterable[str]]) -> bool:
    if subject.get("user"):
        return str(subject["user"]).lower() == email
    members = {m.lower() for m in groups.get(str(subject.get("group")), ())}
    return email in members


def explain(
    email: str,
    bindings: Iterable[Mapping[str, Any]],
    groups: Mapping[str, Iterable[str]],
    sources: Mapping[str, Mapping[str, str]],
) -> dict[str, Any]:
    """``{"user", "workspace_roles", "sources": {source: [roles]}}`` for ``email``.

    ``bindings`` carry ``subject``, ``role`` and ``scope`` (``"workspace"``, ``{"sources":
    [...]}`` or ``{"labels": {...}}``); ``sources`` maps each source to its labels."""
    email = email.lower()
    workspace_roles: set[str] = set()
    per_source: dict[str, set[str]] = {name: set() for name in sources}
    for binding in bindings:
        if not _applies(binding.get("subject") or {}, email, groups):
            continue
        role, scope = str(binding.get("role")), binding.get("scope")
        if scope == "workspace" or not isinstance(scope, dict):
            workspace_roles.add(role)
            if role in SOURCE_ROLES:
                for roles in per_source.values():
                    roles.add(role)
        elif "sources" in scope:
            for name in scope["sources"]:
                if name in per_source:
                    per_source[name].add(role)
        elif "labels" in scope:
            wanted = dict(scope["labels"])
            for name, labels in sources.items():
                if all(labels.get(k) == v for k, v in wanted.items()):
                    per_source[name].add(role)
    return {
        "user": email,
        "workspace_roles": sorted(workspace_roles),
        "sources": {name: sorted(roles) for name, roles in sorted(per_source.items())},
    }


def allowed(access: Mapping[str, Any], scope: AccessScope, address: str, write: bool) -> bool:
    """Whether ``explain``'s result lets its user read (or write) a resource of a kind with
    access ``scope`` (``Kind.access_scope``).

    Owners may do anything; a source and everything under it need source_admin to write and
    source_admin or source_read_only to read; tracking plans, warehouses and functions need
    their admin role (or its _read_only twin to read); labels, groups and role bindings are
    the owners'."""
    workspace_roles = set(access["workspace_roles"])
    if "workspace_owner" in workspace_roles:
        return True
    if scope is AccessScope.SOURCE:
        source = address.split("/", 1)[0]
        roles = set(access["sources"].get(source, workspace_roles & SOURCE_ROLES))
        return "source_admin" in roles if write else bool(roles & SOURCE_ROLES)
    if scope in WORKSPACE_ROLES:
        admin, read_only = WORKSPACE_ROLES[scope]
        if write:
            return admin in workspace_roles
        return bool(workspace_roles & {admin, read_only})
    return False


def is_owner(access: Mapping[str, Any]) -> bool:
    """Whether ``explain``'s result makes its user a workspace owner."""
    return "workspace_owner" in access["workspace_roles"]


def may_write_any(access: Mapping[str, Any]) -> bool:
    """Whether the user may write anything at all (so may take the workspace lock)."""
    roles = set(access["workspace_roles"])
    if roles & ({"workspace_owner", "source_admin"} | {a for a, _ in WORKSPACE_ROLES.values()}):
        return True
    return any("source_admin" in granted for granted in access["sources"].values())
