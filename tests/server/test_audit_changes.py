"""Field-level before/after values in the audit trail, through the API (SQLite and
PostgreSQL): a destination created, updated (a nested key changed, one removed, a secret
rewritten), restored and deleted, a tracking plan's rules written through ``…/rules``; no
secret — in clear or as its digest — anywhere in the trail; the ``resource`` filter (the
resource's events and its rules', each input checked); an apply run's view carries the
values too."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from tests.conftest import Api
from tests.helpers import error

SECRETS = ("AMP-SECRET-1", "NESTED-SECRET-2", "AMP-SECRET-3")


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def events(api: Api, **params: Any) -> list[dict[str, Any]]:
    return list(ok(api.http.get(api.url("/audit-events"), params=params))["audit_events"])


def patch(api: Api, path: str, fields: dict[str, Any], *mask: str,
          headers: dict[str, str] | None = None) -> Any:  # fmt: skip
    kind = "destination" if "/destinations/" in path else "source"
    body = {kind: fields, "update_mask": {"paths": list(mask)}}
    return ok(api.http.patch(api.url(path), json=body, headers=headers or {}))


def make_destination(api: Api, headers: dict[str, str] | None = None) -> dict[str, Any]:
    ok(api.create_source("web"))
    settings = {"api_key": SECRETS[0], "region": "eu",
                "map_query_params": {"utm_source": "user", "utm_campaign": "event",
                                     "auth": SECRETS[1]}}  # fmt: skip
    body = {"destination": {"name": api.url("/sources/web/destinations/amp")[8:],
                            "catalog": "amplitude", "settings": settings},
            "secret_paths": ["destination.settings.map_query_params.auth"]}  # fmt: skip
    return dict(ok(api.http.post(api.url("/sources/web/destinations"), json=body,
                                 headers=headers or {})))  # fmt: skip


CREATED = [
    {"path": "destination.catalog", "after": "amplitude"},
    {"path": "destination.connection_mode", "after": "cloud"},
    {"path": "destination.display_name", "after": ""},
    {"path": "destination.enabled", "after": False},
    {"path": "destination.settings.api_key", "after": "set", "secret": True},
    {"path": "destination.settings.map_query_params.auth", "after": "set", "secret": True},
    {"path": "destination.settings.map_query_params.utm_campaign", "after": "event"},
    {"path": "destination.settings.map_query_params.utm_source", "after": "user"},
    {"path": "destination.settings.region", "after": "eu"},
]


def test_each_write_keeps_the_values_it_changed_and_never_a_secret(api: Api) -> None:
    made = make_destination(api)
    name = made["name"]
    amp = "/sources/web/destinations/amp"
    query = "destination.settings.map_query_params"
    patch(api, amp, {"settings": {"map_query_params": {"utm_source": "event"}}},
          f"{query}.utm_source", f"{query}.utm_campaign")  # one changed, one removed
    digests = [made["settings"]["api_key"], made["settings"]["map_query_params"]["auth"]]
    # the digest a client reads back and sends again keeps the sealed value: no value changed
    patch(api, amp, {"settings": {"api_key": digests[0]}}, "destination.settings.api_key")
    patch(api, amp, {"settings": {"api_key": SECRETS[2]}}, "destination.settings.api_key")
    updated = ok(api.http.get(api.url(amp)))
    digests.append(updated["settings"]["api_key"])
    patch(api, amp, {"settings": {"api_key": SECRETS[2]}}, "destination.settings.api_key")
    ok(api.http.delete(api.url(amp)))
    trail = [e for e in events(api) if e["resource"] == name]
    assert [e["method"] for e in trail] == ["DELETE", "PATCH", "PATCH", "PATCH", "PATCH", "POST"]
    deleted, same_again, rewritten, echoed, nested, created = (e["changes"] for e in trail)
    assert trail[3]["paths"] == ["destination.settings.api_key"] and echoed == []
    assert created == CREATED
    assert nested == [
        {"path": f"{query}.utm_campaign", "before": "event"},
        {"path": f"{query}.utm_source", "before": "user", "after": "event"},
    ]
    secret_change = [{"path": "destination.settings.api_key", "before": "set", "after": "set",
                      "secret": True}]  # fmt: skip
    assert rewritten == secret_change  # a new value
    assert same_again == secret_change  # the same value sealed anew: the digest cannot tell
    assert deleted == [
        {"path": "destination.catalog", "before": "amplitude"},
        {"path": "destination.connection_mode", "before": "cloud"},
        {"path": "destination.display_name", "before": ""},
        {"path": "destination.enabled", "before": False},
        {"path": "destination.settings.api_key", "before": "set", "secret": True},
        {"path": "destination.settings.map_query_params.auth", "before": "set", "secret": True},
        {"path": "destination.settings.map_query_params.utm_source", "before": "event"},
        {"path": "destination.settings.region", "before": "eu"},
    ]
    text = api.http.get(api.url("/audit-events")).text
    for hidden in (*SECRETS, *digests, "secret:hmac:", "secret:sha256:"):
        assert hidden not in text
    assert len(set(digests)) == 3


def test_ownership_changes_are_entries(api: Api) -> None:
    ok(api.create_source("web"))
    body = {"source": {}, "update_mask": {"paths": []}, "protect": True, "manager": "growth"}
    ok(api.http.patch(api.url("/sources/web"), json=body))
    [event] = events(api, kind="source")[:1]
    assert event["paths"] == ["protect", "manager"]
    assert event["changes"] == [{"path": "protect", "before": False, "after": True},
                                {"path": "manager", "before": "", "after": "growth"}]


def test_a_restored_version_is_a_change_of_its_field(api: Api) -> None:
    ok(api.create_source("web"))
    code = "async function onTrack(event) { return event }"
    body = {"function": {"name": api.url("/functions/f")[8:], "display_name": "F",
                         "type": "destination", "code": code}}  # fmt: skip
    ok(api.http.post(api.url("/functions"), json=body))
    newer = code.replace("event }", "null }")
    body = {"function": {"code": newer}, "update_mask": {"paths": ["function.code"]}}
    ok(api.http.patch(api.url("/functions/f"), json=body))
    ok(api.http.post(api.url("/functions/f/versions/1:restore"), json={}))
    restored = events(api, kind="function")[0]
    assert restored["paths"] == ["function.code", "restored:1"]
    assert restored["changes"] == [{"path": "function.code", "before": newer, "after": code}]


RULE = {"type": "TRACK", "key": "Signed Up", "version": 1, "json_schema": {"type": "object"}}
OTHER = {"type": "IDENTIFY", "version": 1, "json_schema": {"type": "object"}}


def test_rules_written_through_their_endpoint_are_one_entry_per_rule(api: Api) -> None:
    plan = ok(api.http.post(api.url("/tracking-plans"), json={"tracking_plan": {
        "external_id": "main", "display_name": "Main", "rules": [RULE]}}))  # fmt: skip
    name = plan["name"]
    rules = f"/v1beta/{name}/rules"
    changed = {**RULE, "json_schema": {"type": "object", "required": ["id"]}}
    ok(api.http.patch(rules, json={"rules": [changed, OTHER]}))
    ok(api.http.request("DELETE", rules, json={"rules": [{"type": "TRACK", "key": "Signed Up",
                                                          "version": 1}]}))  # fmt: skip
    ok(api.http.put(rules, json={"rules": [OTHER]}))  # the same rules: no entry
    trail = events(api, resource=name)
    assert [(e["method"], e["resource"]) for e in trail] == [
        ("PUT", f"{name}/rules"), ("DELETE", f"{name}/rules"), ("PATCH", f"{name}/rules"),
        ("POST", name)]  # fmt: skip
    track, identify = "tracking_plan.rules[TRACK 'Signed Up' v1]", "tracking_plan.rules[IDENTIFY v1]"
    assert trail[0]["changes"] == []
    assert trail[1]["changes"] == [{"path": track, "before": changed}]
    assert trail[2]["changes"] == [{"path": identify, "after": OTHER},
                                   {"path": track, "before": RULE, "after": changed}]
    assert {"path": track, "after": RULE} in trail[3]["changes"]


def test_the_resource_filter_selects_one_resources_history(api: Api) -> None:
    made = make_destination(api)
    name, web = made["name"], api.url("/sources/web")[8:]
    patch(api, "/sources/web", {"display_name": "Web"}, "source.display_name")
    ok(api.create_source("webx"))
    ok(api.http.post(api.url("/sources/webx/destinations"), json={"destination": {
        "name": api.url("/sources/webx/destinations/amp")[8:], "catalog": "amplitude"}}))
    assert [(e["method"], e["resource"]) for e in events(api, resource=web)] == [
        ("PATCH", web), ("POST", web)]  # not its destination's, nor a look-alike's
    assert [e["changes"] for e in events(api, resource=name)] == [CREATED]
    assert [e["resource"] for e in events(api, resource=name, kind="destination")] == [name]
    assert events(api, resource=name, kind="source") == []
    assert events(api, resource=api.url("/sources/gone")[8:]) == []
    page = ok(api.http.get(api.url("/audit-events"), params={"resource": web, "page_size": 1}))
    more = ok(api.http.get(api.url("/audit-events"), params={
        "resource": web, "page_token": page["next_page_token"]}))["audit_events"]  # fmt: skip
    assert [e["method"] for e in page["audit_events"] + more] == ["PATCH", "POST"]


@pytest.mark.parametrize("value", [
    "", "web", "sources/web", "workspaces/other/sources/web", "workspaces/{ws}/sources",
    "workspaces/{ws}/sources/web/", "workspaces/{ws}/sources//destinations/amp",
    "workspaces/{ws}/nothings/web", "workspaces/{ws}/tracking-plans/tp_1/rules",
    "workspaces/{ws}/sources/" + "w" * 520,
])  # fmt: skip
def test_a_bad_resource_filter_is_invalid_argument(api: Api, value: str) -> None:
    response = api.http.get(api.url("/audit-events"),
                            params={"resource": value.format(ws=api.workspace)})  # fmt: skip
    assert "resource must be the name of a resource" in error(response, 400, 3)


def test_an_apply_runs_view_carries_the_values(api: Api) -> None:
    run = ok(api.http.post(api.url("/applies"), json={"manager": "default"}), 201)["id"]
    made = make_destination(api, headers={"Seg-Apply": run})
    detail = ok(api.http.get(api.url(f"/applies/{run}")))
    [event] = [e for e in detail["changes"] if e["resource"] == made["name"]]
    assert event["changes"] == CREATED
    assert SECRETS[0] not in json.dumps(detail)
