"""Attacks on the token routes: only owners manage tokens; a user-bound owner mints only its
own user's tokens and rotates only those (a rotation hands out a working secret); a token
never outlives the expiring token that made it; workspaces never see or touch each other's
tokens; the last owner token is kept; secrets show up nowhere but in the one answer; and the
token id in the path cannot reach another route."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from seg.server.clock import ManualClock
from seg.server.service import ControlPlane
from seg.store.sql import SqlStore
from tests.conftest import Api
from tests.helpers import error

OWNER_USER = "dana@x.io"


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def api(store: SqlStore, slug: str, clock: ManualClock) -> Iterator[Api]:
    client = Api(ControlPlane(store, clock=clock), slug)
    yield client
    client.close()


def _new(api: Api, token: str | None = None, status: int = 200, **fields: object) -> dict:
    body = {"token": {"description": "t", "scope": "workspace:read", **fields}}
    client = api.http if token is None else api.client(token)
    response = client.post(api.url("/tokens"), json=body)
    assert response.status_code == status, response.text
    made: dict = response.json()
    return made


def _bind_owner(api: Api, user: str) -> None:
    body = {"name": f"workspaces/{api.workspace}/role-bindings/owner",
            "subject": {"user": user}, "role": "workspace_owner", "scope": "workspace"}  # fmt: skip
    response = api.http.post(api.url("/role-bindings"), json={"role_binding": body})
    assert response.status_code == 200, response.text


def _ids(api: Api) -> set[str]:
    return {t["id"] for t in api.http.get(api.url("/tokens")).json()["tokens"]}


@pytest.mark.parametrize("scope", ["workspace:read", "workspace:write"])
def test_only_owners_manage_tokens(api: Api, scope: str) -> None:
    victim = _new(api, scope="workspace:owner")
    caller = api.client(api.token(scope))
    body = {"token": {"description": "mine now", "scope": "workspace:owner"}}
    for response in (caller.get(api.url("/tokens")), caller.post(api.url("/tokens"), json=body),
                     caller.delete(api.url(f"/tokens/{victim['id']}")),
                     caller.post(api.url(f"/tokens/{victim['id']}:rotate"))):  # fmt: skip
        assert error(response, 403, 7) == "insufficient scope"
    assert api.client(victim["secret"]).get(api.url("/tokens")).status_code == 200


def test_an_owner_scoped_token_without_the_owner_role_is_refused(api: Api) -> None:
    eve = api.client(api.cp.workspaces.create_token(api.workspace, "workspace:owner", "eve",
                                                    "eve@x.io")[1])  # fmt: skip
    assert "workspace_owner" in error(eve.get(api.url("/tokens")), 403, 7)


def test_a_user_bound_owner_mints_only_for_itself(api: Api) -> None:
    _bind_owner(api, OWNER_USER)
    dana = api.cp.workspaces.create_token(api.workspace, "workspace:owner", "dana", OWNER_USER)[1]
    other = _new(api, dana, 403, user="mallory@x.io", scope="workspace:owner")
    assert "themselves" in other["error"]
    mine = _new(api, dana, scope="workspace:owner")
    assert mine["user"] == OWNER_USER  # bound to the caller by default: never an unbound token
    assert _new(api, dana, user=OWNER_USER.upper())["user"] == OWNER_USER


def test_a_user_bound_owner_cannot_rotate_someone_elses_token(api: Api) -> None:
    """A rotation answers with a working secret: rotating the unbound owner token would hand a
    user-bound caller the workspace's unrestricted credential."""
    _bind_owner(api, OWNER_USER)
    dana = api.client(api.cp.workspaces.create_token(api.workspace, "workspace:owner", "dana",
                                                     OWNER_USER)[1])  # fmt: skip
    listed = {t["description"]: t["id"] for t in dana.get(api.url("/tokens")).json()["tokens"]}
    response = dana.post(api.url(f"/tokens/{listed['initial owner token']}:rotate"))
    assert "only their own tokens" in error(response, 403, 7)
    assert api.http.get(api.url("/tokens")).status_code == 200  # the owner token still works
    assert dana.post(api.url(f"/tokens/{listed['dana']}:rotate")).status_code == 200


def test_an_expiring_token_cannot_mint_a_longer_lived_one(api: Api, clock: ManualClock) -> None:
    short = _new(api, scope="workspace:owner", expires_in_seconds=3600)
    for fields in ({}, {"expires_in_seconds": 3601}):
        refused = _new(api, short["secret"], 403, **fields)
        assert "expire no later" in refused["error"]
    assert _new(api, short["secret"], expires_in_seconds=3600)["expire_time"] == short["expire_time"]
    clock.advance(3600)
    assert error(api.client(short["secret"]).get(api.url("/tokens")), 401, 16) == "token expired"


def test_workspaces_never_see_or_touch_each_others_tokens(api: Api, store: SqlStore) -> None:
    other = Api(api.cp, api.workspace + "b")
    try:
        theirs = _new(other, scope="workspace:owner")
        # B's token id under A's path: as missing as an id that never existed
        error(api.http.delete(api.url(f"/tokens/{theirs['id']}")), 404, 5)
        error(api.http.post(api.url(f"/tokens/{theirs['id']}:rotate")), 404, 5)
        assert theirs["id"] not in _ids(api)
        # A's token on B's path: refused before anything is looked at
        error(api.http.get(other.url("/tokens")), 403, 7)
        error(api.http.delete(other.url(f"/tokens/{theirs['id']}")), 403, 7)
        assert other.client(theirs["secret"]).get(other.url("/tokens")).status_code == 200
        with pytest.raises(Exception, match="not found"):
            api.cp.tokens.admin_revoke(api.workspace, theirs["id"])
    finally:
        other.close()


def test_the_last_owner_token_is_kept(api: Api) -> None:
    (owner_id,) = _ids(api)
    _bind_owner(api, OWNER_USER)
    _new(api, scope="workspace:owner", user=OWNER_USER)  # user-bound: does not count
    message = error(api.http.delete(api.url(f"/tokens/{owner_id}")), 409, 9)
    assert "last owner token" in message
    spare = _new(api, scope="workspace:owner")
    assert api.http.delete(api.url(f"/tokens/{owner_id}")).status_code == 200  # itself
    error(api.http.get(api.url("/tokens")), 401, 16)
    spare_client = api.client(spare["secret"])
    error(spare_client.delete(api.url(f"/tokens/{spare['id']}")), 409, 9)
    api.cp.tokens.admin_revoke(api.workspace, spare["id"], force=True)  # the CLI's --force
    error(spare_client.get(api.url("/tokens")), 401, 16)


def test_an_expired_owner_token_does_not_count_as_the_spare(api: Api, clock: ManualClock) -> None:
    (owner_id,) = _ids(api)
    _new(api, scope="workspace:owner", expires_in_seconds=60)
    clock.advance(60)
    error(api.http.delete(api.url(f"/tokens/{owner_id}")), 409, 9)


def test_secrets_appear_only_in_the_answer_that_made_them(api: Api) -> None:
    made = _new(api, scope="workspace:write")
    rotated = api.http.post(api.url(f"/tokens/{made['id']}:rotate")).json()
    seen = json.dumps([api.http.get(api.url("/tokens")).json(),
                       api.http.get(api.url("/audit-events")).json()])  # fmt: skip
    for secret in (made["secret"], rotated["secret"], api.owner_token):
        assert secret not in seen and secret.split(".", 1)[1] not in seen


def test_a_token_id_cannot_reach_another_route(api: Api) -> None:
    made = _new(api)
    # "<id>:rotate" is not an id the revoke route matches, and no id holds a slash
    response = api.http.delete(api.url(f"/tokens/{made['id']}:rotate"))
    assert response.status_code == 405 and response.headers["allow"] == "POST"
    error(api.http.delete(api.url(f"/tokens/{made['id']}%2F..%2F..")), 404, 5)
    error(api.http.delete(api.url("/tokens/%00")), 400, 3)
    assert made["id"] in _ids(api)


@pytest.mark.parametrize("description", ["\x1b[2J\x1b[Hall clear", "two\nlines", "bidi\u202eevil"])
def test_a_description_cannot_drive_a_terminal(api: Api, description: str) -> None:
    refused = _new(api, None, 400, description=description)
    assert "control, line-break or bidi" in refused["error"]
    with pytest.raises(Exception, match="control, line-break or bidi"):
        api.cp.tokens.admin_create(api.workspace, "workspace:read", description)


def test_two_concurrent_rotations_leave_exactly_one_working_secret(api: Api) -> None:
    from concurrent.futures import ThreadPoolExecutor

    made = _new(api, scope="workspace:write")
    url = api.url(f"/tokens/{made['id']}:rotate")
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: api.client(api.owner_token).post(url), range(4)))
    secrets = [r.json()["secret"] for r in answers if r.status_code == 200]
    assert all(r.status_code in (200, 409) for r in answers), [r.text for r in answers]
    working = [s for s in secrets
               if api.client(s).get(api.url("/sources")).status_code == 200]  # fmt: skip
    assert len(secrets) >= 1 and len(working) == 1  # each rotation ends the one before it
    assert api.client(made["secret"]).get(api.url("/sources")).status_code == 401
