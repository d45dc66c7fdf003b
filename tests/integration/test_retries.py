"""Retries: connection errors, 429 with Retry-After and 5xx are retried with backoff; a create
whose response was lost is found done on retry; one retry budget bounds a whole run.
Faults are injected around the real server."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from rich.console import Console

from seg.apply import NullObserver, apply_plan
from seg.client.http import ControlPlaneClient
from seg.engine import compute_plan
from seg.errors import ApiError, RetryBudgetSpent, TransportError
from seg.kinds import KINDS
from seg.model.resource import DesiredResource
from seg.render.apply_view import render_apply_summary
from tests.conftest import Api, run_cli


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
    seg.create(KINDS["Source"], "web", {"catalog": "stripe", "settings": {"api_key": "k"}}, [])
    # POST (lost), POST again (409: exists), GET (same body), compare the secret (same: done)
    assert faulty.calls == 4
    names = [s["name"] for s in api.http.get(api.url("/sources")).json()["sources"]]
    assert names == [f"workspaces/{api.workspace}/sources/web"]


def test_a_create_that_meets_another_secret_is_not_taken_as_done(api: Api) -> None:
    body = {"source": {"name": f"workspaces/{api.workspace}/sources/web", "catalog": "stripe",
                       "settings": {"api_key": "theirs"}}}  # fmt: skip
    assert api.http.post(api.url("/sources"), json=body).status_code == 200
    seg, _ = client(api, {})
    with pytest.raises(ApiError, match="already exists"):
        seg.create(KINDS["Source"], "web", {"catalog": "stripe", "settings": {"api_key": "k"}}, [])


def test_giving_up_reports_one_clear_error(api: Api) -> None:
    seg, faulty = client(api, dict.fromkeys(range(1, 10), "connect"))
    with pytest.raises(TransportError, match="cannot reach the control plane"):
        seg.get_workspace()
    assert faulty.calls == 5  # the first try and four retries


class DiesAfter(httpx.BaseTransport):
    """The real server until ``writes`` writes have gone through; then nothing listens."""

    def __init__(self, inner: httpx.BaseTransport, writes: int) -> None:
        self.inner = inner
        self.writes_left = writes
        self.calls = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.calls += 1
        if request.method != "GET":
            if self.writes_left == 0:
                raise httpx.ConnectError("connection refused", request=request)
            self.writes_left -= 1
        return self.inner.handle_request(request)


class ManualClock:
    """Time that moves only when slept through: the budget's arithmetic without the machine's
    load (a busy CI worker once took 0.4 s over an attempt that fails at once)."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


def test_one_retry_budget_is_shared_by_every_request(api: Api) -> None:
    faulty = Faulty(api.transport, dict.fromkeys(range(1, 1000), "connect"))
    http = httpx.Client(transport=faulty, base_url="http://embedded")
    seg = ControlPlaneClient(http, api.workspace, backoff=0.1, retry_budget=0.5)
    clock = ManualClock()
    seg.budget.clock = seg.gate.clock = clock
    seg.gate.sleep = clock.sleep
    with pytest.raises(RetryBudgetSpent, match="retry budget of 0.5s is spent"):
        seg.get_workspace()  # waits 0.1 + 0.2, then 0.4 more would pass the budget
    assert faulty.calls == 3
    assert clock.now == pytest.approx(1000.3)  # the two waits were slept, nothing more
    for _ in range(20):  # every later request: at most one short retry left, then give up
        with pytest.raises(RetryBudgetSpent):
            seg.get_workspace()
    assert faulty.calls <= 3 + 20 * 2 and seg.budget.spent <= 0.5 + 0.5


def test_the_retry_budget_ends_a_run_in_real_time(api: Api) -> None:
    """With the real clock: a control plane that refuses every connection costs about the
    budget, not the retries' full schedule."""
    faulty = Faulty(api.transport, dict.fromkeys(range(1, 1000), "connect"))
    http = httpx.Client(transport=faulty, base_url="http://embedded")
    seg = ControlPlaneClient(http, api.workspace, backoff=0.1, retry_budget=0.5)
    start = time.monotonic()
    for _ in range(20):
        with pytest.raises(RetryBudgetSpent):
            seg.get_workspace()
    assert faulty.calls <= 3 + 20 * 2 and seg.budget.spent <= 0.5 + 0.5
    assert time.monotonic() - start < 0.5 + 5  # the budget, plus a generous margin


def test_an_apply_against_a_dead_control_plane_stops_and_reports_what_was_left(api: Api) -> None:
    desired = [DesiredResource(KINDS["Source"], f"s{i:02d}", {"catalog": "javascript"})
               for i in range(30)]  # fmt: skip
    plan = compute_plan(api.workspace, desired, api.seg_client().read_state())
    dying = DiesAfter(api.transport, writes=4)
    http = httpx.Client(transport=dying, base_url="http://embedded",
                        headers={"Authorization": f"Bearer {api.owner_token}"})  # fmt: skip
    seg = ControlPlaneClient(http, api.workspace, backoff=0.05, retry_budget=1.0)
    start = time.monotonic()
    result = apply_plan(plan, seg, NullObserver())
    assert time.monotonic() - start < 1.0 + 10  # not 26 changes × four backoffs each
    counts = {s: len(result.with_status(s)) for s in ("applied", "failed", "not_attempted")}
    assert counts["applied"] == 4 and counts["failed"] >= 1
    assert sum(counts.values()) == 30 and counts["not_attempted"] >= 30 - 4 - 3
    assert "cannot reach the control plane" in result.stopped and "retry budget" in result.stopped
    assert not result.ok
    assert dying.calls <= 4 + 30  # the four writes, then a bounded number of attempts
    live = api.http.get(api.url("/sources")).json()["sources"]
    assert len(live) == 4
    console = Console(record=True, width=200)
    render_apply_summary(result, console)
    text = console.export_text()
    first = text.splitlines()[0]
    assert first.startswith("Apply stopped: cannot reach the control plane") and first.endswith(
        f"4 applied, {counts['failed']} failed, 0 skipped, {counts['not_attempted']} not attempted."
    )
    left = [r.step.change.address for r in result.with_status("not_attempted")]
    assert all(f"  not attempted: create Source {a}" in text for a in left)


@pytest.mark.parametrize("value", ["abc", "-1", "nan", "1e9"])
def test_a_bad_retry_budget_is_one_clear_error(
    value: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "seg.yaml").write_text("version: seg/v1\nworkspace: acme\n")
    monkeypatch.setenv("SEG_RETRY_BUDGET", value)
    monkeypatch.setenv("SEG_TOKEN", "t")
    result = run_cli("plan", "-w", str(tmp_path), "--api-url", "http://127.0.0.1:9")
    assert result.exit_code == 1
    assert "SEG_RETRY_BUDGET must be a number of seconds from 0 to 3600" in result.output
