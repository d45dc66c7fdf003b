"""Who may do what with warehouses (issue 14, part W), on SQLite and PostgreSQL: the warehouse
roles govern the warehouse; connecting or disconnecting a source also needs write access on
that source (source_admin: INV-API-3); only workspace owners set or change selective sync,
whatever else they may do; source-only users neither read nor write warehouses."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from seg.server.service import ControlPlane
from tests.conftest import Api
from tests.helpers import error

PASSWORD = {"account": "a", "database": "d", "warehouse": "w", "user": "u", "password": "p"}
USERS = {
    "owner": ("olga@x.io", [("workspace_owner", "workspace")]),
    "wh": ("walt@x.io", [("warehouse_admin", "workspace")]),
    "wh_src": ("wendy@x.io", [("warehouse_admin", "workspace"),
                              ("source_admin", {"sources": ["web"]})]),  # fmt: skip
    "wh_read": ("rita@x.io", [("warehouse_read_only", "workspace"),
                              ("source_admin", {"sources": ["web"]})]),  # fmt: skip
    "src": ("sam@x.io", [("source_admin", "workspace")]),
}


class World:
    def __init__(self, api: Api) -> None:
        self.api = api
        for source in ("web", "app"):
            assert api.create_source(source).status_code == 200
        n = 0
        for email, bindings in USERS.values():
            for role, scope in bindings:
                body = {"name": f"workspaces/{api.workspace}/role-bindings/b{n}",
                        "subject": {"user": email}, "role": role, "scope": scope}  # fmt: skip
                n += 1
                made = api.http.post(api.url("/role-bindings"), json={"role_binding": body})
                assert made.status_code == 200, made.text
        self.clients = {who: api.client(self._token(email)) for who, (email, _) in USERS.items()}

    def _token(self, email: str) -> str:
        return self.api.cp.workspaces.create_token(self.api.workspace, "workspace:owner",
                                                   "user token", email)[1]  # fmt: skip

    def create(self, who: str, name: str, **fields: Any) -> httpx.Response:
        body = {"name": f"workspaces/{self.api.workspace}/warehouses/{name}",
                "catalog": "snowflake", "settings": PASSWORD, **fields}  # fmt: skip
        return self.clients[who].post(self.api.url("/warehouses"), json={"warehouse": body})

    def patch(self, who: str, name: str, values: dict[str, Any], *paths: str) -> httpx.Response:
        body = {"warehouse": values, "update_mask": {"paths": list(paths)}}
        return self.clients[who].patch(self.api.url(f"/warehouses/{name}"), json=body)


@pytest.fixture
def world(cp: ControlPlane, slug: str) -> Iterator[World]:
    api = Api(cp, slug)
    yield World(api)
    api.close()


def test_warehouse_admin_writes_warehouses_and_source_users_do_not(world: World) -> None:
    assert world.create("wh", "one").status_code == 200
    assert "may not POST Warehouse" in error(world.create("src", "two"), 403, 7)
    assert "may not POST Warehouse" in error(world.create("wh_read", "two"), 403, 7)
    path = world.api.url("/warehouses/one")
    assert world.clients["wh_read"].get(path).status_code == 200
    error(world.clients["src"].get(path), 403, 7)
    listed = world.clients["src"].get(world.api.url("/warehouses")).json()
    assert listed["warehouses"] == []
    renamed = world.patch("wh", "one", {"display_name": "One"}, "warehouse.display_name")
    assert renamed.status_code == 200
    error(world.patch("wh_read", "one", {"display_name": "X"}, "warehouse.display_name"), 403, 7)


def test_connecting_a_source_needs_source_admin_on_it(world: World) -> None:
    refused = world.create("wh", "one", sources=["web"])
    assert "may not connect or disconnect Source web" in error(refused, 403, 7)
    assert world.create("wh", "one").status_code == 200
    connect = world.patch("wh", "one", {"sources": ["web"]}, "warehouse.sources")
    assert "Source web" in error(connect, 403, 7)
    assert world.patch("wh_src", "one", {"sources": ["web"]}, "warehouse.sources").status_code == 200
    other = world.patch("wh_src", "one", {"sources": ["web", "app"]}, "warehouse.sources")
    assert "Source app" in error(other, 403, 7)  # admin of web only
    owner = world.patch("owner", "one", {"sources": ["web", "app"]}, "warehouse.sources")
    assert owner.status_code == 200
    # disconnecting app needs its admin too; renaming the warehouse does not touch sources
    assert "Source app" in error(world.patch("wh_src", "one", {"sources": ["web"]},
                                             "warehouse.sources"), 403, 7)  # fmt: skip
    assert world.patch("wh", "one", {"display_name": "N"}, "warehouse.display_name").status_code == 200
    # deleting the warehouse is the warehouse admin's: it disconnects what it held
    assert world.clients["wh"].delete(world.api.url("/warehouses/one")).status_code == 200


SELECTIVE = {"web": {"collections": {"page": {"enabled": False}}}}


def test_only_owners_set_or_change_selective_sync(world: World) -> None:
    refused = world.create("wh_src", "one", sources=["web"], selective_sync=SELECTIVE)
    assert "only workspace owners may change warehouse.selective_sync" in error(refused, 403, 7)
    # an empty selective sync is the default, not a setting
    assert world.create("wh_src", "one", sources=["web"], selective_sync={}).status_code == 200
    for paths in (["warehouse.selective_sync"], ["warehouse.selective_sync.web"],
                  ["warehouse.display_name", "warehouse.selective_sync.web.enabled"]):  # fmt: skip
        change = world.patch("wh_src", "one", {"selective_sync": SELECTIVE, "display_name": "x"},
                             *paths)  # fmt: skip
        error(change, 403, 7)
    by_owner = world.patch("owner", "one", {"selective_sync": SELECTIVE},
                           "warehouse.selective_sync")  # fmt: skip
    assert by_owner.status_code == 200
    # others still edit the rest of the warehouse
    assert world.patch("wh_src", "one", {"display_name": "W"},
                       "warehouse.display_name").status_code == 200  # fmt: skip
    got = world.clients["wh_src"].get(world.api.url("/warehouses/one")).json()
    assert got["selective_sync"] == SELECTIVE and got["display_name"] == "W"
    # an owner-scoped token not bound to a user is an owner; a write token is not
    plain_write = world.api.client(world.api.token("workspace:write"))
    error(plain_write.patch(world.api.url("/warehouses/one"), json={
        "warehouse": {"selective_sync": {}},
        "update_mask": {"paths": ["warehouse.selective_sync"]}}), 403, 7)  # fmt: skip
    cleared = world.api.http.patch(world.api.url("/warehouses/one"), json={
        "update_mask": {"paths": ["warehouse.selective_sync"]}})  # fmt: skip
    assert cleared.status_code == 200 and cleared.json()["selective_sync"] == {}


def test_a_source_hidden_from_the_user_is_not_named_when_delete_is_refused(world: World) -> None:
    assert world.create("owner", "one", sources=["web", "app"]).status_code == 200
    refused = world.clients["wh_src"].delete(world.api.url("/sources/web"))
    message = error(refused, 409, 9)
    assert "connected to warehouses one" in message
    hidden = world.clients["src"].delete(world.api.url("/sources/app"))
    message = error(hidden, 409, 9)
    assert "connected to warehouses 1 warehouse you may not read;" in message
