"""Reading request bodies: the resource object, update masks, ownership metadata, secret
paths, and the names of new resources."""

from __future__ import annotations

import re
import secrets
import string
from typing import Any

from seg.kinds.names import MANAGER_RE, SLUG_RE
from seg.model.clip import clip_repr
from seg.model.kinds import Kind
from seg.model.paths import format_path, parse_key_path
from seg.model.printable import UNSAFE
from seg.server import errors
from seg.server.masks import MaskError, secret_field_path
from seg.store.base import WorkspaceRecord

__all__ = [
    "check_lock_body",
    "check_rule_ids",
    "declared_secrets",
    "mask_paths",
    "new_name",
    "ownership",
    "resource_object",
    "workspace_view",
]


def resource_object(kind: Kind, body: dict[str, Any]) -> dict[str, Any]:
    obj = body.get(kind.key)
    if obj is None:
        return {}
    if not isinstance(obj, dict):
        raise errors.InvalidArgument(f"{kind.key} must be an object")
    _check_keys(kind.key, obj)
    return obj


def _check_keys(where: str, obj: dict[str, Any]) -> None:
    """Refuse a key holding a control, line-break or bidi character at any depth (no field or
    settings key is ever one; every view escapes them anyway). Iterative: no deep recursion."""
    stack: list[Any] = [obj]
    while stack:
        node = stack.pop()
        if isinstance(node, dict):
            for key, value in node.items():
                if isinstance(key, str) and UNSAFE.search(key):
                    raise errors.InvalidArgument(
                        f"{where}: key {clip_repr(key)} holds a control, line-break or bidi "
                        "character"
                    )
                stack.append(value)
        elif isinstance(node, list):
            stack.extend(node)


def mask_paths(obj: dict[str, Any]) -> list[str]:
    mask = obj.get("update_mask")
    if mask is None:
        return []
    paths = mask.get("paths") if isinstance(mask, dict) else None
    if not isinstance(paths, list) or not all(isinstance(p, str) for p in paths):
        raise errors.InvalidArgument("update_mask.paths must be a list of strings")
    assert isinstance(mask, dict)
    if set(mask) != {"paths"}:
        raise errors.InvalidArgument("update_mask may hold only paths")
    return list(paths)


Ownership = tuple[list[str] | None, bool | None, str | None]


def ownership(kind: Kind, body: dict[str, Any]) -> Ownership:
    """The field paths seg manages, the protect flag and the manager, when the body carries
    them (None when it does not: the stored value stays)."""
    managed = body.get("managed_paths")
    if managed is not None:
        if not isinstance(managed, list) or not all(isinstance(p, str) for p in managed):
            raise errors.InvalidArgument("managed_paths must be a list of strings")
        managed = sorted({_managed_path(kind, p) for p in managed})
    protect = body.get("protect")
    if protect is not None and not isinstance(protect, bool):
        raise errors.InvalidArgument("protect must be a boolean")
    return managed, protect, _manager(body.get("manager"))


def _manager(raw: Any) -> str | None:
    """A manager name (``MANAGER_RE``), or "" to leave the resource to nobody."""
    if raw is None or raw == "":
        return None if raw is None else ""
    if not isinstance(raw, str) or not MANAGER_RE.fullmatch(raw):
        raise errors.InvalidArgument(
            "manager must be a name of at most 64 letters, digits, '-', '_' or '.' (starting "
            "with a letter or digit), or \"\" for none"
        )
    return raw


def _managed_path(kind: Kind, raw: str) -> str:
    try:
        path = parse_key_path(raw)
    except ValueError as exc:
        raise errors.InvalidArgument(f"managed_paths: {exc}") from None
    spec = kind.field(path[0])
    if spec is None or (len(path) > 1 and not spec.map_like):
        raise errors.InvalidArgument(f"managed_paths: unknown field path {raw!r}")
    return format_path(path)


def declared_secrets(kind: Kind, body: dict[str, Any]) -> set[str]:
    """Paths the client marks secret (values that came from ``${env:…}``), unprefixed."""
    raw = body.get("secret_paths", [])
    if not isinstance(raw, list) or not all(isinstance(p, str) for p in raw):
        raise errors.InvalidArgument("secret_paths must be a list of strings")
    try:
        return {format_path(secret_field_path(kind, path)) for path in raw}
    except MaskError as exc:
        raise errors.InvalidArgument(f"secret_paths: {exc}") from None


def new_name(kind: Kind, collection: str, name: Any, external_id: Any) -> str:
    """The new resource's name: client-chosen slug, or a generated id (``tp_…``)."""
    if kind.id_prefix:
        if not isinstance(external_id, str) or not SLUG_RE.fullmatch(external_id):
            raise errors.InvalidArgument(f"{kind.key}.external_id must match {SLUG_RE.pattern}")
        alphabet = string.ascii_letters + string.digits
        generated = "".join(secrets.choice(alphabet) for _ in range(27))
        return f"{collection}/{kind.id_prefix}{generated}"
    if not isinstance(name, str) or not name.startswith(collection + "/"):
        raise errors.InvalidArgument(f"{kind.key}.name must be a resource name in {collection}")
    slug = name[len(collection) + 1 :]
    if not re.fullmatch(kind.name_pattern, slug):
        if kind.name_hint:
            raise errors.InvalidArgument(f"{kind.key}.name: {clip_repr(slug)} {kind.name_hint}")
        raise errors.InvalidArgument(f"{kind.key}.name: {slug!r} must match {kind.name_pattern}")
    return name


def workspace_view(ws: WorkspaceRecord) -> dict[str, Any]:
    return {
        "name": f"workspaces/{ws.slug}",
        "id": ws.id,
        "display_name": ws.display_name,
        "model_change_policy": ws.model_change_policy,
        "plan_tier": ws.plan_tier,
        "create_time": ws.create_time,
    }


def check_lock_body(body: dict[str, Any]) -> dict[str, Any]:
    """A lock request names its holder; the other descriptions are strings when given."""
    holder = body.get("holder")
    if not isinstance(holder, str) or not holder.strip():
        raise errors.InvalidArgument("lock.holder is required: who is taking the lock")
    for key in ("host", "plan", "ci_run"):
        if not isinstance(body.get(key, ""), str):
            raise errors.InvalidArgument(f"lock.{key} must be a string")
    return body


def check_rule_ids(rules: list[Any]) -> None:
    """Rules named for deletion: objects with a type, a version and (TRACK rules) a key."""
    for index, rule in enumerate(rules):
        where = f"rules[{index}]"
        if not isinstance(rule, dict):
            raise errors.InvalidArgument(f"{where} must be an object")
        if not isinstance(rule.get("type"), str):
            raise errors.InvalidArgument(f"{where}.type must be a string")
        if not isinstance(rule.get("key", ""), str | None):
            raise errors.InvalidArgument(f"{where}.key must be a string")
        version = rule.get("version")
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise errors.InvalidArgument(f"{where}.version must be an integer of at least 1")
