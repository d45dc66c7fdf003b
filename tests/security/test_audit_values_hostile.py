"""The audit trail now keeps values: a read-only user-bound token that may not read a source
sees no event of it — nor of its destinations, nor of a tracking plan it may not read —
and so none of their values, whatever it asks for: the whole trail, the ``resource`` filter
naming the hidden resource (or its rules), the ``kind`` filter, an apply run's view. What
it may read it sees with its values, secrets still only as set. SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Api

HIDDEN_VALUE = "HIDDEN-DISPLAY-NAME"  # a value only the hidden resources hold
HIDDEN_SECRET = "HIDDEN-API-KEY"
RULE = {"type": "TRACK", "key": "Hidden Event", "version": 1, "json_schema": {"type": "object"}}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def trail(client: httpx.Client, api: Api, **params: Any) -> tuple[list[dict[str, Any]], str]:
    """Every event the client is shown (all pages), and the answers' text."""
    shown: list[dict[str, Any]] = []
    texts = []
    token = ""
    while True:
        paging = {"page_size": 2, **({"page_token": token} if token else {})}
        response = client.get(api.url("/audit-events"), params={**params, **paging})
        page = ok(response)
        texts.append(response.text)
        shown += page["audit_events"]
        token = page["next_page_token"]
        if not token:
            return shown, "".join(texts)


def test_a_user_who_may_not_read_a_source_sees_none_of_its_values(api: Api) -> None:
    ws = api.workspace
    ok(api.http.post(api.url("/labels"), json={"label": {"name": f"workspaces/{ws}/labels/team:mine"}}))
    binding = {"name": f"workspaces/{ws}/role-bindings/sam", "subject": {"user": "sam@x.io"},
               "role": "source_read_only", "scope": {"labels": {"team": "mine"}}}  # fmt: skip
    ok(api.http.post(api.url("/role-bindings"), json={"role_binding": binding}))
    run = ok(api.http.post(api.url("/applies"), json={"manager": "default"}), 201)["id"]
    tagged = {"Seg-Apply": run}
    ok(api.create_source("mine", labels={"team": "mine"}, display_name="Mine"))
    hidden = {"name": f"workspaces/{ws}/sources/other", "catalog": "javascript",
              "display_name": HIDDEN_VALUE}  # fmt: skip
    ok(api.http.post(api.url("/sources"), json={"source": hidden}, headers=tagged))
    patch = {"source": {"display_name": HIDDEN_VALUE + "-2"},
             "update_mask": {"paths": ["source.display_name"]}}  # fmt: skip
    ok(api.http.patch(api.url("/sources/other"), json=patch, headers=tagged))
    amp = {"name": f"workspaces/{ws}/sources/other/destinations/amp", "catalog": "amplitude",
           "display_name": HIDDEN_VALUE, "settings": {"api_key": HIDDEN_SECRET}}  # fmt: skip
    ok(api.http.post(api.url("/sources/other/destinations"), json={"destination": amp},
                     headers=tagged))  # fmt: skip
    plan = ok(api.http.post(api.url("/tracking-plans"), json={"tracking_plan": {
        "external_id": "hidden", "display_name": HIDDEN_VALUE}}))  # fmt: skip
    ok(api.http.put(f"/v1beta/{plan['name']}/rules", json={"rules": [RULE]}))
    _, secret = api.cp.workspaces.create_token(ws, "workspace:read", "sam's", "sam@x.io")
    sam = api.client(secret)
    assert ok(sam.get(api.url("/sources/other")), 403)["code"] == 7  # the premise

    everything, text = trail(sam, api)
    names = {e["resource"] for e in everything}
    assert f"workspaces/{ws}/sources/mine" in names
    assert not [n for n in names if "/sources/other" in n or "/tracking-plans/" in n]
    for leaked in (HIDDEN_VALUE, HIDDEN_SECRET, "Hidden Event", "secret:hmac:"):
        assert leaked not in text
    [mine] = [e for e in everything if e["resource"].endswith("/sources/mine")]
    assert {"path": "source.display_name", "after": "Mine"} in mine["changes"]

    for name in (f"workspaces/{ws}/sources/other", amp["name"], plan["name"]):
        shown, text = trail(sam, api, resource=name)
        assert shown == [] and HIDDEN_VALUE not in text, name
    shown, text = trail(sam, api, resource=f"workspaces/{ws}/sources/other", kind="source")
    assert shown == [] and HIDDEN_VALUE not in text
    rules = sam.get(api.url("/audit-events"), params={"resource": plan["name"] + "/rules"})
    assert ok(rules, 400)["code"] == 3  # a resource's name, not its rules'
    detail = sam.get(api.url(f"/applies/{run}"))
    assert ok(detail)["changes"] == [] and HIDDEN_VALUE not in detail.text

    # the owner sees them all, with values, and the secret only as set
    owned, text = trail(api.http, api, resource=amp["name"])
    assert [e["method"] for e in owned] == ["POST"] and HIDDEN_SECRET not in text
    assert {"path": "destination.settings.api_key", "after": "set",
            "secret": True} in owned[0]["changes"]  # fmt: skip
    assert len(trail(api.http, api, resource=plan["name"])[0]) == 2  # the plan and its rules


def test_a_token_of_another_workspace_cannot_read_a_trail_by_resource(api: Api) -> None:
    ok(api.create_source("web", display_name=HIDDEN_VALUE))
    _, other = api.cp.workspaces.init(api.workspace + "x")
    stranger = api.client(other)
    response = stranger.get(api.url("/audit-events"),
                            params={"resource": f"workspaces/{api.workspace}/sources/web"})  # fmt: skip
    assert response.status_code == 403 and HIDDEN_VALUE not in response.text
    mine = stranger.get(f"/v1beta/workspaces/{api.workspace}x/audit-events",
                        params={"resource": f"workspaces/{api.workspace}/sources/web"})  # fmt: skip
    assert ok(mine, 400)["code"] == 3 and HIDDEN_VALUE not in mine.text  # not its workspace
