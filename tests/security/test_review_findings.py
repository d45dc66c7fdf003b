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
from tests.helpers import WAREHOUSE_SETTINGS

DEEP_SQL = "SELECT " + "(" * 3000 + "1" + ")" * 3000 + " AS id FROM t"


# -- deep SQL --------------------------------------------------------------------------------


def test_a_deeply_nested_model_query_is_not_a_500(api: Api) -> None:
    made = api.create_source("wh", catalog="postgres", settings=WAREHOUSE_SETTINGS)
    assert made.status_code == 200
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
            spec: {catalog: postgres, settings: {host: db, database: analytics}}
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
    # the nesting goes inside an object-typed setting; ``levels`` counts from ``settings``
    return "kind: Source\nname: web\nspec:\n  catalog: javascript\n  settings: " + (
        "{consent_settings: " + "{a: " * (levels - 1) + "1" + "}" * levels + "\n"
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
    return api.client(api.cp.workspaces.create_token(ws, "workspace:owner", "sam", "sam@x.io")[1])


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


# -- second review: values from the environment in messages and summaries --------------------

MARK = "Zq9-UNIQUE-MARKER-7731"


def _cli(env: dict[str, str], *args: str) -> tuple[int, str]:
    from typer.testing import CliRunner

    from seg.commands.app import app

    done = CliRunner().invoke(app, list(args), env=env)
    return done.exit_code, done.stdout + done.stderr


def test_access_summaries_never_show_a_value_from_the_environment(
    write_workspace, clean_seg_env: None
) -> None:
    root = write_workspace({"iam.yaml": """
        kind: Group
        name: helpers
        spec:
          display_name: Helpers
          members: ["${env:MEMBER}@x.io"]
        ---
        kind: RoleBinding
        name: b
        spec:
          subject: {user: "${env:MEMBER}@b.io"}
          role: workspace_member
          scope: workspace
    """})  # fmt: skip
    env = {"MEMBER": MARK}
    for args in (["plan"], ["plan", "-o", "markdown"], ["plan", "-o", "json"],
                 ["apply", "--auto-approve"]):  # fmt: skip
        code, out = _cli(env, *args, "-w", str(root))
        assert code == 0, out
        assert MARK.lower() not in out.lower(), out
    code, out = _cli({"MEMBER": MARK + "-2"}, "apply", "--auto-approve", "-w", str(root))
    assert code == 0 and MARK.lower() not in out.lower(), out


@pytest.mark.parametrize("spec", [
    "kind: Source\nname: wh\nspec: {catalog: postgres, settings: {host: db, database: a}}\n"
    "---\nkind: Model\nname: m\n"
    "spec: {source: wh, query: 'select id from users', identifier_column: '${env:X}'}\n",
    "kind: Source\nname: wh\nspec: {catalog: postgres, settings: {host: db, database: a}}\n"
    "---\nkind: Model\nname: m\n"
    "spec: {source: wh, query_file: '${env:X}.sql', identifier_column: id}\n",
    "kind: Destination\nname: d\nspec: {source: '${env:X}', catalog: amplitude}\n",
    "kind: Source\nname: web\nspec: {catalog: javascript, labels: {team: '${env:X}'}}\n",
    "kind: Source\nname: web\nspec: {catalog: javascript, tracking_plan: '${env:X}'}\n",
    "kind: Source\nname: wh\nspec: {catalog: '${env:X}'}\n---\nkind: Model\nname: m\n"
    "spec: {source: wh, query: 'select 1 as id', identifier_column: id}\n",
], ids=["identifier-column", "query-file", "parent", "label", "tracking-plan", "catalog"])  # fmt: skip
def test_validate_errors_never_quote_a_value_from_the_environment(
    write_workspace, clean_seg_env: None, spec: str
) -> None:
    root = write_workspace({"r.yaml": spec})
    mark = "zq9-unique-marker-7731"  # lower case: it must pass the name patterns it reaches
    for args in (["validate"], ["plan", "-o", "markdown"]):
        code, out = _cli({"X": mark}, *args, "-w", str(root))
        assert code == 1, out
        assert mark not in out.lower(), out
        assert "the value from the environment" in out, out


def test_a_models_in_use_reason_never_shows_a_value_from_the_environment(
    write_workspace, clean_seg_env: None
) -> None:
    files = {"r.yaml": """
        kind: Source
        name: wh
        spec: {catalog: postgres, settings: {host: db, database: analytics}}
        ---
        kind: Destination
        name: braze
        spec: {source: wh, catalog: braze, enabled: true, settings: {api_key: braze-key}}
        ---
        kind: Model
        name: users
        spec: {source: wh, query: 'select * from users', identifier_column: ID_COLUMN}
        ---
        kind: Mapping
        name: m
        spec: {destination: wh/braze, action: updateUserProfile, enabled: true, model: users,
               schedule: {strategy: MANUAL}, fields: {email: email}}
    """}  # fmt: skip
    root = write_workspace({"r.yaml": files["r.yaml"].replace("ID_COLUMN", "id")})
    code, out = _cli({}, "apply", "--auto-approve", "-w", str(root))
    assert code == 0, out
    write_workspace({"r.yaml": files["r.yaml"].replace("ID_COLUMN", "'${env:X}'")}, root=root)
    for args in (["plan"], ["plan", "-o", "json"], ["plan", "-o", "markdown"]):
        code, out = _cli({"X": MARK}, *args, "-w", str(root))
        assert code == 3, out  # blocked: the model is in use
        assert MARK.lower() not in out.lower(), out


# -- second review: secrets:compare ----------------------------------------------------------


def test_compare_digest_covers_only_what_the_caller_may_read_and_what_exists(
    api: Api, sam: httpx.Client
) -> None:
    ws = api.workspace
    hidden = f"workspaces/{ws}/sources/aaa-secret-acquisition"
    missing = f"workspaces/{ws}/sources/not-yet-created"

    def digest(client: httpx.Client, resource: str, value: str) -> str:
        body = {"secrets": [{"resource": resource, "path": "settings.password", "value": value}]}
        response = client.post(api.url("/secrets:compare"), json=body)
        assert response.status_code == 200, response.text
        assert response.json()["matches"] == [False]
        return str(response.json()["digest"])

    # a value the server does not hold, or one the caller may not read, changes nothing
    assert digest(api.http, missing, "guess-1") == digest(api.http, missing, "guess-2")
    assert digest(sam, hidden, "guess-1") == digest(sam, hidden, "guess-2")


def test_compare_takes_one_guess_per_secret_per_request_and_audits_the_count(api: Api) -> None:
    vault = {**WAREHOUSE_SETTINGS, "password": "s3cret-value"}
    assert api.create_source("vault", catalog="postgres", settings=vault).status_code == 200
    resource = f"workspaces/{api.workspace}/sources/vault"
    twice = {"secrets": [{"resource": resource, "path": "settings.password", "value": v}
                         for v in ("a", "b")]}  # fmt: skip
    response = api.http.post(api.url("/secrets:compare"), json=twice)
    assert (response.status_code, response.json()["code"]) == (400, 3), response.text
    once = {"secrets": [{"resource": resource, "path": "settings.password", "value": "a"}]}
    assert api.http.post(api.url("/secrets:compare"), json=once).json()["matches"] == [False]
    events = api.http.get(api.url("/audit-events")).json()["audit_events"]
    assert events[0]["resource"].endswith("/secrets:compare")
    assert events[0]["paths"] == [resource, "values:1"]


def test_credential_keys_holding_lists_or_maps_are_secret_at_every_leaf(api: Api) -> None:
    """Without a settings schema seg guesses secrets from key names. No built-in entry lacks a
    schema, so the workspace imports a private free-form source entry first."""
    document = {"format_version": 1,
                "entries": [{"id": "legacy-free", "section": "source", "settings": None}]}
    imported = api.http.post("/v1beta/catalog:import", json=document)
    assert imported.status_code == 200, imported.text
    settings = {"api_key": ["Zq9LISTKEY"], "password": {"value": "Zq9MAPPASS"},
                "credentials": {"pass": "Zq9CREDS"}, "token": ["Zq9TOK1"], "region": "eu"}  # fmt: skip
    made = api.create_source("web", catalog="legacy-free", settings=settings)
    assert made.status_code == 200, made.text
    reader = api.client(api.token("workspace:read"))
    for response in (reader.get(api.url("/sources/web")), reader.get(api.url("/sources"))):
        assert "Zq9" not in response.text, response.text
    got = reader.get(api.url("/sources/web")).json()["settings"]
    assert got["region"] == "eu" and got["api_key"][0].startswith("secret:hmac:")
