"""Hostile requests against the kinds' rules on the control plane: a reference into another
workspace, references that are not names, and rules that count or look up other resources
never reach past the caller's workspace. Every refusal is a 4xx with the API's error shape."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from seg.server.service import ControlPlane
from tests.conftest import Api
from tests.helpers import WAREHOUSE_SETTINGS, error_body

QUERY = "SELECT id, email FROM users"


@pytest.fixture
def other(cp: ControlPlane, slug: str) -> Iterator[Api]:
    """A second workspace on the same control plane."""
    client = Api(cp, f"{slug}-b")
    yield client
    client.close()


def refused(response: httpx.Response, status: int, code: int) -> str:
    body = error_body(response)
    assert response.status_code == status and body == {"error": body["error"], "code": code}
    return str(body["error"])


def warehouse(api: Api, *, dbt_mappings: int = 0) -> None:
    """A warehouse source, an enabled destination, a model and ``dbt_mappings`` mappings."""
    ws = api.workspace
    made = api.create_source("wh", catalog="postgres", settings=WAREHOUSE_SETTINGS)
    assert made.status_code == 200
    braze = api.create_destination("wh", "braze", catalog="braze", enabled=True,
                                   settings={"api_key": "braze-key"})  # fmt: skip
    assert braze.status_code == 200
    model = {"name": f"workspaces/{ws}/sources/wh/models/users", "query": QUERY,
             "identifier_column": "id"}  # fmt: skip
    assert api.http.post(api.url("/sources/wh/models"), json={"model": model}).status_code == 200
    for i in range(dbt_mappings):
        assert mapping(api, f"d{i}", "DBT_CLOUD").status_code == 200


def mapping(api: Api, slug: str, strategy: str = "MANUAL", model: str | None = None
            ) -> httpx.Response:  # fmt: skip
    ws = api.workspace
    body: dict[str, Any] = {
        "name": f"workspaces/{ws}/sources/wh/destinations/braze/mappings/{slug}",
        "action": "updateUserProfile", "enabled": True, "schedule": {"strategy": strategy},
        "model": model or f"workspaces/{ws}/sources/wh/models/users",
        "fields": {"email": "email"},
    }  # fmt: skip
    return api.http.post(api.url("/sources/wh/destinations/braze/mappings"),
                         json={"mapping": body})  # fmt: skip


def test_a_reference_into_another_workspace_is_refused(api: Api, other: Api) -> None:
    warehouse(api)
    warehouse(other)
    foreign_model = f"workspaces/{other.workspace}/sources/wh/models/users"
    assert "must be a model of" in refused(mapping(api, "m", model=foreign_model), 400, 3)
    plan = other.http.post(other.url("/tracking-plans"),
                           json={"tracking_plan": {"external_id": "p", "rules": []}}).json()
    assert plan["name"].startswith(f"workspaces/{other.workspace}/tracking-plans/tp_")
    made = api.create_source("web", tracking_plan=plan["name"])
    assert refused(made, 404, 5) == f"tracking plan {plan['name']} not found"


@pytest.mark.parametrize(
    "value",
    ["users", "../users", "workspaces", "workspaces/x/sources/wh/models/users/extra",
     "sources/wh/models/users"],
)  # fmt: skip
def test_a_reference_that_is_no_name_is_a_4xx(api: Api, value: str) -> None:
    warehouse(api)
    response = mapping(api, "m", model=value)
    assert response.status_code in (400, 404), response.text
    assert set(response.json()) == {"error", "code", "request_id"}


def test_counting_rules_count_only_the_callers_workspace(api: Api, other: Api) -> None:
    warehouse(other, dbt_mappings=5)
    warehouse(api, dbt_mappings=5)  # five in each workspace: neither counts the other's
    message = refused(mapping(api, "d5", "DBT_CLOUD"), 409, 9)
    assert message == "6 mappings use the DBT_CLOUD strategy; the limit is 5 per workspace"


def test_in_use_rules_look_only_at_the_callers_workspace(api: Api, other: Api) -> None:
    for client in (api, other):
        label = {"label": {"name": f"workspaces/{client.workspace}/labels/team:x"}}
        assert client.http.post(client.url("/labels"), json=label).status_code == 200
    assert other.create_source("web", labels={"team": "x"}).status_code == 200
    # in use in the other workspace only: this one's label goes
    assert api.http.delete(api.url("/labels/team:x")).status_code == 200
    message = refused(other.http.delete(other.url("/labels/team:x")), 409, 9)
    assert message == "label team:x is in use by source web; remove it from them first"


def test_a_label_scope_naming_a_foreign_label_is_refused(api: Api, other: Api) -> None:
    label = {"label": {"name": f"workspaces/{other.workspace}/labels/team:x"}}
    assert other.http.post(other.url("/labels"), json=label).status_code == 200
    binding = {"name": f"workspaces/{api.workspace}/role-bindings/b",
               "subject": {"user": "a@b.io"}, "role": "source_admin",
               "scope": {"labels": {"team": "x"}}}  # fmt: skip
    made = api.http.post(api.url("/role-bindings"), json={"role_binding": binding})
    assert refused(made, 400, 3) == "role_binding.scope.labels.team: label 'team:x' does not exist"
