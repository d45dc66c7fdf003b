"""Access to the JSON Schemas in ``schemas/`` (shipped in the wheel as ``seg/schemas``)."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

__all__ = ["load_schema", "schema_dir"]


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
