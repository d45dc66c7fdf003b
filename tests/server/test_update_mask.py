"""PATCH with update masks, exactly as SPEC §5 says; ETags and If-Match."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.helpers import error


@pytest.fixture
def dest(api: Api) -> str:
    api.create_source("web")
    r = api.create_destination("web", "amp", catalog="google-analytics", display_name="Amp",
                               enabled=True, settings={"domain": "eu", "site_speed_sample_rate": 10})  # fmt: skip
    assert r.status_code == 200
    return api.url("/sources/web/destinations/amp")


def test_top_level_mask_changes_only_masked_paths(api: Api, dest: str) -> None:
    r = api.http.patch(dest, json={
        "destination": {"enabled": False, "display_name": "ignored"},
        "update_mask": {"paths": ["destination.enabled"]},
    })  # fmt: skip
    assert r.status_code == 200, r.text
    assert r.json()["enabled"] is False and r.json()["display_name"] == "Amp"


def test_mask_inside_the_resource_object_is_accepted(api: Api, dest: str) -> None:
    r = api.http.patch(dest, json={"destination": {
        "display_name": "Amplitude", "update_mask": {"paths": ["destination.display_name"]},
    }})  # fmt: skip
    assert r.status_code == 200 and r.json()["display_name"] == "Amplitude"


def test_nested_settings_path_touches_one_key(api: Api, dest: str) -> None:
    r = api.http.patch(dest, json={
        "destination": {"settings": {"domain": "us", "site_speed_sample_rate": 99}},
        "update_mask": {"paths": ["destination.settings.domain"]},
    })  # fmt: skip
    assert r.json()["settings"] == {"domain": "us", "site_speed_sample_rate": 10}


def test_masked_path_without_value_is_set_empty(api: Api, dest: str) -> None:
    paths = ["destination.enabled", "destination.display_name", "destination.settings.domain"]
    r = api.http.patch(dest, json={"update_mask": {"paths": paths}})
    body = r.json()
    assert body["enabled"] is False and body["display_name"] == ""
    assert body["settings"] == {"site_speed_sample_rate": 10}  # a masked key without value is removed
    r = api.http.patch(dest, json={"update_mask": {"paths": ["destination.settings"]}})
    assert r.json()["settings"] == {}


def test_data_without_mask_changes_nothing(api: Api, dest: str) -> None:
    before = api.http.get(dest).json()
    r = api.http.patch(dest, json={"destination": {"enabled": False}})
    assert r.status_code == 200 and r.json() == before
    r = api.http.patch(dest, json={"destination": {"enabled": False}, "update_mask": {"paths": []}})
    assert r.json() == before


@pytest.mark.parametrize(
    "path",
    ["destination.colour", "destination.enabled.deep", "enabled", "source.enabled",
     "destination.catalog", "destination.name", "destination.source", "destination.etag",
     "destination.settings..x", "destination.`unterminated"],
)  # fmt: skip
def test_unknown_or_immutable_paths_are_rejected(api: Api, dest: str, path: str) -> None:
    before = api.http.get(dest).json()
    r = api.http.patch(
        dest, json={"destination": {"catalog": "braze"}, "update_mask": {"paths": [path]}}
    )
    error(r, 400, 3)
    assert api.http.get(dest).json() == before


def test_wrong_type_through_the_mask_is_rejected(api: Api, dest: str) -> None:
    r = api.http.patch(dest, json={"destination": {"enabled": "yes"},
                                   "update_mask": {"paths": ["destination.enabled"]}})  # fmt: skip
    assert "destination.enabled" in error(r, 400, 3)


def test_quoted_keys_with_dots(api: Api, dest: str) -> None:
    r = api.http.patch(dest, json={"destination": {"settings": {"dimensions": {"a.b": "dimension1"}}},
                                   "update_mask": {"paths": ["destination.settings.dimensions.`a.b`"]}})  # fmt: skip
    assert r.json()["settings"]["dimensions"]["a.b"] == "dimension1"


def test_if_match_guards_updates_and_deletes(api: Api, dest: str) -> None:
    etag = api.http.get(dest).json()["etag"]
    body = {"destination": {"enabled": False}, "update_mask": {"paths": ["destination.enabled"]}}
    error(api.http.patch(dest, json=body, headers={"If-Match": '"stale"'}), 412, 10)
    r = api.http.patch(dest, json=body, headers={"If-Match": f'"{etag}"'})
    assert r.status_code == 200 and r.json()["etag"] != etag
    error(api.http.delete(dest, headers={"If-Match": f'"{etag}"'}), 412, 10)
    assert api.http.delete(dest, headers={"If-Match": f'"{r.json()["etag"]}"'}).status_code == 200


def test_noop_update_keeps_etag_and_writes_no_audit(api: Api, dest: str) -> None:
    before = api.http.get(dest).json()
    events = api.http.get(api.url("/audit-events")).json()["audit_events"]
    body = {"destination": {"enabled": True}, "update_mask": {"paths": ["destination.enabled"]}}
    assert api.http.patch(dest, json=body).json()["etag"] == before["etag"]
    assert api.http.get(api.url("/audit-events")).json()["audit_events"] == events
