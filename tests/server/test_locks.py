"""Workspace locks on the control plane (leases in the database). Expiry and rate limits,
which depend on time, are in test_clock.py (driven by the injected clock)."""

from __future__ import annotations

from tests.conftest import Api
from tests.helpers import error, error_body


def lock_url(api: Api) -> str:
    return api.url("/lock")


def test_acquire_status_renew_release(api: Api) -> None:
    error(api.http.get(lock_url(api)), 404, 5)
    body = {"holder": "seg apply by ci", "host": "runner-1", "plan": "abc", "ci_run": "42",
            "ttl_seconds": 30}  # fmt: skip
    lock = api.http.post(lock_url(api), json=body).json()
    assert lock["id"].startswith("lk_") and lock["holder"] == "seg apply by ci"
    status = api.http.get(lock_url(api)).json()
    assert status["id"] == lock["id"] and 0 < status["expires_in"] <= 30
    message = error(api.http.post(lock_url(api), json=body), 409, 9)
    assert "locked by seg apply by ci on runner-1 (plan abc, CI run 42)" in message
    renewed = api.http.patch(lock_url(api), params={"id": lock["id"]}, json={"ttl_seconds": 60})
    assert renewed.json()["expires_in"] > 30
    error(api.http.patch(lock_url(api), params={"id": "lk_other"}, json={}), 409, 9)
    assert api.http.delete(lock_url(api), params={"id": lock["id"]}).status_code == 200
    error(api.http.get(lock_url(api)), 404, 5)
    events = api.http.get(api.url("/audit-events")).json()["audit_events"]
    assert [e["method"] for e in events[:2]] == ["DELETE", "POST"]


def test_breaking_a_lock_needs_the_owner_scope(api: Api) -> None:
    writer = api.client(api.token("workspace:write"))
    assert writer.post(lock_url(api), json={"holder": "w"}).status_code == 200
    assert error_body(writer.delete(lock_url(api))) == {"error": "insufficient scope", "code": 7}
    reader = api.client(api.token("workspace:read"))
    assert error_body(reader.post(lock_url(api), json={})) == {"error": "insufficient scope", "code": 7}
    assert api.http.delete(lock_url(api)).status_code == 200  # owner forces release
    error(api.http.post(lock_url(api), json={"ttl_seconds": 0}), 400, 3)
