"""Hostile warehouse requests and files (issue 14, part W): malformed selective sync, schedules
and connected sources are 4xx with the API's error shape (never a 500), owner-only fields are
not reached by other spellings of their mask path, the plan tier is not set by non-owners or to
made-up values, another workspace's sources are not connectable, and hostile YAML is one
diagnostic with file:line:col."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from seg.server.service import ControlPlane
from tests.conftest import Api
from tests.conftest import run_cli as seg
from tests.helpers import error

SETTINGS = {"account": "a", "database": "d", "warehouse": "w", "user": "u", "password": "p"}


def create(api: Api, client: httpx.Client | None = None, name: str = "wh",
           **fields: Any) -> httpx.Response:  # fmt: skip
    body = {"name": f"workspaces/{api.workspace}/warehouses/{name}", "catalog": "snowflake",
            "settings": SETTINGS, **fields}  # fmt: skip
    return (client or api.http).post(api.url("/warehouses"), json={"warehouse": body})


@pytest.fixture
def web(api: Api) -> Api:
    assert api.create_source("web").status_code == 200
    return api


@pytest.mark.parametrize(
    "fields",
    [
        {"selective_sync": {"web": "off"}},
        {"selective_sync": {"web": {"enabled": "no"}}},
        {"selective_sync": {"web": {"collections": {"e": {"properties": {"p": 0}}}}}},
        {"selective_sync": {"web": {"collections": {"e": {"columns": {}}}}}},
        {"selective_sync": {"Web Site": {"enabled": False}}},
        {"selective_sync": {"web\u202e": {"enabled": False}}},
        {"selective_sync": []},
        {"sources": "web"},
        {"sources": ["web", "web"]},
        {"sources": [{"name": "web"}]},
        {"sources": ["../web"]},
        {"sync_schedule": {}},
        {"sync_schedule": {"every": "1h", "cron": "* * * * *"}},
        {"sync_schedule": {"start_times": ["24:00"]}},
        {"sync_schedule": {"start_times": ["1:00"]}},
        {"sync_schedule": {"start_times": [f"{h:02d}:00" for h in range(24)] + ["00:30"]}},
        {"sync_schedule": {"start_times": ["01:00"], "timezone": "../../etc/passwd"}},
        {"sync_schedule": "hourly"},
    ],
)
def test_malformed_fields_are_400(fields: dict[str, Any], web: Api) -> None:
    error(create(web, **fields), 400, 3)
    assert web.http.get(web.url("/warehouses/wh")).status_code == 404  # nothing written


def test_oversized_selective_sync_is_refused_quickly(web: Api) -> None:
    huge = {"web": {"collections": {f"e{i}": {"enabled": False} for i in range(10_001)}}}
    started = time.monotonic()
    error(create(web, sources=["web"], selective_sync=huge), 400, 3)
    assert time.monotonic() - started < 10


def test_another_workspaces_source_is_not_connectable(cp: ControlPlane, web: Api) -> None:
    other = Api(cp, web.workspace + "x")
    try:
        assert other.create_source("mobile").status_code == 200
        for ref in ("mobile", f"workspaces/{other.workspace}/sources/mobile"):
            refused = create(web, sources=[ref])
            error(refused, 400, 3)
            assert other.workspace not in refused.text or ref.startswith("workspaces/")
    finally:
        other.close()


@pytest.mark.parametrize(
    "path",
    [
        "warehouse.selective_sync",
        "warehouse.selective_sync.web",
        'warehouse."selective_sync".web.enabled',
        "selective_sync.web",
    ],
)
def test_owner_only_selective_sync_whatever_the_mask_spelling(path: str, web: Api) -> None:
    assert create(web, sources=["web"]).status_code == 200
    writer = web.client(web.token("workspace:write"))
    body = {"warehouse": {"selective_sync": {"web": {"enabled": False}}},
            "update_mask": {"paths": [path]}}  # fmt: skip
    response = writer.patch(web.url("/warehouses/wh"), json=body)
    assert response.status_code in (400, 403), response.text
    assert web.http.get(web.url("/warehouses/wh")).json()["selective_sync"] == {}


def test_a_write_token_may_not_create_with_selective_sync_in_any_shape(web: Api) -> None:
    writer = web.client(web.token("workspace:write"))
    for value in ({"web": {}}, {"web": {"enabled": True}}, {"web": {"collections": {}}}):
        error(create(web, writer, sources=["web"], selective_sync=value), 403, 7)
    assert create(web, writer, sources=["web"]).status_code == 200


@pytest.mark.parametrize("value", ["Business", "", None, ["team"], {"tier": "team"}, 1])
def test_plan_tier_takes_only_its_values(value: Any, api: Api) -> None:
    body = {"workspace": {"plan_tier": value}, "update_mask": {"paths": ["plan_tier"]}}
    error(api.http.patch(api.url(), json=body), 400, 3)
    assert api.http.get(api.url()).json()["plan_tier"] == "business"


def test_plan_tier_is_an_owner_setting(api: Api) -> None:
    body = {"workspace": {"plan_tier": "free"}, "update_mask": {"paths": ["plan_tier"]}}
    for scope in ("workspace:read", "workspace:write"):
        error(api.client(api.token(scope)).patch(api.url(), json=body), 403, 7)
    nested = {"workspace": {"plan_tier": "free"}, "update_mask": {"paths": ["plan_tier.x"]}}
    error(api.http.patch(api.url(), json=nested), 400, 3)
    assert api.http.get(api.url()).json()["plan_tier"] == "business"


def test_a_small_tier_cannot_be_bypassed_by_updates(web: Api) -> None:
    body = {"workspace": {"plan_tier": "free"}, "update_mask": {"paths": ["plan_tier"]}}
    assert web.http.patch(web.url(), json=body).status_code == 200
    assert create(web, sources=["web"]).status_code == 200
    path = web.url("/warehouses/wh")
    for field, value in (("sync_schedule", {"every": "1h"}),
                         ("selective_sync", {"web": {"enabled": False}})):  # fmt: skip
        patch = {"warehouse": {field: value}, "update_mask": {"paths": [f"warehouse.{field}"]}}
        error(web.http.patch(path, json=patch), 409, 9)
    error(create(web, name="second"), 409, 9)
    assert len(web.http.get(web.url("/warehouses")).json()["warehouses"]) == 1


@pytest.mark.parametrize(
    "spec",
    [
        "  selective_sync: [web]\n",
        "  selective_sync:\n    web:\n      collections:\n        e:\n          properties: {p: x}\n",
        "  sources: {web: true}\n",
        "  sync_schedule: {every: 0.5h}\n",
    ],
)
def test_hostile_yaml_is_one_located_error(spec: str, tmp_path: Path,
                                           clean_seg_env: None) -> None:  # fmt: skip
    root = tmp_path / "ws"
    root.mkdir()
    (root / "seg.yaml").write_text("version: seg/v1\nworkspace: acme\n")
    doc = ("kind: Source\nname: web\nspec: {catalog: javascript}\n---\n"
           "kind: Warehouse\nname: wh\nspec:\n  catalog: snowflake\n" + spec)  # fmt: skip
    (root / "resources.yaml").write_text(doc)
    result = seg("validate", "-w", str(root))
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if ": error: " in line]
    assert errors and all("resources.yaml:" in line for line in errors), result.output
    assert int(errors[0].split("resources.yaml:")[1].split(":")[0]) >= 9
