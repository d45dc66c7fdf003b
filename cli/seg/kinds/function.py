"""Function: custom JavaScript the platform runs — a source function (a webhook that makes
events), a destination function (a cloud-mode destination) or an insert function (transforms
or drops events before a destination). Its code is versioned by the control plane; instances
are Sources (``catalog: function:<name>``) and Destinations (``function: <name>``), and insert
functions attach to destinations (``insert_function: <name>``)."""

from __future__ import annotations

from typing import Any

from seg.model.kinds import AccessScope, FieldSpec, FileField, Kind, Lookup, Versioning

__all__ = ["KIND", "MAX_FUNCTIONS", "MAX_INSERT_DISPLAY_NAME", "NAME", "instances"]

NAME = "Function"
MAX_FUNCTIONS = 25  # per workspace, source + destination + insert
MAX_INSERT_DISPLAY_NAME = 120
SETTING_TYPES = ("string", "boolean", "number", "array", "map")

# The spec as seg validate and the control plane check it (after interpolation);
# schemas/resolved/ and the published schemas are generated from it.
SPEC_SCHEMA: dict[str, Any] = {
    "title": "Function spec",
    "description": "A source, destination or insert function: its code and settings schema.",
    "type": "object",
    "required": ["type"],
    "additionalProperties": False,
    "x-seg-message": "give exactly one of code or code_file",
    "oneOf": [
        {"required": ["code"], "not": {"required": ["code_file"]}},
        {"required": ["code_file"], "not": {"required": ["code"]}},
    ],
    "properties": {
        "type": {
            "enum": ["source", "destination", "insert"],
            "description": "source, destination or insert (immutable: a change replaces it).",
            "x-seg-immutable": True,
        },
        "display_name": {"type": "string", "maxLength": 200},
        "description": {"type": "string", "maxLength": 1000},
        "code": {
            "type": "string",
            "minLength": 1,
            "maxLength": 262144,
            "description": "The JavaScript code (at most 256 KiB).",
        },
        "code_file": {
            "type": "string",
            "minLength": 1,
            "pattern": "\\.js$",
            "description": (
                "Path of a .js file, relative to this document. Only in YAML: seg sends its "
                "text as code."
            ),
        },
        "settings": {
            "type": "array",
            "maxItems": 100,
            "description": "The settings every instance fills in (encrypted ones are secrets).",
            "items": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,63}$"},
                    "label": {"type": "string", "maxLength": 200},
                    "type": {"enum": list(SETTING_TYPES), "default": "string"},
                    "required": {"type": "boolean", "default": False},
                    "description": {"type": "string", "maxLength": 1000},
                    "encrypted": {"type": "boolean", "default": False},
                },
            },
        },
        "deploy": {
            "description": (
                "Which version the instances run: latest (default; every code change deploys) "
                "or a version number (pinned)."
            ),
            "oneOf": [{"const": "latest"}, {"type": "integer", "minimum": 1}],
            "default": "latest",
        },
    },
}


def instances(name: str, lookup: Lookup) -> list[tuple[str, str]]:
    """The declared resources that run function ``name``: Sources whose catalog is
    ``function:<name>``, Destinations whose ``function`` or ``insert_function`` is it."""
    found = [("Source", address) for address, fields in lookup.every("Source")
             if fields.get("catalog") == f"function:{name}"]  # fmt: skip
    found += [("Destination", address) for address, fields in lookup.every("Destination")
              if name in (fields.get("function"), fields.get("insert_function"))]  # fmt: skip
    return found


KIND = Kind(
    name=NAME,
    key="function",
    collection="functions",
    order=20,
    fields=(
        FieldSpec("type", "string", immutable=True),
        FieldSpec("display_name", "string"),
        FieldSpec("description", "string"),
        FieldSpec("code", "string", export_suffix="js"),
        FieldSpec("settings", "array"),
        FieldSpec("deploy", "string"),
    ),
    defaults={"display_name": "", "description": "", "settings": [], "deploy": "latest"},
    access_scope=AccessScope.FUNCTION,
    file_fields=(FileField("code_file", "code", "code"),),
    versioning=Versioning("code", "deploy"),
    instances=instances,
    spec_schema=SPEC_SCHEMA,
)
