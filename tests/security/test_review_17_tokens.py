"""Review of issue 17's token lifecycle: an expiring owner token must not reach past its own
expiry by rotating a longer-lived token (a rotation answers with that token's working
secret), the same rule ``create`` already keeps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from seg.server.clock import ManualClock
from seg.server.service import ControlPlane
from seg.store.sql import SqlStore
from tests.conftest import Api
from tests.helpers import error


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def api(store: SqlStore, slug: str, clock: ManualClock) -> Iterator[Api]:
    client = Api(ControlPlane(store, clock=clock), slug)
    yield client
    client.close()


def _new(api: Api, **fields: object) -> dict:
    body = {"token": {"description": "t", "scope": "workspace:owner", **fields}}
    response = api.http.post(api.url("/tokens"), json=body)
    assert response.status_code == 200, response.text
    made: dict = response.json()
    return made


def test_an_expiring_token_cannot_rotate_a_longer_lived_one_to_keep_access(
    api: Api, clock: ManualClock
) -> None:
    """A contractor's one-hour owner token rotating the permanent owner token would leave
    with a permanent secret (and lock the real holder out)."""
    short = api.client(_new(api, expires_in_seconds=3600)["secret"])
    permanent = _new(api, description="ci")
    longer = _new(api, description="ci-week", expires_in_seconds=7 * 86400)
    for victim in (permanent, longer):
        response = short.post(api.url(f"/tokens/{victim['id']}:rotate"))
        assert "expire no later" in error(response, 403, 7)
        assert api.client(victim["secret"]).get(api.url("/tokens")).status_code == 200
    same = _new(api, description="same", expires_in_seconds=3600)
    assert short.post(api.url(f"/tokens/{same['id']}:rotate")).status_code == 200
    clock.advance(3600)
    assert error(short.get(api.url("/tokens")), 401, 16) == "token expired"
