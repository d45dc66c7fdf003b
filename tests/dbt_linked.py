"""A dbt-linked model in use on the control plane (issue 16), shared by the server tests and
the review's security tests."""

from __future__ import annotations

from tests.conftest import Api
from tests.helpers import WAREHOUSE_SETTINGS

__all__ = ["Linked"]


class Linked:
    """A postgres source with a Braze destination and the model ``users`` reading the dbt
    model ``users`` (identifier ``user_id``), used by the enabled mapping ``sync``."""

    def __init__(self, api: Api, policy: str) -> None:
        self.api = api
        assert api.create_source("wh", catalog="postgres", settings=WAREHOUSE_SETTINGS
                                 ).status_code == 200  # fmt: skip
        braze = api.create_destination("wh", "braze", catalog="braze", enabled=True,
                                       settings={"api_key": "braze-key"})  # fmt: skip
        assert braze.status_code == 200, braze.text
        body = {"workspace": {"model_change_policy": policy},
                "update_mask": {"paths": ["workspace.model_change_policy"]}}  # fmt: skip
        assert api.http.patch(api.url(), json=body).status_code == 200
        self.model_url = api.url("/sources/wh/models/users")
        self.model_name = f"workspaces/{api.workspace}/sources/wh/models/users"
        self.mapping_url = api.url("/sources/wh/destinations/braze/mappings/sync")
        made = api.http.post(api.url("/sources/wh/models"), json={"model": {
            "name": self.model_name, "dbt_model": "users", "dbt_project": "analytics",
            "identifier_column": "user_id"}})  # fmt: skip
        assert made.status_code == 200, made.text
        mapping = {"name": f"workspaces/{api.workspace}/sources/wh/destinations/braze/mappings/sync",
                   "action": "updateUserProfile", "enabled": True, "model": self.model_name,
                   "schedule": {"strategy": "MANUAL"},
                   "fields": {"email": "email", "external_id": "user_id"}}  # fmt: skip
        made = api.http.post(api.url("/sources/wh/destinations/braze/mappings"),
                             json={"mapping": mapping})  # fmt: skip
        assert made.status_code == 200, made.text

    def patch(self, clear: tuple[str, ...] = (), **values: object):
        paths = [f"model.{k}" for k in (*values, *clear)]
        return self.api.http.patch(self.model_url,
                                   json={"model": values, "update_mask": {"paths": paths}})  # fmt: skip

    def enable_mapping(self, enabled: bool) -> None:
        body = {"mapping": {"enabled": enabled}, "update_mask": {"paths": ["mapping.enabled"]}}
        assert self.api.http.patch(self.mapping_url, json=body).status_code == 200

    def live(self) -> dict:
        got = self.api.http.get(self.model_url)
        assert got.status_code == 200, got.text
        return dict(got.json())
