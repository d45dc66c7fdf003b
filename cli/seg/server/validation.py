"""Schema checks of a resource's fields as the API receives them."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import fastjsonschema
import jsonschema
from jsonschema.protocols import Validator

from seg.kinds import KINDS
from seg.model.clip import clip, clip_within
from seg.model.kinds import Kind
from seg.model.paths import format_path, parse_path
from seg.model.secrets import is_catalog_secret, is_digest
from seg.model.wording import too_many
from seg.schemas import schema_validator
from seg.server import errors
from seg.server.masks import OUTPUT_ONLY
from seg.server.resources import leaf_paths

__all__ = ["FieldChecker", "api_schema"]


def api_schema(kind: Kind) -> dict[str, Any]:
    """The kind's spec schema as the API takes its fields (a copy): no parent field (the
    collection names it), references as full resource names. The server checks bodies with it
    and the OpenAPI document describes them with it."""
    schema: dict[str, Any] = json.loads(json.dumps(dict(kind.spec_schema)))
    if kind.parent_field:
        schema["properties"].pop(kind.parent_field, None)
        schema["required"] = [r for r in schema.get("required", []) if r != kind.parent_field]
    for spec in kind.fields:
        if spec.ref:
            schema["properties"][spec.name] = {"type": "string", "minLength": 1}
    return schema


def _validator(kind: Kind) -> Validator:
    return schema_validator(api_schema(kind))


def _sealed_at(error: jsonschema.ValidationError, secret: set[str]) -> bool:
    """An error about a sealed secret's digest (validated in clear before it was sealed)."""
    return is_digest(error.instance) and format_path(tuple(error.absolute_path)) in secret


class FieldChecker:
    """Every kind's field schema, compiled once."""

    def __init__(self) -> None:
        self._validators = {name: _validator(kind) for name, kind in KINDS.items()}
        self._fast: dict[str, Callable[[Any], Any]] = {}

    def _passes(self, kind: Kind, data: dict[str, Any]) -> bool:
        """The common case, valid fields, answered by a compiled validator (compiled on the
        kind's first write); jsonschema explains a failure, as ``seg validate`` does."""
        check = self._fast.get(kind.name)
        if check is None:
            check = self._fast[kind.name] = fastjsonschema.compile(api_schema(kind),
                                                                   use_default=False)
        try:
            check(data)
        except fastjsonschema.JsonSchemaException:
            return False
        return True

    def new_fields(self, kind: Kind, obj: dict[str, Any], parent_name: str | None,
                   secret: set[str]) -> dict[str, Any]:  # fmt: skip
        """The fields of a resource being created: the kind's defaults, then ``obj``'s
        fields (output-only ones ignored; the parent field must name the collection's)."""
        data = dict(kind.defaults)
        for key, value in obj.items():
            if key in OUTPUT_ONLY:
                continue
            if key == kind.parent_field:
                if value != parent_name:
                    raise errors.InvalidArgument(
                        f"{kind.key}.{key} must be {parent_name!r} (from the collection)"
                    )
                continue
            if kind.field(key) is None:
                raise errors.InvalidArgument(f"unknown field {kind.key}.{key}")
            data[key] = value
        self.validate(kind, data, secret)
        return kind.canonical(data)

    def validate(self, kind: Kind, data: dict[str, Any], secret: set[str]) -> None:
        """Schema-check ``data``; a sealed secret (a digest standing where the schema wants a
        typed value) is not re-validated, and no message echoes a secret value."""
        if self._passes(kind, data):
            return
        found = (e for e in self._validators[kind.name].iter_errors(data)
                 if not _sealed_at(e, secret))  # fmt: skip
        error = jsonschema.exceptions.best_match(found)
        if error is None:
            return
        path = tuple(error.absolute_path)
        where = format_path((kind.key, *path))
        holds = [parse_path(raw) for raw in secret]
        holds += [p for p in leaf_paths(data.get("settings"), ("settings",))
                  if is_catalog_secret(p)]  # fmt: skip
        holds += [(spec.name,) for spec in kind.fields if spec.secret and spec.name in data]
        if (is_catalog_secret(path) or any(p[: len(path)] == path for p in holds)
                or any(path[: len(p)] == p for p in holds)):  # fmt: skip
            raise errors.InvalidArgument(f"{where}: the secret value fails {error.validator!r}")
        message = (too_many(str(error.validator), error.validator_value, error.instance)
                   or clip_within(error.message, error.instance))  # never the whole value
        if error.validator in ("oneOf", "anyOf") and "x-seg-message" in error.schema:
            message = str(error.schema["x-seg-message"])  # as seg validate words it
        raise errors.InvalidArgument(f"{clip(where)}: {message}")
