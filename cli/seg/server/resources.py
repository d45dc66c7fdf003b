"""How a stored resource is shown to API callers: fields, server-computed fields, and
secret values replaced by salted digests."""

from __future__ import annotations

import copy
import hashlib
import json
from typing import Any

from seg.model.kinds import Kind
from seg.model.paths import MISSING, format_path, get_path, parse_path
from seg.model.secrets import is_catalog_secret, is_digest, secret_digest
from seg.server.crypto import SecretBox
from seg.store.base import ResourceRecord

__all__ = ["compute_etag", "leaf_paths", "public_view", "seal_secrets", "secret_paths_for"]


def compute_etag(data: dict[str, Any], secret_paths: list[str]) -> str:
    blob = json.dumps([data, sorted(secret_paths)], sort_keys=True).encode()
    return hashlib.sha256(blob).hexdigest()[:20]


def leaf_paths(value: Any, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    if isinstance(value, dict) and value:
        out: list[tuple[str, ...]] = []
        for key, child in value.items():
            out += leaf_paths(child, (*prefix, key))
        return out
    return [prefix]


def secret_paths_for(data: dict[str, Any], declared: set[str]) -> list[str]:
    """Secret paths of ``data``: those the client declared (still present) plus settings
    leaves the catalog marks secret."""
    found = set()
    for path in leaf_paths(data.get("settings", {}), ("settings",)):
        if is_catalog_secret(path) and get_path(data, path) is not MISSING:
            found.add(format_path(path))
    for raw in declared:
        if get_path(data, parse_path(raw)) is not MISSING:
            found.add(raw)
    return sorted(found)


def seal_secrets(
    data: dict[str, Any],
    secret_paths: list[str],
    salt: str,
    box: SecretBox,
    previous: dict[str, Any],
) -> tuple[dict[str, Any], str]:
    """``data`` with each secret value replaced by its salted digest, and the values sealed.

    A secret still holding a digest is unchanged: its sealed value carries over."""
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
            continue
        values[raw] = value
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = secret_digest(value, salt)
    return data, box.seal(values)


def public_view(kind: Kind, rec: ResourceRecord) -> dict[str, Any]:
    """The resource as GET returns it: never a secret in clear."""
    data = copy.deepcopy(rec.data)
    for raw in rec.secret_paths:
        path = parse_path(raw)
        value = get_path(data, path)
        if value is MISSING or is_digest(value):
            continue  # stored as a digest already; a clear value here is never returned
        node = data
        for key in path[:-1]:
            node = node[key]
        node[path[-1]] = secret_digest(value, rec.salt)
    out: dict[str, Any] = {"name": rec.name}
    if kind.parent_field and rec.parent:
        out[kind.parent_field] = rec.parent
    out.update(data)
    out["create_time"] = rec.create_time
    out["update_time"] = rec.update_time
    out["etag"] = rec.etag
    out["managed_paths"] = list(rec.managed_paths)
    out["protect"] = rec.protect
    return out
