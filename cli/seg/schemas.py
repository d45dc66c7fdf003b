"""Access to the JSON Schemas in ``schemas/`` (shipped in the wheel as ``seg/schemas``)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from importlib import resources
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

__all__ = ["load_schema", "schema_dir", "schema_validator"]

# An unescaped ``$``: in Python's ``re`` it also matches before a trailing newline.
_DOLLAR = re.compile(r"(?<!\\)\$")


@cache
def schema_dir() -> Path:
    packaged = Path(str(resources.files("seg"))) / "schemas"
    if packaged.is_dir():
        return packaged
    # Editable install / source checkout: cli/seg/schemas.py → <repo>/schemas
    return Path(__file__).resolve().parents[2] / "schemas"


@cache
def load_schema(filename: str) -> dict[str, Any]:
    with open(schema_dir() / filename, encoding="utf-8") as fh:
        schema: dict[str, Any] = json.load(fh)
    return schema


def schema_validator(schema: dict[str, Any]) -> Validator:
    """A draft 2020-12 validator whose ``pattern`` matches to the end of the string, as
    ECMA-262 (and fastjsonschema) do: ``"web\\n"`` does not match ``^[a-z]+$``."""
    import jsonschema  # the CLI needs it only to explain a failure

    cls = jsonschema.validators.extend(jsonschema.Draft202012Validator, {"pattern": _pattern})
    return cls(schema)


def _pattern(validator: Any, pattern: str, instance: Any, _: Any) -> Iterator[Any]:
    import jsonschema

    whole = _DOLLAR.sub(r"\\Z", pattern)
    if validator.is_type(instance, "string") and not re.search(whole, instance):
        yield jsonschema.ValidationError(f"{instance!r} does not match {pattern!r}")
