"""``GET …/changes?since=REV`` and the workspace revision (SQLite and PostgreSQL): every write
path of the API counts in the revision and names its resource, the answer is deduplicated
per name and paged at one revision, a revision the log cannot answer is a 410 with code 11,
the epoch names the history, and a user-bound token sees only what it may read."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest

from seg.server.app import create_app
from seg.server.inprocess import InProcessTransport
from seg.server.service import ControlPlane
from seg.store.sql import CHANGE_LOG_KEEP, SqlStore, workspace_history
from tests.conftest import Api

CODE = "async function onTrack(event) {\n  return event\n}\n"
RULE = {"type": "TRACK", "key": "Signed Up", "version": 1, "json_schema": {"type": "object"}}


def changes(api: Api, since: int | None = None, client: httpx.Client | None = None,
            **params: Any) -> httpx.Response:  # fmt: skip
    query = {**params, **({"since": since} if since is not None else {})}
    return (client or api.http).get(api.url("/changes"), params=query)


def head(api: Api) -> dict[str, Any]:
    response = changes(api)
    assert response.status_code == 200, response.text
    assert response.json()["changes"] == []
    return dict(response.json())


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return dict(response.json()) if response.content else {}


def _patch(api: Api, path: str, key: str, fields: dict[str, Any], **top: Any) -> httpx.Response:
    mask = [f"{key}.{k}" for k in fields]
    return api.http.patch(api.url(path), json={key: fields, "update_mask": {"paths": mask},
                                               **top})  # fmt: skip


def _tracking_plan(api: Api) -> str:
    made = ok(api.http.post(api.url("/tracking-plans"),
                            json={"tracking_plan": {"external_id": "tp", "rules": []}}))  # fmt: skip
    return str(made["name"])


def _function(api: Api) -> str:
    body = {"name": f"workspaces/{api.workspace}/functions/fx", "type": "destination",
            "code": CODE}  # fmt: skip
    ok(api.http.post(api.url("/functions"), json={"function": body}))
    ok(_patch(api, "/functions/fx", "function", {"code": CODE.replace("event\n", "event;\n")}))
    return f"workspaces/{api.workspace}/functions/fx"


# Each write path: (prepare → the name it will change, the write, the operation logged)
Prepare = Callable[[Api], str]
Write = Callable[[Api, str], httpx.Response]
WRITES: dict[str, tuple[Prepare, Write, str]] = {
    "create": (lambda api: f"workspaces/{api.workspace}/sources/web",
               lambda api, _: api.create_source("web"), "create"),
    "create a child": (lambda api: (ok(api.create_source("web")),
                                    f"workspaces/{api.workspace}/sources/web/destinations/amp")[1],
                       lambda api, _: api.create_destination("web", "amp"), "create"),
    "update by mask": (lambda api: (ok(api.create_source("web")),
                                    f"workspaces/{api.workspace}/sources/web")[1],
                       lambda api, _: _patch(api, "/sources/web", "source", {"enabled": False}),
                       "update"),
    "protect": (lambda api: (ok(api.create_source("web")),
                             f"workspaces/{api.workspace}/sources/web")[1],
                lambda api, _: _patch(api, "/sources/web", "source", {}, protect=True),
                "update"),
    "manager": (lambda api: (ok(api.create_source("web")),
                             f"workspaces/{api.workspace}/sources/web")[1],
                lambda api, _: _patch(api, "/sources/web", "source", {}, manager="other"),
                "update"),
    "delete": (lambda api: (ok(api.create_source("web")),
                            f"workspaces/{api.workspace}/sources/web")[1],
               lambda api, _: api.http.delete(api.url("/sources/web")), "delete"),
    "rules PUT": (_tracking_plan,
                  lambda api, n: api.http.put(f"/v1beta/{n}/rules", json={"rules": [RULE]}),
                  "update"),
    "rules PATCH": (_tracking_plan,
                    lambda api, n: api.http.patch(f"/v1beta/{n}/rules", json={"rules": [RULE]}),
                    "update"),
    "rules DELETE": (lambda api: (lambda n: (ok(api.http.put(f"/v1beta/{n}/rules",
                                                             json={"rules": [RULE]})), n)[1])(
                         _tracking_plan(api)),
                     lambda api, n: api.http.request(
                         "DELETE", f"/v1beta/{n}/rules",
                         json={"rules": [{"type": "TRACK", "key": "Signed Up", "version": 1}]}),
                     "update"),
    "version restore": (_function,
                        lambda api, n: api.http.post(f"/v1beta/{n}/versions/1:restore"),
                        "update"),
}  # fmt: skip


@pytest.mark.parametrize("path", sorted(WRITES))
def test_every_write_path_counts_once_and_names_its_resource(api: Api, path: str) -> None:
    prepare, write, operation = WRITES[path]
    name = prepare(api)
    before = head(api)
    ok(write(api, name))
    after = ok(changes(api, before["revision"]))
    assert after["revision"] == before["revision"] + 1
    assert after["epoch"] == before["epoch"]
    assert [(c["name"], c["operation"]) for c in after["changes"]] == [(name, operation)]
    assert ok(api.http.get(api.url()))["revision"] == after["revision"]  # and the workspace GET


def test_a_refused_write_counts_nothing(api: Api) -> None:
    ok(api.create_source("web"))
    ok(api.create_destination("web", "amp"))
    before = head(api)
    assert api.http.delete(api.url("/sources/web")).status_code == 409  # in use
    assert api.create_source("web").status_code == 409  # exists
    assert _patch(api, "/sources/web", "source", {"enabled": "no"}).status_code == 400
    assert head(api)["revision"] == before["revision"]


def test_changes_are_deduplicated_paged_and_ordered_by_last_change(api: Api) -> None:
    start = head(api)["revision"]
    for slug in ("a", "b", "c", "d"):
        ok(api.create_source(slug))
    ok(_patch(api, "/sources/a", "source", {"enabled": False}))
    ok(api.http.delete(api.url("/sources/b")))
    ok(api.create_source("b"))  # deleted then made again: a create
    ok(api.http.delete(api.url("/sources/c")))
    ws = f"workspaces/{api.workspace}/sources/"
    whole = ok(changes(api, start))
    expected = [(ws + "d", "create"), (ws + "a", "update"), (ws + "b", "create"),
                (ws + "c", "delete")]  # fmt: skip
    assert [(c["name"], c["operation"]) for c in whole["changes"]] == expected
    assert {c["kind"] for c in whole["changes"]} == {"Source"}
    assert whole["next_page_token"] == ""
    seen: list[tuple[str, str]] = []
    token = ""
    while True:
        page = ok(changes(api, start, page_size=1, **({"page_token": token} if token else {})))
        assert page["revision"] == whole["revision"]
        seen += [(c["name"], c["operation"]) for c in page["changes"]]
        ok(api.create_source(f"meanwhile{len(seen)}"))  # later writes wait for the next call
        token = page["next_page_token"]
        if not token:
            break
    assert seen == expected
    assert ok(changes(api, whole["revision"]))["changes"][0]["name"] == ws + "meanwhile1"


def test_since_the_current_revision_is_empty_and_bad_input_is_a_400(api: Api) -> None:
    now = head(api)
    assert ok(changes(api, now["revision"]))["changes"] == []
    for bad in ("-1", "x", "1.5", "9" * 30):
        response = api.http.get(api.url("/changes"), params={"since": bad})
        assert (response.status_code, response.json()["code"]) == (400, 3), bad
    response = changes(api, 0, page_token="not-a-token")
    assert (response.status_code, response.json()["code"]) == (400, 3)


def test_a_revision_the_log_cannot_answer_is_410_code_11(api: Api, store: SqlStore) -> None:
    ok(api.create_source("web"))
    now = head(api)["revision"]
    newer = changes(api, now + 1)
    assert (newer.status_code, newer.json()["code"]) == (410, 11)
    assert "newer than the workspace" in newer.json()["error"]
    with store.tx() as tx:  # as after pruning: the log starts at the current revision
        tx.conn.execute(workspace_history.update()
                        .where(workspace_history.c.workspace == api.workspace)
                        .values(floor=now))  # fmt: skip
    older = changes(api, now - 1)
    assert (older.status_code, older.json()["code"]) == (410, 11)
    assert "older than the change log keeps" in older.json()["error"]
    assert ok(changes(api, now))["changes"] == []


def test_the_log_keeps_its_newest_revisions(api: Api, store: SqlStore) -> None:
    """Retention without 100,000 writes: the floor follows the revision."""
    with store.tx() as tx:
        tx.conn.execute(workspace_history.update()
                        .where(workspace_history.c.workspace == api.workspace)
                        .values(revision=CHANGE_LOG_KEEP + 5))  # fmt: skip
    assert changes(api, 4).status_code == 410
    assert ok(changes(api, 5))["changes"] == []


def test_another_workspace_and_another_history_do_not_mix(cp: ControlPlane, api: Api,
                                                          slug: str) -> None:  # fmt: skip
    other = Api(cp, slug + "x")
    try:
        ok(other.create_source("theirs"))
        assert ok(changes(api, 0))["changes"] == [
            c for c in ok(changes(api, 0))["changes"]
            if c["name"].startswith(f"workspaces/{api.workspace}/")]  # fmt: skip
        assert head(api)["epoch"] != head(other)["epoch"]
    finally:
        other.close()


def test_the_epoch_carries_the_digest_key(api: Api, store: SqlStore) -> None:
    """A control plane on the same database with another secret key makes other digests of
    the same secrets: the same history, another epoch."""
    other = httpx.Client(transport=InProcessTransport(create_app(ControlPlane(store))),
                         base_url="http://embedded",
                         headers={"Authorization": f"Bearer {api.owner_token}"})  # fmt: skip
    try:
        mine, theirs = head(api), ok(other.get(api.url("/changes")))
    finally:
        other.close()
    assert mine["revision"] == theirs["revision"]
    assert mine["epoch"].split(".")[0] == theirs["epoch"].split(".")[0]
    assert mine["epoch"] != theirs["epoch"]


def _user_token(api: Api, email: str) -> httpx.Client:
    secret = api.cp.workspaces.create_token(api.workspace, "workspace:read", "user", email)[1]
    return api.client(secret)


def test_a_user_bound_token_sees_only_what_it_may_read(api: Api) -> None:
    ok(api.http.post(api.url("/labels"),
                     json={"label": {"name": f"workspaces/{api.workspace}/labels/team:mine"}}))
    ok(api.create_source("mine", labels={"team": "mine"}))
    body = {"name": f"workspaces/{api.workspace}/role-bindings/sam", "subject": {"user": "sam@x.io"},
            "role": "source_read_only", "scope": {"labels": {"team": "mine"}}}  # fmt: skip
    ok(api.http.post(api.url("/role-bindings"), json={"role_binding": body}))
    sam = _user_token(api, "sam@x.io")
    start = ok(changes(api, client=sam))
    assert start["access"] != ""
    ok(api.create_source("hidden"))
    ok(_patch(api, "/sources/mine", "source", {"enabled": False}))
    seen = ok(changes(api, start["revision"], client=sam))
    assert [c["name"] for c in seen["changes"]] == [f"workspaces/{api.workspace}/sources/mine"]
    assert seen["revision"] == head(api)["revision"]  # the owner's view: one more change
    assert len(ok(changes(api, start["revision"]))["changes"]) == 2
    # a change of the user's access (hidden from them) changes the access digest
    ok(_patch(api, "/role-bindings/sam", "role_binding", {"scope": "workspace"}))
    assert ok(changes(api, client=sam))["access"] != start["access"]
    assert head(api)["access"] == ""  # tokens not bound to a user: no access digest


def test_the_route_is_documented_with_its_410(api: Api) -> None:
    doc = ok(api.http.get("/openapi.json"))
    op = doc["paths"]["/v1beta/workspaces/{workspace}/changes"]["get"]
    assert {"since", "page_size", "page_token"} <= {p["name"] for p in op["parameters"]}
    assert "code 11" in op["responses"]["410"]["description"]
    listed = doc["components"]["schemas"]["ChangeList"]["properties"]
    assert {"revision", "epoch", "access", "changes", "next_page_token"} <= set(listed)
    assert {"revision", "epoch"} <= set(doc["components"]["schemas"]["Workspace"]["properties"])
