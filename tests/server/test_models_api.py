"""Model and Mapping rules on the control plane, and the server-side models-in-use guard."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.helpers import WAREHOUSE_SETTINGS, error, error_body

QUERY = "SELECT id, email, plan FROM users"


class Retl:
    def __init__(self, api: Api) -> None:
        self.api = api
        ws = api.workspace
        made = api.create_source("wh", catalog="postgres", settings=WAREHOUSE_SETTINGS)
        assert made.status_code == 200
        braze = api.create_destination("wh", "braze", catalog="braze", enabled=True,
                                       settings={"api_key": "braze-key"})  # fmt: skip
        assert braze.status_code == 200
        self.model_url = api.url("/sources/wh/models/users")
        self.model_name = f"workspaces/{ws}/sources/wh/models/users"
        self.mapping_url = api.url("/sources/wh/destinations/braze/mappings/sync")
        r = self.create_model("users", QUERY, "id")
        assert r.status_code == 200, r.text

    def create_model(self, slug: str, query: str, identifier: str, source: str = "wh"):
        body = {"name": f"workspaces/{self.api.workspace}/sources/{source}/models/{slug}",
                "query": query, "identifier_column": identifier}  # fmt: skip
        return self.api.http.post(self.api.url(f"/sources/{source}/models"), json={"model": body})

    def create_mapping(self, slug: str = "sync", enabled: bool = True, model: str | None = None,
                       strategy: str = "MANUAL", dest: str = "wh/braze"):  # fmt: skip
        src, dst = dest.split("/")
        name = f"workspaces/{self.api.workspace}/sources/{src}/destinations/{dst}/mappings/{slug}"
        body = {"name": name, "action": "updateUserProfile", "enabled": enabled,
                "model": model or self.model_name, "schedule": {"strategy": strategy},
                "fields": {"email": "email", "external_id": "id"}}  # fmt: skip
        return self.api.http.post(self.api.url(f"/sources/{src}/destinations/{dst}/mappings"),
                                  json={"mapping": body})  # fmt: skip

    def patch_model(self, **values):
        paths = [f"model.{k}" for k in values]
        return self.api.http.patch(
            self.model_url, json={"model": values, "update_mask": {"paths": paths}}
        )

    def set_enabled(self, url: str, key: str, enabled: bool) -> None:
        body = {key: {"enabled": enabled}, "update_mask": {"paths": [f"{key}.enabled"]}}
        assert self.api.http.patch(url, json=body).status_code == 200


@pytest.fixture
def retl(api: Api) -> Retl:
    return Retl(api)


def test_models_need_a_warehouse_source_and_a_returned_identifier(api: Api, retl: Retl) -> None:
    api.create_source("web")
    assert "warehouse source" in error(retl.create_model("m", QUERY, "id", source="web"), 400, 3)
    message = error(retl.create_model("m2", QUERY, "user_id"), 400, 3)
    assert "'user_id' is not among the query's output columns (id, email, plan)" in message
    assert retl.create_model("m3", "SELECT * FROM users", "anything").status_code == 200
    error(retl.create_model("m4", "x" * 65536, "id"), 400, 3)


def test_mapping_model_must_exist_under_the_same_source(api: Api, retl: Retl) -> None:
    snowflake = {"account": "acme-eu", "database": "analytics", "warehouse": "reverse_etl",
                 "user": "segment"}  # fmt: skip
    assert api.create_source("wh2", catalog="snowflake", settings=snowflake).status_code == 200
    api.create_destination("wh2", "braze", catalog="braze")
    other = f"workspaces/{api.workspace}/sources/wh/models/users"
    assert "must be a model of" in error(retl.create_mapping(model=other, dest="wh2/braze"), 400, 3)
    error(retl.create_mapping(model=other.replace("users", "nope")), 404, 5)
    ok = retl.create_mapping()
    assert ok.status_code == 200 and ok.json()["enabled"] is True and ok.json()["model"] == other


def test_mapping_needs_exactly_one_of_trigger_or_model(api: Api, retl: Retl) -> None:
    url = api.url("/sources/wh/destinations/braze/mappings")
    base = {"name": f"workspaces/{api.workspace}/sources/wh/destinations/braze/mappings/m",
            "action": "trackEvent", "fields": {"name": "event"}}  # fmt: skip
    error(api.http.post(url, json={"mapping": base}), 400, 3)
    both = {**base, "trigger": "type = 'track'", "model": retl.model_name,
            "schedule": {"strategy": "MANUAL"}}  # fmt: skip
    error(api.http.post(url, json={"mapping": both}), 400, 3)
    r = api.http.post(url, json={"mapping": {**base, "trigger": "type = 'track'"}})
    assert r.status_code == 200 and r.json()["enabled"] is False  # new mappings start disabled
    bad_schedule = {**base, "name": base["name"] + "2", "model": retl.model_name,
                    "schedule": {"strategy": "PERIODIC", "config": {"interval": "5m"}}}  # fmt: skip
    error(api.http.post(url, json={"mapping": bad_schedule}), 400, 3)
    # Switching to a model mapping: clear the trigger (masked without a value) and set the model.
    switch = {"mapping": {"model": retl.model_name, "schedule": {"strategy": "MANUAL"}},
              "update_mask": {"paths": ["mapping.trigger", "mapping.model", "mapping.schedule"]}}  # fmt: skip
    switched = api.http.patch(f"{url}/m", json=switch)
    assert switched.status_code == 200, switched.text
    assert "trigger" not in switched.json() and switched.json()["model"] == retl.model_name


def test_mapping_limits(api: Api, retl: Retl) -> None:
    for i in range(5):
        assert retl.create_mapping(f"d{i}", enabled=False, strategy="DBT_CLOUD").status_code == 200
    assert "DBT_CLOUD" in error(retl.create_mapping("d5", strategy="DBT_CLOUD"), 409, 9)
    for i in range(45):
        assert retl.create_mapping(f"m{i:02d}", enabled=False).status_code == 200
    assert "has 51 mappings; the limit is 50" in error(retl.create_mapping("one-too-many"), 409, 9)


def test_patching_an_in_use_models_query_is_refused(api: Api, retl: Retl) -> None:
    retl.create_mapping()
    message = error(retl.patch_model(query=QUERY + " WHERE active"), 409, 9)
    assert "wh/braze/sync" in message
    error(retl.patch_model(identifier_column="email"), 409, 9)
    error(retl.patch_model(enabled=False), 409, 9)
    assert retl.patch_model(description="metadata is fine").status_code == 200
    assert api.http.get(retl.model_url).json()["query"] == QUERY


def test_disabling_the_mapping_or_destination_releases_the_model(api: Api, retl: Retl) -> None:
    retl.create_mapping()
    retl.set_enabled(retl.mapping_url, "mapping", False)
    assert retl.patch_model(query=QUERY + " WHERE a").status_code == 200
    retl.set_enabled(retl.mapping_url, "mapping", True)
    error(retl.patch_model(query=QUERY + " WHERE b"), 409, 9)
    retl.set_enabled(api.url("/sources/wh/destinations/braze"), "destination", False)
    assert retl.patch_model(query=QUERY + " WHERE b").status_code == 200


def test_deleting_a_model_needs_its_mappings_gone(api: Api, retl: Retl) -> None:
    retl.create_mapping()
    assert "in use by wh/braze/sync" in error(api.http.delete(retl.model_url), 409, 9)
    retl.set_enabled(retl.mapping_url, "mapping", False)
    assert "referenced by mappings wh/braze/sync" in error(api.http.delete(retl.model_url), 409, 9)
    assert api.http.delete(retl.mapping_url).status_code == 200
    assert api.http.delete(retl.model_url).status_code == 200


def test_breaking_policy_is_a_workspace_setting_for_owners(api: Api, retl: Retl) -> None:
    retl.create_mapping()
    body = {"workspace": {"model_change_policy": "breaking"},
            "update_mask": {"paths": ["workspace.model_change_policy"]}}  # fmt: skip
    writer = api.client(api.token("workspace:write"))
    assert error_body(writer.patch(api.url(), json=body)) == {"error": "insufficient scope", "code": 7}
    assert api.http.patch(api.url(), json=body).json()["model_change_policy"] == "breaking"
    assert retl.patch_model(query="SELECT id, email, plan, country FROM users").status_code == 200
    assert "maps email" in error(retl.patch_model(query="SELECT id, plan FROM users"), 409, 9)
    assert "fails closed" in error(retl.patch_model(query="SELEC nonsense"), 409, 9)
    bad = {"workspace": {"model_change_policy": "lenient"},
           "update_mask": {"paths": ["workspace.model_change_policy"]}}  # fmt: skip
    error(api.http.patch(api.url(), json=bad), 400, 3)
