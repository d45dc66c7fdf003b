"""RoleBinding: a role granted to a user or a group on the workspace, some sources, or the
sources carrying some labels (IAM, owners only)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from seg.model.kinds import AccessScope, FieldSpec, Kind, Lookup, Ref, Subject, Violation
from seg.policy.access import LABEL_SCOPED_ROLES

__all__ = ["KIND"]


def _references(fields: Mapping[str, Any]) -> list[Ref]:
    out: list[Ref] = []
    subject, scope = fields.get("subject") or {}, fields.get("scope")
    if isinstance(subject, dict) and subject.get("group"):
        out.append(("Group", str(subject["group"]), ("subject", "group")))
    if isinstance(scope, dict):
        out += [("Source", str(s), ("scope", "sources")) for s in scope.get("sources") or []]
        out += [("Label", f"{k}:{v}", ("scope", "labels", str(k)))
                for k, v in (scope.get("labels") or {}).items()]  # fmt: skip
    return out


def _label_scope(subject: Subject, _lookup: Lookup) -> list[Violation]:
    """Only some roles can be bound to the sources carrying labels."""
    if subject.is_unknown(("role",)) or subject.is_unknown(("scope",)):
        return []
    scope, role = subject.fields.get("scope"), subject.fields.get("role")
    if isinstance(scope, dict) and "labels" in scope and role not in LABEL_SCOPED_ROLES:
        allowed = ", ".join(sorted(LABEL_SCOPED_ROLES))
        message = f"role {role!r} cannot take a label scope (only {allowed})"
        return [Violation(("role",), message, "access/label-scope")]
    return []


def _summary(symbol: str, verb: str, _address: str, _action: str,
             fields: Mapping[str, Any]) -> str:  # fmt: skip
    subject = fields.get("subject") or {}
    who = f"user {subject['user']}" if subject.get("user") else f"group {subject.get('group')}"
    scope = fields.get("scope")
    where = "the whole workspace" if scope == "workspace" else json.dumps(scope, sort_keys=True)
    return f"{symbol} {verb} {fields.get('role')} to {who} on {where}"


KIND = Kind(
    name="RoleBinding",
    key="role_binding",
    collection="role-bindings",
    order=35,
    fields=(
        FieldSpec("subject", "object"),
        FieldSpec("role", "string"),
        FieldSpec("scope", "object"),
    ),
    owner_only=True,
    access=True,
    access_scope=AccessScope.OWNER,
    rules=(_label_scope,),
    references=_references,
    summary=_summary,
)
