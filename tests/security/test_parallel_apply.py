"""A hostile or broken control plane cannot turn the shared back-off against the apply: a
Retry-After that is not a finite, non-negative number is the default backoff (a "nan" does
not spend the retry budget at once, "-1" does not make threads spin, a huge one is capped),
and no parallelism outside 1..64 is ever run (SEG_PARALLELISM is read from the environment,
which a CI job may take from a pull request)."""

from __future__ import annotations

import threading

import httpx
import pytest

from seg.apply.schedule import MAX_PARALLELISM, run_steps
from seg.client.http import ControlPlaneClient
from seg.errors import RetryBudgetSpent
from seg.kinds import KINDS
from tests.conftest import Api

SRC = KINDS["Source"]


class OddRetryAfter(httpx.BaseTransport):
    """Answers the first request with 429 and the given Retry-After, then forwards."""

    def __init__(self, inner: httpx.BaseTransport, value: str) -> None:
        self.inner, self.value, self.calls = inner, value, 0
        self.lock = threading.Lock()

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        with self.lock:
            self.calls += 1
            first = self.calls == 1
        if first:
            return httpx.Response(429, headers={"Retry-After": self.value},
                                  json={"error": "slow down", "code": 8}, request=request)  # fmt: skip
        return self.inner.handle_request(request)


def client(api: Api, value: str, budget: float = 30.0) -> tuple[ControlPlaneClient, OddRetryAfter]:
    transport = OddRetryAfter(api.transport, value)
    http = httpx.Client(transport=transport, base_url="http://embedded",
                        headers={"Authorization": f"Bearer {api.owner_token}"})  # fmt: skip
    return ControlPlaneClient(http, api.workspace, backoff=0.05, retry_budget=budget), transport


@pytest.mark.parametrize("value", ["nan", "-1", "-inf", "1e400x", ""])
def test_a_retry_after_that_is_no_wait_means_the_default_backoff(api: Api, value: str) -> None:
    seg, transport = client(api, value, budget=1.0)
    assert seg.read_state([SRC]) == []  # retried after the default 0.05 s, within budget
    assert transport.calls == 2
    assert 0.04 <= seg.budget.spent < 1.0


def test_a_huge_retry_after_is_capped_and_then_bounded_by_the_budget(api: Api) -> None:
    seg, transport = client(api, "1e12", budget=5.0)
    with pytest.raises(RetryBudgetSpent, match="retry budget of 5s is spent"):
        seg.read_state([SRC])  # 60 s (the cap) would pass the budget: give up, do not sleep
    assert transport.calls == 1 and seg.budget.spent < 5.0


@pytest.mark.parametrize("parallelism", [0, -1, MAX_PARALLELISM + 1, 10**9])
def test_no_parallelism_outside_the_bounds_is_run(parallelism: int) -> None:
    with pytest.raises(ValueError, match="parallelism must be from 1 to 64"):
        run_steps([], lambda step: None, lambda step, outcome: None,  # type: ignore[arg-type,return-value]
                  parallelism)  # fmt: skip
