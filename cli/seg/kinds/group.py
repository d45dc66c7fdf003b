"""Group: a named set of member e-mails that role bindings grant roles to (IAM)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seg.model.kinds import AccessScope, Code, FieldSpec, Kind, Lookup, Subject, Violation

__all__ = ["KIND"]


def _in_use(subject: Subject, lookup: Lookup) -> list[Violation]:
    users = [address for address, fields in lookup.every("RoleBinding")
             if (fields.get("subject") or {}).get("group") == subject.address]  # fmt: skip
    if not users:
        return []
    message = f"group {subject.address} is used by role bindings {', '.join(users)}"
    return [Violation((), message, "group/in-use", Code.FAILED_PRECONDITION)]


def _summary(symbol: str, _verb: str, address: str, action: str,
             fields: Mapping[str, Any]) -> str:  # fmt: skip
    members = ", ".join(map(str, fields.get("members") or [])) or "no members"
    return f"{symbol} group {address} ({members}) {action}"


# The spec as seg validate and the control plane check it (after interpolation);
# schemas/resolved/ and the published schemas are generated from it.
SPEC_SCHEMA: dict[str, Any] = {
    "title": "Group spec",
    "type": "object",
    "required": ["members"],
    "additionalProperties": False,
    "properties": {
        "display_name": {"type": "string", "maxLength": 200},
        "members": {
            "type": "array",
            "uniqueItems": True,
            "items": {"type": "string", "pattern": "^[^@\\s]+@[^@\\s]+\\.[^@\\s]+$"},
        },
    },
}

KIND = Kind(
    name="Group",
    key="group",
    collection="groups",
    order=12,
    fields=(FieldSpec("display_name", "string"), FieldSpec("members", "array")),
    defaults={"display_name": "", "members": []},
    owner_only=True,
    access=True,
    access_scope=AccessScope.OWNER,
    delete_rules=(_in_use,),
    summary=_summary,
    spec_schema=SPEC_SCHEMA,
)
