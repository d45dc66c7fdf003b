"""Holes an attacker's review found after the first round of fixes (issue 11), each kept here:
deep SQL and deep YAML that crashed seg and the server, page tokens that named hidden
resources, rule writes that ignored If-Match, references to resources a user may not read,
and an unbounded workspace display name. (Passwords in database URLs:
test_database_exposure.py.)"""

from __future__ import annotations

import base64
import json

import httpx
import pytest

from seg.workspace.yamlpos import MAX_DEPTH
from tests.conftest import Api, run_cli

DEEP_SQL = "SELECT " + "(" * 3000 + "1" + ")" * 3000 + " AS id FROM t"


# -- deep SQL --------------------------------------------------------------------------------


def test_a_deeply_nested_model_query_is_not_a_500(api: Api) -> None:
    assert api.create_source("wh", catalog="postgres").status_code == 200
    name = f"workspaces/{api.workspace}/sources/wh/models/m"
    body = {"model": {"name": name, "query": DEEP_SQL, "identifier_column": "id"}}
    response = api.http.post(api.url("/sources/wh/models"), json=body)
    # sqlglot cannot read it: the columns are unknown, which the strict policy accepts at create
    assert response.status_code == 200, response.text


@pytest.mark.parametrize("depth", [60, 3000])
def test_a_deeply_nested_query_file_is_no_internal_error(
    write_workspace, clean_seg_env: None, depth: int
) -> None:
    query = "SELECT " + "(" * depth + "1" + ")" * depth + " AS id FROM t"
    root = write_workspace({
        "warehouse.yaml": """
            kind: Source
            name: wh
            spec: {catalog: postgres}
            ---
            kind: Model
            name: users
            spec: {source: wh, query_file: q.sql, identifier_column: id}
        """,
        "q.sql": query,
    })  # fmt: skip
    for command in (["validate"], ["plan"]):
        result = run_cli(*command, "-w", str(root))
        assert "internal error" not in result.output, result.output
        assert result.exit_code == 0, result.output


# -- deep YAML -------------------------------------------------------------------------------


def _deep_settings(levels: int) -> str:
    return "kind: Source\nname: web\nspec:\n  catalog: javascript\n  settings: " + (
        "{a: " * levels + "1" + "}" * levels + "\n"
    )


@pytest.mark.parametrize("levels", [500, 900])
def test_yaml_nested_past_the_limit_is_one_error_with_its_position(
    write_workspace, clean_seg_env: None, levels: int
) -> None:
    root = write_workspace({"sources.yaml": _deep_settings(levels)})
    result = run_cli("validate", "-w", str(root))
    assert result.exit_code == 1, result.output
    assert f"nests deeper than {MAX_DEPTH} levels" in result.output
    assert "sources.yaml:5:" in result.output  # the line where the nesting passes the limit
    assert "internal error" not in result.output


def test_yaml_within_the_limit_still_loads(write_workspace, clean_seg_env: None) -> None:
    root = write_workspace({"sources.yaml": _deep_settings(MAX_DEPTH - 4)})
    assert run_cli("validate", "-w", str(root)).exit_code == 0


def test_a_deep_json_schema_file_is_one_error(write_workspace, clean_seg_env: None) -> None:
    schema: dict[str, object] = {"type": "object"}
    for _ in range(200):
        schema = {"type": "object", "properties": {"p": schema}}
    root = write_workspace({
        "plans.yaml": """
            kind: TrackingPlan
            name: shop
            spec:
              display_name: Shop
              rules:
                - {type: TRACK, key: Order Completed, version: 1, json_schema_file: deep.json}
        """,
        "deep.json": json.dumps(schema),
    })  # fmt: skip
    result = run_cli("validate", "-w", str(root))
    assert result.exit_code == 1 and "nests deeper than" in result.output, result.output
    assert "internal error" not in result.output


# -- page tokens and listing for user-bound tokens -------------------------------------------


def _decode(token: str) -> str:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4)).decode()


@pytest.fixture
def sam(api: Api) -> httpx.Client:
    """A user-bound owner-scope token whose user is source_admin of the team:mine sources."""
    ws = api.workspace
    assert api.http.post(api.url("/labels"), json={
        "label": {"name": f"workspaces/{ws}/labels/team:mine"}}).status_code == 200  # fmt: skip
    for hidden in ("aaa-secret-acquisition", "bbb-hidden", "zzz-hidden"):
        assert api.create_source(hidden).status_code == 200
        assert api.create_destination(hidden, "hidden-dest").status_code == 200
    for mine in ("mine-1", "mine-2", "mmm-mine-3"):
        assert api.create_source(mine, labels={"team": "mine"}).status_code == 200
        assert api.create_destination(mine, "dest").status_code == 200
    binding = {"name": f"workspaces/{ws}/role-bindings/b0", "subject": {"user": "sam@x.io"},
               "role": "source_admin", "scope": {"labels": {"team": "mine"}}}  # fmt: skip
    assert api.http.post(api.url("/role-bindings"), json={"role_binding": binding}).is_success
    return api.client(api.cp.create_token(ws, "workspace:owner", "sam", "sam@x.io")[1])


@pytest.mark.parametrize(("path", "key"), [
    ("/sources", "sources"),
    ("/sources/-/destinations", "destinations"),
])  # fmt: skip
def test_page_tokens_never_name_what_the_user_cannot_read(
    api: Api, sam: httpx.Client, path: str, key: str
) -> None:
    seen: list[str] = []
    token = ""
    for _ in range(20):
        page = sam.get(api.url(path), params={"page_size": 1, "page_token": token}).json()
        seen += [item["name"] for item in page[key]]
        token = page["next_page_token"]
        if token:
            assert "hidden" not in _decode(token) and "secret" not in _decode(token)
        if not token:
            break
    assert all("mine" in name for name in seen)
    assert len(seen) == 3  # every readable one, each once


def test_listing_under_a_source_the_user_cannot_read_is_403_whether_or_not_it_exists(
    api: Api, sam: httpx.Client
) -> None:
    for source in ("aaa-secret-acquisition", "no-such-source"):
        response = sam.get(api.url(f"/sources/{source}/destinations"))
        assert (response.status_code, response.json()["code"]) == (403, 7), response.text
    assert sam.get(api.url("/sources/mine-1/destinations")).status_code == 200


def test_a_user_cannot_attach_a_source_to_a_tracking_plan_they_cannot_read(
    api: Api, sam: httpx.Client
) -> None:
    made = api.http.post(api.url("/tracking-plans"),
                         json={"tracking_plan": {"external_id": "tp1", "display_name": "x"}})  # fmt: skip
    plan = made.json()["name"]
    body = {"source": {"tracking_plan": plan}, "update_mask": {"paths": ["source.tracking_plan"]}}
    response = sam.patch(api.url("/sources/mine-1"), json=body)
    assert (response.status_code, response.json()["code"]) == (403, 7), response.text
    assert not api.http.get(api.url("/sources/mine-1")).json().get("tracking_plan")
    # the owner may; and a user's edit that leaves the reference alone is not refused for it
    assert api.http.patch(api.url("/sources/mine-1"), json=body).status_code == 200
    rename = {"source": {"display_name": "Mine"}, "update_mask": {"paths": ["source.display_name"]}}
    assert sam.patch(api.url("/sources/mine-1"), json=rename).status_code == 200


# -- rules writes honour If-Match ------------------------------------------------------------


def test_rule_writes_honour_if_match(api: Api) -> None:
    rule = {"type": "TRACK", "key": "Order Completed", "version": 1, "json_schema": {}}
    made = api.http.post(api.url("/tracking-plans"),
                         json={"tracking_plan": {"external_id": "shop", "rules": [rule]}})  # fmt: skip
    plan_id = made.json()["name"].rsplit("/", 1)[1]
    rules = api.url(f"/tracking-plans/{plan_id}/rules")
    stale = api.http.put(rules, json={"rules": [rule]}, headers={"If-Match": '"not-the-etag"'})
    assert (stale.status_code, stale.json()["code"]) == (412, 10), stale.text
    empty = api.http.put(rules, json={"rules": [rule]}, headers={"If-Match": '""'})
    assert empty.status_code == 400, empty.text
    etag = api.http.get(api.url(f"/tracking-plans/{plan_id}")).json()["etag"]
    fresh = api.http.put(rules, json={"rules": []}, headers={"If-Match": f'"{etag}"'})
    assert fresh.status_code == 200 and fresh.json()["rules"] == [], fresh.text


# -- workspace settings are bounded ----------------------------------------------------------


def test_a_huge_workspace_display_name_is_400(api: Api) -> None:
    body = {"workspace": {"display_name": "x" * 3_000_000},
            "update_mask": {"paths": ["workspace.display_name"]}}  # fmt: skip
    response = api.http.patch(api.url(), json=body)
    assert (response.status_code, response.json()["code"]) == (400, 3)
    assert len(response.text) < 2000
    assert len(api.http.get(api.url()).json()["display_name"]) < 300
