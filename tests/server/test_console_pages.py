"""The web console's pages in process (SQLite and PostgreSQL): sign-in and its cookie, every
page a signed-in owner reaches, secrets shown as "set"/"not set", search and filters, the
lock released only by an owner, apply runs, a plan rendered, sign-out; and what a read or
user-bound token sees. The browser tests (tests/browser) drive the same pages in Chromium."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import pytest

from seg.web.session import COOKIE
from tests.conftest import Api
from tests.console_client import ORIGIN, Console, csrf

SECRET = "sk-console-SECRET-4242"


@pytest.fixture
def console(api: Api) -> Iterator[Console]:
    made = Console(api)
    yield made
    made.close()



def seed(api: Api) -> None:
    assert api.create_source("web", display_name="Web shop").status_code == 200
    assert api.create_source("payroll").status_code == 200
    made = api.http.post(api.url("/sources/web/destinations"), json={
        "destination": {"name": f"workspaces/{api.workspace}/sources/web/destinations/amp",
                        "catalog": "amplitude", "settings": {"api_key": SECRET, "region": "us"}},
        "secret_paths": ["destination.settings.api_key"], "manager": "default"})
    assert made.status_code == 200, made.text
    changed = api.http.patch(api.url("/sources/web/destinations/amp"), json={
        "destination": {"settings": {"api_key": SECRET, "region": "eu"}},
        "update_mask": {"paths": ["destination.settings.region"]}})
    assert changed.status_code == 200, changed.text


def test_sign_in_sets_a_signed_httponly_samesite_cookie_and_sign_out_ends_it(
        console: Console) -> None:
    client = console.browser()
    first = client.get(f"/console/w/{console.api.workspace}/resources")
    assert first.status_code == 303
    assert first.headers["location"].startswith("/console/sign-in?next=")
    bad = client.post("/console/sign-in", data={"token": "nope"}, headers={"Origin": ORIGIN})
    assert bad.status_code == 401 and COOKIE not in bad.headers.get("set-cookie", "")
    good = client.post("/console/sign-in", data={"token": console.api.owner_token},
                       headers={"Origin": ORIGIN})  # fmt: skip
    cookie = good.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert console.api.owner_token not in cookie  # the token stays on the server
    home = console.page(client, "")
    assert "workspace:owner" in home and "Change resources: yes" in home
    # the pages are never cached, framed, or given scripts from elsewhere
    answer = client.get(f"/console/w/{console.api.workspace}")
    assert answer.headers["cache-control"] == "no-store"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert "script-src 'self'" in answer.headers["content-security-policy"]
    out = client.post("/console/sign-out", data={"csrf": csrf(home)}, headers={"Origin": ORIGIN})
    assert out.status_code == 303 and out.headers["location"] == "/console/sign-in"
    assert client.get(f"/console/w/{console.api.workspace}").status_code == 303


def test_every_page_of_an_owner_and_secrets_never_shown(console: Console) -> None:
    api = console.api
    seed(api)
    client = console.signed_in(api.owner_token)
    pages = {path: console.page(client, path) for path in (
        "", "/resources", "/resources?kind=destination", "/r/destination/web/amp", "/r/source/web",
        "/audit", "/audit?kind=destination&since=2000-01-01T00:00", "/applies", "/lock",
        "/plan", "/graph", "/graph?focus=source%3Aweb")}  # fmt: skip
    for path, html in pages.items():
        assert SECRET not in html, path
    resource = pages["/r/destination/web/amp"]
    assert '&#34;api_key&#34;: &#34;set&#34;' in resource or '"api_key": "set"' in resource
    assert "destination.settings.region" in resource  # its history, field by field
    assert "&#34;us&#34;" in resource and "&#34;eu&#34;" in resource
    assert "web/amp" in pages["/r/source/web"]  # a child
    assert ">web/amp<" in pages["/resources?kind=destination"]
    assert ">web<" not in pages["/resources?kind=destination"]


def test_search_and_filters(console: Console) -> None:
    api = console.api
    seed(api)
    client = console.signed_in(api.owner_token)

    def listed(query: str) -> list[str]:
        html = console.page(client, f"/resources?{query}")
        return re.findall(r'/r/[a-z_]+/([^"]+)">', html)

    assert listed("q=pay") == ["payroll"]
    assert listed("q=WEB+SHOP") == ["web"]  # the display name, any case
    assert listed("source=web") == ["web", "web/amp"]
    assert listed("managed=yes") == ["web/amp"]
    assert sorted(listed("kind=source&managed=no")) == ["payroll", "web"]
    assert listed("kind=source&q=zzz") == []
    # htmx asks for the rows only
    rows = client.get(f"/console/w/{api.workspace}/resources?q=pay", headers={"HX-Request": "true"})
    assert rows.status_code == 200 and "<html" not in rows.text and "payroll" in rows.text
    assert console.page(client, "/resources?kind=nope", 400)


def test_the_lock_is_released_only_by_an_owner_after_confirming(console: Console) -> None:
    api = console.api
    writer = api.token("workspace:write", "ci")
    held = api.client(writer).post(api.url("/lock"), json={"holder": "seg apply (ci)",
                                                           "ttl_seconds": 600})  # fmt: skip
    assert held.status_code == 200, held.text
    reader = console.signed_in(writer)
    page = console.page(reader, "/lock")
    assert "seg apply (ci)" in page and "Release the lock" not in page
    refused = reader.post(f"/console/w/{api.workspace}/lock/release",
                          data={"csrf": csrf(page), "confirm": "release"},
                          headers={"Origin": ORIGIN})  # fmt: skip
    assert refused.status_code == 403
    owner = console.signed_in(api.owner_token)
    page = console.page(owner, "/lock")
    assert "Release the lock" in page
    unconfirmed = owner.post(f"/console/w/{api.workspace}/lock/release",
                             data={"csrf": csrf(page)}, headers={"Origin": ORIGIN})  # fmt: skip
    assert unconfirmed.status_code == 400
    assert api.http.get(api.url("/lock")).status_code == 200
    done = owner.post(f"/console/w/{api.workspace}/lock/release",
                      data={"csrf": csrf(page), "confirm": "release"},
                      headers={"Origin": ORIGIN})  # fmt: skip
    assert done.status_code == 303 and done.headers["location"].endswith("/lock?released=1")
    assert api.http.get(api.url("/lock")).status_code == 404
    events = api.http.get(api.url("/audit-events")).json()["audit_events"]
    assert events[0]["resource"].endswith("/lock") and "forced" in events[0]["paths"]
    assert events[0]["actor"]["token_id"] != writer  # the owner's session, audited as the owner


def test_apply_runs_and_their_changes(console: Console) -> None:
    api = console.api
    run = api.http.post(api.url("/applies"), json={"manager": "default",
                                                   "git_revision": "ab" * 20})  # fmt: skip
    run_id = run.json()["id"]
    made = api.http.post(api.url("/sources"), headers={"Seg-Apply": run_id}, json={
        "source": {"name": f"workspaces/{api.workspace}/sources/web", "catalog": "javascript"}})
    assert made.status_code == 200, made.text
    api.http.patch(api.url(f"/applies/{run_id}"), json={"status": "applied",
                                                        "counts": {"created": 1}})  # fmt: skip
    client = console.signed_in(api.owner_token)
    listing = console.page(client, "/applies")
    assert f"#{run_id}" in listing and "abababababab" in listing and "applied" in listing
    one = console.page(client, f"/applies/{run_id}")
    assert "1 created" in one and f"workspaces/{api.workspace}/sources/web" in one
    assert console.page(client, "/applies/999999", 404)
    assert console.page(client, "/applies/nope", 400)


def test_a_plan_renders_as_the_pull_request_comment(console: Console) -> None:
    from seg.engine.plan import Plan
    from seg.render.plan_json import plan_to_json
    from seg.render.plan_markdown import render_plan_markdown

    client = console.signed_in(console.api.owner_token)
    form = console.page(client, "/plan")
    plan = Plan("acme", (), resource_count=3)
    document = plan_to_json(plan)
    for text in (json.dumps(document), json.dumps({"type": "seg-saved-plan", "plan": document})):
        answer = client.post(f"/console/w/{console.api.workspace}/plan",
                             data={"csrf": csrf(form), "plan": text}, headers={"Origin": ORIGIN})
        assert answer.status_code == 200, answer.text
        assert "No changes (3 resources match)." in answer.text
        assert render_plan_markdown(plan).startswith("### seg plan for `acme`")
        assert "<h3>seg plan for <code>acme</code></h3>" in answer.text
    for bad, says in (("{", "not JSON"), ("[]", "not a plan"),
                      (json.dumps({"format_version": 99}), "format")):  # fmt: skip
        answer = client.post(f"/console/w/{console.api.workspace}/plan",
                             data={"csrf": csrf(form), "plan": bad}, headers={"Origin": ORIGIN})
        assert answer.status_code == 400 and says in answer.text


def test_a_read_token_and_a_user_token_see_what_they_may(console: Console) -> None:
    api = console.api
    seed(api)
    label = api.http.post(api.url("/labels"), json={"label": {
        "name": f"workspaces/{api.workspace}/labels/team:web"}})
    assert label.status_code == 200, label.text
    tagged = api.http.patch(api.url("/sources/web"), json={
        "source": {"labels": {"team": "web"}}, "update_mask": {"paths": ["source.labels"]}})
    assert tagged.status_code == 200, tagged.text
    binding = api.http.post(api.url("/role-bindings"), json={"role_binding": {
        "name": f"workspaces/{api.workspace}/role-bindings/sam", "subject": {"user": "sam@x.io"},
        "role": "source_read_only", "scope": {"labels": {"team": "web"}}}})
    assert binding.status_code == 200, binding.text
    reader = console.signed_in(api.token("workspace:read"))
    home = console.page(reader, "")
    assert "Change resources: no" in home and "payroll" in console.page(reader, "/resources")
    sam_token = api.cp.workspaces.create_token(api.workspace, "workspace:read", "sam",
                                               "sam@x.io")[1]  # fmt: skip
    sam = console.signed_in(sam_token)
    assert "source_read_only" in console.page(sam, "")
    for path in ("", "/resources", "/resources?q=payroll", "/resources?source=payroll",
                 "/audit", "/audit?kind=source", "/applies", "/graph", "/r/source/web",
                 "/r/destination/web/amp"):  # fmt: skip
        # (the search box echoes what was typed: that is the user's own text)
        assert "payroll" not in re.sub(r' value="[^"]*"', "", console.page(sam, path)), path
    assert "web/amp" in console.page(sam, "/resources")
    assert console.page(sam, "/r/source/payroll", 403)
    # a session is the token's: revoking the token ends it at the next request
    api.http.delete(api.url(f"/tokens/{api.cp.workspaces.authenticate(sam_token).token_id}"))
    assert sam.get(f"/console/w/{api.workspace}").status_code == 303
