"""Addresses (``web/amplitude``) and full resource names
(``workspaces/acme/sources/web/destinations/amplitude``), and conversions between them."""

from __future__ import annotations

import re

from seg.kinds import KINDS
from seg.model.kinds import Kind

__all__ = [
    "DEFAULT_MANAGER",
    "MANAGER_RE",
    "SLUG_RE",
    "collection_name",
    "parent_address",
    "parse_resource_name",
    "resource_name",
    "wildcard_collection",
]

SLUG_RE = re.compile(r"^[a-z][a-z0-9-]{0,62}$")

# Who manages a resource: a short name (``growth-team``, ``infra.prod``) that a ``seg.yaml``
# chooses with ``manager:``. "" on a resource means nobody manages it (made through the API).
MANAGER_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$")
# The manager of a tree whose seg.yaml names none, and of the resources seg wrote before
# managers existed (the migration gives them this one): fixed, so that every checkout, CI job
# and environment of one seg.yaml is the same manager.
DEFAULT_MANAGER = "default"


def resource_name(workspace: str, kind: Kind, address: str) -> str:
    """Full resource name of the resource at ``address``."""
    slugs = address.split("/")
    chain = kind.chain()
    if len(slugs) != len(chain):
        raise ValueError(f"address {address!r} does not fit kind {kind.name}")
    parts = [f"workspaces/{workspace}"]
    parts += [f"{k.collection}/{slug}" for k, slug in zip(chain, slugs, strict=True)]
    return "/".join(parts)


def collection_name(workspace: str, kind: Kind, parent_address: str | None) -> str:
    """The collection that holds resources of ``kind`` under ``parent_address``."""
    base = f"workspaces/{workspace}"
    if parent_address:
        parent = kind.parent_kind
        if parent is None:
            raise ValueError(f"{kind.name} has no parent")
        base = resource_name(workspace, parent, parent_address)
    return f"{base}/{kind.collection}"


def wildcard_collection(workspace: str, kind: Kind) -> str:
    """The collection listing every resource of ``kind`` across parents (``-``)."""
    parts = [f"workspaces/{workspace}"]
    chain = kind.chain()
    parts += [f"{k.collection}/-" for k in chain[:-1]]
    parts.append(chain[-1].collection)
    return "/".join(parts)


def parse_resource_name(name: str) -> tuple[str, Kind, str]:
    """``workspaces/acme/sources/web`` → (``acme``, Source, ``web``)."""
    parts = name.split("/")
    if len(parts) < 4 or len(parts) % 2 or parts[0] != "workspaces":
        raise ValueError(f"not a resource name: {name!r}")
    workspace = parts[1]
    collections = parts[2::2]
    slugs = parts[3::2]
    kind = _kind_for_collections(collections)
    if kind is None:
        raise ValueError(f"not a resource name: {name!r}")
    return workspace, kind, "/".join(slugs)


# A kind by its chain of collections (``("sources", "destinations")``); filled as names are
# parsed (a plan parses one per resource the server lists) and checked against the registry.
_BY_COLLECTIONS: dict[tuple[str, ...], Kind] = {}


def _kind_for_collections(collections: list[str]) -> Kind | None:
    key = tuple(collections)
    found = _BY_COLLECTIONS.get(key)
    if found is not None and KINDS.get(found.name) is found:
        return found
    for kind in KINDS.values():
        if tuple(k.collection for k in kind.chain()) == key:
            _BY_COLLECTIONS[key] = kind
            return kind
    return None


def parent_address(address: str) -> str | None:
    head, sep, _ = address.rpartition("/")
    return head if sep else None
