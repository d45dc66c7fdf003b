"""Only an alert's creator edits or deletes it; workspace owners may delete any (the docs: "You
can only edit or delete the alerts that you create"). The control plane records the creator
at create time (``user:<email>`` for a user-bound token, else ``token:<id>``), shows it read
only, and holds every later write to it — on SQLite and PostgreSQL (the ``api`` fixture)."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from seg.kinds.names import parse_resource_name
from tests.conftest import Api
from tests.helpers import error

ANN, BOB, DANA = "ann@x.io", "bob@x.io", "dana@x.io"


class Team:
    """Ann and Bob administer the shop source; Dana is a workspace owner. Each holds a
    write-scope token bound to them."""

    def __init__(self, api: Api) -> None:
        self.api = api
        assert api.create_source("shop").status_code == 200
        bindings = [(ANN, "source_admin"), (BOB, "source_admin"), (DANA, "workspace_owner")]
        for i, (user, role) in enumerate(bindings):
            body = {"name": f"workspaces/{api.workspace}/role-bindings/b{i}",
                    "subject": {"user": user}, "role": role, "scope": "workspace"}  # fmt: skip
            made = api.http.post(api.url("/role-bindings"), json={"role_binding": body})
            assert made.status_code == 200, made.text
        self.ann, self.bob, self.dana = (self.user(u) for u in (ANN, BOB, DANA))

    def user(self, email: str, scope: str = "workspace:write") -> httpx.Client:
        return self.api.client(self.api.cp.workspaces.create_token(
            self.api.workspace, scope, f"{email}'s token", email)[1])  # fmt: skip

    def url(self, name: str = "drop") -> str:
        return self.api.url(f"/sources/shop/alerts/{name}")

    def create(self, client: httpx.Client, name: str = "drop", **extra: Any) -> dict[str, Any]:
        body = {"name": f"workspaces/{self.api.workspace}/sources/shop/alerts/{name}",
                "type": "source_volume", "threshold_percent": 20, **extra}  # fmt: skip
        made = client.post(self.api.url("/sources/shop/alerts"), json={"alert": body})
        assert made.status_code == 200, made.text
        result: dict[str, Any] = made.json()
        return result


def edit(client: httpx.Client, url: str, value: float = 30) -> httpx.Response:
    return client.patch(url, json={"alert": {"threshold_percent": value},
                                   "update_mask": {"paths": ["alert.threshold_percent"]}})  # fmt: skip


@pytest.fixture
def team(api: Api) -> Team:
    return Team(api)


def test_the_creator_is_recorded_from_the_token(team: Team, api: Api) -> None:
    assert team.create(team.ann)["creator"] == f"user:{ANN}"
    token_id, secret = api.cp.workspaces.create_token(api.workspace, "workspace:write", "ci")
    made = team.create(api.client(secret), "other")
    assert made["creator"] == f"token:{token_id}"
    listed = api.http.get(api.url("/sources/shop/alerts")).json()["alerts"]
    assert {a["creator"] for a in listed} == {f"user:{ANN}", f"token:{token_id}"}


def test_only_the_creator_edits_and_deletes(team: Team) -> None:
    team.create(team.ann)
    refused = edit(team.bob, team.url())
    assert error(refused, 403, 7) == (f"permission denied: only its creator (user:{ANN}) may "
                                      "edit this alert; workspace owners may delete it")  # fmt: skip
    error(team.bob.delete(team.url()), 403, 7)
    assert edit(team.ann, team.url()).json()["threshold_percent"] == 30
    assert team.api.http.get(team.url()).json()["threshold_percent"] == 30  # bob changed nothing
    assert team.ann.delete(team.url()).status_code == 200


def test_a_rotated_token_of_the_same_user_still_edits(team: Team) -> None:
    team.create(team.ann)
    rotated = team.user(ANN)  # CI: one token bound to a bot user, rotated
    assert edit(rotated, team.url()).status_code == 200


def test_owners_may_delete_but_not_edit(team: Team, api: Api) -> None:
    team.create(team.ann, "one")
    team.create(team.ann, "two")
    error(edit(team.dana, team.url("one")), 403, 7)
    error(edit(api.http, team.url("one")), 403, 7)  # the owner token is not the creator
    assert team.dana.delete(team.url("one")).status_code == 200  # a user with the owner role
    assert api.http.delete(team.url("two")).status_code == 200  # an owner token
    writer = api.client(api.token("workspace:write", "a plain write token"))
    team.create(team.ann, "three")
    error(writer.delete(team.url("three")), 403, 7)  # write scope, no owner


def test_metadata_counts_as_an_edit_but_a_no_op_does_not(team: Team) -> None:
    team.create(team.ann)
    protect = team.bob.patch(team.url(), json={"protect": True})
    error(protect, 403, 7)
    assert team.bob.patch(team.url(), json={"alert": {}}).status_code == 200  # nothing changes
    assert team.ann.patch(team.url(), json={"protect": True}).json()["protect"] is True


def test_the_creator_cannot_be_written(team: Team, api: Api) -> None:
    made = team.create(team.bob, creator=f"user:{ANN}")
    assert made["creator"] == f"user:{BOB}"  # output-only: ignored on create
    moved = team.bob.patch(team.url(), json={"alert": {"creator": f"user:{ANN}"},
                                             "update_mask": {"paths": ["alert.creator"]}})  # fmt: skip
    assert "immutable" in error(moved, 400, 3)
    assert api.http.get(team.url()).json()["creator"] == f"user:{BOB}"


def test_alerts_from_before_creators_were_kept_are_anyones(team: Team, api: Api) -> None:
    made = team.create(team.ann)
    with api.cp.store.tx() as tx:  # as a database from before the column holds it
        rec = tx.get_resource(made["name"])
        assert rec is not None and rec.creator == f"user:{ANN}"
        assert tx.update_resource(replace(rec, creator=""), rec)
    assert api.http.get(team.url()).json()["creator"] == ""
    assert edit(team.bob, team.url()).status_code == 200
    assert team.bob.delete(team.url()).status_code == 200


def test_other_kinds_keep_their_rules(team: Team, api: Api) -> None:
    made = api.create_destination("shop", "amp", settings={"api_key": "k"})
    assert made.status_code == 200
    assert "creator" not in made.json()  # only creator-edited kinds show it
    body = {"destination": {"display_name": "A"},
            "update_mask": {"paths": ["destination.display_name"]}}  # fmt: skip
    assert team.bob.patch(api.url("/sources/shop/destinations/amp"), json=body).status_code == 200
    name = parse_resource_name(made.json()["name"])[2]
    assert name == "shop/amp"
