"""How a stored resource is shown to API callers: fields, server-computed fields, and
secret values replaced by keyed digests."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from seg.model.kinds import Kind
from seg.model.paths import MISSING, AnyPath, format_path, get_path, parse_path, set_path
from seg.model.secrets import is_digest, is_legacy_digest
from seg.server.crypto import SecretBox
from seg.server.versions import deployed_version
from seg.store.base import ResourceRecord

__all__ = ["compute_etag", "leaf_paths", "public_view", "seal_secrets", "secret_paths_for"]


def compute_etag(data: dict[str, Any], secret_paths: list[str]) -> str:
    blob = json.dumps([data, sorted(secret_paths)], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def leaf_paths(value: Any, prefix: AnyPath) -> list[AnyPath]:
    """Leaf paths through maps and lists (an empty map or list is a leaf)."""
    if isinstance(value, dict) and value:
        out: list[AnyPath] = []
        for key, child in value.items():
            out += leaf_paths(child, (*prefix, key))
        return out
    if isinstance(value, list) and value:
        return [p for i, child in enumerate(value) for p in leaf_paths(child, (*prefix, i))]
    return [prefix]


def secret_paths_for(data: dict[str, Any], declared: set[str], catalog: set[AnyPath]
                     ) -> list[str]:  # fmt: skip
    """Secret paths of ``data``: those the client declared (still present) plus the leaves
    the kind marks secret whatever was declared (``catalog``:
    ``seg.kinds.catalogs.secret_paths``: catalog settings, ``FieldSpec.secret`` fields)."""
    found = set()
    for top in sorted({str(c[0]) for c in catalog if c}):
        if top not in data:
            continue
        for path in leaf_paths(data[top], (top,)):
            secret = any(path[: len(c)] == c for c in catalog)
            if secret and get_path(data, path) is not MISSING:
                found.add(format_path(path))
    for raw in declared:
        if get_path(data, parse_path(raw)) is not MISSING:
            found.add(raw)
    return sorted(found)


def seal_secrets(
    name: str,
    data: dict[str, Any],
    secret_paths: list[str],
    box: SecretBox,
    previous: dict[str, Any],
) -> tuple[dict[str, Any], str]:
    """``data`` with each secret value replaced by its keyed digest, and the values sealed.

    A secret still holding a digest is unchanged: its sealed value carries over (a legacy
    salted digest is re-keyed from it)."""
    data = copy.deepcopy(data)
    values: dict[str, Any] = {}
    for raw in secret_paths:
        path = parse_path(raw)
        value = get_path(data, path)
        if value is MISSING:
            continue
        if is_digest(value):
            if raw in previous:
                values[raw] = previous[raw]
                if is_legacy_digest(value):
                    set_path(data, path, box.digest(name, raw, previous[raw]))
            continue
        values[raw] = value
        set_path(data, path, box.digest(name, raw, value))
    return data, box.seal(values)


def _hide_secrets(rec: ResourceRecord, box: SecretBox) -> dict[str, Any]:
    """The record's data with every secret as a keyed digest (a legacy digest from an older
    database is re-keyed from the sealed value, so it is never returned)."""
    data = copy.deepcopy(rec.data)
    opened: dict[str, Any] | None = None
    for raw in rec.secret_paths:
        path = parse_path(raw)
        value = get_path(data, path)
        if value is MISSING or (is_digest(value) and not is_legacy_digest(value)):
            continue
        if is_legacy_digest(value):
            opened = box.open(rec.secret_values) if opened is None else opened
            value = opened.get(raw, value)
        set_path(data, path, box.digest(rec.name, raw, value))
    return data


def public_view(kind: Kind, rec: ResourceRecord, box: SecretBox) -> dict[str, Any]:
    """The resource as GET returns it: never a secret in clear."""
    data = _hide_secrets(rec, box)
    out: dict[str, Any] = {"name": rec.name}
    if kind.parent_field and rec.parent:
        out[kind.parent_field] = rec.parent
    out.update(data)
    out["create_time"] = rec.create_time
    out["update_time"] = rec.update_time
    out["etag"] = rec.etag
    out["managed_paths"] = list(rec.managed_paths)
    out["protect"] = rec.protect
    out["manager"] = rec.manager
    if kind.creator_edits:
        out["creator"] = rec.creator
    if kind.versioning is not None:
        out["latest_version"] = rec.latest_version
        out["deployed_version"] = deployed_version(kind, rec)
    return out
