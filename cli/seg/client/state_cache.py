"""The live state kept between runs: a plan against an unchanged control plane costs a
handful of requests, whatever the number of resources.

seg keeps the last live state it read — the API's items per kind, in the API's order, with
the workspace's ``revision``, ``epoch`` and (for a user-bound token) ``access`` digest — in a
sealed local cache (``seg.localcache``: HMAC under a key outside the tree, so a file the tree
brings is ignored), one file per control-plane URL, workspace and token under
``.seg/cache/state/`` (named by a SHA-256 of the three; the token itself is never stored).
Items hold secrets only as the server's keyed digests, as the API returns them.

The next read asks ``GET …/changes?since=REVISION``. When it answers for the same epoch and
access, only the resources it names are fetched (a GET each, or the kind listed again when
that is fewer requests, or when a new resource's place in the list is not certain) and the
cache moves to the answer's revision. A 410 (too old), another epoch or access digest, a kind
this seg does not know, too many changes, any error: everything is read again, as without a
cache. Either way the result is exactly what ``ControlPlaneClient.read_state`` returns (the
same items in the same order, through the same conversion).

The answers of ``secrets:compare`` are kept too (``SecretAnswers``), keyed by an HMAC under
the local cache key of every question — the local value with the live digest it is compared
with — never the values themselves: the same questions against the same live digests get the
same answers, without asking.
"""

from __future__ import annotations

import bisect
import hashlib
import json
import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seg import localcache
from seg.client import http
from seg.client.http import ControlPlaneClient
from seg.errors import ApiError
from seg.kinds import KINDS, kinds_in_order
from seg.model.kinds import Kind
from seg.model.paths import AnyPath, format_path
from seg.model.resource import CurrentResource

__all__ = ["NO_CACHE_ENV", "SecretAnswers", "StateCache", "cache_disabled", "read_live_state"]

NO_CACHE_ENV = "SEG_NO_CACHE"
FOLDER = "state"
STATE_PURPOSE = "live state v1"
ANSWERS_PURPOSE = "secret answers v1"
# More changes than this many pages: reading everything again is as cheap and simpler.
MAX_CHANGE_PAGES = 5


def cache_disabled() -> bool:
    """``$SEG_NO_CACHE`` set to anything but "", "0" or "false"."""
    return os.environ.get(NO_CACHE_ENV, "").strip().lower() not in ("", "0", "false")


def cache_file_name(url: str, workspace: str, token: str) -> str:
    """The file of one (control-plane URL, workspace, token): a SHA-256 of the three."""
    blob = json.dumps(["seg live state", url, workspace, token]).encode()
    return hashlib.sha256(blob).hexdigest()


@dataclass(frozen=True)
class CachedState:
    epoch: str
    revision: int
    access: str
    items: dict[str, list[dict[str, Any]]]  # per kind name, in the API's order

    def encode(self) -> bytes:
        return json.dumps({"epoch": self.epoch, "revision": self.revision,
                           "access": self.access, "items": self.items},
                          separators=(",", ":")).encode()  # fmt: skip

    @staticmethod
    def decode(raw: bytes) -> CachedState | None:
        """The state in ``raw``; None for anything of another shape (sealed by this code, so
        only a bug would make one, but a cache never fails a run)."""
        try:
            data = json.loads(raw)
            epoch, revision, access, items = (data["epoch"], data["revision"], data["access"],
                                              data["items"])  # fmt: skip
        except (ValueError, TypeError, KeyError):
            return None
        shaped = (isinstance(epoch, str) and isinstance(access, str)
                  and type(revision) is int and revision >= 0 and isinstance(items, dict)
                  and all(isinstance(v, list) and all(_is_item(i) for i in v)
                          for v in items.values()))  # fmt: skip
        return CachedState(epoch, revision, access, items) if shaped else None


def _is_item(item: Any) -> bool:
    return isinstance(item, dict) and isinstance(item.get("name"), str)


class StateCache:
    """The cache file of one (control-plane URL, workspace, token) under a workspace root."""

    def __init__(self, root: Path, url: str, workspace: str, token: str) -> None:
        self.root = root
        self.name = cache_file_name(url, workspace, token)
        self.last: CachedState | None = None  # the state ``read_live_state`` gave last

    def load(self) -> CachedState | None:
        raw = localcache.read(self.root, STATE_PURPOSE, FOLDER, self.name)
        return CachedState.decode(raw) if raw is not None else None

    def save(self, state: CachedState) -> None:
        localcache.write(self.root, STATE_PURPOSE, state.encode(), FOLDER, self.name)

    def answers(self) -> SecretAnswers:
        return SecretAnswers(self.root, self.name + ".secrets")


def read_live_state(client: ControlPlaneClient, cache: StateCache | None,
                    kinds: list[Kind] | None = None) -> list[CurrentResource]:  # fmt: skip
    """The live state of ``kinds`` (default all): from the cache brought up to date when it
    can be, else read whole (and cached); exactly what ``client.read_state(kinds)`` returns."""
    if cache is None:
        return client.read_state(kinds)
    kinds = kinds or kinds_in_order()
    cached = cache.load()
    state = None
    if cached is not None and set(cached.items) == {k.name for k in kinds}:
        state = _caught_up(client, cached, kinds)
    if state is None:
        state = _read_whole(client, kinds)
        if state is None:  # a control plane without /changes: nothing to cache
            return client.read_state(kinds)
    if state != cached:
        cache.save(state)
    cache.last = state
    return client.state_of(kinds, state.items)


def _read_whole(client: ControlPlaneClient, kinds: list[Kind]) -> CachedState | None:
    """Every item of ``kinds``, at the revision read *before* them (a change made while they
    are listed is fetched again next time)."""
    try:
        head = client.changes(None)
    except ApiError:
        return None
    if head is None or not _head_ok(head):
        return None
    items = client.list_kinds(kinds)
    return CachedState(head["epoch"], head["revision"], head["access"], items)


def _head_ok(head: dict[str, Any]) -> bool:
    return (isinstance(head.get("epoch"), str) and isinstance(head.get("access"), str)
            and type(head.get("revision")) is int and head["revision"] >= 0
            and isinstance(head.get("changes"), list))  # fmt: skip


def _caught_up(client: ControlPlaneClient, cached: CachedState, kinds: list[Kind]
               ) -> CachedState | None:  # fmt: skip
    """``cached`` moved to the workspace's current revision by fetching what changed; None
    when that cannot be done soundly (then everything is read again)."""
    try:
        head = client.changes(cached.revision, MAX_CHANGE_PAGES)
        if head is None or not _head_ok(head):
            return None
        if (head["epoch"], head["access"]) != (cached.epoch, cached.access):
            return None
        if head["revision"] < cached.revision:
            return None
        changed = _changed_by_kind(client.workspace, head["changes"], kinds)
        if changed is None:
            return None
        items = dict(cached.items)
        for kind in kinds:
            names = changed.get(kind.name)
            if names:
                fresh = _refreshed(client, kind, items[kind.name], names)
                items[kind.name] = fresh
        return CachedState(cached.epoch, head["revision"], cached.access, items)
    except ApiError:
        return None  # whatever went wrong, the whole read says it properly


def _changed_by_kind(workspace: str, changes: list[Any], kinds: list[Kind]
                     ) -> dict[str, dict[str, str]] | None:  # fmt: skip
    """name → operation per kind name; None when an entry is odd (not this workspace's, a
    kind this seg does not know, not the shape the API documents)."""
    wanted = {k.name for k in kinds}
    out: dict[str, dict[str, str]] = {}
    prefix = f"workspaces/{workspace}/"
    for change in changes:
        if not isinstance(change, dict):
            return None
        name, kind, op = change.get("name"), change.get("kind"), change.get("operation")
        if not (isinstance(name, str) and name.startswith(prefix) and isinstance(kind, str)
                and kind in KINDS and op in ("create", "update", "delete")):  # fmt: skip
            return None
        if kind in wanted:
            out.setdefault(kind, {})[name] = str(op)
    return out


def _refreshed(client: ControlPlaneClient, kind: Kind, items: list[dict[str, Any]],
               changed: dict[str, str]) -> list[dict[str, Any]]:  # fmt: skip
    """``items`` with the ``changed`` resources fetched again: listed again when that takes
    no more requests than a GET each, or when a new one's place in the list is uncertain."""
    pages = max(1, math.ceil(len(items) / http.PAGE_SIZE))
    to_get = [n for n, op in changed.items() if op != "delete"]
    if len(to_get) >= pages:
        return client.list_items(kind)
    names = [item["name"] for item in items]
    position = {name: i for i, name in enumerate(names)}
    fetched: dict[str, dict[str, Any] | None] = {n: None for n, op in changed.items()
                                                 if op == "delete"}  # fmt: skip
    for name in to_get:
        item = client.get_item(name)
        if item is not None and item.get("name") != name:
            return client.list_items(kind)  # not what was asked for: take the list's word
        fetched[name] = item
    new = [n for n, item in fetched.items() if item is not None and n not in position]
    if new and not _ascending(names):
        return client.list_items(kind)  # the list's order is not one seg can insert into
    out = [fetched[n] if n in fetched else item for n, item in zip(names, items, strict=True)]
    kept = [item for item in out if item is not None]
    for name in sorted(new):
        keys = [item["name"] for item in kept]
        item = fetched[name]
        assert item is not None
        kept.insert(bisect.bisect_left(keys, name), item)
    return kept


def _ascending(names: Sequence[str]) -> bool:
    return all(a < b for a, b in zip(names, names[1:], strict=False))


class SecretAnswers:
    """The last ``secrets:compare`` answers, under an HMAC (local cache key) of the whole set
    of questions: each one's resource, path, local value and the live digest it is compared
    with. Any change to a value, a live secret or the set asks the control plane again."""

    def __init__(self, root: Path, name: str) -> None:
        self.root = root
        self.name = name

    @staticmethod
    def key(questions: list[tuple[str, str, AnyPath, Any, Any]]) -> str | None:
        """The HMAC of (kind, address, path, local value, live value) for every question."""
        blob = json.dumps([[k, a, format_path(p), v, live] for k, a, p, v, live in questions],
                          sort_keys=True, separators=(",", ":"), default=str).encode()  # fmt: skip
        digest = localcache.mac(ANSWERS_PURPOSE, blob)
        return digest.hex() if digest is not None else None

    def get(self, key: str) -> tuple[list[bool], list[str]] | None:
        raw = localcache.read(self.root, ANSWERS_PURPOSE, FOLDER, self.name)
        if raw is None:
            return None
        try:
            data = json.loads(raw)
            if data["key"] != key:
                return None
            matches, digests = data["matches"], data["digests"]
        except (ValueError, TypeError, KeyError):
            return None
        if not (isinstance(matches, list) and all(type(m) is bool for m in matches)
                and isinstance(digests, list) and all(isinstance(d, str) for d in digests)):
            return None  # fmt: skip
        return matches, digests

    def put(self, key: str, matches: list[bool], digests: list[str]) -> None:
        blob = json.dumps({"key": key, "matches": matches, "digests": digests}).encode()
        localcache.write(self.root, ANSWERS_PURPOSE, blob, FOLDER, self.name)
