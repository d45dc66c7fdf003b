"""The published JSON Schemas: what an editor (yaml-language-server) or ``check-jsonschema``
checks in the YAML *as written*, generated from the schemas seg itself validates with.

``schemas/resolved/`` holds the rules ``seg validate`` and the control plane apply to a
document's head and to each kind's spec *after* interpolation. The published files describe
whole documents of the raw text, so they differ in three ways (``seg.yaml`` is never
interpolated: ``schemas/workspace.schema.json`` is hand-written and published as it is):

- one file per kind describes the whole document (``kind`` const, ``name`` with the kind's
  pattern, ``protect``, ``spec`` = the kind's spec under ``$defs``), and the envelope picks it
  by ``kind`` (``if``/``then``), so one schema serves every workspace file;
- a string the spec constrains (pattern, enum, const, length) may instead hold ``${…}`` or
  ``$$``: interpolation replaces it before seg checks the constraint;
- ``overlay.schema.json`` describes ``envs/<env>/…`` documents: the spec's keys, none required
  except the parent (an overlay holds only the values that differ).

References are relative file names (no ``$id``), so the files work offline wherever they are
copied together. ``published_files()`` maps file names to their text.
"""

from __future__ import annotations

import copy
import json
from pathlib import PurePosixPath
from typing import Any

from seg.kinds import KINDS
from seg.model.kinds import Kind
from seg.schemas import schema_dir

__all__ = [
    "ENVELOPE",
    "OVERLAY",
    "SCHEMA_DIR",
    "WORKSPACE",
    "modeline",
    "published_files",
    "repo_files",
    "resolved_files",
]

ENVELOPE = "envelope.schema.json"
OVERLAY = "overlay.schema.json"
WORKSPACE = "workspace.schema.json"
# Where ``seg init`` and ``seg export`` put the published files: inside the workspace and
# committed with it (a dot-directory, so the loader never reads it).
SCHEMA_DIR = ".seg-schema"
_DRAFT = "https://json-schema.org/draft/2020-12/schema"
# A value interpolation rewrites: seg checks the constraint on the result, not on this text.
_INTERPOLATED = {
    "type": "string",
    "pattern": r"\$[{$]",
    "description": "Interpolated: ${env:NAME}, ${var:NAME} or $$ (checked after replacement).",
}
_STRING_CONSTRAINTS = ("pattern", "enum", "const", "minLength", "maxLength")
# Keywords whose values are schemas (or maps/lists of them) that may describe YAML values.
_SUBSCHEMA_MAPS = ("properties", "$defs")
_SUBSCHEMA_ONE = ("items", "additionalProperties", "if", "then", "else", "not")
_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf")


def _render(schema: dict[str, Any]) -> str:
    """The text of a generated schema file: two-space indent, a trailing newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def modeline(rel: str) -> str:
    """The yaml-language-server modeline (one line, with its newline) for the workspace file
    ``rel`` (posix, relative to the root): ``.seg-schema/``'s schema for it, by a path
    relative to the file's own directory, so it resolves offline from any sub-directory."""
    depth = len(PurePosixPath(rel).parts) - 1
    schema = WORKSPACE if rel == "seg.yaml" else ENVELOPE
    return f"# yaml-language-server: $schema={'../' * depth}{SCHEMA_DIR}/{schema}\n"


def published_files() -> dict[str, str]:
    """Every published file's text: ``workspace``, ``envelope``, ``overlay``, one per kind."""
    files = {WORKSPACE: (schema_dir() / WORKSPACE).read_text(encoding="utf-8")}
    for kind in KINDS.values():
        files[_file(kind)] = _render(_kind_document(kind))
    files[ENVELOPE] = _render(_dispatch("seg resource document", "", "Every resource document"))
    files[OVERLAY] = _render(_dispatch("seg overlay document", "#/$defs/overlay",
                                       "An envs/<env>/… overlay: the values that differ"))
    return files


def _file(kind: Kind) -> str:
    return kind.schema_file.rsplit("/", 1)[-1]


def _head() -> dict[str, Any]:
    """What every resource document holds (``schemas/resolved/envelope.schema.json``): the
    kinds of the registry, a name, an optional protect flag and the spec."""
    return {
        "$schema": _DRAFT,
        "title": "seg resource document",
        "description": "Every resource document: kind, name, spec, and an optional protect flag.",
        "type": "object",
        "required": ["kind", "name", "spec"],
        "additionalProperties": False,
        "properties": {
            "kind": {"type": "string", "enum": list(KINDS)},
            "name": {
                "type": "string",
                "pattern": "^[A-Za-z][A-Za-z0-9:_-]{0,127}$",
                "description": (
                    "A slug (^[a-z][a-z0-9-]{0,62}$); labels are key:value, consent categories "
                    "case-sensitive ids."
                ),
            },
            "protect": {
                "type": "boolean",
                "description": "Block (never perform) this resource's deletion or replacement.",
            },
            "spec": {"type": "object"},
        },
    }


def resolved_files() -> dict[str, str]:
    """``schemas/resolved/``: what seg validate and the control plane check, generated from
    the registry (the envelope's kinds, each kind's ``spec_schema``)."""
    files = {f"resolved/{ENVELOPE}": _render(_head())}
    for kind in KINDS.values():
        files[kind.schema_file] = _render({"$schema": _DRAFT, **kind.spec_schema})
    return files


def repo_files() -> dict[str, str]:
    """Every generated file of the repository's ``schemas/`` directory (``python -m
    seg.editor_schemas schemas`` writes them; a test keeps the committed ones equal)."""
    return {**resolved_files(), **published_files()}


def _dispatch(title: str, fragment: str, what: str) -> dict[str, Any]:
    """The head of every document, then the kind's document schema chosen by ``kind``."""
    head = copy.deepcopy(_head())
    description = f"{what}; the kind's schema is chosen by `kind`."
    schema: dict[str, Any] = {"$schema": _DRAFT, "title": title, "description": description}
    schema.update({k: v for k, v in head.items() if k not in ("$schema", "title", "description")})
    schema["allOf"] = [
        {
            "if": {"required": ["kind"], "properties": {"kind": {"const": kind.name}}},
            "then": {"$ref": f"{_file(kind)}{fragment}"},
        }
        for kind in KINDS.values()
    ]
    return schema


def _kind_document(kind: Kind) -> dict[str, Any]:
    spec = copy.deepcopy(dict(kind.spec_schema))
    for key in ("$schema", "$id"):
        spec.pop(key, None)
    raw = _admit_interpolation(spec)
    return {
        "$schema": _DRAFT,
        "title": f"seg {kind.name} document",
        "description": spec.get("description", f"A {kind.name} resource."),
        **_document(kind, "#/$defs/spec"),
        "$defs": {
            "spec": raw,
            "overlay": _document(kind, "#/$defs/overlay_spec"),
            "overlay_spec": _partial(copy.deepcopy(raw), kind.parent_field),
        },
    }


def _document(kind: Kind, spec_ref: str) -> dict[str, Any]:
    head = _head()["properties"]
    return {
        "type": "object",
        "required": ["kind", "name", "spec"],
        "additionalProperties": False,
        "properties": {
            "kind": {"const": kind.name},
            "name": {"type": "string", "pattern": kind.name_pattern},
            "protect": head["protect"],
            "spec": {"$ref": spec_ref},
        },
    }


def _admit_interpolation(schema: Any) -> Any:
    """``schema`` where every constrained string also admits an interpolated value."""
    if not isinstance(schema, dict):
        return schema
    # conditions (if, not) are left as written: an interpolated value decides nothing there
    out = {k: v if k in ("if", "not") else _subschemas(k, v, _admit_interpolation)
           for k, v in schema.items()}  # fmt: skip
    if any(k in out for k in _STRING_CONSTRAINTS) and _may_be_string(out):
        return {"anyOf": [out, _INTERPOLATED]}
    return out


def _may_be_string(schema: dict[str, Any]) -> bool:
    kind = schema.get("type", "string")
    return "string" in kind if isinstance(kind, list) else kind == "string"


def _subschemas(key: str, value: Any, transform: Any) -> Any:
    if key in _SUBSCHEMA_MAPS and isinstance(value, dict):
        return {name: transform(child) for name, child in value.items()}
    if key in _SUBSCHEMA_ONE:
        return transform(value)
    if key in _SUBSCHEMA_LISTS and isinstance(value, list):
        return [transform(child) for child in value]
    return value


def _partial(spec: dict[str, Any], parent: str | None) -> dict[str, Any]:
    """An overlay's spec: the same keys, none required but the parent; maps merge into the
    base document, so nothing inside them is required either (list items replace whole)."""
    spec = _without_required(spec)
    spec.pop("oneOf", None)  # e.g. query or query_file: the base document has one of them
    if parent:
        spec["required"] = [parent]
    return spec


def _without_required(schema: Any) -> Any:
    if not isinstance(schema, dict):
        return schema
    return {
        k: v if k == "items" else _subschemas(k, v, _without_required)
        for k, v in schema.items()
        if k != "required"
    }


def main(argv: list[str] | None = None) -> int:
    """Write ``repo_files()`` into the directory named by the one argument (the repository's
    ``schemas/``) — for developers after changing a kind module."""
    import sys
    from pathlib import Path

    args = sys.argv[1:] if argv is None else argv
    if len(args) != 1:
        print("usage: python -m seg.editor_schemas SCHEMAS_DIR", file=sys.stderr)  # noqa: T201
        return 2
    for rel, text in repo_files().items():
        path = Path(args[0]) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
