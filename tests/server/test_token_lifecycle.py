"""Token lifecycle through the API and the service (SQLite and PostgreSQL, the test clock):
list without secrets, create with an expiry, expired tokens refused as "token expired",
revoke and rotate taking effect on the next request, last use recorded once a minute, and an
audit event for every create, revoke and rotate."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from seg.server import errors
from seg.server.clock import ManualClock, iso
from seg.server.service import ControlPlane
from seg.server.token_service import LAST_USE_GRANULARITY, MAX_EXPIRES_IN, parse_expires_in
from seg.store.sql import SqlStore
from tests.conftest import Api
from tests.helpers import error

START = 1_800_000_000.0
LISTED = {"name", "id", "description", "scope", "user", "create_time", "last_used_time",
          "expire_time", "expired"}  # fmt: skip


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock(START)


@pytest.fixture
def timed(store: SqlStore, slug: str, clock: ManualClock) -> Iterator[Api]:
    api = Api(ControlPlane(store, clock=clock), slug)
    yield api
    api.close()


def _create(api: Api, **token: object) -> dict:
    body = {"token": {"description": "ci", "scope": "workspace:read", **token}}
    response = api.http.post(api.url("/tokens"), json=body)
    assert response.status_code == 200, response.text
    made: dict = response.json()
    return made


def _listed(api: Api) -> dict[str, dict]:
    response = api.http.get(api.url("/tokens"))
    assert response.status_code == 200, response.text
    return {t["id"]: t for t in response.json()["tokens"]}


def _audit(api: Api) -> list[dict]:
    events: list[dict] = api.http.get(api.url("/audit-events")).json()["audit_events"]
    return events


def test_list_shows_every_token_without_its_secret(timed: Api) -> None:
    made = _create(timed, description="reader for dashboards", user="Ana@X.io")
    assert set(made) == LISTED | {"secret"} and made["secret"].startswith("seg_")
    listed = _listed(timed)
    assert len(listed) == 2 and set(listed[made["id"]]) == LISTED
    assert listed[made["id"]] == {k: v for k, v in made.items() if k != "secret"}
    assert listed[made["id"]]["user"] == "ana@x.io"
    assert listed[made["id"]]["name"] == f"workspaces/{timed.workspace}/tokens/{made['id']}"
    text = json.dumps(listed)
    with timed.cp.store.tx() as tx:
        hashes = [t.secret_hash for t in tx.list_tokens(timed.workspace)]
    assert made["secret"] not in text and timed.owner_token not in text
    assert not any(h in text for h in hashes)


def test_an_expiring_token_works_until_its_expiry_then_is_told_it_expired(
    timed: Api, clock: ManualClock
) -> None:
    made = _create(timed, expires_in_seconds=3600)
    assert made["expire_time"] == iso(START + 3600) and made["expired"] is False
    reader = timed.client(made["secret"])
    clock.advance(3599.9)
    assert reader.get(timed.url("/sources")).status_code == 200
    clock.advance(0.1)
    assert error(reader.get(timed.url("/sources")), 401, 16) == "token expired"
    garbage = timed.client(made["secret"] + "x").get(timed.url("/sources"))
    assert error(garbage, 401, 16) == "the access token is missing or invalid"
    assert _listed(timed)[made["id"]]["expired"] is True


def test_revoke_refuses_the_token_on_its_next_request(timed: Api) -> None:
    made = _create(timed, scope="workspace:write")
    writer = timed.client(made["secret"])
    assert writer.get(timed.url("/sources")).status_code == 200
    assert timed.http.delete(timed.url(f"/tokens/{made['id']}")).json() == {}
    assert "missing or invalid" in error(writer.get(timed.url("/sources")), 401, 16)
    assert made["id"] not in _listed(timed)
    error(timed.http.delete(timed.url(f"/tokens/{made['id']}")), 404, 5)


def test_rotate_keeps_the_token_and_replaces_its_secret(timed: Api, clock: ManualClock) -> None:
    made = _create(timed, description="deploys", scope="workspace:write", user="bo@x.io",
                   expires_in_seconds=86400)  # fmt: skip
    clock.advance(10)
    rotated = timed.http.post(timed.url(f"/tokens/{made['id']}:rotate"))
    assert rotated.status_code == 200, rotated.text
    new = rotated.json()
    assert new["secret"] != made["secret"] and new["secret"].startswith(f"seg_{made['id'][4:]}.")
    for key in ("id", "name", "description", "scope", "user", "create_time", "expire_time"):
        assert new[key] == made[key], key
    error(timed.client(made["secret"]).get(timed.url("/sources")), 401, 16)
    assert timed.client(new["secret"]).get(timed.url("/sources")).status_code == 200


def test_last_use_is_written_at_most_once_a_minute(timed: Api, clock: ManualClock) -> None:
    made = _create(timed)
    assert made["last_used_time"] == ""
    reader = timed.client(made["secret"])
    reader.get(timed.url("/sources"))
    assert _listed(timed)[made["id"]]["last_used_time"] == iso(START)
    clock.advance(LAST_USE_GRANULARITY - 1)
    reader.get(timed.url("/sources"))
    assert _listed(timed)[made["id"]]["last_used_time"] == iso(START)  # not written again
    clock.advance(2)
    reader.get(timed.url("/sources"))
    assert _listed(timed)[made["id"]]["last_used_time"] == iso(START + LAST_USE_GRANULARITY + 1)


def test_create_revoke_and_rotate_are_audited_with_the_caller(timed: Api) -> None:
    made = _create(timed)
    timed.http.post(timed.url(f"/tokens/{made['id']}:rotate"))
    timed.http.delete(timed.url(f"/tokens/{made['id']}"))
    events = [e for e in _audit(timed) if "/tokens" in e["resource"]]
    assert [(e["method"], e["paths"]) for e in events] == [("DELETE", []), ("PATCH", ["secret"]),
                                                           ("POST", [])]  # fmt: skip
    assert {e["resource"] for e in events} == {made["name"]}
    assert {e["actor"]["description"] for e in events} == {"initial owner token"}
    assert made["secret"] not in json.dumps(events)


def test_the_administrators_changes_are_audited_as_database_access(timed: Api) -> None:
    tokens = timed.cp.tokens
    made = tokens.admin_create(timed.workspace, "workspace:read", "from the CLI", "", 60)
    tokens.admin_rotate(timed.workspace, made["id"])
    tokens.admin_revoke(timed.workspace, made["id"])
    events = [e for e in _audit(timed) if e["resource"] == made["name"]]
    assert [e["method"] for e in events] == ["DELETE", "PATCH", "POST"]
    assert {(e["actor"]["token_id"], e["actor"]["description"]) for e in events} == {
        ("seg-server-admin", "seg server (database access)")
    }


@pytest.mark.parametrize("body", [
    {"token": {"description": "x", "scope": "workspace:read"}, "extra": 1},
    {"token": {"description": "x", "scope": "workspace:read", "secret": "mine"}},
    {"token": {"description": "x", "scope": "workspace:read", "id": "tok_0000000000000000"}},
    {"token": {"description": " ", "scope": "workspace:read"}},
    {"token": {"description": "x", "scope": "workspace:admin"}},
    {"token": {"description": "x", "scope": "workspace:read", "expires_in_seconds": True}},
    {"token": {"description": "x", "scope": "workspace:read", "expires_in_seconds": 0}},
    {"token": {"description": "x", "scope": "workspace:read", "expires_in_seconds": -5}},
    {"token": {"description": "x", "scope": "workspace:read", "expires_in_seconds": 1.5}},
    {"token": {"description": "x", "scope": "workspace:read",
               "expires_in_seconds": MAX_EXPIRES_IN + 1}},
    {"token": {"description": "x", "scope": "workspace:read", "user": "not an email"}},
    {"token": {"description": "x" * 201, "scope": "workspace:read"}},
    {"token": "workspace:owner"},
    {},
])  # fmt: skip
def test_a_bad_create_body_is_one_400_line(api: Api, body: dict) -> None:
    message = error(api.http.post(api.url("/tokens"), json=body), 400, 3)
    assert "\n" not in message and len(message) < 300
    assert len(_listed(api)) == 1


def test_rotate_takes_no_body_and_an_unknown_id_is_404(api: Api) -> None:
    made = _create(api)
    error(api.http.post(api.url(f"/tokens/{made['id']}:rotate"), json={"x": 1}), 400, 3)
    error(api.http.post(api.url("/tokens/tok_0123456789abcdef:rotate")), 404, 5)
    error(api.http.delete(api.url("/tokens/tok_0123456789abcdef")), 404, 5)


def test_an_expired_token_cannot_be_rotated_back_to_life(timed: Api, clock: ManualClock) -> None:
    made = _create(timed, expires_in_seconds=60)
    clock.advance(61)
    message = error(timed.http.post(timed.url(f"/tokens/{made['id']}:rotate")), 409, 9)
    assert "expired" in message


@pytest.mark.parametrize(("text", "seconds"), [
    ("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("45s", 45), (" 1d ", 86400),
    ("1825d", MAX_EXPIRES_IN),
])  # fmt: skip
def test_expires_in_accepts_a_number_and_a_unit(text: str, seconds: int) -> None:
    assert parse_expires_in(text) == seconds


@pytest.mark.parametrize("text", ["30", "d", "1.5d", "-1d", "0s", "1826d", "30 days", "30D",
                                  "", "1w", "9" * 40 + "d"])  # fmt: skip
def test_expires_in_refuses_anything_else_in_one_line(text: str) -> None:
    with pytest.raises(errors.InvalidArgument) as caught:
        parse_expires_in(text)
    assert "--expires-in" in caught.value.message and "\n" not in caught.value.message
