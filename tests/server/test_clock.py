"""The control plane reads time from its injected clock: lease expiry, renewal, the lock
check on writes, rate-limit windows and every timestamp move when the test clock moves —
no sleeps (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from seg.server.clock import ManualClock, iso
from seg.server.service import ControlPlane
from seg.store.sql import SqlStore
from tests.conftest import Api

START = 1_800_000_000.0  # a whole minute: a rate-limit window starts here


def _error(response: httpx.Response, status: int, code: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and set(body) == {"error", "code", "request_id"}, body
    return str(body["error"])


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def timed(store: SqlStore, slug: str, clock: ManualClock) -> Iterator[Api]:
    api = Api(ControlPlane(store, clock=clock), slug)
    yield api
    api.close()


def test_a_lease_lives_exactly_its_ttl_on_the_clock(timed: Api, clock: ManualClock) -> None:
    lock_url = timed.url("/lock")
    first = timed.http.post(lock_url, json={"holder": "a", "ttl_seconds": 30}).json()
    assert first["expires_in"] == 30.0 and first["acquired_at"] == iso(START)
    clock.advance(29.9)
    assert timed.http.get(lock_url).json()["expires_in"] == pytest.approx(0.1)
    other = timed.client(timed.token("workspace:write", "next apply"))
    assert "locked by a" in _error(other.post(lock_url, json={"holder": "b"}), 409, 9)
    clock.advance(0.1)  # expires_at <= now: expired
    _error(timed.http.get(lock_url), 404, 5)
    second = other.post(lock_url, json={"holder": "b", "ttl_seconds": 30})
    assert second.status_code == 200 and second.json()["acquired_at"] == iso(START + 30)
    _error(timed.http.patch(lock_url, params={"id": first["id"]}, json={}), 409, 9)
    _error(timed.http.delete(lock_url, params={"id": first["id"]}), 404, 5)
    assert timed.http.get(lock_url).json()["id"] == second.json()["id"]


def test_a_renewal_extends_the_lease_from_the_clocks_now(timed: Api, clock: ManualClock) -> None:
    lock_url = timed.url("/lock")
    lock = timed.http.post(lock_url, json={"holder": "a", "ttl_seconds": 30}).json()
    clock.advance(20)
    renewed = timed.http.patch(lock_url, params={"id": lock["id"]}, json={"ttl_seconds": 30})
    assert renewed.json()["expires_in"] == 30.0
    clock.advance(29)  # 49 s after it was taken: alive only thanks to the renewal
    assert timed.http.get(lock_url).json()["expires_in"] == pytest.approx(1.0)
    clock.advance(1)
    _error(timed.http.patch(lock_url, params={"id": lock["id"]}, json={}), 409, 9)


def test_writes_are_refused_while_the_lease_lives_and_pass_once_it_expired(
    timed: Api, clock: ManualClock
) -> None:
    holder = timed.client(timed.token("workspace:write", "ci apply"))
    lock = holder.post(timed.url("/lock"), json={"holder": "ci", "ttl_seconds": 60}).json()
    assert holder.post(timed.url("/sources"), headers={"Seg-Lock": lock["id"]}, json={
        "source": {"name": f"workspaces/{timed.workspace}/sources/web", "catalog": "javascript"}
    }).status_code == 200  # fmt: skip
    message = _error(timed.create_source("ios"), 409, 10)
    assert "the lease expires in 60s" in message
    clock.advance(59)
    assert "the lease expires in 1s" in _error(timed.create_source("ios"), 409, 10)
    clock.advance(1)
    assert timed.create_source("ios").status_code == 200  # nobody holds it any more
    late = holder.post(timed.url("/sources"), headers={"Seg-Lock": lock["id"]}, json={
        "source": {"name": f"workspaces/{timed.workspace}/sources/tv", "catalog": "javascript"}
    })  # fmt: skip
    assert f"the workspace lock {lock['id']} is no longer held" in _error(late, 409, 10)


def test_the_rate_limit_window_is_the_clocks_minute(timed: Api, clock: ManualClock) -> None:
    timed.cp.workspaces.rate_limit = 3
    clock.advance(45)
    codes = [timed.http.get(timed.url("/sources")).status_code for _ in range(3)]
    refused = timed.http.get(timed.url("/sources"))
    assert codes == [200, 200, 200]
    _error(refused, 429, 8)
    assert refused.headers["Retry-After"] == "15"  # the window ends at the next minute
    clock.advance(14.5)
    assert timed.http.get(timed.url("/sources")).headers["Retry-After"] == "1"  # at least 1
    clock.advance(0.5)  # a new window: the count starts again
    codes = [timed.http.get(timed.url("/sources")).status_code for _ in range(4)]
    assert codes == [200, 200, 200, 429]


def test_a_second_server_on_the_database_shares_the_window(
    timed: Api, store: SqlStore, clock: ManualClock
) -> None:
    timed.cp.workspaces.rate_limit = 3
    other = ControlPlane(store, rate_limit=3, clock=clock)  # another server, same database
    second = Api.__new__(Api)
    second.__dict__.update(timed.__dict__)
    from seg.server.app import create_app
    from seg.server.inprocess import InProcessTransport

    second.transport = InProcessTransport(create_app(other))
    try:
        there = second.client(timed.owner_token)
        codes = [timed.http.get(timed.url("/sources")).status_code,
                 there.get(timed.url("/sources")).status_code,
                 timed.http.get(timed.url("/sources")).status_code,
                 there.get(timed.url("/sources")).status_code]  # fmt: skip
    finally:
        second.transport.close()
    assert codes == [200, 200, 200, 429]


def test_every_timestamp_comes_from_the_clock(timed: Api, clock: ManualClock) -> None:
    assert timed.http.get(timed.url()).json()["create_time"] == iso(START)
    clock.advance(90.25)
    created = timed.create_source("web").json()
    assert created["create_time"] == created["update_time"] == iso(START + 90.25)
    clock.advance(60)
    updated = timed.http.patch(timed.url("/sources/web"), json={
        "source": {"display_name": "Web"}, "update_mask": {"paths": ["source.display_name"]}
    }).json()  # fmt: skip
    assert updated["create_time"] == iso(START + 90.25)
    assert updated["update_time"] == iso(START + 150.25) == "2027-01-15T08:02:30.250Z"
    events = timed.http.get(timed.url("/audit-events")).json()["audit_events"]
    assert [e["time"] for e in events] == [iso(START + 150.25), iso(START + 90.25)]
