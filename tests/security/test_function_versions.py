"""Hostile requests against function versions: version ids that are not numbers, negative or
huge; bodies on restore; restoring another workspace's function; a read token restoring.
Each is a 4xx with the API's error shape, and nothing is written."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from seg.server.service import ControlPlane
from tests.conftest import Api
from tests.helpers import error

CODE = "async function onTrack(event) {\n  return event\n}\n"


def _create(api: Api, name: str = "fx") -> None:
    body = {"name": f"workspaces/{api.workspace}/functions/{name}", "type": "destination",
            "code": CODE}  # fmt: skip
    assert api.http.post(api.url("/functions"), json={"function": body}).status_code == 200
    changed = api.http.patch(api.url(f"/functions/{name}"), json={
        "function": {"code": CODE + "// two\n"}, "update_mask": {"paths": ["function.code"]}})
    assert changed.json()["latest_version"] == 2


def _state(api: Api, name: str = "fx") -> tuple[Any, list[int]]:
    fn = api.http.get(api.url(f"/functions/{name}")).json()
    listed = api.http.get(api.url(f"/functions/{name}/versions")).json()["versions"]
    return (fn["etag"], fn["code"]), [v["version"] for v in listed]


@pytest.fixture
def other(cp: ControlPlane, slug: str) -> Iterator[Api]:
    second = Api(cp, slug + "b")
    yield second
    second.close()


NOT_NUMBERS = ["x", "-1", "+1", " 1", "1 ", "0x1", "1_0", "1.0", "1e3", "١", "²", "NaN",
               "9" * 11, "9" * 5000, "2147483648", "18446744073709551617", "0", "00"]  # fmt: skip


@pytest.mark.parametrize("raw", NOT_NUMBERS)
def test_version_ids_that_are_not_version_numbers(api: Api, raw: str) -> None:
    _create(api)
    before = _state(api)
    for response in (api.http.get(api.url(f"/functions/fx/versions/{raw}")),
                     api.http.post(api.url(f"/functions/fx/versions/{raw}:restore"))):  # fmt: skip
        assert response.status_code in (400, 404), (raw, response.text)
        assert set(response.json()) == {"error", "code", "request_id"}
    assert _state(api) == before


def test_the_largest_version_number_is_only_not_found(api: Api) -> None:
    _create(api)
    error(api.http.get(api.url("/functions/fx/versions/2147483647")), 404, 5)
    error(api.http.post(api.url("/functions/fx/versions/2147483647:restore")), 404, 5)
    assert api.http.get(api.url("/functions/fx/versions/01")).json()["version"] == 1


def test_restore_takes_no_body(api: Api) -> None:
    _create(api)
    before = _state(api)
    url = api.url("/functions/fx/versions/1:restore")
    message = error(api.http.post(url, json={"code": "evil()"}), 400, 3)
    assert "unknown top-level field(s) 'code'" in message
    error(api.http.post(url, json=[1]), 400, 3)
    assert api.http.post(url, content=b"x", headers={"content-type": "text/plain"}
                         ).status_code == 415  # fmt: skip
    assert _state(api) == before


def test_restoring_another_workspaces_function(api: Api, other: Api) -> None:
    _create(other)
    theirs = _state(other)
    # my token on their path: refused before anything is looked up
    mine_on_theirs = api.http.post(f"/v1beta/workspaces/{other.workspace}/functions/fx"
                                   "/versions/1:restore")  # fmt: skip
    assert "does not belong to workspace" in error(mine_on_theirs, 403, 7)
    error(api.http.get(f"/v1beta/workspaces/{other.workspace}/functions/fx/versions"), 403, 7)
    # my path, their function's name: it does not exist here
    error(api.http.post(api.url("/functions/fx/versions/1:restore")), 404, 5)
    error(api.http.get(api.url("/functions/fx/versions")), 404, 5)
    assert _state(other) == theirs


def test_a_read_token_cannot_restore(api: Api) -> None:
    _create(api)
    before = _state(api)
    reader = api.client(api.token("workspace:read"))
    response = reader.post(api.url("/functions/fx/versions/1:restore"))
    assert error(response, 403, 7) == "insufficient scope"
    assert _state(api) == before
    events = api.http.get(api.url("/audit-events")).json()["audit_events"]
    assert not any("restored:" in str(e["paths"]) for e in events)


def test_only_versioned_kinds_have_versions(api: Api) -> None:
    assert api.create_source("web").status_code == 200
    error(api.http.get(api.url("/sources/web/versions")), 404, 5)
    error(api.http.post(api.url("/sources/web/versions/1:restore")), 404, 5)


@pytest.mark.parametrize("name", ["..", "%2e%2e", "FX", "fx%2Fy", "a" * 600])
def test_odd_function_names(api: Api, name: str) -> None:
    _create(api)
    response = api.http.get(api.url(f"/functions/{name}/versions"))
    assert 400 <= response.status_code < 500 and set(response.json()) == {"error", "code", "request_id"}
    response = api.http.post(api.url(f"/functions/{name}/versions/1:restore"))
    assert 400 <= response.status_code < 500 and set(response.json()) == {"error", "code", "request_id"}


def test_a_write_without_a_valid_token_is_refused(api: Api) -> None:
    _create(api)
    anonymous = api.client(None)
    error(anonymous.post(api.url("/functions/fx/versions/1:restore")), 401, 16)
    forged = api.client("seg_" + "0" * 40)
    assert forged.post(api.url("/functions/fx/versions/1:restore")).status_code == 401
