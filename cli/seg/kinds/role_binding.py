"""RoleBinding: a role granted to a user or a group on the workspace, some sources, or the
sources carrying some labels (IAM, owners only)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from seg.kinds import group, source
from seg.model.kinds import AccessScope, FieldSpec, Kind, Lookup, Ref, Subject, Violation
from seg.policy.access import LABEL_SCOPED_ROLES, explain

__all__ = ["KIND", "effective_access"]

NAME = "RoleBinding"


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


def effective_access(email: str, lookup: Lookup) -> dict[str, Any]:
    """``email``'s effective access (``seg.policy.access.explain``) from the bindings, the
    groups' members and the sources' labels that ``lookup`` holds."""
    bindings = [fields for _, fields in lookup.every(NAME)]
    groups = {address: fields.get("members", [])
              for address, fields in lookup.every(group.KIND.name)}  # fmt: skip
    sources = {address: fields.get("labels") or {}
               for address, fields in lookup.every(source.KIND.name)}  # fmt: skip
    return explain(email, bindings, groups, sources)


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


# The spec as seg validate and the control plane check it (after interpolation);
# schemas/resolved/ and the published schemas are generated from it.
SPEC_SCHEMA: dict[str, Any] = {
    "title": "RoleBinding spec",
    "description": (
        "Grants a role to a user or a group, on the workspace, on listed sources, or on sources "
        "carrying all the given labels."
    ),
    "type": "object",
    "required": ["subject", "role", "scope"],
    "additionalProperties": False,
    "properties": {
        "subject": {
            "type": "object",
            "minProperties": 1,
            "maxProperties": 1,
            "additionalProperties": False,
            "properties": {
                "user": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$"},
                "group": {"type": "string", "pattern": "^[a-z][a-z0-9-]{0,62}$"},
            },
        },
        "role": {
            "enum": [
                "workspace_owner",
                "workspace_member",
                "minimal_workspace_access",
                "source_admin",
                "source_read_only",
                "tracking_plan_admin",
                "tracking_plan_read_only",
                "warehouse_admin",
                "warehouse_read_only",
                "function_admin",
                "function_read_only",
                "identity_admin",
                "end_user_privacy_admin",
                "engage_admin",
                "engage_user",
                "engage_read_only",
                "entities_admin",
                "entities_read_only",
                "pii_access",
            ],
        },
        "scope": {
            "description": (
                "\"workspace\", {sources: [names]} or {labels: {key: value}} (labels combine "
                "with AND)."
            ),
            "oneOf": [
                {"const": "workspace"},
                {
                    "type": "object",
                    "minProperties": 1,
                    "maxProperties": 1,
                    "additionalProperties": False,
                    "properties": {
                        "sources": {
                            "type": "array",
                            "minItems": 1,
                            "uniqueItems": True,
                            "items": {"type": "string", "pattern": "^[a-z][a-z0-9-]{0,62}$"},
                        },
                        "labels": {
                            "type": "object",
                            "minProperties": 1,
                            "propertyNames": {"pattern": "^[A-Za-z][A-Za-z0-9-]*$"},
                            "additionalProperties": {
                                "type": "string",
                                "pattern": "^[A-Za-z][A-Za-z0-9-]*$",
                            },
                        },
                    },
                },
            ],
        },
    },
}

KIND = Kind(
    name=NAME,
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
    spec_schema=SPEC_SCHEMA,
)
