"""Inputs that used to crash the control plane (500) get a 4xx with the API's error shape.

Each concrete case from issue 11 item 7 is its own test, on SQLite and PostgreSQL where the
value would reach the database; a property-based pass throws random JSON, path parameters,
page tokens and headers at every route of the app (enumerated from ``app.routes``, so a new
route is covered without editing this file) and asserts that nothing answers 5xx.
"""

from __future__ import annotations

import base64
import json
import re
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from fastapi.routing import APIRoute
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seg.server.app import create_app
from seg.server.inprocess import InProcessTransport
from seg.server.service import ControlPlane
from tests.conftest import Api, run_cli
from tests.e2e.processes import Server

DEEP = 5000
# Refused at the HTTP edge before any value reaches a database: one database is enough.
sqlite_only = pytest.mark.parametrize("store", ["sqlite"], indirect=True)


def _shape(response: httpx.Response, status: int, code: int | None = None) -> dict[str, Any]:
    """Assert the status and the API's error shape; returns the body."""
    assert response.status_code == status, (response.status_code, response.text)
    body: dict[str, Any] = response.json()
    assert set(body) == {"error", "code", "request_id"}, body
    assert isinstance(body["error"], str) and body["error"]
    if code is not None:
        assert body["code"] == code, body
    return body


def _raw(api: Api, method: str, path: str, content: str | bytes, **headers: str) -> httpx.Response:
    sent = {"content-type": "application/json", **headers}
    return api.http.request(method, api.url(path), content=content, headers=sent)


def _source_body(api: Api, slug: str, settings_json: str) -> str:
    """A javascript source whose object-typed setting (``consent_settings``, which takes any
    JSON object) holds ``settings_json``."""
    name = f"workspaces/{api.workspace}/sources/{slug}"
    settings = f'{{"consent_settings": {settings_json}}}'
    return f'{{"source": {{"name": "{name}", "catalog": "javascript", "settings": {settings}}}}}'


@pytest.fixture
def plan(api: Api) -> str:
    """A tracking plan with one rule; returns its rules URL path."""
    rule = {"type": "TRACK", "key": "Order Completed", "version": 1, "json_schema": {}}
    made = api.http.post(api.url("/tracking-plans"),
                         json={"tracking_plan": {"external_id": "shop", "rules": [rule]}})  # fmt: skip
    assert made.status_code == 200, made.text
    return f"/tracking-plans/{made.json()['name'].rsplit('/', 1)[1]}/rules"


# -- JSON that is not storable or not JSON at all ---------------------------------------------


def test_body_nested_thousands_deep_is_400(api: Api) -> None:
    deep = "[" * DEEP + "]" * DEEP
    for body in (deep, _source_body(api, "web", '{"k": ' + deep + "}")):
        assert "nested deeper" in _shape(_raw(api, "POST", "/sources", body), 400, 3)["error"]
    assert api.http.get(api.url("/sources/web")).status_code == 404


def test_settings_nested_past_the_cap_is_400_and_below_it_is_stored(api: Api) -> None:
    def nested(levels: int) -> str:
        return '{"k": ' * levels + "1" + "}" * levels

    too_deep = _raw(api, "POST", "/sources", _source_body(api, "deep", nested(70)))
    assert "nested deeper than 64" in _shape(too_deep, 400, 3)["error"]
    fine = _raw(api, "POST", "/sources", _source_body(api, "fine", nested(40)))
    assert fine.status_code == 200, fine.text


@sqlite_only
@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_infinity_are_not_json(api: Api, plan: str, constant: str) -> None:
    rule = f'{{"type": "TRACK", "key": "e", "version": {constant}, "json_schema": {{}}}}'
    body = _shape(_raw(api, "PATCH", plan, f'{{"rules": [{rule}]}}'), 400, 3)
    assert "not valid JSON" in body["error"] and constant.lstrip("-") in body["error"]
    settings_body = _source_body(api, "web", f'{{"ratio": {constant}}}')
    _shape(_raw(api, "POST", "/sources", settings_body), 400, 3)


@sqlite_only
def test_number_that_overflows_to_infinity_is_400(api: Api, plan: str) -> None:
    rule = '{"type": "TRACK", "key": "e", "version": 1e400, "json_schema": {}}'
    assert "out of range" in _shape(_raw(api, "PUT", plan, f'{{"rules": [{rule}]}}'), 400)["error"]
    _shape(_raw(api, "POST", "/sources", _source_body(api, "web", '{"x": -1e400}')), 400, 3)


def test_integers_outside_64_bits_are_400_and_the_edges_are_stored(api: Api, plan: str) -> None:
    for big in (2**63, -(2**63) - 1, 10**30):
        rule = f'{{"type": "TRACK", "key": "e", "version": {big}, "json_schema": {{}}}}'
        assert "64-bit" in _shape(_raw(api, "PATCH", plan, f'{{"rules": [{rule}]}}'), 400)["error"]
        _shape(_raw(api, "POST", "/sources", _source_body(api, "web", f'{{"n": {big}}}')), 400)
    edges = _source_body(api, "edges", f'{{"hi": {2**63 - 1}, "lo": {-(2**63)}}}')
    assert _raw(api, "POST", "/sources", edges).status_code == 200
    assert api.http.get(api.url("/sources/edges")).json()["settings"]["consent_settings"] == {
        "hi": 2**63 - 1, "lo": -(2**63)
    }  # fmt: skip


def test_unpaired_surrogate_in_a_body_is_400(api: Api) -> None:
    body = _source_body(api, "web", '{"x": "\\ud800"}')
    assert "surrogate" in _shape(_raw(api, "POST", "/sources", body), 400, 3)["error"]


# -- NUL anywhere a string enters ----------------------------------------------------------


def test_nul_in_body_values_and_keys_is_400(api: Api) -> None:
    cases = [
        ("PATCH", "", {"workspace": {"display_name": "a\x00b"},
                       "update_mask": {"paths": ["workspace.display_name"]}}),
        ("POST", "/lock", {"holder": "me\x00"}),
        ("POST", "/sources", json.loads(_source_body(api, "web", '{"k": "v\\u0000"}'))),
        ("POST", "/sources", json.loads(_source_body(api, "web", '{"k\\u0000": "v"}'))),
    ]  # fmt: skip
    for method, path, body in cases:
        response = api.http.request(method, api.url(path), json=body)
        assert "NUL" in _shape(response, 400, 3)["error"], (method, path)
    assert api.http.get(api.url("/lock")).status_code == 404
    assert api.http.get(api.url()).json()["display_name"] == api.workspace


def test_nul_in_path_parameters_is_400(api: Api) -> None:
    assert api.create_source("web").status_code == 200
    for method in ("GET", "PATCH", "DELETE"):
        response = api.http.request(method, api.url("/sources/we%00b"))
        _shape(response, 400, 3)
    _shape(api.http.get(f"/v1beta/workspaces/{api.workspace}%00/sources"), 400, 3)
    _shape(api.http.get(api.url("/access/a%00@example.com")), 400, 3)


def test_nul_in_query_parameters_is_400(api: Api) -> None:
    for path, params in (
        ("/sources", {"page_token": "a\x00"}),
        ("/sources", {"page_size": "1\x00"}),
        ("/audit-events", {"page_token": "\x00"}),
        ("/lock", {"id": "lk_\x00"}),
    ):
        method = "DELETE" if path == "/lock" else "GET"
        _shape(api.http.request(method, api.url(path), params=params), 400, 3)


def test_nul_in_a_header_value_is_400(api: Api) -> None:
    assert api.create_source("web").status_code == 200
    body = {"source": {"enabled": False}, "update_mask": {"paths": ["source.enabled"]}}
    patched = api.http.patch(api.url("/sources/web"), json=body, headers={"If-Match": "x\x00"})
    _shape(patched, 400, 3)
    assert api.http.get(api.url("/sources/web")).json()["enabled"] is True


# -- page tokens --------------------------------------------------------------------------


def _token(payload: Any) -> str:
    raw = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


CRAFTED_TOKENS = {
    "not base64": "!!!",
    "not json": _token(b"\xff\xfe"),
    "a list": _token(["a", "audit"]),
    "a string": _token("audit"),
    "wrong scope": _token({"a": "5", "s": "Source"}),
    "not a number": _token({"a": "abc", "s": "audit"}),
    "negative": _token({"a": "-1", "s": "audit"}),
    "zero": _token({"a": "0", "s": "audit"}),
    "past 32 bits": _token({"a": str(2**31), "s": "audit"}),
    "huge": _token({"a": "9" * 40, "s": "audit"}),
    "unicode digits": _token({"a": "١٢", "s": "audit"}),
    "a number": _token({"a": 5, "s": "audit"}),
    "nul": _token({"a": "1\x00", "s": "audit"}),
    "nested deep": _token(b"[" * DEEP + b"]" * DEEP),
}


def test_crafted_audit_page_tokens_are_400(api: Api) -> None:
    for case, token in CRAFTED_TOKENS.items():
        response = api.http.get(api.url("/audit-events"), params={"page_token": token})
        assert _shape(response, 400, 3)["error"] == "page_token is invalid", case


def test_a_real_audit_page_token_still_pages(api: Api) -> None:
    for slug in ("a", "b", "c"):
        assert api.create_source(slug).status_code == 200
    first = api.http.get(api.url("/audit-events"), params={"page_size": 2}).json()
    rest = api.http.get(api.url("/audit-events"),
                        params={"page_size": 2, "page_token": first["next_page_token"]})  # fmt: skip
    assert rest.status_code == 200 and rest.json()["audit_events"]


def test_crafted_resource_page_tokens_are_400(api: Api) -> None:
    for token in ("!!!", _token({"a": "x\x00", "s": "Source"}), _token({"a": 1, "s": "Source"})):
        _shape(api.http.get(api.url("/sources"), params={"page_token": token}), 400, 3)


# -- tracking-plan rules ------------------------------------------------------------------


@pytest.mark.parametrize(
    "rules",
    [["x"], [1], [None], [[]], [{"type": "TRACK", "key": "e", "version": "abc", "json_schema": {}}],
     [{"type": "TRACK", "key": "e", "version": 1.5, "json_schema": {}}]],
    ids=["string", "number", "null", "list", "version-abc", "version-float"],
)  # fmt: skip
def test_non_object_rules_are_400_and_change_nothing(api: Api, plan: str, rules: list[Any]) -> None:
    before = api.http.get(api.url(plan)).json()
    for method in ("PUT", "PATCH", "DELETE"):
        _shape(api.http.request(method, api.url(plan), json={"rules": rules}), 400, 3)
    assert api.http.get(api.url(plan)).json() == before


@pytest.mark.parametrize(
    "rule",
    [{"type": "BOGUS", "key": "e", "version": 1, "json_schema": {}},
     {"type": "TRACK", "key": "e", "version": -5, "json_schema": {}},
     {"type": "TRACK", "version": 1, "json_schema": {}},
     {"type": "PAGE", "key": "home", "version": 1, "json_schema": {}},
     {"type": "TRACK", "key": "e", "version": 1, "json_schema": {}, "extra": 1}],
    ids=["bogus-type", "negative-version", "track-without-key", "page-with-key", "extra-field"],
)  # fmt: skip
def test_rules_endpoint_validates_rules_as_the_tracking_plan_route_does(
    api: Api, plan: str, rule: dict[str, Any]
) -> None:
    before = api.http.get(api.url(plan)).json()
    for method in ("PUT", "PATCH"):
        via_rules = _shape(api.http.request(method, api.url(plan), json={"rules": [rule]}), 400)
        assert via_rules["error"].startswith("tracking_plan.rules[0]"), via_rules
    created = api.http.post(
        api.url("/tracking-plans"),
        json={"tracking_plan": {"external_id": "other", "rules": [rule]}},
    )
    assert _shape(created, 400)["error"] == via_rules["error"]  # one validation for both
    assert api.http.get(api.url(plan)).json() == before


def test_valid_rules_still_go_through_every_rules_method(api: Api, plan: str) -> None:
    rule = {"type": "IDENTIFY", "version": 2, "json_schema": {"type": "object"}}
    assert api.http.patch(api.url(plan), json={"rules": [rule]}).status_code == 200
    ident = {"type": "IDENTIFY", "key": None, "version": 2}
    left = api.http.request("DELETE", api.url(plan), json={"rules": [ident]})
    assert left.status_code == 200 and [r["type"] for r in left.json()["rules"]] == ["TRACK"]


# -- body shape -----------------------------------------------------------------------------


@pytest.mark.parametrize("body", [[1], "x", 3, None, {"workspace": "x"}, {"workspace": [1]}])
def test_workspace_patch_with_a_non_object_is_400(api: Api, body: Any) -> None:
    if isinstance(body, dict):
        body = {**body, "update_mask": {"paths": ["workspace.display_name"]}}
    _shape(_raw(api, "PATCH", "", json.dumps(body)), 400, 3)
    assert api.http.get(api.url()).json()["display_name"] == api.workspace


@sqlite_only
def test_unknown_top_level_keys_are_400_on_every_body_route(api: Api, plan: str) -> None:
    assert api.create_source("web").status_code == 200
    cases = [
        ("POST", "/sources", {"source": {"name": api.url("/sources/x")[7:]}}),
        ("PATCH", "/sources/web", {"update_mask": {"paths": []}}),
        ("PATCH", "", {"update_mask": {"paths": []}}),
        ("PUT", plan, {"rules": []}),
        ("POST", "/lock", {"holder": "me"}),
        ("PATCH", "/lock?id=lk_0", {"ttl_seconds": 5}),
    ]
    for method, path, body in cases:
        response = api.http.request(method, api.url(path), json={**body, "bogus_top_level": 42})
        assert "'bogus_top_level'" in _shape(response, 400, 3)["error"], (method, path)
    assert api.http.get(api.url("/lock")).status_code == 404
    assert api.http.get(api.url("/sources/x")).status_code == 404


@sqlite_only
@pytest.mark.parametrize("content_type", ["text/plain", "application/x-www-form-urlencoded", ""])
def test_a_body_that_is_not_declared_json_is_415(api: Api, content_type: str) -> None:
    body = _source_body(api, "web", "{}")
    response = _raw(api, "POST", "/sources", body, **{"content-type": content_type})
    _shape(response, 415, 3)
    assert api.http.get(api.url("/sources/web")).status_code == 404
    assert (
        _raw(
            api, "POST", "/sources", body, **{"content-type": "application/json; charset=utf-8"}
        ).status_code
        == 200
    )


@pytest.mark.parametrize("value", ["", "  ", '""'])
def test_an_empty_if_match_is_400(api: Api, value: str) -> None:
    assert api.create_source("web").status_code == 200
    body = {"source": {"enabled": False}, "update_mask": {"paths": ["source.enabled"]}}
    _shape(api.http.patch(api.url("/sources/web"), json=body, headers={"If-Match": value}), 400, 3)
    _shape(api.http.delete(api.url("/sources/web"), headers={"If-Match": value}), 400, 3)
    assert api.http.get(api.url("/sources/web")).json()["enabled"] is True


@sqlite_only
def test_405_carries_an_allow_header_naming_every_method_of_the_path(api: Api, plan: str) -> None:
    cases = {
        "/sources/web": {"GET", "PATCH", "DELETE"},
        "/sources": {"GET", "POST"},
        plan: {"GET", "PUT", "PATCH", "DELETE"},
        "/lock": {"GET", "POST", "PATCH", "DELETE"},
    }
    for path, methods in cases.items():
        response = api.http.request("PUT" if "PUT" not in methods else "POST", api.url(path))
        _shape(response, 405, 12)
        assert set(response.headers["allow"].split(", ")) - {"HEAD"} == methods, path


@sqlite_only
@pytest.mark.parametrize("body", [{}, {"holder": ""}, {"holder": "  "}, {"holder": 5},
                                  {"holder": "me", "host": ["x"]}])  # fmt: skip
def test_taking_the_lock_without_a_holder_is_400(api: Api, body: dict[str, Any]) -> None:
    _shape(api.http.post(api.url("/lock"), json=body), 400, 3)
    assert api.http.get(api.url("/lock")).status_code == 404


# -- names match whole ----------------------------------------------------------------------


def test_names_with_a_trailing_newline_are_refused_by_the_server(api: Api) -> None:
    ws = f"workspaces/{api.workspace}"
    cases = [
        ("/sources", {"source": {"name": f"{ws}/sources/web\n", "catalog": "javascript"}}),
        ("/labels", {"label": {"name": f"{ws}/labels/team:core\n"}}),
        ("/tracking-plans", {"tracking_plan": {"external_id": "shop\n", "rules": []}}),
    ]
    for path, body in cases:
        assert "must match" in _shape(api.http.post(api.url(path), json=body), 400, 3)["error"]
    assert api.http.get(api.url("/sources")).json()["sources"] == []
    label = {"label": {"name": f"{ws}/labels/{'a' * 63}:{'b' * 64}"}}
    _shape(api.http.post(api.url("/labels"), json=label), 400, 3)  # too long to store


def test_schema_patterns_match_whole_strings_on_the_server(api: Api) -> None:
    ws = f"workspaces/{api.workspace}"
    group = {"group": {"name": f"{ws}/groups/core", "members": ["a@example.com\n"]}}
    assert "does not match" in _shape(api.http.post(api.url("/groups"), json=group), 400)["error"]
    group["group"]["members"] = ["a@example.com"]
    assert api.http.post(api.url("/groups"), json=group).status_code == 200


def test_a_workspace_slug_with_a_trailing_newline_is_refused(cp: ControlPlane) -> None:
    with pytest.raises(Exception, match="must match"):
        cp.workspaces.init("acme\n")


def test_validate_refuses_a_name_with_a_trailing_newline(write_workspace: Any) -> None:
    root = write_workspace({"sources/web.yaml": 'kind: Source\nname: "web\\n"\n'
                                                "spec:\n  catalog: javascript\n"})  # fmt: skip
    result = run_cli("validate", "-w", str(root))
    assert result.exit_code == 1, result.output
    assert re.search(r"sources/web\.yaml:2:\d+", result.output), result.output
    assert "does not match" in result.output


def test_validate_refuses_pattern_fields_with_a_trailing_newline(write_workspace: Any) -> None:
    root = write_workspace({"sources/web.yaml": "kind: Source\nname: web\nspec:\n"
                            '  catalog: javascript\n  labels: {team: "core\\n"}\n'})  # fmt: skip
    result = run_cli("validate", "-w", str(root))
    assert result.exit_code == 1, result.output
    assert re.search(r"sources/web\.yaml:5:\d+: error: spec\.labels\.team: 'core\\n' does not "
                     r"match", result.output), result.output  # fmt: skip


def test_validate_refuses_a_workspace_slug_with_a_trailing_newline(write_workspace: Any) -> None:
    root = write_workspace({}, seg_yaml='version: seg/v1\nworkspace: "acme\\n"\n')
    result = run_cli("validate", "-w", str(root))
    assert result.exit_code == 1, result.output
    assert re.search(r"seg\.yaml:2:\d+", result.output) and "does not match" in result.output


# -- the body-size limit --------------------------------------------------------------------


def test_a_body_over_the_limit_is_413_and_under_it_is_served(cp: ControlPlane, slug: str) -> None:
    _, token = cp.workspaces.init(slug)
    transport = InProcessTransport(create_app(cp, max_body_bytes=2000))
    headers = {"Authorization": f"Bearer {token}"}
    with httpx.Client(transport=transport, base_url="http://e", headers=headers) as http:
        name = f"workspaces/{slug}/sources/web"
        big = {"source": {"name": name, "catalog": "javascript",
                          "settings": {"cookie_domain": "y" * 3000}}}  # fmt: skip
        body = _shape(http.post(f"/v1beta/workspaces/{slug}/sources", json=big), 413, 8)
        assert "2000 bytes" in body["error"]
        small = {"source": {"name": name, "catalog": "javascript",
                            "settings": {"cookie_domain": "y"}}}  # fmt: skip
        assert http.post(f"/v1beta/workspaces/{slug}/sources", json=small).status_code == 200
    transport.close()


@sqlite_only
def test_the_default_body_limit_is_a_few_megabytes(api: Api) -> None:
    big = _source_body(api, "web", json.dumps({"x": "y" * (5 * 1024 * 1024)}))
    assert "4194304 bytes" in _shape(_raw(api, "POST", "/sources", big), 413, 8)["error"]
    fine = _source_body(api, "web", json.dumps({"x": "y" * (3 * 1024 * 1024)}))
    assert _raw(api, "POST", "/sources", fine).status_code == 200


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    """One server for the socket tests (each leaves it as it found it)."""
    tmp = tmp_path_factory.mktemp("served")
    srv = Server(f"sqlite:///{tmp / 'cp.db'}", tmp, "sock", serve_args=("--max-body-bytes", "1000"))
    yield srv
    srv.stop()


def _request_head(srv: Server, slug: str, headers: str) -> bytes:
    return (f"POST /v1beta/workspaces/{slug}/sources HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            f"Authorization: Bearer {srv.token}\r\nContent-Type: application/json\r\n"
            f"{headers}\r\n").encode()  # fmt: skip


def _read_response(sock: socket.socket) -> bytes:
    sock.settimeout(10)
    data = b""
    while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
        chunk = sock.recv(65536)
        if not chunk:
            break
        data += chunk
    return data


def test_serve_answers_413_from_content_length_without_reading_the_body(
    served: Server,
) -> None:
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        sock.sendall(_request_head(served, "sock", "Content-Length: 50000000\r\n"))
        started = time.monotonic()
        reply = _read_response(sock)  # answered although not one body byte was sent
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert b'"code": 8' in reply and time.monotonic() - started < 10


def test_serve_answers_413_to_a_chunked_body_past_the_limit(
    served: Server,
) -> None:
    with socket.create_connection(("127.0.0.1", served.port)) as sock:
        sock.sendall(_request_head(served, "sock", "Transfer-Encoding: chunked\r\n"))
        chunk = b"[" * 600
        for _ in range(3):
            sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
        reply = _read_response(sock)
    assert reply.startswith(b"HTTP/1.1 413"), reply
    assert served.get("workspaces/sock")["name"] == "workspaces/sock"


def test_a_client_that_disconnects_mid_body_is_one_log_line(
    served: Server,
) -> None:
    seen = served.log_text().count("client disconnected")
    for _ in range(2):
        with socket.create_connection(("127.0.0.1", served.port)) as sock:
            sock.sendall(_request_head(served, "sock", "Content-Length: 900\r\n") + b'{"source": ')
            time.sleep(0.3)  # the server is waiting for the rest of the body
    deadline = time.monotonic() + 10
    while served.log_text().count("client disconnected") < seen + 2:
        assert time.monotonic() < deadline, served.log_text()
        time.sleep(0.1)
    log = served.log_text()
    assert log.count("client disconnected") == seen + 2, log
    assert "Traceback" not in log and "internal error" not in log and "Exception" not in log, log
    assert served.get("workspaces/sock")["name"] == "workspaces/sock"


# -- random inputs at every route -------------------------------------------------------------

JSON_SCALARS = (
    st.none() | st.booleans() | st.text(max_size=20)
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=True, allow_infinity=True)
)  # fmt: skip
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner,
                                                                max_size=4),
    max_leaves=12,
)  # fmt: skip
KEYS = st.sampled_from(["source", "destination", "filter", "tracking_plan", "workspace",
                        "update_mask", "rules", "holder", "ttl_seconds", "secret_paths",
                        "managed_paths", "protect", "manager", "name", "settings"])  # fmt: skip
PARAMS = st.sampled_from(["web", "amp", "-", "shop", "x"]) | st.text(max_size=12)
PAGE_TOKENS = (
    st.text(max_size=30)
    | st.builds(_token, JSON)
    | st.builds(
        lambda a, s: _token({"a": a, "s": s}), JSON, st.sampled_from(["audit", "Source", "Label"])
    )
)
HEADER_TEXT = st.text(st.characters(min_codepoint=0, max_codepoint=126), max_size=20)


def _bodies(key: str) -> st.SearchStrategy[Any]:
    """Random JSON, and objects shaped like the route's body (``key``: the route's resource key,
    e.g. ``source`` from ``create_source``; ``rules``; ``workspace``; ``lock``)."""
    keys = st.just(key) | KEYS
    return st.one_of(
        JSON,
        st.dictionaries(keys, JSON | st.lists(JSON, max_size=3), max_size=3),
        st.builds(lambda k, obj, paths: {k: obj, "update_mask": {"paths": paths}},
                  keys, st.dictionaries(KEYS | st.text(max_size=8), JSON, max_size=4),
                  st.lists(st.text(max_size=30) | st.just(f"{key}.settings.x"), max_size=3)),
    )  # fmt: skip


def _routes(api: Api) -> list[tuple[str, str, str]]:
    app = api.transport.app
    return sorted((route.path_format, method, route.name.split("_", 1)[-1]) for route in app.routes
                  if isinstance(route, APIRoute) for method in route.methods)  # fmt: skip


def _seed(api: Api) -> dict[str, str]:
    assert api.create_source("web").status_code == 200
    assert api.create_destination("web", "amp").status_code == 200
    made = api.http.post(api.url("/tracking-plans"),
                         json={"tracking_plan": {"external_id": "shop", "rules": []}})  # fmt: skip
    return {"read": api.token("workspace:read"), "write": api.token("workspace:write"),
            "owner": api.owner_token, "plan": made.json()["name"].rsplit("/", 1)[1]}  # fmt: skip


def _fill(path: str, data: st.DataObject, api: Api, plan: str) -> str:
    def value(match: re.Match[str]) -> str:  # mostly existing resources, sometimes anything
        if match.group(1) == "workspace":
            raw = data.draw(st.sampled_from([api.workspace] * 4) | PARAMS)
        elif match.group(1) == "tracking_plan":
            raw = data.draw(st.sampled_from([plan] * 3) | PARAMS)
        else:
            raw = data.draw(PARAMS)
        return quote(raw, safe="")

    return re.sub(r"\{(\w+)\}", value, path)


def _fuzz_every_route(api: Api, examples: int) -> None:
    seeded = _seed(api)
    routes = _routes(api)
    assert len(routes) > 50  # every kind's routes, the rules, lock, audit and workspace ones
    for route in sorted(routes, key=lambda r: r[1] == "DELETE"):  # deletes last: the others
        _route_check(api, seeded, route, examples)()  # meet the seeded resources


def _route_check(api: Api, seeded: dict[str, str], route: tuple[str, str, str],
                 examples: int) -> Any:  # fmt: skip
    path, method, key = route
    bodies = _bodies(key)

    @settings(max_examples=examples, deadline=None, database=None, derandomize=True,
              suppress_health_check=list(HealthCheck))  # fmt: skip
    @given(data=st.data())
    def check(data: st.DataObject) -> None:
        scope = data.draw(st.sampled_from(["read", "write", "owner", "owner"]))
        headers = {"Authorization": f"Bearer {seeded[scope]}", "content-type": "application/json"}
        if data.draw(st.booleans()):
            headers["If-Match"] = data.draw(HEADER_TEXT)
        params = data.draw(st.fixed_dictionaries({}, optional={
            "page_size": st.text(max_size=8) | st.integers().map(str),
            "page_token": PAGE_TOKENS, "id": st.text(max_size=30)}))  # fmt: skip
        body = json.dumps(data.draw(bodies))
        url = _fill(path, data, api, seeded["plan"])
        response = api.http.request(method, url, content=body, params=params, headers=headers)
        assert response.status_code < 500, (method, url, body, response.text)
        if response.status_code >= 400:
            assert set(response.json()) == {"error", "code", "request_id"}, response.text

    return check


def test_random_inputs_at_every_route_never_get_a_5xx_on_sqlite(tmp_path: Path, slug: str) -> None:
    from seg.store.sql import open_store

    store = open_store(f"sqlite:///{tmp_path / 'fuzz.db'}")
    api = Api(ControlPlane(store), slug)
    try:
        _fuzz_every_route(api, examples=8)
    finally:
        api.close()
        store.close()


@pytest.mark.postgres
def test_random_inputs_at_every_route_never_get_a_5xx_on_postgresql(
    pg_store: Any, slug: str
) -> None:
    api = Api(ControlPlane(pg_store), slug)
    try:
        _fuzz_every_route(api, examples=3)
    finally:
        api.close()
