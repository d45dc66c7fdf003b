"""Versions of a kind's versioned field (``Kind.versioning``: a function's code) and the
deployed one. Every write that changes the field's value records the next version in the same
transaction; the deploy field is ``latest`` or the number of a version that exists. Nothing
here names a kind: the field names come from ``kind.versioning``."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from seg.model.kinds import Kind, Versioning
from seg.model.values import json_equal
from seg.server import errors, pages
from seg.store.base import ResourceRecord, StoreTx, VersionRecord

__all__ = [
    "DEPLOYED",
    "LATEST",
    "MAX_VERSION",
    "advance",
    "check_deploy",
    "deployed_version",
    "parse_version",
    "version_cursor",
    "version_view",
]

LATEST = "LATEST"
DEPLOYED = "DEPLOYED"
MAX_VERSION = 2**31 - 1  # versions are 32-bit integers in the store


def _versioning(kind: Kind) -> Versioning:
    assert kind.versioning is not None, f"{kind.name} keeps no versions"
    return kind.versioning


def pinned(kind: Kind, data: dict[str, Any]) -> int | None:
    """The version number the deploy field pins, or None for ``latest`` (or absent)."""
    value = data.get(_versioning(kind).deploy_field)
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def deployed_version(kind: Kind, rec: ResourceRecord) -> int:
    """The version the instances run: the pinned one, else the latest."""
    pin = pinned(kind, rec.data)
    return rec.latest_version if pin is None else pin


def advance(kind: Kind, before: ResourceRecord | None, after: ResourceRecord, actor: str,
            now: str) -> tuple[ResourceRecord, list[VersionRecord]]:  # fmt: skip
    """``after`` with its latest version moved on when the versioned field is new (a create)
    or changed, and the version rows to insert after it (none when unchanged). A resource
    stored before versions were kept (latest 0) first gets its old value as version 1."""
    if kind.versioning is None:
        return after, []
    name = kind.versioning.field
    value = after.data.get(name)
    if before is not None and json_equal(before.data.get(name), value):
        return after, []
    rows = []
    if before is not None and before.latest_version == 0:
        rows.append(VersionRecord(after.workspace, after.name, 1, _text(before.data.get(name)),
                                  before.update_time, ""))  # fmt: skip
    number = (before.latest_version if before is not None else 0) + len(rows) + 1
    rows.append(VersionRecord(after.workspace, after.name, number, _text(value), now, actor))
    return replace(after, latest_version=number), rows


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def check_deploy(kind: Kind, rec: ResourceRecord) -> None:
    """A pinned deploy must name a version that exists (one this very write makes counts)."""
    if kind.versioning is None:
        return
    pin = pinned(kind, rec.data)
    if pin is None or 1 <= pin <= rec.latest_version:
        return
    existing = (f"versions 1 to {rec.latest_version} exist" if rec.latest_version > 1
                else "only version 1 exists" if rec.latest_version == 1
                else "no version exists yet")  # fmt: skip
    raise errors.InvalidArgument(
        f"{kind.key}.{kind.versioning.deploy_field}: version {pin} does not exist "
        f"({existing}); use latest or one of them"
    )


def parse_version(raw: str) -> int:
    """A version number from a path: decimal digits, 1 up to the store's range."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10):
        raise errors.InvalidArgument("version must be a positive integer")
    number = int(raw)
    if not 1 <= number <= MAX_VERSION:
        raise errors.InvalidArgument(f"version must be between 1 and {MAX_VERSION}")
    return number


def version_cursor(token: str | None) -> int | None:
    """The version a page token continues below."""
    after = pages.decode_page_token(token, "versions")
    if after is None:
        return None
    try:
        return parse_version(after)
    except errors.InvalidArgument:
        raise errors.InvalidArgument("page_token is invalid") from None


def version_view(kind: Kind, row: VersionRecord, rec: ResourceRecord, with_value: bool
                 ) -> dict[str, Any]:  # fmt: skip
    """One version as the API shows it: number, time, actor, labels, size (and the value)."""
    labels = [label for label, number in ((LATEST, rec.latest_version),
                                          (DEPLOYED, deployed_version(kind, rec)))
              if number == row.version]  # fmt: skip
    out: dict[str, Any] = {
        "version": row.version,
        "create_time": row.create_time,
        "actor": row.actor_id,
        "labels": labels,
        "size": len(row.value.encode("utf-8", "surrogatepass")),
    }
    if with_value:
        out[_versioning(kind).field] = row.value
    return out


def delete_versions(tx: StoreTx, kind: Kind, name: str) -> None:
    """Remove a resource's versions (before the resource itself)."""
    if kind.versioning is not None:
        tx.delete_versions(name)
