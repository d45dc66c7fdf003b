"""Function versions on the control plane (SQLite and PostgreSQL): every change of the code is
a version, the deploy field is latest or a version that exists, the list/get/restore routes,
who may use them, and the workspace lock."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import httpx
import pytest

from seg.server.pages import encode_page_token
from seg.server.service import ControlPlane
from tests.conftest import Api
from tests.helpers import error

CODE = "async function onTrack(event) {\n  return event\n}\n"


def code(n: int) -> str:
    return CODE.replace("return event", f"event.n = {n}\n  return event")


def functions(api: Api, tail: str = "") -> str:
    return api.url("/functions" + tail)


def create(api: Api, name: str = "fx", **fields: Any) -> httpx.Response:
    body = {"name": f"workspaces/{api.workspace}/functions/{name}", "type": "destination",
            "code": CODE, **fields}  # fmt: skip
    return api.http.post(functions(api), json={"function": body})


def patch(api: Api, name: str = "fx", client: httpx.Client | None = None,
          **fields: Any) -> httpx.Response:  # fmt: skip
    mask = [f"function.{k}" for k in fields]
    return (client or api.http).patch(functions(api, f"/{name}"),
                                      json={"function": fields, "update_mask": {"paths": mask}})


def versions(api: Api, name: str = "fx", **params: Any) -> dict[str, Any]:
    response = api.http.get(functions(api, f"/{name}/versions"), params=params)
    assert response.status_code == 200, response.text
    return dict(response.json())


def numbers(api: Api, name: str = "fx") -> list[int]:
    return [v["version"] for v in versions(api, name, page_size=1000)["versions"]]


def restore(api: Api, version: int | str, client: httpx.Client | None = None,
            name: str = "fx", **kwargs: Any) -> httpx.Response:  # fmt: skip
    return (client or api.http).post(functions(api, f"/{name}/versions/{version}:restore"),
                                     **kwargs)


def test_create_is_version_1_and_each_code_change_the_next(api: Api) -> None:
    made = create(api).json()
    assert (made["latest_version"], made["deployed_version"]) == (1, 1)
    assert numbers(api) == [1]
    changed = patch(api, code=code(2)).json()
    assert (changed["latest_version"], changed["deployed_version"]) == (2, 2)
    same = patch(api, code=code(2))  # no-op: the same code again
    assert same.json()["etag"] == changed["etag"] and same.json()["latest_version"] == 2
    other = patch(api, display_name="Enrich").json()  # another field: no version
    assert other["display_name"] == "Enrich" and other["latest_version"] == 2
    assert numbers(api) == [2, 1]
    listed = versions(api)["versions"]
    assert listed[0]["labels"] == ["LATEST", "DEPLOYED"] and listed[1]["labels"] == []
    assert listed[0]["size"] == len(code(2).encode()) and "code" not in listed[0]
    assert {v["actor"] for v in listed} == {api.cp.workspaces.authenticate(
        api.owner_token, "").token_id}  # fmt: skip
    one = api.http.get(functions(api, "/fx/versions/1")).json()
    assert one["code"] == CODE and one["version"] == 1 and one["labels"] == []


def test_the_version_numbers_are_read_only(api: Api) -> None:
    message = error(create(api, latest_version=7), 400, 3)
    assert "latest_version" in message
    create(api, "fy")
    error(patch(api, "fy", deployed_version=3), 400, 3)
    assert api.http.get(functions(api, "/fy")).json()["latest_version"] == 1


def test_deploy_pins_an_existing_version_or_the_one_this_write_makes(api: Api) -> None:
    create(api)
    patch(api, code=code(2))
    pinned = patch(api, deploy=1).json()
    assert (pinned["latest_version"], pinned["deployed_version"]) == (2, 1)
    labels = {v["version"]: v["labels"] for v in versions(api)["versions"]}
    assert labels == {2: ["LATEST"], 1: ["DEPLOYED"]}
    message = error(patch(api, deploy=5), 400, 3)
    assert message == ("function.deploy: version 5 does not exist (versions 1 to 2 exist); "
                       "use latest or one of them")  # fmt: skip
    # one PATCH that changes the code and pins the version it makes
    both = patch(api, code=code(3), deploy=3).json()
    assert (both["latest_version"], both["deployed_version"]) == (3, 3)
    error(patch(api, code=code(4), deploy=6), 400, 3)
    assert numbers(api) == [3, 2, 1]  # the refused write made no version
    back = patch(api, deploy="latest").json()
    assert back["deployed_version"] == 3
    message = error(create(api, "fz", deploy=2), 400, 3)
    assert "only version 1 exists" in message


def test_restore_makes_the_next_version_with_that_code(api: Api) -> None:
    create(api)
    patch(api, code=code(2))
    patch(api, code=code(3))
    restored = restore(api, 1)
    assert restored.status_code == 200, restored.text
    body = restored.json()
    assert body["code"] == CODE and (body["latest_version"], body["deployed_version"]) == (4, 4)
    assert numbers(api) == [4, 3, 2, 1]
    assert api.http.get(functions(api, "/fx/versions/4")).json()["code"] == CODE
    again = restore(api, 1)  # the code it holds already: nothing changes
    assert again.json()["etag"] == body["etag"] and numbers(api) == [4, 3, 2, 1]
    events = api.http.get(api.url("/audit-events")).json()["audit_events"]
    assert events[0]["method"] == "PATCH" and events[0]["resource"].endswith("/functions/fx")
    assert events[0]["paths"] == ["function.code", "restored:1"]
    error(restore(api, 9), 404, 5)
    error(restore(api, 1, headers={"If-Match": '"stale"'}), 412, 10)
    assert restore(api, 2, headers={"If-Match": f'"{body["etag"]}"'}).status_code == 200


def test_restore_keeps_a_pin(api: Api) -> None:
    create(api)
    patch(api, code=code(2), deploy=2)
    body = restore(api, 1).json()
    assert (body["latest_version"], body["deployed_version"]) == (3, 2)


def test_deleting_the_function_deletes_its_versions(api: Api) -> None:
    create(api)
    patch(api, code=code(2))
    assert api.http.delete(functions(api, "/fx")).status_code == 200
    error(api.http.get(functions(api, "/fx/versions")), 404, 5)
    error(api.http.get(functions(api, "/fx/versions/1")), 404, 5)
    made = create(api, code=code(9)).json()  # the same name again starts over
    assert made["latest_version"] == 1 and numbers(api) == [1]
    assert api.http.get(functions(api, "/fx/versions/1")).json()["code"] == code(9)
    error(api.http.get(functions(api, "/fx/versions/2")), 404, 5)


def test_versions_are_paginated_newest_first(api: Api) -> None:
    create(api)
    for n in range(2, 8):
        patch(api, code=code(n))
    seen: list[int] = []
    token = ""
    pages = 0
    while True:
        page = versions(api, page_size=3, **({"page_token": token} if token else {}))
        seen += [v["version"] for v in page["versions"]]
        pages += 1
        token = page["next_page_token"]
        if not token:
            break
    assert seen == [7, 6, 5, 4, 3, 2, 1] and pages == 3
    error(api.http.get(functions(api, "/fx/versions"), params={"page_size": 0}), 400, 3)
    # a token of another listing, or one naming no version, is refused
    for bad in (encode_page_token("workspaces/x/sources/web", "Source"),
                encode_page_token("web", "versions"), encode_page_token("0", "versions"),
                "bm9wZQ"):  # fmt: skip
        error(api.http.get(functions(api, "/fx/versions"), params={"page_token": bad}), 400, 3)


def test_read_tokens_list_and_write_tokens_restore(api: Api) -> None:
    create(api)
    patch(api, code=code(2))
    reader = api.client(api.token("workspace:read"))
    assert reader.get(functions(api, "/fx/versions")).status_code == 200
    assert reader.get(functions(api, "/fx/versions/1")).json()["code"] == CODE
    assert error(restore(api, 1, reader), 403, 7) == "insufficient scope"
    writer = api.client(api.token("workspace:write"))
    assert restore(api, 1, writer).json()["latest_version"] == 3


def _bind(api: Api, n: int, user: str, role: str) -> None:
    body = {"name": f"workspaces/{api.workspace}/role-bindings/v{n}", "subject": {"user": user},
            "role": role, "scope": "workspace"}  # fmt: skip
    made = api.http.post(api.url("/role-bindings"), json={"role_binding": body})
    assert made.status_code == 200, made.text


def _user_client(api: Api, cp: ControlPlane, user: str) -> httpx.Client:
    return api.client(cp.workspaces.create_token(api.workspace, "workspace:write", "u", user)[1])


def test_user_bound_tokens_need_the_function_roles(api: Api, cp: ControlPlane) -> None:
    create(api)
    patch(api, code=code(2))
    _bind(api, 0, "src@x.io", "source_admin")
    _bind(api, 1, "ro@x.io", "function_read_only")
    _bind(api, 2, "fa@x.io", "function_admin")
    source_admin = _user_client(api, cp, "src@x.io")
    assert "may not GET Function fx" in error(
        source_admin.get(functions(api, "/fx/versions")), 403, 7)
    error(source_admin.get(functions(api, "/fx/versions/1")), 403, 7)
    error(restore(api, 1, source_admin), 403, 7)
    read_only = _user_client(api, cp, "ro@x.io")
    assert read_only.get(functions(api, "/fx/versions")).status_code == 200
    assert "may not PATCH Function fx" in error(restore(api, 1, read_only), 403, 7)
    admin = _user_client(api, cp, "fa@x.io")
    assert restore(api, 1, admin).json()["latest_version"] == 3


def test_a_lock_held_by_another_blocks_restore(api: Api) -> None:
    create(api)
    patch(api, code=code(2))
    holder = api.client(api.token("workspace:write", "another apply"))
    lock = holder.post(api.url("/lock"), json={"holder": "seg apply by ci"}).json()
    message = error(restore(api, 1), 409, 10)
    assert "seg apply by ci" in message
    assert numbers(api) == [2, 1]
    under = restore(api, 1, holder, headers={"Seg-Lock": lock["id"]})
    assert under.status_code == 200 and under.json()["latest_version"] == 3


@pytest.mark.parametrize("raw", ["x", "-1", "0", "1.5", "1e3", "99999999999", "2147483648"])
def test_version_numbers_are_checked(api: Api, raw: str) -> None:
    create(api)
    error(api.http.get(functions(api, f"/fx/versions/{raw}")), 400, 3)
    error(restore(api, raw), 400, 3)
    assert numbers(api) == [1]


def test_a_function_stored_before_versions_keeps_its_code_as_version_1(api: Api) -> None:
    create(api)
    name = f"workspaces/{api.workspace}/functions/fx"
    with api.cp.store.tx() as tx:  # as a database from before versions were kept holds it
        tx.delete_versions(name)
        tx.update_resource(replace(tx.get_resource(name), latest_version=0))
    assert versions(api)["versions"] == []
    changed = patch(api, code=code(2)).json()
    assert (changed["latest_version"], changed["deployed_version"]) == (2, 2)
    listed = versions(api)["versions"]
    assert [(v["version"], v["labels"]) for v in listed] == [(2, ["LATEST", "DEPLOYED"]),
                                                            (1, [])]  # fmt: skip
    assert api.http.get(functions(api, "/fx/versions/1")).json()["code"] == CODE
    assert listed[1]["actor"] == ""  # made by nobody this control plane knows


def test_a_restore_path_is_not_also_a_version_path(api: Api) -> None:
    """``…/versions/1:restore`` matches the restore route only: a GET there is 405 and the
    Allow header names POST alone (the version route's segment takes no ``:``)."""
    assert create(api).status_code == 200
    answer = api.http.get(functions(api, "/fx/versions/1:restore"))
    assert answer.status_code == 405
    assert answer.headers["allow"] == "POST"
    assert api.http.get(functions(api, "/fx/versions/1")).status_code == 200
