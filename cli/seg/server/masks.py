"""Update-mask application (SPEC §5), as a pure function.

Rules: only masked paths change; a masked path with no value in the body is set to its empty
value ("" / 0 / false / {} / []) or, for a key inside a map field or an optional field (a
mapping's trigger, model, schedule), removed; body data outside
the mask is ignored; an unknown or immutable path is an error.
"""

from __future__ import annotations

import copy
from typing import Any

from seg.model.kinds import Kind
from seg.model.paths import (
    MISSING,
    AnyPath,
    get_path,
    parse_key_path,
    parse_path,
    remove_path,
    set_path,
)

__all__ = ["OUTPUT_ONLY", "MaskError", "apply_update_mask", "field_path", "secret_field_path"]

OUTPUT_ONLY = frozenset(
    {"name", "create_time", "update_time", "etag", "managed_paths", "protect", "manager",
     "external_id", "creator"}
)


class MaskError(ValueError):
    """A path in the update mask cannot be applied."""


def field_path(kind: Kind, raw: str) -> tuple[str, ...]:
    """Parse ``destination.settings.api_key`` into ``("settings", "api_key")`` and check it."""
    try:
        path = parse_key_path(raw)
    except ValueError as exc:
        raise MaskError(str(exc)) from None
    if path[0] != kind.key or len(path) < 2:
        raise MaskError(f"update_mask path {raw!r} must name a field under '{kind.key}.'")
    rest = path[1:]
    spec = kind.field(rest[0])
    if spec is None:
        if rest[0] in OUTPUT_ONLY or rest[0] == kind.parent_field:
            raise MaskError(f"field {raw!r} is immutable")
        raise MaskError(f"unknown field in update_mask: {raw!r}")
    if spec.immutable:
        raise MaskError(f"field {raw!r} is immutable")
    if len(rest) > 1 and not spec.map_like:
        raise MaskError(f"unknown field in update_mask: {raw!r}")
    return rest


def secret_field_path(kind: Kind, raw: str) -> AnyPath:
    """Parse a secret path (``destination.settings.hosts[0]``): it may cross lists and name
    an immutable field (a secret is sealed wherever it is), but must start at a known field."""
    try:
        path = parse_path(raw)
    except ValueError as exc:
        raise MaskError(str(exc)) from None
    if path[0] != kind.key or len(path) < 2 or not isinstance(path[1], str):
        raise MaskError(f"secret path {raw!r} must name a field under '{kind.key}.'")
    if kind.field(path[1]) is None:
        raise MaskError(f"unknown field in secret path: {raw!r}")
    if kind.id_prefix and path[1] == "rules":  # rules travel and are listed in clear
        raise MaskError(f"tracking-plan rules cannot hold secrets: {raw!r}")
    return path[1:]


def apply_update_mask(
    kind: Kind, current: dict[str, Any], values: dict[str, Any], paths: list[str]
) -> dict[str, Any]:
    """The resource ``current`` with each masked path taken from ``values``."""
    result = copy.deepcopy(current)
    for raw in paths:
        path = field_path(kind, raw)
        value = get_path(values, path)
        if len(path) == 1:
            spec = kind.field(path[0])
            assert spec is not None
            if value is not MISSING:
                result[path[0]] = copy.deepcopy(value)
            elif spec.optional:
                result.pop(path[0], None)
            else:
                result[path[0]] = spec.empty
            continue
        if value is MISSING:
            remove_path(result, path)
        else:
            set_path(result, path, copy.deepcopy(value), create=True)
    return result
