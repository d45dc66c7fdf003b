"""The web console's pages in process (SQLite and PostgreSQL): sign-in and its cookie, every
page a signed-in owner reaches, secrets shown as "set"/"not set", search and filters, the
lock released only by an owner, apply runs, a plan rendered, sign-out; and what a read or
user-bound token sees. The browser tests (tests/browser) drive the same pages in Chromium."""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Iterator

import pytest

from seg.server.clock import ManualClock, iso
from seg.server.service import ControlPlane
from seg.store.sql import SqlStore
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


# --- what each page must show (each test below fails if its page loses it) -----------------


@pytest.fixture
def timed(store: SqlStore, slug: str) -> Iterator[tuple[Console, ManualClock]]:
    """A console on a control plane whose clock moves only when the test says."""
    clock = ManualClock()
    api = Api(ControlPlane(store, clock=clock), slug)
    made = Console(api)
    yield made, clock
    made.close()
    api.close()


def between(html: str, start: str, end: str) -> str:
    """The part of ``html`` from ``start`` to the next ``end``."""
    assert start in html, start
    tail = html.split(start, 1)[1]
    assert end in tail, end
    return tail.split(end, 1)[0]


def listed_refs(html: str, heading: str) -> list[tuple[str, str, str, str]]:
    """The (kind, link, address, field) items of a resource page's "Refers to" or "Referred to
    by" list."""
    section = between(html, f"<h3>{heading}</h3>", "</section>").split("<h3>", 1)[0]
    return re.findall(
        r'<li>(\w+) <a href="([^"]+)">([^<]+)</a> <small>\(([^)]*)\)</small></li>', section
    )


def test_a_resource_page_shows_its_manager_references_and_unset_secrets(console: Console) -> None:
    api = console.api
    ws = api.workspace
    label = api.http.post(
        api.url("/labels"), json={"label": {"name": f"workspaces/{ws}/labels/team:web"}}
    )
    assert label.status_code == 200, label.text
    made = api.http.post(
        api.url("/sources"),
        json={
            "source": {
                "name": f"workspaces/{ws}/sources/web",
                "catalog": "javascript",
                "labels": {"team": "web"},
            },
            "manager": "growth-team",
        },
    )
    assert made.status_code == 200, made.text
    made = api.http.post(
        api.url("/sources/web/destinations"),
        json={
            "destination": {
                "name": f"workspaces/{ws}/sources/web/destinations/amp",
                "catalog": "amplitude",
                "settings": {"api_key": SECRET, "region": "us"},
            },
            "secret_paths": ["destination.settings.api_key"],
        },
    )
    assert made.status_code == 200, made.text
    # A secret path without a value: the API drops such paths when it writes, so the record
    # is edited in the store (as a record written before that rule would be).
    name = f"workspaces/{ws}/sources/web/destinations/amp"
    with api.cp.store.tx() as tx:
        rec = tx.get_resource(name)
        assert rec is not None and rec.secret_paths == ["settings.api_key"]
        held = dataclasses.replace(rec, secret_paths=["settings.api_key", "settings.secret_key"])
        assert tx.update_resource(held, rec)
    client = console.signed_in(api.owner_token)

    source = console.page(client, "/r/source/web")
    assert between(source, "<dt>Manager</dt><dd>", "</dd>") == "growth-team"
    assert listed_refs(source, "Refers to") == [
        ("Label", f"/console/w/{ws}/r/label/team%3Aweb", "team:web", "labels.team")
    ]
    assert (
        "<h1>Label <code>team:web</code></h1>"
        in client.get(listed_refs(source, "Refers to")[0][1]).text
    )
    assert listed_refs(source, "Referred to by") == []
    label_page = console.page(client, "/r/label/team:web")
    assert between(label_page, "<dt>Manager</dt><dd>", "</dd>") == "not managed (made outside seg)"
    assert listed_refs(label_page, "Referred to by") == [
        ("Source", f"/console/w/{ws}/r/source/web", "web", "labels.team")
    ]
    assert (
        "<h1>Source <code>web</code></h1>"
        in client.get(listed_refs(label_page, "Referred to by")[0][1]).text
    )
    assert listed_refs(label_page, "Refers to") == []

    destination = console.page(client, "/r/destination/web/amp")
    rows = re.findall(
        r'<tr><th scope="row"><code>([^<]+)</code>( <span class="badge">secret'
        r"</span>)?</th><td><pre>([^<]*)</pre></td></tr>",
        destination,
    )
    shown = {name: (value, bool(badge)) for name, badge, value in rows}
    assert shown["settings.secret_key"] == ("not set", True)
    assert shown["settings"][1] and "&#34;api_key&#34;: &#34;set&#34;" in shown["settings"][0]
    assert SECRET not in destination


def event_rows(html: str) -> list[tuple[str, str, str]]:
    """The (time, actor's token id, resource) of each event row of a page."""
    return re.findall(
        r'<tr>\s*<td><time datetime="([^"]+)">[^<]*</time></td>\s*<td><span '
        r'title="token ([^"]+)">.*?</td>\s*<td>[^<]+</td>\s*<td>(?:<a href='
        r'"[^"]*">)?([^<]+)<',
        html,
        re.S,
    )


def test_the_audit_trail_filters_by_actor_and_time_range(
    timed: tuple[Console, ManualClock],
) -> None:
    console, clock = timed
    api = console.api
    early = f"workspaces/{api.workspace}/sources/early"
    late = f"workspaces/{api.workspace}/sources/late"
    assert api.create_source("early").status_code == 200  # by the owner
    middle = iso(clock.now() + 3600)[:16]  # as the form's datetime-local input sends it
    clock.advance(2 * 3600)
    writer = api.token("workspace:write", "ci writer")
    made = api.client(writer).post(
        api.url("/sources"), json={"source": {"name": late, "catalog": "javascript"}}
    )
    assert made.status_code == 200, made.text
    writer_id = api.cp.workspaces.authenticate(writer).token_id
    owner_id = api.cp.workspaces.authenticate(api.owner_token).token_id
    client = console.signed_in(api.owner_token)

    def shown(query: str) -> tuple[set[str], set[str], list[str]]:
        """The actors, resources and times of the events the filtered page lists."""
        rows = event_rows(console.page(client, f"/audit?{query}"))
        assert rows, query
        return {a for _, a, _ in rows}, {r for _, _, r in rows}, [t for t, _, _ in rows]

    actors, resources, _ = shown("")
    assert {owner_id, writer_id} <= actors and {early, late} <= resources
    actors, resources, _ = shown(f"actor={writer_id}")
    assert actors == {writer_id} and late in resources and early not in resources
    actors, resources, _ = shown(f"actor={owner_id}")
    assert actors == {owner_id} and early in resources and late not in resources
    _, resources, times = shown(f"since={middle}")
    assert all(t > middle for t in times) and late in resources and early not in resources
    _, resources, times = shown(f"until={middle}")
    assert all(t < middle for t in times) and early in resources and late not in resources
    # both filters at once (an RFC 3339 time works too), and the form shows what was asked
    page = console.page(client, f"/audit?since={middle}:00Z&actor={owner_id}")
    assert not event_rows(page) and "No events match." in page
    assert f'name="actor" value="{owner_id}"' in page


def older_link(html: str, text: str) -> str | None:
    """The href of a page's "Older …" link (unescaped), if it has one."""
    found = re.findall(rf'<a href="([^"]+)"[^>]*>{text}</a>', html)
    assert len(found) <= 1, found
    return found[0].replace("&amp;", "&") if found else None


def test_older_events_changes_and_runs_are_paged(
    console: Console, monkeypatch: pytest.MonkeyPatch
) -> None:
    from seg.web import routes

    for page in ("AUDIT_PAGE", "HISTORY_PAGE", "APPLY_PAGE"):
        monkeypatch.setattr(routes, page, "2")
    api = console.api
    runs = []

    def apply_run() -> None:
        run = api.http.post(api.url("/applies"), json={"manager": "default"})
        assert run.status_code == 201, run.text
        runs.append(run.json()["id"])
        done = api.http.patch(api.url(f"/applies/{runs[-1]}"), json={"status": "noop"})
        assert done.status_code == 200, done.text

    apply_run()  # events of another kind before and after the source's
    assert api.create_source("web").status_code == 200
    for name in ("One", "Two", "Three"):
        changed = api.http.patch(
            api.url("/sources/web"),
            json={
                "source": {"display_name": name},
                "update_mask": {"paths": ["source.display_name"]},
            },
        )
        assert changed.status_code == 200, changed.text
    apply_run()
    apply_run()
    client = console.signed_in(api.owner_token)

    def walk(path: str, link: str) -> list[str]:
        """The HTML of every page from ``path`` on, following its link to the next."""
        seen, url = [], console.url(path)
        while len(seen) < 20:
            answer = client.get(url)
            assert answer.status_code == 200, answer.text
            seen.append(answer.text)
            more = older_link(answer.text, link)
            if more is None:
                return seen
            assert more.startswith("?"), more  # the same page, further on
            url = url.split("?", 1)[0] + more
        raise AssertionError(f"{path}: no last page")

    # the whole audit trail, two events a page, newest first: as the API lists it
    listed = api.http.get(api.url("/audit-events"), params={"page_size": "100"}).json()
    expected = [(e["time"], e["actor"]["token_id"], e["resource"]) for e in listed["audit_events"]]
    assert len(expected) >= 7
    pages = walk("/audit", "Older events")
    assert len(pages) == (len(expected) + 1) // 2
    assert [row for p in pages for row in event_rows(p)] == expected
    # a filter is kept from page to page (kind: the source's four events)
    source = f"workspaces/{api.workspace}/sources/web"
    pages = walk("/audit?kind=source", "Older events")
    assert [[r for _, _, r in event_rows(p)] for p in pages] == [[source] * 2, [source] * 2]
    # htmx asks for the next rows only, with the link to the ones after them
    more = older_link(pages[0], "Older events")
    assert more is not None
    rows = client.get(console.url("/audit") + more, headers={"HX-Request": "true"})
    assert "<html" not in rows.text and len(event_rows(rows.text)) == 2
    # a resource's history: its four changes, newest first
    history = walk("/r/source/web", "Older changes")
    assert [len(event_rows(p)) for p in history] == [2, 2]
    assert [row for p in history for row in event_rows(p)] == [
        row for row in expected if row[2] == source
    ]
    # the apply runs, newest first
    listed = walk("/applies", "Older runs")
    assert [re.findall(r'/applies/(\d+)">#', p) for p in listed] == [runs[:0:-1], runs[:1]]


def test_an_apply_run_shows_its_plan_digest_and_failures(console: Console) -> None:
    api = console.api
    digest = "sha256:" + "4f" * 32
    started = api.http.post(api.url("/applies"), json={"manager": "default", "plan_digest": digest})
    assert started.status_code == 201, started.text
    run_id = started.json()["id"]
    failure = {"resource": "Destination web/amp", "error": "amplitude answered 401: bad key"}
    done = api.http.patch(
        api.url(f"/applies/{run_id}"),
        json={"status": "failed", "counts": {"failed": 1}, "failures": [failure]},
    )
    assert done.status_code == 200, done.text
    assert api.http.get(api.url(f"/applies/{run_id}")).json()["plan_digest"] == digest
    client = console.signed_in(api.owner_token)
    page = console.page(client, f"/applies/{run_id}")
    assert between(page, "<dt>Plan digest</dt><dd>", "</dd>") == f"<code>{digest}</code>"
    assert between(page, "<h2>Failures</h2>", "</ul>") == (
        "\n<ul><li><code>Destination web/amp</code>: amplitude answered 401: bad key</li>"
    )
    # a run given no digest, with no failures, says so
    other = api.http.post(api.url("/applies"), json={"manager": "default"}).json()["id"]
    page = console.page(client, f"/applies/{other}")
    assert between(page, "<dt>Plan digest</dt><dd>", "</dd>") == "not given"
    assert "<h2>Failures</h2>" not in page


def test_the_lock_page_shows_since_and_expiry(timed: tuple[Console, ManualClock]) -> None:
    console, clock = timed
    api = console.api
    taken = clock.iso()
    held = api.http.post(api.url("/lock"), json={"holder": "seg apply (ci)", "ttl_seconds": 600})
    assert held.status_code == 200, held.text
    clock.advance(125)
    status = api.http.get(api.url("/lock")).json()
    assert (status["acquired_at"], status["expires_in"]) == (taken, 475.0)
    client = console.signed_in(api.owner_token)
    facts = between(console.page(client, "/lock"), 'data-testid="lock">', "</dl>")
    assert between(facts, "<dt>Holder</dt><dd>", "</dd>") == "seg apply (ci)"
    assert between(facts, "<dt>Since</dt><dd>", "</dd>") == (
        f'<time datetime="{taken}">{taken}</time>'
    )
    assert between(facts, "<dt>Expires in</dt><dd>", "</dd>") == (
        "475.0 s (renewed while its apply runs)"
    )
