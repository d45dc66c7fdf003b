"""Attacks on apply runs (SQLite and PostgreSQL): a forged ``Seg-Apply`` — another token's
run, another workspace's, a finished one — refuses the write whole (no resource, no event);
another workspace's run cannot be read, finished or told apart from one that does not exist;
a failures list past its bounds is refused, not stored; the audit filters never widen what a
user-bound token sees."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.conftest import Api
from tests.helpers import error


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def start(api: Api, client: httpx.Client) -> str:
    return str(ok(client.post(api.url("/applies"), json={"manager": "default"}), 201)["id"])


def create(api: Api, client: httpx.Client, slug: str, run_id: str | bytes) -> httpx.Response:
    body = {"source": {"name": f"workspaces/{api.workspace}/sources/{slug}",
                       "catalog": "javascript"}}  # fmt: skip
    return client.post(api.url("/sources"), json=body, headers={"Seg-Apply": run_id})


def trail(api: Api) -> list[dict[str, Any]]:
    return list(ok(api.http.get(api.url("/audit-events")))["audit_events"])


def test_another_tokens_running_run_cannot_be_borrowed(api: Api) -> None:
    victim = api.client(api.token("workspace:write", "ci apply"))
    run_id = start(api, victim)
    before = trail(api)
    attacker = api.client(api.token("workspace:write", "intruder"))
    message = error(create(api, attacker, "evil", run_id), 400, 3)
    assert f"Seg-Apply: {run_id} is not a running apply run this token started" in message
    error(api.http.get(api.url("/sources/evil")), 404, 5)
    assert trail(api) == before  # refused whole: no event, nothing tagged
    owner = api.http  # an owner token is another token too
    error(create(api, owner, "evil", run_id), 400, 3)
    assert ok(api.http.get(api.url(f"/applies/{run_id}")))["changes"] == []


def test_another_workspaces_run_is_invisible_and_untouchable(api: Api, cp: Any) -> None:
    other = Api(cp, api.workspace + "o")
    try:
        theirs = start(other, other.http)
        mine = start(api, api.http)
        # naming their run from this workspace: refused, with the same words as any bad id
        message = error(create(api, api.http, "web", theirs), 400, 3)
        assert message == (f"Seg-Apply: {theirs} is not a running apply run this token "
                           f"started in workspace {api.workspace}")  # fmt: skip
        # their run is not found here, read or finished, like one that never was
        missing = error(api.http.get(api.url(f"/applies/{theirs}")), 404, 5)
        assert missing == f"apply run {theirs} not found in workspace {api.workspace}"
        error(api.http.patch(api.url(f"/applies/{theirs}"), json={"status": "applied"}), 404, 5)
        assert ok(other.http.get(other.url(f"/applies/{theirs}")))["status"] == "running"
        # a token of the other workspace cannot reach this one's runs at all
        error(other.http.get(api.url(f"/applies/{mine}")), 403, 7)
        error(other.http.patch(api.url(f"/applies/{mine}"), json={"status": "failed"}), 403, 7)
        # nor tag a write in this workspace with this workspace's run
        error(create(api, other.http, "web", mine), 403, 7)
        assert ok(api.http.get(api.url("/applies")))["applies"][0]["status"] == "running"
        assert [r["id"] for r in ok(api.http.get(api.url("/applies")))["applies"]] == [mine]
    finally:
        other.close()


def test_a_finished_run_cannot_be_reopened_or_reused(api: Api) -> None:
    run_id = start(api, api.http)
    ok(api.http.patch(api.url(f"/applies/{run_id}"), json={"status": "noop"}))
    for status in ("applied", "failed", "noop"):
        error(api.http.patch(api.url(f"/applies/{run_id}"), json={"status": status}), 409, 9)
    error(api.http.patch(api.url(f"/applies/{run_id}"), json={"status": "running"}), 400, 3)
    error(create(api, api.http, "late", run_id), 400, 3)
    error(api.http.get(api.url("/sources/late")), 404, 5)


@pytest.mark.parametrize("failures", [
    [{"resource": "Source web", "error": "x"}] * 101,
    [{"resource": "Source web", "error": "x" * 501}],
    [{"resource": "r" * 513, "error": "x"}],
    [{"resource": "Source web", "error": "x", "extra": "y" * 1000}],
    [{"resource": ["Source web"], "error": "x"}],
    [{"resource": "Source web", "error": {"nested": "x"}}],
])  # fmt: skip
def test_failures_past_their_bounds_are_refused_not_stored(api: Api,
                                                           failures: list[Any]) -> None:
    run_id = start(api, api.http)
    body = {"status": "failed", "failures": failures}
    error(api.http.patch(api.url(f"/applies/{run_id}"), json=body), 400, 3)
    stored = ok(api.http.get(api.url(f"/applies/{run_id}")))
    assert stored["status"] == "running" and stored["failures"] == []


def test_the_largest_failures_list_allowed_is_stored_whole(api: Api) -> None:
    run_id = start(api, api.http)
    failures = [{"resource": f"Source s{i}", "error": "é" * 500} for i in range(100)]
    done = ok(api.http.patch(api.url(f"/applies/{run_id}"),
                             json={"status": "failed", "failures": failures}))  # fmt: skip
    assert done["failures"] == failures


def test_a_huge_body_is_refused_before_it_is_read(api: Api) -> None:
    run_id = start(api, api.http)
    body = {"status": "failed", "failures": [{"resource": "x", "error": "e" * 500}] * 20_000}
    response = api.http.patch(api.url(f"/applies/{run_id}"), json=body)
    assert response.status_code in (400, 413), response.text
    assert ok(api.http.get(api.url(f"/applies/{run_id}")))["status"] == "running"


@pytest.mark.parametrize("header", ["1" * 5000, "1 2", "0x1", "+1", "١".encode(),
                                    "１".encode()])
def test_odd_seg_apply_headers_are_400(api: Api, header: str | bytes) -> None:
    """Only ASCII digits: not Unicode's other digits, which ``int`` would read."""
    start(api, api.http)
    message = error(create(api, api.http, "web", header), 400, 3)
    assert "Seg-Apply" in message and len(message) < 300
    error(api.http.get(api.url("/sources/web")), 404, 5)


def test_audit_filters_never_widen_a_users_view(api: Api) -> None:
    assert api.create_source("secret").status_code == 200
    _, secret = api.cp.workspaces.create_token(api.workspace, "workspace:read", "u", "eve@x.io")
    eve = api.client(secret)
    owner_id = trail(api)[0]["actor"]["token_id"]
    for params in ({}, {"actor": owner_id}, {"kind": "source"}, {"after": "0"},
                   {"since": "2000-01-01T00:00:00Z"}):  # fmt: skip
        events = ok(eve.get(api.url("/audit-events"), params=params))["audit_events"]
        assert not any(e["resource"].endswith("/sources/secret") for e in events), params
