"""``ControlPlaneClient``: the control-plane API over an injected ``httpx.Client``.

The same class talks to a remote ``seg serve`` and to the embedded control plane (whose
``httpx.Client`` uses an in-process transport), so both follow one code path.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace
from typing import Any
from urllib.parse import quote

import httpx

from seg.client.backoff import Gate
from seg.client.errors import Aborted, AlreadyExists, NotFound, api_error, request_id
from seg.errors import ApiError, LockLost, RetryBudgetSpent, TransportError
from seg.kinds import KINDS, kinds_in_order
from seg.kinds.names import collection_name, parse_resource_name, resource_name, wildcard_collection
from seg.model.kinds import FieldSpec, Kind
from seg.model.paths import AnyPath, format_path
from seg.model.resource import CurrentResource
from seg.model.secrets import is_digest
from seg.model.values import json_equal
from seg.tracking.rules import diff_rules

__all__ = ["API_PREFIX", "DEFAULT_RETRY_BUDGET", "ControlPlaneClient", "PAGE_SIZE", "RetryBudget"]

API_PREFIX = "/v1beta"
PAGE_SIZE = 1000
DEFAULT_RETRY_BUDGET = 30.0  # seconds of failed attempts and backoff per run, in all
LOCK_HEADER = "Seg-Lock"  # names the lease a write is made under
APPLY_HEADER = "Seg-Apply"  # names the apply run a resource write belongs to
MAX_FAILURES = 100  # the failures an apply run keeps, each error cut to MAX_FAILURE_TEXT
MAX_FAILURE_TEXT = 500
COMPARE_BATCH = 1000
READ_THREADS = 16  # kinds listed at once by read_state (every kind: one round trip)
CATALOG_COLLECTIONS = {"source": "sources", "destination": "destinations",
                       "warehouse": "warehouses"}  # fmt: skip
COMPUTED = frozenset(
    {"name", "create_time", "update_time", "etag", "managed_paths", "protect", "manager",
     "latest_version", "deployed_version", "creator"}
)  # fmt: skip


class RetryBudget:
    """Seconds one run may spend on failed attempts and the waits between retries, shared by
    all its requests (and threads): a dead control plane costs ``total`` seconds, not
    ``retries × backoff`` per remaining change."""

    def __init__(self, total: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.total = total
        self.clock = clock
        self.spent = 0.0
        self._lock = threading.Lock()

    def charge(self, seconds: float) -> None:
        with self._lock:
            self.spent += max(seconds, 0.0)

    def allows(self, wait: float) -> bool:
        """Whether waiting ``wait`` more seconds (then retrying) stays within the budget."""
        with self._lock:
            return self.spent + wait <= self.total


class ControlPlaneClient:
    """Reads and writes one workspace. Every error is an ``ApiError`` with the API's message."""

    def __init__(
        self,
        http: httpx.Client,
        workspace: str,
        retries: int = 4,
        backoff: float = 0.25,
        retry_budget: float = DEFAULT_RETRY_BUDGET,
    ) -> None:
        self.http = http
        self.workspace = workspace
        self.request_count = 0
        self.retries = retries
        self.backoff = backoff
        self.budget = RetryBudget(retry_budget)
        self.gate = Gate(self.budget.clock)  # one back-off shared by every thread
        self._count_lock = threading.Lock()
        # Kinds with generated ids (tracking plans): address (external_id) ↔ resource name,
        # and back; apply's threads add to them (under ``_names_lock``) as they create.
        self._names: dict[tuple[str, str], str] = {}
        self._addresses: dict[tuple[str, str], str] = {}
        self._names_lock = threading.Lock()
        # The workspace lock this client writes under (``seg.client.lease``): its id travels
        # with every write; once ``lock_lost`` says why it is gone, no write is sent.
        self.lock_id = ""
        self.lock_lost = ""
        # The apply run this client's resource writes belong to (``start_apply``): its id
        # travels with every create, update and delete as ``Seg-Apply``.
        self.apply_run: str | None = None

    # -- transport -------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        etag: str | None = None,
        tagged: bool = False,
        leased: bool = True,
    ) -> Any:
        """One call; ``tagged``: a resource write, sent with the apply run it belongs to;
        ``leased``: a write made under the workspace lock while this client holds it."""
        url = f"{API_PREFIX}/{path}"
        headers = {"If-Match": f'"{etag}"'} if etag else {}
        if tagged and self.apply_run:
            headers[APPLY_HEADER] = self.apply_run
        under_lock = (leased and bool(self.lock_id) and method != "GET"
                      and path != self._lock)  # fmt: skip
        if under_lock:
            if self.lock_lost:
                raise LockLost(self.lock_lost)
            headers[LOCK_HEADER] = self.lock_id
        response = self._send_with_retries(method, url, json, params, headers or None)
        if response.status_code >= 400:
            error = _api_error(response, method, url)
            if under_lock and isinstance(error, Aborted):
                self.lock_lost = f"the workspace lock was lost: {error.message}"
                raise LockLost(self.lock_lost)
            raise error
        return response.json() if response.content else None

    def _send_with_retries(
        self, method: str, url: str, body: Any, params: Any, headers: Any
    ) -> httpx.Response:
        """Retry connection errors, 429 (honouring Retry-After) and 5xx with backoff, within
        the run's retry budget; once it is spent, a failure raises ``RetryBudgetSpent``.

        Every request seg sends is safe to repeat: reads, updates that set values, deletes,
        and creates, whose retry the callers below treat as done when it finds the resource.

        The wait is shared (``Gate``): every thread holds its next send until it is over, and
        the budget pays for it once.
        """
        for attempt in range(self.retries + 1):
            last = attempt == self.retries
            self.gate.wait_turn()
            started = self.budget.clock()
            response, failure = self._attempt(method, url, body, params, headers)
            if response is not None and not _retriable(response):
                return response
            self.budget.charge(self.budget.clock() - started)
            default = self.backoff * 2**attempt
            wait = 0.0 if last else _retry_after(response, default) if response else default
            if not self.budget.allows(self.gate.extension(wait)):
                raise RetryBudgetSpent(
                    f"{failure} (gave up: the retry budget of {self.budget.total:g}s is spent)",
                    method, url,
                )  # fmt: skip
            if last:
                if response is not None:
                    return response
                raise TransportError(failure, method, url)
            self.budget.charge(self.gate.push(wait))
        raise AssertionError("unreachable")

    def _attempt(self, method: str, url: str, body: Any, params: Any, headers: Any
                 ) -> tuple[httpx.Response | None, str]:  # fmt: skip
        """One try: the response (None when there is none) and what went wrong, if anything."""
        try:
            response = self._send_once(method, url, body, params, headers)
        except httpx.HTTPError as exc:
            return None, f"cannot reach the control plane: {exc}"
        if not _retriable(response):
            return response, ""
        error = _api_error(response, method, url)
        return response, f"the control plane answered HTTP {error.status}: {error.message}"

    def _send_once(self, method: str, url: str, body: Any, params: Any, headers: Any
                   ) -> httpx.Response:  # fmt: skip
        with self._count_lock:
            self.request_count += 1
        return self.http.request(method, url, json=body, params=params, headers=headers)

    def close(self) -> None:
        self.http.close()

    # -- reads -----------------------------------------------------------------------------

    def get_workspace(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", f"workspaces/{self.workspace}")
        return result

    def last_actors(self, addresses: list[str], kinds: list[Kind] | None = None) -> dict[str, str]:
        """For each address, who last changed it, from the newest audit events (one page)."""
        wanted = {}
        for kind in kinds or kinds_in_order():
            for address in addresses:
                if address.count("/") == len(kind.chain()) - 1:
                    wanted[resource_name(self.workspace, kind, address)] = address
        page = self._request("GET", f"workspaces/{self.workspace}/audit-events",
                             params={"page_size": 1000})  # fmt: skip
        found: dict[str, str] = {}
        for event in page.get("audit_events", []):
            moved = wanted.get(event["resource"])
            if moved and moved not in found:
                actor = event["actor"]
                found[moved] = f"{actor['description']} ({actor['token_id']}) at {event['time']}"
        return found

    def acquire_lock(self, info: Mapping[str, Any], ttl: float) -> dict[str, Any]:
        body = {**info, "ttl_seconds": ttl}
        result: dict[str, Any] = self._request("POST", self._lock, json=body)
        return result

    def renew_lock(self, lock_id: str, ttl: float) -> None:
        self._request("PATCH", self._lock, json={"ttl_seconds": ttl}, params={"id": lock_id})

    def release_lock(self, lock_id: str | None) -> None:
        self._request("DELETE", self._lock, params={"id": lock_id} if lock_id else None)

    def lock_status(self) -> dict[str, Any] | None:
        try:
            result: dict[str, Any] = self._request("GET", self._lock)
        except NotFound:
            return None
        return result

    @property
    def _lock(self) -> str:
        return f"workspaces/{self.workspace}/lock"

    def explain_access(self, email: str) -> dict[str, Any]:
        path = f"workspaces/{self.workspace}/access/{quote(email, safe='@')}"
        result: dict[str, Any] = self._request("GET", path)
        return result

    def list_catalog(self, section: str) -> list[dict[str, Any]]:
        """Every entry of a catalog section (``source``, ``destination``, ``warehouse``):
        built-in and the workspace's private ones, by id."""
        collection = CATALOG_COLLECTIONS[section]
        return list(self.list_collection(f"catalog/{collection}", collection))

    def get_catalog_entry(self, section: str, entry_id: str) -> dict[str, Any] | None:
        """One catalog entry, or None when the section has no such id."""
        path = f"catalog/{CATALOG_COLLECTIONS[section]}/{quote(entry_id, safe='')}"
        try:
            result: dict[str, Any] = self._request("GET", path)
        except NotFound:
            return None
        return result

    def import_catalog(self, document: Mapping[str, Any]) -> list[dict[str, str]]:
        """Add or replace private catalog entries (a catalog file's document; owner only);
        the (section, id) of each imported entry."""
        result = self._request("POST", "catalog:import", json=dict(document))
        return list(result.get("imported", []))

    def list_collection(self, collection: str, key: str) -> Iterator[dict[str, Any]]:
        """Every item of a collection, following ``next_page_token``."""
        token = ""
        while True:
            params = {"page_size": PAGE_SIZE, **({"page_token": token} if token else {})}
            page = self._request("GET", collection, params=params)
            yield from page.get(key, [])
            token = page.get("next_page_token", "")
            if not token:
                return

    def read_state(self, kinds: list[Kind] | None = None) -> list[CurrentResource]:
        """The live workspace: one paginated wildcard list per kind, never one GET per item.
        Up to ``READ_THREADS`` kinds are listed at once; their items are converted in kind
        order, as before, so a reference to a tracking plan is translated once the plans'
        generated names are known."""
        chosen = list(kinds or kinds_in_order())
        return self.state_of(chosen, self.list_kinds(chosen))

    def list_kinds(self, kinds: list[Kind]) -> dict[str, list[dict[str, Any]]]:
        """Every live item of each kind (by kind name), up to ``READ_THREADS`` kinds listed
        at once; the first failure cancels the lists not yet started."""
        with ThreadPoolExecutor(max(min(READ_THREADS, len(kinds)), 1),
                                thread_name_prefix="seg-read") as pool:  # fmt: skip
            listed = [pool.submit(self.list_items, kind) for kind in kinds]
            try:
                return {kind.name: items.result()
                        for kind, items in zip(kinds, listed, strict=True)}  # fmt: skip
            except BaseException:
                pool.shutdown(wait=True, cancel_futures=True)  # no more lists after a failure
                raise

    # -- apply runs and the audit trail ----------------------------------------------------

    @property
    def _applies(self) -> str:
        return f"workspaces/{self.workspace}/applies"

    def start_apply(self, manager: str, git_revision: str | None, plan_digest: str | None,
                    environment: str | None) -> dict[str, Any]:  # fmt: skip
        """Record an apply beginning (under the workspace lock while this client holds it);
        the run, ``running``. Setting ``apply_run`` to its id tags the writes that follow."""
        body = {"manager": manager, "git_revision": git_revision, "plan_digest": plan_digest,
                "environment": environment}  # fmt: skip
        result: dict[str, Any] = self._request("POST", self._applies, json=body)
        return result

    def finish_apply(self, run_id: str, status: str, counts: Mapping[str, int],
                     failures: list[dict[str, str]]) -> dict[str, Any]:  # fmt: skip
        """Record how run ``run_id`` ended (``applied``, ``failed`` or ``noop``): its counts
        and at most 100 failures (each error cut to 500 characters). Sent even when the
        workspace lock was lost: the run is this client's own."""
        kept = [{"resource": str(f["resource"])[:512], "error": str(f["error"])[:MAX_FAILURE_TEXT]}
                for f in failures[:MAX_FAILURES]]  # fmt: skip
        body = {"status": status, "counts": dict(counts), "failures": kept}
        result: dict[str, Any] = self._request("PATCH", f"{self._applies}/{quote(run_id)}",
                                               json=body, leased=False)  # fmt: skip
        return result

    def list_applies(self, manager: str | None = None, status: str | None = None,
                     page_size: int = 100) -> list[dict[str, Any]]:  # fmt: skip
        """The newest apply runs (one page), of one manager or in one status when given."""
        params: dict[str, Any] = {"page_size": page_size}
        params.update({k: v for k, v in (("manager", manager), ("status", status)) if v})
        page = self._request("GET", self._applies, params=params)
        return list(page.get("applies", []))

    def get_apply(self, run_id: str) -> dict[str, Any]:
        """One apply run, with ``changes``: the audit events of its writes, oldest first."""
        result: dict[str, Any] = self._request("GET", f"{self._applies}/{quote(run_id)}")
        return result

    def audit_events(self, after: str | None = None, **filters: str | None
                     ) -> Iterator[dict[str, Any]]:  # fmt: skip
        """The audit trail, newest first, over every page: the events after event ``after``,
        narrowed by ``filters`` (``actor``, ``kind``, ``since``, ``until``, ``apply``; None
        is no filter)."""
        path = f"workspaces/{self.workspace}/audit-events"
        params: dict[str, Any] = {"page_size": PAGE_SIZE}
        params.update({k: v for k, v in {"after": after, **filters}.items() if v is not None})
        token = ""
        seen: set[str] = set()
        while True:
            page = self._request("GET", path,
                                 params={**params, **({"page_token": token} if token else {})})
            yield from page.get("audit_events", [])
            token = page.get("next_page_token", "")
            if not token:
                return
            if token in seen:  # a server that pages in a circle: never an endless read
                raise TransportError("the control plane returned the same page token twice; "
                                     "the audit trail was not read to its end", "GET", path)
            seen.add(token)

    # -- incremental reads (``seg.client.state_cache``) -------------------------------------

    def changes(self, since: int | None, max_pages: int = 1) -> dict[str, Any] | None:
        """``GET …/changes``: the revision, epoch and access digest, and (with ``since``) the
        changes since it over every page; None when there are more than ``max_pages`` pages
        of them (reading everything again is cheaper). A 410 raises ``ApiError``."""
        path = f"workspaces/{self.workspace}/changes"
        params: dict[str, Any] = {"page_size": PAGE_SIZE}
        if since is not None:
            params["since"] = since
        first: dict[str, Any] = self._request("GET", path, params=params)
        found = list(first.get("changes", []))
        token, pages = first.get("next_page_token", ""), 1
        while token:
            if pages >= max_pages:
                return None
            page = self._request("GET", path, params={**params, "page_token": token})
            found += page.get("changes", [])
            token, pages = page.get("next_page_token", ""), pages + 1
        return {**first, "changes": found}

    def list_items(self, kind: Kind) -> list[dict[str, Any]]:
        """Every live item of ``kind`` as the API returns it, in the API's order."""
        collection = wildcard_collection(self.workspace, kind)
        return list(self.list_collection(collection, kind.collection.replace("-", "_")))

    def get_item(self, name: str) -> dict[str, Any] | None:
        """One live item by its full name, None when it does not exist."""
        try:
            result: dict[str, Any] = self._request("GET", name)
        except NotFound:
            return None
        return result

    def state_of(self, kinds: list[Kind], items: Mapping[str, list[dict[str, Any]]]
                 ) -> list[CurrentResource]:  # fmt: skip
        """The live state from API items per kind name: what ``read_state`` makes of them."""
        return [self._current(kind, item) for kind in kinds for item in items[kind.name]]

    def compare_secrets(
        self, items: list[tuple[str, str, AnyPath, Any]]
    ) -> tuple[list[bool], list[str]]:
        """For each (kind name, address, path, value): does the live secret equal ``value``?
        One request per 1000 values; also the server's keyed digest of each batch."""
        matches: list[bool] = []
        digests: list[str] = []
        path = f"workspaces/{self.workspace}/secrets:compare"
        for start in range(0, len(items), COMPARE_BATCH):
            batch = [{"resource": self._compare_name(k, a), "path": format_path(p), "value": v}
                     for k, a, p, v in items[start : start + COMPARE_BATCH]]  # fmt: skip
            answer = self._request("POST", path, json={"secrets": batch})
            matches += [bool(m) for m in answer.get("matches", [])]
            digests.append(str(answer.get("digest", "")))
        if len(matches) != len(items):
            raise ApiError(502, 13, "secrets:compare answered the wrong number of values",
                           "POST", path)  # fmt: skip
        return matches, digests

    def _compare_name(self, kind_name: str, address: str) -> str:
        kind = KINDS[kind_name]
        if kind.id_prefix and (kind.name, address) not in self._names:
            return resource_name(self.workspace, kind, address)  # not created yet: no match
        return self._name(kind, address)

    def _current(self, kind: Kind, item: dict[str, Any]) -> CurrentResource:
        if kind.id_prefix:
            self._remember(kind, item["external_id"], item["name"])
        current = _current(kind, item)
        fields = dict(current.fields)
        for spec in kind.fields:
            target = KINDS[spec.ref] if spec.ref else None
            if target is not None and target.id_prefix and isinstance(item.get(spec.name), str):
                fields[spec.name] = self._address_of(target, item[spec.name])
        return replace(current, fields=fields)

    def _remember(self, kind: Kind, address: str, name: str) -> None:
        with self._names_lock:
            self._names[(kind.name, address)] = name
            self._addresses[(kind.name, name)] = address

    def _address_of(self, kind: Kind, name: str) -> str:
        with self._names_lock:
            return self._addresses.get((kind.name, name), name)

    def address_of(self, kind: Kind, name: str) -> str | None:
        """The address of the resource named ``name`` (``workspaces/…``): a kind with
        generated ids (a tracking plan's ``tp_…``) by the external id this client read with
        it (None: not read), any other from the name itself."""
        if not kind.id_prefix:
            return parse_resource_name(name)[2]
        with self._names_lock:
            return self._addresses.get((kind.name, name))

    def _name(self, kind: Kind, address: str) -> str:
        if not kind.id_prefix:
            return resource_name(self.workspace, kind, address)
        with self._names_lock:
            name = self._names.get((kind.name, address))
        if name is None:
            raise NotFound(404, 5, f"{kind.name} {address!r} not found", "GET", kind.collection)
        return name

    def list_versions(self, kind: Kind, address: str) -> list[dict[str, Any]]:
        """Every kept version of a versioned resource, newest first."""
        return list(self.list_collection(f"{self._name(kind, address)}/versions", "versions"))

    # -- writes ----------------------------------------------------------------------------

    def restore_version(self, kind: Kind, address: str, version: int) -> dict[str, Any]:
        """Make ``version``'s value the resource's again (as its next version); the resource
        as it is after."""
        path = f"{self._name(kind, address)}/versions/{version}:restore"
        result: dict[str, Any] = self._request("POST", path)
        return result

    def create(
        self,
        kind: Kind,
        address: str,
        fields: Mapping[str, Any],
        secret_paths: list[str],
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        parent = address.rsplit("/", 1)[0] if kind.parent else None
        obj = self._refs_to_names(kind, fields)
        later: list[dict[str, Any]] = []
        batched = _batched(kind)
        if batched is not None and batched.max_per_call is not None:
            # the first batch travels with the create, the rest through the field's endpoints
            items = list(obj.get(batched.name, []))
            obj[batched.name], later = items[: batched.max_per_call], items[batched.max_per_call :]
        if kind.id_prefix:
            obj["external_id"] = address
        else:
            obj["name"] = resource_name(self.workspace, kind, address)
        body = {**(meta or {}), kind.key: obj, "secret_paths": secret_paths}
        try:
            made = self._request("POST", collection_name(self.workspace, kind, parent), json=body,
                                 tagged=True)  # fmt: skip
        except AlreadyExists:
            # A retried create (or a concurrent identical one) finds its own work done.
            if kind.id_prefix or not self._matches(kind, address, fields):
                raise
            return
        if kind.id_prefix:
            self._remember(kind, address, made["name"])
        if batched is not None:
            self._send_items(batched, "PATCH", self._name(kind, address), later)

    def update(
        self,
        kind: Kind,
        address: str,
        values: Mapping[str, Any],
        mask: list[str],
        secret_paths: list[str],
        etag: str | None,
        meta: Mapping[str, Any] | None = None,
    ) -> None:
        name = self._name(kind, address)
        batched = _batched(kind)
        items = values.get(batched.name) if batched is not None else None
        if batched is not None and items is not None:  # through the field's endpoints
            values = {k: v for k, v in values.items() if k != batched.name}
            mask = [p for p in mask if p != f"{kind.key}.{batched.name}"]
        body = {
            **(meta or {}),
            kind.key: self._refs_to_names(kind, values),
            "update_mask": {"paths": mask},
            "secret_paths": secret_paths,
        }
        self._request("PATCH", name, json=body, etag=etag, tagged=True)
        if batched is not None and items is not None:
            self._sync_items(batched, name, list(items))

    def _send_items(self, spec: FieldSpec, method: str, name: str, items: list[Any]) -> None:
        """``items`` of the batched field ``spec`` through its endpoint, at most
        ``spec.max_per_call`` per call."""
        size = spec.max_per_call or len(items) or 1
        for start in range(0, len(items), size):
            batch = items[start : start + size]
            self._request(method, f"{name}/{spec.name}", json={spec.name: batch}, tagged=True)

    def _sync_items(self, spec: FieldSpec, name: str, desired: list[dict[str, Any]]) -> None:
        """Make the field's rules ``desired``: delete the gone ones, upsert the new or changed
        ones, in batches."""
        current = self._request("GET", f"{name}/{spec.name}").get(spec.name, [])
        diff = diff_rules(current, desired)
        ids = [{"type": r["type"], "key": r.get("key"), "version": r["version"]}
               for r in diff.removed]  # fmt: skip
        self._send_items(spec, "DELETE", name, ids)
        self._send_items(spec, "PATCH", name, diff.upserts)

    def _refs_to_names(self, kind: Kind, fields: Mapping[str, Any]) -> dict[str, Any]:
        """References travel as full resource names; seg works with addresses."""
        out = dict(fields)
        for spec in kind.fields:
            if spec.ref and isinstance(out.get(spec.name), str) and out[spec.name]:
                out[spec.name] = self._name(KINDS[spec.ref], out[spec.name])
        return out

    def delete(self, kind: Kind, address: str, etag: str | None) -> None:
        try:
            self._request("DELETE", self._name(kind, address), etag=etag, tagged=True)
        except NotFound:
            pass  # already gone: the delete's goal holds

    def _matches(self, kind: Kind, address: str, fields: Mapping[str, Any]) -> bool:
        """Whether the live resource holds exactly the declared ``fields``."""
        live = self._current(kind, self._request("GET", self._name(kind, address)))
        asks: list[tuple[AnyPath, Any]] = []
        if not all(_same_value(v, live.fields.get(k), (k,), asks) for k, v in fields.items()):
            return False
        matches, _ = self.compare_secrets([(kind.name, address, p, v) for p, v in asks])
        return all(matches)


def _current(kind: Kind, item: dict[str, Any]) -> CurrentResource:
    _, _, address = parse_resource_name(item["name"])
    skip = COMPUTED | ({kind.parent_field} if kind.parent_field else set()) | {"external_id"}
    fields = {k: v for k, v in item.items() if k not in skip}
    if kind.id_prefix:
        address = item["external_id"]
    for spec in kind.fields:
        if spec.ref and fields.get(spec.name) and not KINDS[spec.ref].id_prefix:
            fields[spec.name] = parse_resource_name(fields[spec.name])[2]
    return CurrentResource(
        kind, address, fields, item.get("etag", ""), item.get("update_time", ""),
        frozenset(item.get("managed_paths") or ()), bool(item.get("protect")),
        str(item.get("manager") or ""), _version_number(item.get("latest_version")),
    )  # fmt: skip


def _version_number(value: Any) -> int:
    """A server-computed version number (0 when absent or not a number)."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else 0


def _same_value(want: Any, have: Any, path: AnyPath, asks: list[tuple[AnyPath, Any]]) -> bool:
    """Equal, except live digests: those are collected in ``asks`` for the server."""
    if is_digest(have):
        asks.append((path, want))
        return True
    if isinstance(want, dict) and isinstance(have, dict):
        return all(_same_value(v, have.get(k), (*path, k), asks) for k, v in want.items())
    if isinstance(want, list) and isinstance(have, list):
        pairs = enumerate(zip(want, have, strict=False))
        return len(want) == len(have) and all(
            _same_value(a, b, (*path, i), asks) for i, (a, b) in pairs
        )
    return json_equal(want, have)


def _retriable(response: httpx.Response) -> bool:
    return response.status_code == 429 or response.status_code >= 500


def _retry_after(response: httpx.Response, default: float) -> float:
    """The server's Retry-After in seconds (at most 60); ``default`` when it is absent or not
    a finite, non-negative number (a "nan" must not spend the budget at once)."""
    try:
        seconds = float(response.headers.get("Retry-After", default))
    except ValueError:
        return default
    return min(seconds, 60.0) if math.isfinite(seconds) and seconds >= 0 else default


def _api_error(response: httpx.Response, method: str, url: str) -> ApiError:
    body: Any = None
    try:
        body = response.json()
        message, code = str(body["error"]), int(body["code"])
    except (ValueError, KeyError, TypeError):
        message, code = response.text.strip()[:200] or response.reason_phrase, 0
    rid = request_id(body, response.headers.get("x-request-id"))
    return api_error(response.status_code, code, message, method, url, rid)


def _batched(kind: Kind) -> FieldSpec | None:
    """The kind's field whose items travel in batches through their own endpoint (a tracking
    plan's rules), if any."""
    return next((spec for spec in kind.fields if spec.max_per_call is not None), None)
