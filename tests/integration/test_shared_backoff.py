"""One back-off for every thread: when a request hears 429 with Retry-After, no thread sends
anything until that moment, and the retry budget pays for the wait once. Plan's lists are
fetched concurrently and come back in kind order. The server is the real one (in-process);
a transport in front of it answers one request with 429 and records when each arrives."""

from __future__ import annotations

import threading
import time

import httpx

from seg.apply import NullObserver, apply_plan
from seg.client.http import ControlPlaneClient
from seg.engine import compute_plan
from seg.kinds import KINDS, kinds_in_order
from seg.model.resource import DesiredResource
from tests.conftest import Api

SRC = KINDS["Source"]
RETRY_AFTER = 1.5
GRACE = 0.2  # a send already past the gate when the 429 came back may still arrive


class RateLimitOnce(httpx.BaseTransport):
    """Forwards to the server; answers the ``at``-th request with 429 (Retry-After) and
    records the arrival time of every request."""

    def __init__(self, inner: httpx.BaseTransport, at: int) -> None:
        self.inner, self.at = inner, at
        self.arrivals: list[float] = []
        self.limited_at = 0.0
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.arrivals.append(time.monotonic())
            limited = len(self.arrivals) == self.at
        if limited:
            self.limited_at = time.monotonic()
            return httpx.Response(429, headers={"Retry-After": str(RETRY_AFTER)},
                                  json={"error": "rate limited", "code": 8}, request=request)  # fmt: skip
        return self.inner.handle_request(request)


def limited_client(api: Api, at: int) -> tuple[ControlPlaneClient, RateLimitOnce]:
    transport = RateLimitOnce(api.transport, at)
    http = httpx.Client(transport=transport, base_url="http://embedded",
                        headers={"Authorization": f"Bearer {api.owner_token}"})  # fmt: skip
    return ControlPlaneClient(http, api.workspace), transport


def test_a_429_holds_every_thread_until_retry_after_and_is_charged_once(api: Api) -> None:
    desired = [DesiredResource(SRC, f"s{i:02}", {"catalog": "javascript"}) for i in range(40)]
    plan = compute_plan(api.workspace, desired, [])
    client, transport = limited_client(api, at=5)
    result = apply_plan(plan, client, NullObserver(), parallelism=10)
    assert result.ok
    assert transport.limited_at
    window = (transport.limited_at + GRACE, transport.limited_at + RETRY_AFTER)
    during = [t for t in transport.arrivals if window[0] <= t < window[1]]
    assert during == []  # nobody sent anything during the back-off
    assert len(transport.arrivals) == 41  # 40 creates and the one retried
    assert client.budget.spent < 2 * RETRY_AFTER  # one wait, not one per thread
    assert len(client.read_state([SRC])) == 40


def test_read_state_lists_kinds_concurrently_in_kind_order(api: Api) -> None:
    for name in ("b", "a", "c"):
        assert api.create_source(name).status_code == 200
    assert api.create_destination("a", "amp", settings={"api_key": "k"}).status_code == 200
    client, transport = limited_client(api, at=3)  # one kind's list is refused once
    state = client.read_state()
    kinds = [r.kind.name for r in state]
    order = [k.name for k in kinds_in_order()]
    assert kinds == sorted(kinds, key=order.index)
    assert [(r.kind.name, r.address) for r in state if r.kind.name in ("Source", "Destination")] == [
        ("Source", "a"), ("Source", "b"), ("Source", "c"), ("Destination", "a/amp")]  # fmt: skip
    assert len(transport.arrivals) == len(order) + 1  # one list per kind, one retried
