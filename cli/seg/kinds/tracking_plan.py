"""TrackingPlan: event rules (draft-07 JSON Schemas) that sources connect to. Its API names
use server ids (``tp_…``); the YAML name travels as ``external_id`` and is its address."""

from __future__ import annotations

from typing import Any

from seg.kinds.shared import readable_names
from seg.model.kinds import (
    AccessScope,
    Code,
    FieldSpec,
    FileField,
    Kind,
    Lookup,
    Subject,
    Violation,
)

__all__ = ["KIND", "MAX_RULES_PER_CALL"]

MAX_RULES_PER_CALL = 200  # "rules must contain less than or equal to 200 items"


def _schemas(subject: Subject, _lookup: Lookup) -> list[Violation]:
    """Each rule's ``json_schema`` must be a valid draft-07 schema, each identity unique."""
    from seg.tracking.rules import rule_list_problems  # jsonschema loads only for plans

    problems = rule_list_problems(subject.fields.get("rules") or [])
    return [Violation(path, message, "tracking-plan/schema") for path, message in problems]


def _unique_external_id(subject: Subject, lookup: Lookup) -> list[Violation]:
    """Two plans may not share an external id (the control plane's names are server ids)."""
    external_id = subject.fields.get("external_id")
    if subject.before is not None or external_id is None:
        return []
    for address, fields in lookup.every(subject.kind.name):
        if address != subject.address and fields.get("external_id") == external_id:
            message = f"a tracking plan with external_id {external_id!r} exists ({address})"
            return [Violation(("external_id",), message, "tracking-plan/unique",
                              Code.ALREADY_EXISTS)]  # fmt: skip
    return []


def _connected(subject: Subject, lookup: Lookup) -> list[Violation]:
    """A plan may go only when no source is connected to it."""
    sources = [address for address, fields in lookup.every("Source")
               if fields.get("tracking_plan") == subject.address]  # fmt: skip
    if not sources:
        return []
    named = readable_names(subject, [("Source", a, a) for a in sources], "source")
    message = (
        f"tracking plan {subject.fields.get('external_id', subject.address)} is connected to "
        f"sources {named}; disconnect them first"
    )
    return [Violation((), message, "tracking-plan/connected", Code.FAILED_PRECONDITION)]


# The spec as seg validate and the control plane check it (after interpolation);
# schemas/resolved/ and the published schemas are generated from it.
SPEC_SCHEMA: dict[str, Any] = {
    "title": "TrackingPlan spec",
    "description": (
        "A tracking plan: rules (JSON Schema draft-07) per call type, event and version. The "
        "YAML name is the plan's external_id; the control plane gives it a tp_ id."
    ),
    "type": "object",
    "required": ["rules"],
    "additionalProperties": False,
    "properties": {
        "display_name": {"type": "string", "maxLength": 200},
        "description": {"type": "string", "maxLength": 2000},
        "rules": {
            "type": "array",
            "items": {
                "type": "object",
                "required": ["type", "version"],
                "additionalProperties": False,
                "x-seg-message": (
                    "a rule needs json_schema or json_schema_file (not both), and key for TRACK "
                    "rules only"
                ),
                "properties": {
                    "type": {"enum": ["COMMON", "TRACK", "IDENTIFY", "GROUP", "PAGE", "SCREEN"]},
                    "key": {
                        "type": "string",
                        "minLength": 1,
                        "maxLength": 200,
                        "description": "The event name (TRACK rules).",
                    },
                    "version": {"type": "integer", "minimum": 1},
                    "json_schema": {"type": "object", "description": "A JSON Schema (draft-07)."},
                    "json_schema_file": {
                        "type": "string",
                        "pattern": "\\.(json|ya?ml)$",
                        "description": (
                            "A .json/.yaml file holding the schema, relative to this document "
                            "(YAML only)."
                        ),
                    },
                },
                "oneOf": [
                    {"required": ["json_schema"], "not": {"required": ["json_schema_file"]}},
                    {"required": ["json_schema_file"], "not": {"required": ["json_schema"]}},
                ],
                "if": {"properties": {"type": {"const": "TRACK"}}},
                "then": {"required": ["key"]},
                "else": {"not": {"required": ["key"]}},
            },
        },
    },
}

KIND = Kind(
    name="TrackingPlan",
    key="tracking_plan",
    collection="tracking-plans",
    order=20,
    fields=(
        FieldSpec("display_name", "string"),
        FieldSpec("description", "string"),
        FieldSpec(
            "rules", "array", unordered=True, max_per_call=MAX_RULES_PER_CALL, rule_items=True,
            item_file=FileField("json_schema_file", "json_schema", "schema", structured=True),
        ),
    ),
    defaults={"display_name": "", "description": "", "rules": []},
    id_prefix="tp_",
    access_scope=AccessScope.TRACKING_PLAN,
    rules=(_schemas, _unique_external_id),
    delete_rules=(_connected,),
    spec_schema=SPEC_SCHEMA,
)
