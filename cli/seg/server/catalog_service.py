"""The catalog on the control plane: the built-in entries and the workspace's private ones,
listed (paginated by id, built-in and private merged), read one by one, and imported.

Any token of a workspace reads its catalog (the token's workspace decides which private
entries show; never another's). An import is owner-only, parsed with the catalog file format
(``seg.catalog.parse_entries``), refused whole on any problem (no partial write), bounded
(entries per import, bytes per entry, private entries per workspace), and audited once."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

from seg.catalog import ID_PATTERN, CatalogError, Entry, builtin, parse_entries
from seg.catalog import MAX_PRIVATE_ENTRIES as CATALOG_MAX_PRIVATE
from seg.model.printable import escape_line
from seg.server import errors, pages
from seg.server.access_service import AccessService
from seg.server.audit import AuditLog
from seg.server.clock import Clock
from seg.server.core import Action, Need, Page, Principal
from seg.server.lock_service import LockService
from seg.server.private_catalog import entry_of, private_entries
from seg.store.base import CatalogRecord, Store, StoreTx

__all__ = [
    "ADMIN_ACTOR",
    "COLLECTIONS",
    "MAX_ENTRY_BYTES",
    "MAX_IMPORT_ENTRIES",
    "MAX_PRIVATE_ENTRIES",
    "CatalogService",
    "catalog_resource",
    "checked_entries",
]

# The API's path segment of each section.
COLLECTIONS = {"source": "sources", "destination": "destinations", "warehouse": "warehouses"}
_SECTION_OF = {collection: section for section, collection in COLLECTIONS.items()}
MAX_IMPORT_ENTRIES = 500  # per import (the body size limit applies as well)
# per workspace (every write of a typed resource reads them all): as many as a tree may hold
MAX_PRIVATE_ENTRIES = CATALOG_MAX_PRIVATE
MAX_ENTRY_BYTES = 64 * 1024  # one entry's JSON form
ADMIN_ACTOR = "seg server catalog import"  # the audit trail's actor of the admin path


def catalog_resource(workspace: str) -> str:
    """The name the audit trail records imports under."""
    return f"workspaces/{workspace}/catalog"


def section_of(collection: str) -> str:
    section = _SECTION_OF.get(collection)
    if section is None:
        raise errors.NotFound(f"no catalog section {escape_line(collection[:40])!r} "
                              f"(sections: {', '.join(COLLECTIONS.values())})")  # fmt: skip
    return section


def checked_entries(document: Any) -> list[Entry]:
    """The entries of an import document, or the domain error refusing all of them: its
    shape (400), an entry too large (400), an id of a built-in entry (409)."""
    raw = document.get("entries") if isinstance(document, dict) else None
    if isinstance(raw, list) and len(raw) > MAX_IMPORT_ENTRIES:
        raise errors.InvalidArgument(f"entries: at most {MAX_IMPORT_ENTRIES} entries per "
                                     f"import, not {len(raw)}")  # fmt: skip
    try:
        entries = parse_entries(document, private=True)
    except CatalogError as exc:
        raise errors.InvalidArgument(escape_line(str(exc))) from None
    shipped = builtin()
    for entry in entries:
        if shipped.get(entry.section, entry.id) is not None:
            raise errors.AlreadyExists(
                f"{entry.section} {entry.id!r} is a built-in catalog entry; a private entry "
                "needs an id of its own"
            )
        size = len(json.dumps(entry.to_json()).encode())
        if size > MAX_ENTRY_BYTES:
            raise errors.InvalidArgument(
                f"{entry.section} {entry.id!r}: an entry is at most {MAX_ENTRY_BYTES:,} bytes "
                f"of JSON, not {size:,}"
            )
    return entries


class CatalogService:
    def __init__(self, store: Store, clock: Clock, access: AccessService, audit: AuditLog,
                 locks: LockService) -> None:  # fmt: skip
        self.store = store
        self.clock = clock
        self.access = access
        self.audit = audit
        self.locks = locks

    # -- reads -----------------------------------------------------------------------------

    def list_entries(self, principal: Principal, collection: str, page_size: str | None,
                     page_token: str | None) -> Page:  # fmt: skip
        """A page of a section's entries by id: built-in and the caller's workspace's private
        ones, merged."""
        section = section_of(collection)
        self.access.caller(principal, principal.workspace, Need.READ)
        size = pages.page_size(page_size)
        scope = f"catalog/{section}"
        after = pages.decode_page_token(page_token, scope)
        shipped = [e for e in builtin().entries(section) if after is None or e.id > after]
        with self.store.tx() as tx:
            private = list(_private_after(tx, principal.workspace, section, after, size + 1))
        merged = sorted([*shipped, *private], key=lambda e: e.id)[: size + 1]
        token = pages.encode_page_token(merged[size - 1].id, scope) if len(merged) > size else ""
        return Page([e.to_json() for e in merged[:size]], token)

    def get_entry(self, principal: Principal, collection: str, entry_id: str) -> dict[str, Any]:
        """One entry: the built-in one, else the caller's workspace's private one."""
        section = section_of(collection)
        self.access.caller(principal, principal.workspace, Need.READ)
        entry = builtin().get(section, entry_id)
        if entry is None and ID_PATTERN.fullmatch(entry_id):
            with self.store.tx() as tx:
                rec = tx.get_catalog_entry(principal.workspace, section, entry_id)
            entry = entry_of(rec) if rec is not None else None
        if entry is None:
            raise errors.NotFound(f"{section} catalog entry {escape_line(entry_id[:80])!r} "
                                  "not found")  # fmt: skip
        return entry.to_json()

    # -- imports ---------------------------------------------------------------------------

    def import_entries(self, principal: Principal, document: dict[str, Any]) -> dict[str, Any]:
        """Upsert the private entries of a catalog file document (owner tokens only)."""
        caller = self.access.caller(principal, principal.workspace, Need.OWNER)
        entries = checked_entries(document)
        with self.store.tx() as tx:
            self.locks.check(tx, caller, Action.CREATE, catalog_resource(principal.workspace))
            return self._store(tx, principal, entries)

    def admin_import(self, workspace: str, document: Any) -> dict[str, Any]:
        """The same import on the database, for the server's operator (``seg server catalog
        import``): no token; the audit trail names the command."""
        entries = checked_entries(document)
        admin = Principal("admin", workspace, "workspace:owner", ADMIN_ACTOR)
        with self.store.tx() as tx:
            if tx.get_workspace(workspace) is None:
                raise errors.NotFound(f"workspace {workspace!r} not found")
            return self._store(tx, admin, entries)

    def _store(self, tx: StoreTx, principal: Principal, entries: list[Entry]) -> dict[str, Any]:
        workspace = principal.workspace
        keys = sorted({(e.section, e.id) for e in entries})
        total = len(tx.catalog_keys(workspace) | set(keys))
        if total > MAX_PRIVATE_ENTRIES:
            raise errors.FailedPrecondition(
                f"workspace {workspace!r} would hold {total} private catalog entries; "
                f"the limit is {MAX_PRIVATE_ENTRIES}"
            )
        now = self.clock.iso()
        for entry in entries:
            tx.upsert_catalog_entry(CatalogRecord(workspace, entry.section, entry.id,
                                                  entry.to_json(), now, now))  # fmt: skip
        if keys:
            self.audit.record(tx, principal, Action.CREATE, catalog_resource(workspace),
                              [f"{section}/{entry_id}" for section, entry_id in keys])  # fmt: skip
        return {"imported": [{"section": s, "id": i} for s, i in keys]}


def _private_after(tx: StoreTx, workspace: str, section: str, after: str | None, limit: int
                   ) -> Iterator[Entry]:  # fmt: skip
    """Up to ``limit`` private entries of ``section`` by id after ``after`` (skipping any a
    built-in entry shadows), read a page at a time."""
    found = 0
    while found < limit:
        rows = tx.list_catalog_entries(workspace, section, after, limit)
        for entry in private_entries(rows):
            if found < limit:
                found += 1
                yield entry
        if len(rows) < limit:
            return
        after = rows[-1].id

