"""What a resource refers to, by (kind, address): used to order deletes after the changes that
stop referring, and to check references. Pure: each ``FieldSpec.ref`` plus the kind's
``references`` hook."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seg.kinds import KINDS
from seg.model.kinds import Ref

__all__ = ["Ref", "references"]


def references(kind_name: str, fields: Mapping[str, Any]) -> list[Ref]:
    kind = KINDS[kind_name]
    out: list[Ref] = []
    for spec in kind.fields:
        value = fields.get(spec.name)
        if spec.ref and isinstance(value, str) and value:
            out.append((spec.ref, value, (spec.name,)))
    return out + kind.references(fields)
