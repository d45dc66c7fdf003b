"""What a resource refers to, by (kind, address): used to order deletes after the changes that
stop referring, and to check references. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seg.model.kinds import KINDS

__all__ = ["references"]


Ref = tuple[str, str, tuple[str, ...]]  # (kind, address, field path it is written at)


def references(kind_name: str, fields: Mapping[str, Any]) -> list[Ref]:
    out: list[Ref] = []
    for spec in KINDS[kind_name].fields:
        value = fields.get(spec.name)
        if spec.ref and isinstance(value, str) and value:
            out.append((spec.ref, value, (spec.name,)))
    labels = fields.get("labels")
    if kind_name == "Source" and isinstance(labels, dict):
        out += [("Label", f"{k}:{v}", ("labels", str(k))) for k, v in labels.items()]
    if kind_name == "RoleBinding":
        subject, scope = fields.get("subject") or {}, fields.get("scope")
        if isinstance(subject, dict) and subject.get("group"):
            out.append(("Group", str(subject["group"]), ("subject", "group")))
        if isinstance(scope, dict):
            out += [("Source", str(s), ("scope", "sources")) for s in scope.get("sources") or []]
            out += [("Label", f"{k}:{v}", ("scope", "labels", str(k)))
                    for k, v in (scope.get("labels") or {}).items()]  # fmt: skip
    return out
