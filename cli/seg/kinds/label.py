"""Label: a ``key:value`` pair sources carry and role bindings scope by (IAM, owners only)."""

from __future__ import annotations

from typing import Any

from seg.model.kinds import AccessScope, Code, FieldSpec, Kind, Lookup, Subject, Violation

__all__ = ["KIND", "LABEL_PATTERN"]

# Matched whole (``re.fullmatch``: in Python ``$`` also matches before a trailing newline);
# bounded so that a full resource name fits the store's name column.
LABEL_PATTERN = r"^[A-Za-z][A-Za-z0-9-]{0,62}:[A-Za-z][A-Za-z0-9-]{0,62}$"


def _in_use(subject: Subject, lookup: Lookup) -> list[Violation]:
    """A label may go only when no source carries it and no role binding scopes by it."""
    key, _, value = subject.address.partition(":")
    users = [f"source {address}" for address, fields in lookup.every("Source")
             if (fields.get("labels") or {}).get(key) == value]  # fmt: skip
    for address, fields in lookup.every("RoleBinding"):
        scope = fields.get("scope")
        if isinstance(scope, dict) and (scope.get("labels") or {}).get(key) == value:
            users.append(f"role binding {address}")
    if not users:
        return []
    message = (
        f"label {subject.address} is in use by {', '.join(users)}; remove it from them first"
    )
    return [Violation((), message, "label/in-use", Code.FAILED_PRECONDITION)]


# The spec as seg validate and the control plane check it (after interpolation);
# schemas/resolved/ and the published schemas are generated from it.
SPEC_SCHEMA: dict[str, Any] = {
    "title": "Label spec",
    "description": (
        "A label key:value (the document's name). Key and value start with a letter and hold "
        "letters, digits and '-' (no '_'). Labels attach to sources; labels cannot be renamed."
    ),
    "type": "object",
    "additionalProperties": False,
    "properties": {"description": {"type": "string", "maxLength": 500}},
}

KIND = Kind(
    name="Label",
    key="label",
    collection="labels",
    order=10,
    fields=(FieldSpec("description", "string"),),
    defaults={"description": ""},
    name_pattern=LABEL_PATTERN,
    system_names=frozenset({"environment:dev", "environment:prod"}),
    system_fields={"description": "built in"},
    owner_only=True,
    access=True,
    access_scope=AccessScope.OWNER,
    delete_rules=(_in_use,),
    spec_schema=SPEC_SCHEMA,
)
