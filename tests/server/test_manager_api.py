"""The manager of a resource (ownership metadata beside ``managed_paths`` and ``protect``):
set on create, changed or released by PATCH, kept when a body does not carry it, returned on
every read, audited when set or changed, and validated (400/3). On SQLite and PostgreSQL."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.helpers import error


def _events(api: Api) -> list[dict]:
    events: list[dict] = api.http.get(api.url("/audit-events")).json()["audit_events"]
    return events


def test_create_sets_the_manager_and_reads_return_it(api: Api) -> None:
    made = api.create_source("web")
    assert made.json()["manager"] == ""  # a raw API write: nobody's
    body = {"source": {"name": api.url("/sources/ios")[8:], "catalog": "ios"},
            "manager": "growth-team", "managed_paths": ["catalog"]}  # fmt: skip
    created = api.http.post(api.url("/sources"), json=body)
    assert created.status_code == 200, created.text
    assert created.json()["manager"] == "growth-team"
    assert api.http.get(api.url("/sources/ios")).json()["manager"] == "growth-team"
    listed = {s["name"].rsplit("/", 1)[1]: s["manager"]
              for s in api.http.get(api.url("/sources")).json()["sources"]}  # fmt: skip
    assert listed == {"web": "", "ios": "growth-team"}
    assert "manager" in _events(api)[0]["paths"]  # the create is audited with it


def test_patch_changes_keeps_or_releases_the_manager(api: Api) -> None:
    api.create_source("web")
    etag = api.http.get(api.url("/sources/web")).json()["etag"]
    adopted = api.http.patch(api.url("/sources/web"), json={"manager": "team.a_1"})
    assert adopted.status_code == 200 and adopted.json()["manager"] == "team.a_1"
    assert adopted.json()["etag"] == etag  # metadata, not a field: the etag stays
    assert _events(api)[0]["method"] == "PATCH" and _events(api)[0]["paths"] == ["manager"]
    patch = {"source": {"enabled": False}, "update_mask": {"paths": ["source.enabled"]}}
    kept = api.http.patch(api.url("/sources/web"), json=patch)
    assert kept.json()["manager"] == "team.a_1" and kept.json()["enabled"] is False
    assert _events(api)[0]["paths"] == ["source.enabled"]
    same = len(_events(api))
    assert api.http.patch(api.url("/sources/web"), json={"manager": "team.a_1"}).status_code == 200
    assert len(_events(api)) == same  # no change, no audit event
    released = api.http.patch(api.url("/sources/web"), json={"manager": ""})
    assert released.json()["manager"] == ""
    assert _events(api)[0]["paths"] == ["manager"]


@pytest.mark.parametrize("value", [
    "a" * 65, "-lead", ".hidden", "growth team", "team/b", "tëam", 7, True, ["a"], {"a": 1},
    "a\n",
])  # fmt: skip
def test_a_bad_manager_is_invalid_argument(api: Api, value: object) -> None:
    api.create_source("web")
    error(api.http.patch(api.url("/sources/web"), json={"manager": value}), 400, 3)
    body = {"source": {"name": api.url("/sources/ios")[8:], "catalog": "ios"}, "manager": value}
    error(api.http.post(api.url("/sources"), json=body), 400, 3)
    assert api.http.get(api.url("/sources/ios")).status_code == 404  # nothing written
    assert api.http.get(api.url("/sources/web")).json()["manager"] == ""


def test_the_manager_is_not_a_field(api: Api) -> None:
    api.create_source("web")
    masked = {"source": {"manager": "x"}, "update_mask": {"paths": ["source.manager"]}}
    error(api.http.patch(api.url("/sources/web"), json=masked), 400, 3)
    inside = {"source": {"name": api.url("/sources/ios")[8:], "catalog": "ios", "manager": "x"}}
    assert api.http.post(api.url("/sources"), json=inside).json()["manager"] == ""  # output only


def test_a_read_token_cannot_take_a_resource(api: Api) -> None:
    api.create_source("web")
    reader = api.client(api.token("workspace:read"))
    error(reader.patch(api.url("/sources/web"), json={"manager": "mine"}), 403, 7)
    assert api.http.get(api.url("/sources/web")).json()["manager"] == ""
