"""Hostile schema settings (issue 15, item 1): odd types, unknown keys at every level, huge
block lists and names, deep nesting, odd spellings and masks are a 4xx with the API's error
shape (never a 500, never a hang), a forwarding target outside the workspace or unreadable to
the caller is refused, and hostile YAML is one diagnostic with file:line:col."""

from __future__ import annotations

import copy
import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from seg.kinds.source import DEFAULT_SCHEMA_SETTINGS
from tests.conftest import Api
from tests.conftest import run_cli as seg
from tests.helpers import error


def deep(levels: int) -> Any:
    value: Any = "x"
    for _ in range(levels):
        value = {"a": value}
    return value


def create(api: Api, slug: str, **fields: Any) -> Any:
    body = {"name": f"workspaces/{api.workspace}/sources/{slug}", "catalog": "javascript",
            **fields}  # fmt: skip
    return api.http.post(api.url("/sources"), json={"source": body})


@pytest.fixture
def planned(api: Api) -> str:
    made = api.http.post(
        api.url("/tracking-plans"), json={"tracking_plan": {"external_id": "tp", "rules": []}}
    )
    assert made.status_code == 200, made.text
    return str(made.json()["name"])


HOSTILE: list[Any] = [
    "BLOCK",
    [],
    None,
    {"track": "BLOCK"},
    {"track": {"allow_unplanned_events": "false"}},
    {"track": {"allow_unplanned_events": 0}},
    {"track": {"allow_unplanned_events": None}},
    {"track": {"common_event_on_violations": "OMIT_TRAITS"}},
    {"track": {"common_event_on_violations": "B" * 100_000}},
    {"track": {"common_event_on_violations": "Block\u202eEvent"}},
    {"track": {"common_event_on_violations": ["BLOCK"]}},
    {"track": {"unknown": True}},
    {"identify": {"allow_unplanned_events": False}},
    {"page": {}},
    {"track": deep(60)},
    {"forwarding_violations_to": "../sources/other"},
    {"forwarding_violations_to": "workspaces/other/sources/q"},
    {"forwarding_violations_to": ""},
    {"forwarding_violations_to": ["q"]},
    {"forwarding_blocked_events_to": "Q"},
    {"blocked_events": "Test Event"},
    {"blocked_events": [1, 2]},
    {"blocked_events": [{"name": "x"}]},
    {"blocked_events": [""]},
    {"blocked_events": ["x" * 201]},
    {"blocked_events": [f"e{i}" for i in range(4001)]},
]


@pytest.mark.parametrize("settings", HOSTILE, ids=range(len(HOSTILE)))
def test_hostile_schema_settings_are_400(settings: Any, api: Api, planned: str) -> None:
    started = time.monotonic()
    response = create(api, "shop", tracking_plan=planned, schema_settings=settings)
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error", "code", "request_id"}
    assert len(response.text) < 2000  # a huge value is not echoed whole
    assert time.monotonic() - started < 5
    assert create(api, "shop", tracking_plan=planned).status_code == 200


@pytest.mark.parametrize(
    "path",
    [
        "source.schema_settings.track.allow_unplanned_events.deeper",
        "source.schema_settings.track.nope",
        "source.schema_settings.blocked_events.0",
        "source.schema_settings.forwarding_violations_to",
        "source.schema_settings." + ".".join(["a"] * 50),
    ],
)
def test_odd_mask_paths_into_the_settings_are_4xx(path: str, api: Api, planned: str) -> None:
    assert create(api, "shop", tracking_plan=planned).status_code == 200
    values = {"schema_settings": {"forwarding_violations_to": "nowhere"}}
    response = api.http.patch(api.url("/sources/shop"),
                              json={"source": values, "update_mask": {"paths": [path]}})  # fmt: skip
    if response.status_code == 200:  # clearing what is not there: nothing changes
        assert response.json()["schema_settings"] == DEFAULT_SCHEMA_SETTINGS
    else:
        assert 400 <= response.status_code < 500, response.text
        assert set(response.json()) == {"error", "code", "request_id"}
    with_value = copy.deepcopy(values)
    cursor = with_value
    for key in path.split(".")[1:-1]:
        nxt = cursor.get(key)
        cursor[key] = nxt if isinstance(nxt, dict) else {}
        cursor = cursor[key]
    cursor[path.rsplit(".", 1)[-1]] = "x"
    response = api.http.patch(api.url("/sources/shop"),
                              json={"source": with_value, "update_mask": {"paths": [path]}})  # fmt: skip
    assert response.status_code == 400, response.text
    assert set(response.json()) == {"error", "code", "request_id"}


def test_a_forwarding_target_in_another_workspace_is_not_found(api: Api, planned: str) -> None:
    """Targets are names inside the caller's workspace: another workspace's source of the same
    name does not count."""
    other = Api(api.cp, api.workspace + "-other")
    try:
        body = {"name": f"workspaces/{other.workspace}/sources/q", "catalog": "http-api"}
        assert other.http.post(other.url("/sources"), json={"source": body}).status_code == 200
        refused = create(api, "shop", tracking_plan=planned,
                         schema_settings={"forwarding_violations_to": "q"})  # fmt: skip
        assert "source 'q' does not exist" in error(refused, 400, 3)
    finally:
        other.close()


def test_forwarding_to_a_source_the_caller_may_not_read_is_refused(api: Api,
                                                                   planned: str) -> None:  # fmt: skip
    """Naming a target is "refer to" access: a source admin of the shop alone may not make it
    forward to a source they cannot read."""
    for name in ("team:shop",):
        made = api.http.post(
            api.url("/labels"),
            json={"label": {"name": f"workspaces/{api.workspace}/labels/{name}"}},
        )
        assert made.status_code == 200, made.text
    assert create(api, "shop", tracking_plan=planned, labels={"team": "shop"}).status_code == 200
    body = {"name": f"workspaces/{api.workspace}/sources/q", "catalog": "http-api"}
    assert api.http.post(api.url("/sources"), json={"source": body}).status_code == 200
    binding = {
        "name": f"workspaces/{api.workspace}/role-bindings/sam",
        "role": "source_admin",
        "subject": {"user": "sam@x.io"},
        "scope": {"labels": {"team": "shop"}},
    }
    made = api.http.post(api.url("/role-bindings"), json={"role_binding": binding})
    assert made.status_code == 200, made.text
    token = api.cp.workspaces.create_token(api.workspace, "workspace:owner", "sam", "sam@x.io")
    sam = api.client(token[1])
    values = {"schema_settings": {"forwarding_violations_to": "q"}}
    paths = ["source.schema_settings.forwarding_violations_to"]
    response = sam.patch(api.url("/sources/shop"),
                         json={"source": values, "update_mask": {"paths": paths}})  # fmt: skip
    assert "sam@x.io may not refer to Source q" in error(response, 403, 7)
    refused = sam.post(api.url("/sources"), json={"source": {
        "name": f"workspaces/{api.workspace}/sources/shop2", "catalog": "javascript",
        "labels": {"team": "shop"}, "tracking_plan": planned,
        "schema_settings": {"forwarding_blocked_events_to": "q"}}})  # fmt: skip
    assert refused.status_code == 403, refused.text
    own = {"schema_settings": {"track": {"allow_unplanned_events": False}}}
    allowed = sam.patch(api.url("/sources/shop"), json={
        "source": own, "update_mask": {"paths": ["source.schema_settings.track"]}})  # fmt: skip
    assert allowed.status_code == 200, allowed.text


@pytest.mark.parametrize(
    ("settings", "needle"),
    [
        ({"track": {"common_event_on_violations": "DROP"}}, "common_event_on_violations"),
        ({"track": {"allow_unplanned_events": "no"}}, "allow_unplanned_events"),
        ({"track": {"typo": True}}, "typo"),
        ({"blocked_events": ["x" * 201]}, "blocked_events"),
        ({"track": deep(40)}, "track"),
        ({"forwarding_violations_to": 7}, "forwarding_violations_to"),
    ],
)
def test_hostile_yaml_is_one_diagnostic_with_a_position(settings: Any, needle: str,
                                                        tmp_path: Path) -> None:  # fmt: skip
    root = tmp_path / "ws"
    root.mkdir()
    (root / "seg.yaml").write_text("version: seg/v1\nworkspace: acme\n")
    plan = {"kind": "TrackingPlan", "name": "tp", "spec": {"rules": []}}
    shop = {
        "kind": "Source",
        "name": "shop",
        "spec": {"catalog": "javascript", "tracking_plan": "tp", "schema_settings": settings},
    }
    (root / "resources.yaml").write_text(yaml.safe_dump_all([plan, shop], sort_keys=False,
                                                            width=10_000))  # fmt: skip
    result = seg("validate", "-w", str(root))
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if ": error: " in line]
    assert len(errors) == 1, result.output
    assert re.search(r"resources\.yaml:\d+:\d+: error: ", errors[0]), errors[0]
    assert needle in errors[0] or "schema_settings" in errors[0], errors[0]
    assert "Traceback" not in result.output
