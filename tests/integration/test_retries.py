"""Retries: connection errors, 429 with Retry-After and 5xx are retried with backoff; a create
whose response was lost is found done on retry. Faults are injected around the real server."""

from __future__ import annotations

import time

import httpx
import pytest

from seg.client.http import ControlPlaneClient
from seg.errors import ApiError, TransportError
from seg.model.kinds import KINDS
from tests.conftest import Api


class Faulty(httpx.BaseTransport):
    """Forwards to the real in-process server, misbehaving as scripted per request number."""

    def __init__(self, inner: httpx.BaseTransport, script: dict[int, str]) -> None:
        self.inner = inner
        self.script = script
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        fault = self.script.get(self.calls)
        if fault == "connect":
            raise httpx.ConnectError("connection refused", request=request)
        if fault == "503":
            return httpx.Response(503, json={"error": "unavailable", "code": 14}, request=request)
        if fault == "429":
            return httpx.Response(429, headers={"Retry-After": "0.3"},
                                  json={"error": "rate limited", "code": 8}, request=request)  # fmt: skip
        response = self.inner.handle_request(request)
        if fault == "lose-response":
            raise httpx.ReadError("connection reset", request=request)
        return response


def client(api: Api, script: dict[int, str]) -> tuple[ControlPlaneClient, Faulty]:
    faulty = Faulty(api.transport, script)
    http = httpx.Client(transport=faulty, base_url="http://embedded",
                        headers={"Authorization": f"Bearer {api.owner_token}"})  # fmt: skip
    return ControlPlaneClient(http, api.workspace, backoff=0.01), faulty


def test_connection_errors_and_5xx_are_retried(api: Api) -> None:
    api.create_source("web")
    seg, faulty = client(api, {1: "connect", 2: "503"})
    state = seg.read_state([KINDS["Source"]])
    assert [r.address for r in state] == ["web"] and faulty.calls == 3


def test_429_waits_for_retry_after(api: Api) -> None:
    seg, faulty = client(api, {1: "429"})
    start = time.monotonic()
    seg.get_workspace()
    assert time.monotonic() - start >= 0.3 and faulty.calls == 2


def test_a_create_whose_response_was_lost_is_done_on_retry(api: Api) -> None:
    seg, faulty = client(api, {1: "lose-response"})
    seg.create(KINDS["Source"], "web", {"catalog": "ios", "settings": {"api_key": "k"}}, [])
    # POST (lost), POST again (409: exists), GET (same body), compare the secret (same: done)
    assert faulty.calls == 4
    names = [s["name"] for s in api.http.get(api.url("/sources")).json()["sources"]]
    assert names == [f"workspaces/{api.workspace}/sources/web"]


def test_a_create_that_meets_another_secret_is_not_taken_as_done(api: Api) -> None:
    body = {"source": {"name": f"workspaces/{api.workspace}/sources/web", "catalog": "ios",
                       "settings": {"api_key": "theirs"}}}  # fmt: skip
    assert api.http.post(api.url("/sources"), json=body).status_code == 200
    seg, _ = client(api, {})
    with pytest.raises(ApiError, match="already exists"):
        seg.create(KINDS["Source"], "web", {"catalog": "ios", "settings": {"api_key": "k"}}, [])


def test_giving_up_reports_one_clear_error(api: Api) -> None:
    seg, faulty = client(api, dict.fromkeys(range(1, 10), "connect"))
    with pytest.raises(TransportError, match="cannot reach the control plane"):
        seg.get_workspace()
    assert faulty.calls == 5  # the first try and four retries
