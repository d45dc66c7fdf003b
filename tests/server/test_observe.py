"""Request ids, the access log and /metrics, in-process (SQLite and PostgreSQL): the id a
caller sends comes back in the header and in every error body, whatever layer answered; each
request is one ``seg.access`` record; /metrics parses as Prometheus text and counts what
happened, with the lock held per workspace read from the database at scrape time."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from prometheus_client.parser import text_string_to_metric_families

from seg.server.clock import ManualClock
from seg.server.service import ControlPlane
from seg.store.sql import SqlStore
from tests.conftest import Api
from tests.helpers import error

START = 1_800_000_000.0
SOURCE_ROUTE = "/v1beta/workspaces/{workspace}/sources/{source}"


class FailingClock(ManualClock):
    """A clock that breaks when told to: the one way to reach the server's 500 in-process
    without planting a bug in seg's own code."""

    broken = False

    def now(self) -> float:
        if self.broken:
            raise RuntimeError("the clock broke")
        return super().now()


@pytest.fixture
def clock() -> FailingClock:
    return FailingClock(START)


@pytest.fixture
def timed(store: SqlStore, slug: str, clock: FailingClock) -> Iterator[Api]:
    api = Api(ControlPlane(store, clock=clock), slug)
    yield api
    api.close()


def samples(api: Api) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    """Every sample of a /metrics scrape: (name, sorted labels) → value."""
    page = api.http.get("/metrics")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    return {(s.name, tuple(sorted(s.labels.items()))): s.value
            for family in text_string_to_metric_families(page.text)
            for s in family.samples}  # fmt: skip


def value(scrape: dict, name: str, **labels: str) -> float:
    return scrape.get((name, tuple(sorted(labels.items()))), 0.0)


def test_a_safe_request_id_is_echoed_and_a_missing_one_is_made(api: Api) -> None:
    mine = api.http.get(api.url(), headers={"X-Request-Id": "build-42.step_7"})
    assert mine.status_code == 200 and mine.headers["x-request-id"] == "build-42.step_7"
    made = {api.http.get(api.url()).headers["x-request-id"] for _ in range(3)}
    assert len(made) == 3 and all(len(rid) == 32 and int(rid, 16) >= 0 for rid in made)


def test_every_error_path_carries_the_request_id(timed: Api, clock: FailingClock) -> None:
    """Domain error, unknown path, wrong method, a too-large body (InputGuard), a NUL in a
    query (InputGuard), a bad token, and the 500: each body's request_id is the header's."""
    rid = {"X-Request-Id": "trace-1"}
    http = timed.http
    answers = [
        (http.get(timed.url("/sources/nope"), headers=rid), 404, 5),
        (http.get("/no/such/path", headers=rid), 404, 5),
        (http.put(timed.url(), headers=rid), 405, 12),
        (http.post(timed.url("/sources"), headers={**rid, "Content-Length": "99999999999"},
                   content=b"{}"), 413, 8),  # fmt: skip
        (http.get(timed.url("/sources"), params={"page_token": "a\x00b"}, headers=rid), 400, 3),
        (timed.client("wrong").get(timed.url(), headers=rid), 401, 16),
    ]
    for response, status, code in answers:
        error(response, status, code)
        assert response.json()["request_id"] == "trace-1"
    clock.broken = True
    broken = http.get(timed.url("/lock"), headers=rid)  # the lock's status reads the clock
    clock.broken = False
    assert error(broken, 500, 13) == "internal error"
    assert broken.json()["request_id"] == "trace-1"


def test_one_access_record_per_request_with_the_route_template_and_token_id(
    api: Api, caplog: pytest.LogCaptureFixture
) -> None:
    token_id, secret = api.cp.workspaces.create_token(api.workspace, "workspace:read", "reader")
    reader = api.client(secret)
    assert api.create_source("web").status_code == 200
    caplog.set_level(logging.INFO, logger="seg.access")
    caplog.clear()
    reader.get(api.url("/sources/web"), headers={"X-Request-Id": "r-1"})
    api.http.get(f"/v1beta/workspaces/{api.workspace}/no-such-collection/x")
    records = [r for r in caplog.records if r.name == "seg.access"]
    assert len(records) == 2
    first, second = (r.access for r in records)  # type: ignore[attr-defined]
    assert first["request_id"] == "r-1" and first["route"] == SOURCE_ROUTE
    assert (first["method"], first["status"]) == ("GET", 200) and first["bytes"] > 0
    assert first["token_id"] == token_id and first["latency_ms"] >= 0
    assert (second["route"], second["status"], second["token_id"]) == ("unmatched", 404, "-")
    assert secret not in caplog.text


def test_metrics_count_requests_latency_and_errors_by_template(api: Api) -> None:
    assert api.create_source("web").status_code == 200
    for _ in range(3):
        assert api.http.get(api.url("/sources/web")).status_code == 200
    api.http.get(api.url("/sources/nope"))
    api.http.put(api.url())
    scrape = samples(api)
    ok = {"method": "GET", "route": SOURCE_ROUTE, "status": "200"}
    assert value(scrape, "seg_http_requests_total", **ok) == 3
    assert value(scrape, "seg_http_request_duration_seconds_count", **ok) == 3
    assert value(scrape, "seg_http_request_duration_seconds_bucket", le="+Inf", **ok) == 3
    assert value(scrape, "seg_http_requests_total", method="GET", route=SOURCE_ROUTE,
                 status="404") == 1  # fmt: skip
    assert value(scrape, "seg_api_errors_total", code="5") == 1
    assert value(scrape, "seg_api_errors_total", code="12") == 1
    assert value(scrape, "seg_http_requests_in_flight") == 1  # the scrape itself
    assert value(scrape, "seg_database_up") == 1
    assert ("seg_db_pool_size", ()) in scrape and ("seg_db_pool_checked_out", ()) in scrape
    assert value(scrape, "seg_db_pool_size") >= 1  # SQLite files and PostgreSQL both pool


def test_the_lock_gauge_follows_the_lease_on_the_clock(timed: Api, clock: FailingClock) -> None:
    held = {"workspace": timed.workspace}
    assert value(samples(timed), "seg_workspace_lock_held", **held) == 0
    lease = timed.http.post(timed.url("/lock"), json={"holder": "ci", "ttl_seconds": 60})
    assert lease.status_code == 200
    assert value(samples(timed), "seg_workspace_lock_held", **held) == 1
    clock.advance(61)  # expired, though the row is still there
    assert value(samples(timed), "seg_workspace_lock_held", **held) == 0


def test_each_app_has_its_own_registry(cp: ControlPlane, slug: str) -> None:
    first, second = Api(cp, slug), Api(cp, slug + "b")
    try:
        first.http.get(first.url())
        count = "seg_http_requests_total"
        route = {"method": "GET", "route": "/v1beta/workspaces/{workspace}", "status": "200"}
        assert value(samples(first), count, **route) == 1
        assert value(samples(second), count, **route) == 0
    finally:
        first.close()
        second.close()


def test_metrics_stay_out_of_the_api_document(api: Api) -> None:
    assert "/metrics" not in api.http.get("/openapi.json").json()["paths"]


def test_the_scraper_gets_the_format_it_asks_for(api: Api) -> None:
    text = api.http.get("/metrics")
    assert text.headers["content-type"].startswith("text/plain; version=0.0.4")
    open_metrics = api.http.get("/metrics", headers={"Accept": "application/openmetrics-text"})
    assert open_metrics.headers["content-type"].startswith("application/openmetrics-text")
    assert open_metrics.text.rstrip().endswith("# EOF")
