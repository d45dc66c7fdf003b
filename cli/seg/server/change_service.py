"""``GET …/changes?since=REV``: which resources changed since a revision of the workspace, so
a client holding the live state of revision REV fetches only those.

The store counts every resource write in the workspace's revision and logs it in the write's
own transaction (``seg.store.sql.SqlTx._logged``). A page lists the last change of each
resource changed in (``since``, R], where R is the revision when the first page was read
(carried by the page token), so every name appears once over all pages, at its last
operation. ``epoch`` names the history together with the server's digest key: a restored
backup (new epoch) or a rotated key (other digests) makes a client's revision meaningless,
and the client notices by comparing the epoch. A ``since`` the log cannot answer — older than
what it keeps, newer than the workspace — is ``HistoryGone`` (410): read everything again.

A token bound to a user sees only the changes of resources it may read (as the lists do), and
``access`` is a digest of its effective access: it changes when a role, group or label does,
even where the change itself is hidden from it, so the client reads everything again then.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from typing import Any

from seg.server import errors, pages, strict_json
from seg.server.access_service import AccessService
from seg.server.core import Need, Principal
from seg.server.crypto import SecretBox
from seg.store.base import HistoryRecord, Store, StoreTx

__all__ = ["ChangeService", "history_fields"]

MAX_REVISION = 2**62


def history_fields(history: HistoryRecord | None, box: SecretBox) -> dict[str, Any]:
    """``revision`` and ``epoch`` as the API shows them (a workspace without a history row
    yet is at revision 0 of an epoch no client holds)."""
    if history is None:
        return {"revision": 0, "epoch": f"none.{box.key_tag}"}
    return {"revision": history.revision, "epoch": f"{history.epoch}.{box.key_tag}"}


class ChangeService:
    def __init__(self, store: Store, access: AccessService, box: SecretBox) -> None:
        self.store = store
        self.access = access
        self.box = box

    def changes(self, principal: Principal, workspace: str, since: str | None,
                page_size: str | None, page_token: str | None) -> dict[str, Any]:  # fmt: skip
        """The changes since ``since`` (none asked: only the current revision and epoch)."""
        caller = self.access.caller(principal, workspace, Need.READ)
        size = pages.page_size(page_size or str(pages.MAX_PAGE_SIZE))
        start = _revision(since, "since") if since is not None else None
        cursor = _decode(page_token) if page_token else None
        with self.store.tx() as tx:
            history = tx.history(workspace)
            if history is None and tx.get_workspace(workspace) is None:
                raise errors.NotFound(f"workspace {workspace!r} not found")
            out = history_fields(history, self.box)
            access = caller.access(tx)
            out["access"] = _digest(access) if access is not None else ""
            current = out["revision"]
            if start is None:
                return {**out, "changes": [], "next_page_token": ""}
            upto, after = cursor if cursor is not None else (current, start)
            floor = history.floor if history is not None else 0
            if not floor <= start <= after <= upto <= current:
                raise errors.HistoryGone(_gone(start, floor, current))
            found = tx.changes(workspace, after, upto, size + 1) if after < upto else []
            shown = [c for c in found[:size] if caller.readable(c.name, tx)]
            floor = _floor(tx, workspace)  # the log may have been pruned meanwhile
            if floor > after:
                raise errors.HistoryGone(_gone(start, floor, current))
        more = len(found) > size
        out["revision"] = upto
        out["changes"] = [{"name": c.name, "kind": c.kind, "operation": c.operation}
                          for c in shown]  # fmt: skip
        out["next_page_token"] = _encode(upto, found[size - 1].revision) if more else ""
        return out


def _floor(tx: StoreTx, workspace: str) -> int:
    history = tx.history(workspace)
    return history.floor if history is not None else 0


def _gone(since: int, floor: int, current: int) -> str:
    if since > current:
        return (f"revision {since} is newer than the workspace (at {current}): another "
                "history; read the whole state again")  # fmt: skip
    return (f"revision {since} is older than the change log keeps (from {floor}); read the "
            "whole state again")  # fmt: skip


def _revision(raw: str, what: str) -> int:
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 19) or int(raw) > MAX_REVISION:
        raise errors.InvalidArgument(f"{what} must be a revision (a non-negative integer)")
    return int(raw)


def _digest(access: dict[str, Any]) -> str:
    blob = json.dumps(access, sort_keys=True, default=str).encode()
    return hashlib.sha256(b"seg access v1\0" + blob).hexdigest()[:32]


def _encode(upto: int, after: int) -> str:
    raw = json.dumps({"u": upto, "a": after}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str) -> tuple[int, int]:
    try:
        padded = token + "=" * (-len(token) % 4)
        data = strict_json.loads(base64.urlsafe_b64decode(padded.encode()))
        upto, after = data["u"], data["a"]
        if not all(type(v) is int and 0 <= v <= MAX_REVISION for v in (upto, after)):
            raise ValueError
        return int(upto), int(after)
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise errors.InvalidArgument("page_token is invalid") from None
