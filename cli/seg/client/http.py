"""``ControlPlaneClient``: the control-plane API over an injected ``httpx.Client``.

The same class talks to a remote ``seg serve`` and to the embedded control plane (whose
``httpx.Client`` uses an in-process transport), so both follow one code path.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from seg.errors import ApiError, TransportError
from seg.model.kinds import KINDS, Kind, kinds_in_order
from seg.model.names import collection_name, parse_resource_name, resource_name, wildcard_collection
from seg.model.resource import CurrentResource

__all__ = ["API_PREFIX", "ControlPlaneClient", "PAGE_SIZE"]

API_PREFIX = "/v1beta"
PAGE_SIZE = 1000
COMPUTED = frozenset({"name", "create_time", "update_time", "etag"})


class ControlPlaneClient:
    """Reads and writes one workspace. Every error is an ``ApiError`` with the API's message."""

    def __init__(self, http: httpx.Client, workspace: str) -> None:
        self.http = http
        self.workspace = workspace
        self.request_count = 0

    # -- transport -------------------------------------------------------------------------

    def _request(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: Mapping[str, Any] | None = None,
        etag: str | None = None,
    ) -> Any:
        url = f"{API_PREFIX}/{path}"
        headers = {"If-Match": f'"{etag}"'} if etag else None
        self.request_count += 1
        try:
            response = self.http.request(method, url, json=json, params=params, headers=headers)
        except httpx.HTTPError as exc:
            raise TransportError(f"cannot reach the control plane: {exc}", method, url) from None
        if response.status_code >= 400:
            raise _api_error(response, method, url)
        return response.json() if response.content else None

    def close(self) -> None:
        self.http.close()

    # -- reads -----------------------------------------------------------------------------

    def get_workspace(self) -> dict[str, Any]:
        result: dict[str, Any] = self._request("GET", f"workspaces/{self.workspace}")
        return result

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
        """The live workspace: one paginated wildcard list per kind, never one GET per item."""
        out: list[CurrentResource] = []
        for kind in kinds or kinds_in_order():
            collection = wildcard_collection(self.workspace, kind)
            for item in self.list_collection(collection, kind.collection.replace("-", "_")):
                out.append(_current(kind, item))
        return out

    # -- writes ----------------------------------------------------------------------------

    def create(
        self, kind: Kind, address: str, fields: Mapping[str, Any], secret_paths: list[str]
    ) -> None:
        parent = address.rsplit("/", 1)[0] if kind.parent else None
        body = {
            kind.key: {
                "name": resource_name(self.workspace, kind, address),
                **self._refs_to_names(kind, fields),
            },
            "secret_paths": secret_paths,
        }
        self._request("POST", collection_name(self.workspace, kind, parent), json=body)

    def update(
        self,
        kind: Kind,
        address: str,
        values: Mapping[str, Any],
        mask: list[str],
        secret_paths: list[str],
        etag: str | None,
    ) -> None:
        body = {
            kind.key: self._refs_to_names(kind, values),
            "update_mask": {"paths": mask},
            "secret_paths": secret_paths,
        }
        self._request("PATCH", resource_name(self.workspace, kind, address), json=body, etag=etag)

    def _refs_to_names(self, kind: Kind, fields: Mapping[str, Any]) -> dict[str, Any]:
        """References travel as full resource names; seg works with addresses."""
        out = dict(fields)
        for spec in kind.fields:
            if spec.ref and isinstance(out.get(spec.name), str):
                out[spec.name] = resource_name(self.workspace, KINDS[spec.ref], out[spec.name])
        return out

    def delete(self, kind: Kind, address: str, etag: str | None) -> None:
        self._request("DELETE", resource_name(self.workspace, kind, address), etag=etag)


def _current(kind: Kind, item: dict[str, Any]) -> CurrentResource:
    _, _, address = parse_resource_name(item["name"])
    skip = COMPUTED | ({kind.parent_field} if kind.parent_field else set())
    fields = {k: v for k, v in item.items() if k not in skip}
    for spec in kind.fields:
        if spec.ref and isinstance(fields.get(spec.name), str):
            fields[spec.name] = parse_resource_name(fields[spec.name])[2]
    return CurrentResource(kind, address, fields, item.get("etag", ""), item.get("update_time", ""))


def _api_error(response: httpx.Response, method: str, url: str) -> ApiError:
    try:
        body = response.json()
        message, code = str(body["error"]), int(body["code"])
    except (ValueError, KeyError, TypeError):
        message, code = response.text.strip()[:200] or response.reason_phrase, 0
    return ApiError(response.status_code, code, message, method, url)
