"""Attacks on the web console (``seg.web``): as an outsider without a token, as the holder of a
read or user-bound token, as a writer of hostile names and values, and as someone who gets a
victim to paste a plan or follow a link. Each test asserts the safe behaviour: the attacks
the console defended from the start stay defended, and those the review found (docstrings
marked "Found in review") stay fixed."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from urllib.parse import quote, urljoin, urlsplit

import httpx
import pytest

from seg.server.auth import hash_token
from seg.server.clock import ManualClock
from seg.server.service import ControlPlane
from seg.store.sql import SqlStore
from seg.web import session as session_module
from seg.web.session import COOKIE, LINK_SECONDS, MAX_AGE_SECONDS, Sessions
from tests.conftest import Api
from tests.console_client import ORIGIN, Console, csrf, signed_out

SECRET = "sk-console-ATTACK-7731"
XSS = '"><img src=x onerror=alert(1)><script>alert(2)</script>'
RAW = ("<img src=x", "<script>alert", "onerror=alert(1)>")


@pytest.fixture
def console(api: Api) -> Iterator[Console]:
    made = Console(api)
    yield made
    made.close()




def plan_document(**fields: object) -> dict:
    from seg.engine.plan import Plan
    from seg.render.plan_json import plan_to_json

    document = plan_to_json(Plan("acme", (), resource_count=1))
    change = {"address": "web", "kind": "Source", "action": "delete",
              "before": {"display_name": "x"}, "after": None, "update_mask": [],
              "reason": None, "etag": None, "unmanaged_fields": 0, "access_change": False,
              "notices": [], "included_by": [], "not_compared": [], "adopt": False,
              "field_changes": [{"path": "display_name", "before": "x", "after": None,
                                 "sensitive": False, "cleared": True}]}  # fmt: skip
    document["changes"] = [change]
    document["summary"]["destroy"] = 1
    document.update(fields)
    return document


def post_plan(console: Console, client: httpx.Client, text: str) -> httpx.Response:
    form = client.get(console.url("/plan")).text
    return client.post(console.url("/plan"), data={"csrf": csrf(form), "plan": text},
                       headers={"Origin": ORIGIN})  # fmt: skip


# --- CSRF and login CSRF ---------------------------------------------------------------------

FOREIGN = [
    {},  # no Origin, no Referer
    {"Origin": "https://evil.example"},
    {"Origin": "null"},
    {"Origin": ORIGIN + ".evil.example"},
    {"Origin": "https://127.0.0.1:8400"},  # another scheme is another origin
    {"Referer": "https://evil.example/console/"},
    {"Referer": ORIGIN + ".evil.example/console/"},
    {"Referer": ORIGIN + "@evil.example/console/"},
    {"Referer": ORIGIN},  # no path: still the site itself (allowed below only with csrf)
]


def test_login_csrf_from_another_site_is_refused(console: Console) -> None:
    """An attacker's page cannot sign the victim's browser in with the attacker's token (the
    victim would then act in, and type secrets into, the attacker's session)."""
    client = console.browser()
    for headers in FOREIGN[:-1]:
        answer = client.post("/console/sign-in", data={"token": console.api.owner_token},
                             headers=headers)  # fmt: skip
        assert answer.status_code == 403, (headers, answer.status_code)
        assert COOKIE not in answer.headers.get("set-cookie", ""), headers


def test_every_write_needs_the_session_csrf_and_the_sites_origin(console: Console) -> None:
    api = console.api
    holder = api.token("workspace:write", "ci")
    assert api.client(holder).post(api.url("/lock"), json={
        "holder": "seg apply (ci)", "ttl_seconds": 600}).status_code == 200
    victim = console.signed_in(api.owner_token)
    other = console.signed_in(api.owner_token)
    token = csrf(victim.get(console.url("/lock")).text)
    foreign_token = csrf(other.get(console.url("/lock")).text)
    assert token != foreign_token
    release = console.url("/lock/release")
    for data in ({"confirm": "release"}, {"csrf": "", "confirm": "release"},
                 {"csrf": token[:-1] + ("A" if token[-1] != "A" else "B"), "confirm": "release"},
                 {"csrf": foreign_token, "confirm": "release"}):  # fmt: skip
        answer = victim.post(release, data=data, headers={"Origin": ORIGIN})
        assert answer.status_code == 400, data
    for headers in FOREIGN[:-1]:
        answer = victim.post(release, data={"csrf": token, "confirm": "release"},
                             headers=headers)  # fmt: skip
        assert answer.status_code == 400, headers
        plan = victim.post(console.url("/plan"), data={"csrf": token, "plan": "{}"},
                           headers=headers)  # fmt: skip
        assert plan.status_code == 400 and "stale" in plan.text, headers
        out = victim.post("/console/sign-out", data={"csrf": token}, headers=headers)
        assert out.status_code == 403, headers
    # a JSON or multipart body is not a form (no CORS-free content type smuggles one in)
    for kwargs in ({"json": {"csrf": token, "confirm": "release"}},
                   {"files": {"csrf": (None, token), "confirm": (None, "release")}}):  # fmt: skip
        answer = victim.post(release, headers={"Origin": ORIGIN}, **kwargs)  # type: ignore[arg-type]
        assert answer.status_code == 400
    assert api.http.get(api.url("/lock")).status_code == 200  # still held
    assert victim.get(console.url("")).status_code == 200  # still signed in
    done = victim.post(release, data={"csrf": token, "confirm": "release"},
                       headers={"Referer": ORIGIN + "/console/w/x/lock"})  # fmt: skip
    assert done.status_code == 303


def test_sign_out_from_another_site_is_refused_even_without_a_session(console: Console) -> None:
    """Found in review (low): a cross-site form POST to /console/sign-out carries no cookie
    (SameSite=Lax), so ``sign_out`` finds no session, skips the Origin check and answers with
    a Set-Cookie that deletes the victim's cookie: any page can sign the victim out (logout
    CSRF), and the server-side session lives on."""
    client = console.browser()
    answer = client.post("/console/sign-out", data={},
                         headers={"Origin": "https://evil.example"})  # fmt: skip
    assert answer.status_code in (400, 403)
    assert COOKIE not in answer.headers.get("set-cookie", "")


# --- redirects, cookies, sessions and links --------------------------------------------------

NEXT = ["//evil.example", "/\\evil.example", "/console//evil.example", "/console/\\evil.example",
        "https://evil.example/console/", "/console/%2F%2Fevil.example",
        "/console/..//evil.example", "/console/\t/\\evil.example", "/console/../../evil",
        "/console/%5C%5Cevil.example", "/console/\r\nSet-Cookie: x=1", "/console/@evil.example",
        "http:/console/", " /console/", "/console"]  # fmt: skip


def test_next_never_leaves_the_site(console: Console) -> None:
    client = console.browser()
    for target in NEXT:
        form = client.get("/console/sign-in", params={"next": target})
        assert form.status_code == 200
        assert not any(raw in form.text for raw in RAW)
        answer = client.post("/console/sign-in", headers={"Origin": ORIGIN},
                             data={"token": console.api.owner_token, "next": target})  # fmt: skip
        assert answer.status_code == 303, target
        location = answer.headers["location"]
        assert "\r" not in location and "\n" not in location
        resolved = urlsplit(urljoin(ORIGIN + "/console/sign-in", location))
        assert resolved.netloc == "127.0.0.1:8400", (target, location)
        assert "\\" not in location and "//" not in location, (target, location)


def test_forged_replayed_and_foreign_cookies_are_refused(console: Console, api: Api) -> None:
    client = console.signed_in(api.owner_token)
    good = client.cookies[COOKIE]
    sid, _, sig = good.partition(".")
    elsewhere = Sessions()  # another process (or the server before a restart)
    theirs = elsewhere.cookie_value(elsewhere.create("tok_x", "hash"))
    flipped = sig[:-1] + ("0" if sig[-1] != "0" else "1")
    other_sid = sid[:-1] + ("A" if sid[-1] != "A" else "B")  # never the same id by chance
    for forged in (sid, f"{sid}.", f"{sid}.{flipped}", f"{sid}.{sig.upper()}", f"{sid}.{sig}.x",
                   f".{sig}", theirs, "x" * 5000, "a.b", f"{other_sid}.{sig}"):  # fmt: skip
        browser = console.browser()
        browser.cookies.set(COOKIE, forged, domain="127.0.0.1", path="/console")
        assert signed_out(browser.get(console.url(""))), forged
    # sign-out ends the session on the server: replaying its cookie is refused
    home = client.get(console.url("")).text
    assert client.post("/console/sign-out", data={"csrf": csrf(home)},
                       headers={"Origin": ORIGIN}).status_code == 303  # fmt: skip
    replay = console.browser()
    replay.cookies.set(COOKIE, good, domain="127.0.0.1", path="/console")
    assert signed_out(replay.get(console.url("")))


def test_cookie_flags_over_http_and_https(console: Console, api: Api) -> None:
    for base in (ORIGIN, "https://127.0.0.1:8400"):
        client = console.browser(base)
        answer = client.post("/console/sign-in", data={"token": api.owner_token},
                             headers={"Origin": base})  # fmt: skip
        assert answer.status_code == 303, base
        cookie = answer.headers["set-cookie"]
        assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
        assert ("Secure" in cookie) == base.startswith("https"), cookie
        assert api.owner_token not in cookie


def test_one_time_links_expire_and_are_used_once(api: Api) -> None:
    now = [1000.0]
    console = Console(api, lambda: now[0])
    try:
        token_id = api.cp.workspaces.authenticate(api.owner_token).token_id
        code = console.sessions.issue_link(token_id, hash_token(api.owner_token))
        first = console.browser().get("/console/sign-in/link", params={"code": code})
        assert first.status_code == 303 and COOKIE in first.headers["set-cookie"]
        again = console.browser().get("/console/sign-in/link", params={"code": code})
        assert again.status_code == 401 and COOKIE not in again.headers.get("set-cookie", "")
        late = console.sessions.issue_link(token_id, hash_token(api.owner_token))
        now[0] += LINK_SECONDS + 1
        assert console.browser().get("/console/sign-in/link",
                                     params={"code": late}).status_code == 401  # fmt: skip
        for guess in ("", "x", code[:-1], "%00", "a" * 300):
            answer = console.browser().get("/console/sign-in/link", params={"code": guess})
            assert answer.status_code == 401 and COOKIE not in answer.headers.get("set-cookie", "")
    finally:
        console.transport.close()


def test_sessions_end_when_idle_or_old(api: Api) -> None:
    now = [1000.0]
    console = Console(api, lambda: now[0])
    try:
        client = console.signed_in(api.owner_token)
        for _ in range(5):  # kept alive by use, but not past its maximum age
            now[0] += MAX_AGE_SECONDS / 5 - 1
            assert client.get(console.url("")).status_code == 200
        now[0] += 10
        assert signed_out(client.get(console.url("")))
        idle = console.signed_in(api.owner_token)
        now[0] += session_module.IDLE_SECONDS + 1
        assert signed_out(idle.get(console.url("")))
    finally:
        console.transport.close()


def test_a_revoked_token_ends_its_session(console: Console, api: Api) -> None:
    token_id, secret = api.cp.workspaces.create_token(api.workspace, "workspace:read", "r")
    client = console.signed_in(secret)
    assert client.get(console.url("")).status_code == 200
    assert api.http.delete(api.url(f"/tokens/{token_id}")).status_code in (200, 204)
    assert signed_out(client.get(console.url("")))
    assert signed_out(client.get(console.url("")))  # and stays ended


def test_an_expired_token_ends_its_session(store: SqlStore, slug: str) -> None:
    clock = ManualClock()
    api = Api(ControlPlane(store, clock=clock), slug)
    console = Console(api)
    try:
        made = api.http.post(api.url("/tokens"), json={"token": {
            "description": "short", "scope": "workspace:read", "expires_in_seconds": 60}})
        assert made.status_code == 200, made.text
        client = console.signed_in(made.json()["secret"])
        assert client.get(console.url("")).status_code == 200
        clock.advance(61)
        assert signed_out(client.get(console.url("")))
    finally:
        console.transport.close()
        api.close()


def test_rotating_a_token_ends_the_sessions_signed_in_with_its_old_secret(
        console: Console, api: Api) -> None:  # fmt: skip
    """Found in review (medium): a session keeps only the token's *id*, and ``rotate`` keeps the id
    (a new secret; "the old one stops working at once"). Someone who signed in to the console
    with a leaked secret keeps reading after the owner rotates the token to cut them off —
    until the session's 24 hours run out."""
    token_id, leaked = api.cp.workspaces.create_token(api.workspace, "workspace:read", "ci")
    thief = console.signed_in(leaked)
    assert thief.get(console.url("/resources")).status_code == 200
    rotated = api.http.post(api.url(f"/tokens/{token_id}:rotate"))
    assert rotated.status_code == 200, rotated.text
    assert api.client(leaked).get(api.url("/sources")).status_code == 401  # the API: cut off
    assert signed_out(thief.get(console.url("/resources")))  # the console: should be too


def test_signing_in_many_times_does_not_sign_others_out(console: Console, api: Api,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Found in review: the session store was one LRU of ``MAX_SESSIONS`` for every token, so
    anyone holding any token who signed in that many times evicted every other user's session.
    Now a token's sign-ins past ``MAX_PER_TOKEN`` end only its own oldest sessions, and a full
    store refuses new sign-ins (503) instead of signing anyone out. (Caps lowered here.)"""
    monkeypatch.setattr(session_module, "MAX_SESSIONS", 5)
    monkeypatch.setattr(session_module, "MAX_PER_TOKEN", 3)
    owner = console.signed_in(api.owner_token)
    reader = api.token("workspace:read", "reader")
    readers = [console.signed_in(reader) for _ in range(6)]
    assert owner.get(console.url("")).status_code == 200
    assert signed_out(readers[0].get(console.url("")))  # the reader's own oldest went first
    assert readers[-1].get(console.url("")).status_code == 200
    others = [api.token("workspace:read", f"r{i}") for i in range(2)]
    console.signed_in(others[0])  # 1 owner + 3 reader + 1 = the store is full
    full = console.browser().post("/console/sign-in", data={"token": others[1]},
                                  headers={"Origin": ORIGIN})  # fmt: skip
    assert full.status_code == 503 and COOKIE not in full.headers.get("set-cookie", "")
    assert owner.get(console.url("")).status_code == 200


# --- hostile names and values ----------------------------------------------------------------


def _seed_hostile(api: Api) -> str:
    """Resources, audit values, an apply run and a lock holding ``XSS``; the run's id."""
    assert api.create_source("web", display_name=XSS).status_code == 200
    made = api.http.post(api.url("/sources/web/destinations"), json={
        "destination": {"name": f"workspaces/{api.workspace}/sources/web/destinations/amp",
                        "catalog": "amplitude", "display_name": XSS,
                        "settings": {"api_key": SECRET, "region": "us"}},
        "secret_paths": ["destination.settings.api_key"], "manager": "default"})
    assert made.status_code == 200, made.text
    changed = api.http.patch(api.url("/sources/web"), json={
        "source": {"display_name": XSS + "2"}, "update_mask": {"paths": ["source.display_name"]}})
    assert changed.status_code == 200, changed.text
    ws = api.http.patch(api.url(""), json={"workspace": {"display_name": XSS},
                                           "update_mask": {"paths": ["display_name"]}})  # fmt: skip
    assert ws.status_code in (200, 400), ws.text
    writer = api.client(api.cp.workspaces.create_token(api.workspace, "workspace:write", XSS)[1])
    run = writer.post(api.url("/applies"), json={"manager": "default", "environment": "prod"})
    assert run.status_code in (200, 201), run.text
    run_id = run.json()["id"]
    done = writer.patch(api.url(f"/applies/{run_id}"), json={
        "status": "failed", "counts": {"failed": 1},
        "failures": [{"resource": f"workspaces/{api.workspace}/sources/web", "error": XSS}]})
    assert done.status_code == 200, done.text
    held = writer.post(api.url("/lock"), json={"holder": XSS, "host": XSS, "plan": XSS,
                                               "ci_run": XSS, "ttl_seconds": 600})  # fmt: skip
    assert held.status_code == 200, held.text
    return str(run_id)


def test_hostile_names_and_values_are_escaped_on_every_page(console: Console, api: Api) -> None:
    run_id = _seed_hostile(api)
    client = console.signed_in(api.owner_token)
    paths = ["", "/resources", "/resources?q=img", "/r/source/web", "/r/destination/web/amp",
             "/audit", "/applies", f"/applies/{run_id}", "/lock", "/graph",
             "/graph?focus=source%3Aweb", "/plan"]  # fmt: skip
    shown = 0
    for path in paths:
        answer = client.get(console.url(path))
        assert answer.status_code == 200, (path, answer.text)
        for raw in RAW:
            assert raw not in answer.text, (path, raw)
        shown += answer.text.count("&lt;img src=x")
        assert SECRET not in answer.text, path
    rows = client.get(console.url("/resources?q=img"), headers={"HX-Request": "true"})
    assert not any(raw in rows.text for raw in RAW)
    assert shown > 10  # the values were on the pages, escaped
    assert not any(raw in client.get("/console/workspaces").text for raw in RAW)


def test_echoed_query_parameters_are_escaped(console: Console, api: Api) -> None:
    assert api.create_source("web").status_code == 200
    client = console.signed_in(api.owner_token)
    for path in ("/resources", "/audit", "/graph"):
        for name in ("q", "kind", "source", "label", "focus", "actor", "since", "until",
                     "managed", "page_token"):  # fmt: skip
            answer = client.get(console.url(path), params={name: XSS})
            assert answer.status_code in (200, 400, 404), (path, name, answer.status_code)
            assert not any(raw in answer.text for raw in RAW), (path, name)
    answer = client.get(console.url("/r/" + quote(XSS, safe="") + "/x"))
    assert answer.status_code == 404 and not any(raw in answer.text for raw in RAW)
    answer = client.get(f"/console/w/{quote(XSS, safe='')}/resources")
    assert answer.status_code == 404 and not any(raw in answer.text for raw in RAW)


def test_graph_labels_are_escaped_in_svg_and_mermaid(console: Console, api: Api) -> None:
    label = api.http.post(api.url("/labels"), json={"label": {
        "name": f"workspaces/{api.workspace}/labels/team:web"}})
    assert label.status_code == 200, label.text
    assert api.create_source("web", labels={"team": "web"}).status_code == 200
    client = console.signed_in(api.owner_token)
    page = client.get(console.url("/graph")).text
    svg = re.search(r'<div class="graph">(.*?)</div>', page, re.S)
    assert svg is not None
    assert not re.search(r"<(script|foreignObject|a |image|use )|\son\w+=|href=", svg.group(1))


# --- the plan page ---------------------------------------------------------------------------


def test_a_hostile_plan_renders_without_markup_that_acts(console: Console, api: Api) -> None:
    from html.parser import HTMLParser

    client = console.signed_in(api.owner_token)
    change = plan_document()["changes"][0]
    change.update(address="web" + XSS, reason=XSS, included_by=[XSS], notices=[XSS],
                  before={"display_name": XSS, XSS: XSS})  # fmt: skip
    change["field_changes"][0]["before"] = XSS + "[x](javascript:alert(3)) ![i](//e/x.png)"
    document = plan_document(changes=[change], not_managed=[{"kind": "Source", "address": XSS}],
                             not_compared=[{"address": XSS, "path": XSS}])  # fmt: skip
    answer = post_plan(console, client, json.dumps(document))
    assert answer.status_code == 200, answer.text
    rendered = re.search(r'data-testid="rendered-plan">(.*?)</div>\s*<details><summary>The comm',
                         answer.text, re.S)  # fmt: skip
    assert rendered is not None

    class Tags(HTMLParser):
        found: list[tuple[str, list]] = []

        def handle_starttag(self, tag: str, attrs: list) -> None:
            self.found.append((tag, attrs))

    parser = Tags()
    parser.feed(rendered.group(1))
    tags = {tag for tag, _ in parser.found}
    assert tags <= {"details", "summary", "code", "pre", "i", "em", "strong", "b", "p", "ul",
                    "ol", "li", "table", "thead", "tbody", "tr", "th", "td", "h3", "h4", "br",
                    "hr", "blockquote"}, tags  # fmt: skip
    for tag, attrs in parser.found:
        for name, value in attrs:
            assert (tag, name) in {("details", "open"), ("code", "class")}, (tag, name, value)


def test_a_pasted_plan_cannot_inject_markup_that_hides_its_changes(
        console: Console, api: Api) -> None:  # fmt: skip
    """Found in review (low): ``render_plan_markdown`` puts the plan's ``workspace`` in a code span
    without escaping backticks, and ``targets`` (``summary_line``) raw into the markdown, which
    is rendered with ``html: True``; nh3 keeps ``<details>``/``<summary>``. A pasted plan (or a
    PR comment) can fold its whole summary table and every change under a summary of its
    choosing ("No changes: safe to merge") or put markup in the heading."""
    client = console.signed_in(api.owner_token)
    lure = "<details><summary>No changes: safe to merge</summary>"
    for fields in ({"targets": ["web " + lure]},
                   {"workspace": "acme` " + lure + " `"}):  # fmt: skip
        answer = post_plan(console, client, json.dumps(plan_document(**fields)))
        assert answer.status_code in (200, 400)
        assert not re.search(r"<summary>(<[a-z]+>)*No changes", answer.text), fields


def test_a_plan_nesting_deep_or_odd_shapes_is_a_400_not_a_500(console: Console,
                                                                api: Api) -> None:  # fmt: skip
    """Found in review (low): ``read_plan`` turns a RecursionError or a malformed field into a 400,
    but only while *reading*; ``plan_html`` (``render_plan_markdown``) is not guarded. A value
    nested ~500 deep (json.loads and plan_from_json accept it) or a change whose ``after`` is
    a number raises RecursionError / AttributeError in the renderer: a 500 (Internal)."""
    client = console.signed_in(api.owner_token)

    def update(before: object, after: object) -> str:
        document = plan_document()
        change = document["changes"][0]
        change.update(action="update", before=before, after=after,
                      update_mask=["source.settings"])  # fmt: skip
        change["field_changes"] = [{"path": "settings", "before": 1, "after": 2,
                                    "sensitive": False, "cleared": False}]  # fmt: skip
        document["summary"].update(destroy=0, change=1)
        return json.dumps(document)

    texts = {
        "deep 500": update({"settings": "__DEEP__"}, {"settings": {}}).replace(
            '"__DEEP__"', "[" * 500 + "1" + "]" * 500),
        "after is a number": update({"settings": {}}, -1),
        "deep 100k": "[" * 100_000 + "]" * 100_000,
        "not a plan": json.dumps({"format_version": "1.0"}),
        "saved plan of nothing": json.dumps({"type": "seg-saved-plan", "plan": None}),
        "controls": json.dumps(plan_document(workspace="a\u202eb")),
    }
    for name, text in texts.items():
        answer = post_plan(console, client, text)
        assert answer.status_code in (200, 400), (name, answer.status_code, answer.text[:200])


def test_a_big_plan_is_refused_not_served(console: Console, api: Api) -> None:
    client = console.signed_in(api.owner_token)
    token = csrf(client.get(console.url("/plan")).text)
    answer = client.post(console.url("/plan"), headers={"Origin": ORIGIN},
                         data={"csrf": token, "plan": "x" * (5 << 20)})  # fmt: skip
    assert answer.status_code == 413
    answer = client.post(console.url("/plan"), headers={"Origin": ORIGIN},
                         data={"csrf": token, "plan": "[" * (1 << 20)})  # fmt: skip
    assert answer.status_code == 400


def test_rendering_a_hostile_plan_takes_no_more_than_a_moment(console: Console,
                                                              api: Api) -> None:  # fmt: skip
    """Found in review (medium, DoS): any signed-in token (a read token is enough) can pin the server.
    A plan's strings reach the markdown raw (``targets``, or ``workspace`` past a backtick),
    so 1.8 MB of nested ``<details>`` makes nh3 (html5ever) quadratic — ~5 minutes of a
    worker thread per request (40 such requests fill anyio's thread pool, which every API
    call shares) — and ~2 MB of ``*a`` keeps markdown-it (pure Python, holding the GIL) busy
    ~45 s. Shown here with 360 KB (~8 s of nh3 today)."""
    client = console.signed_in(api.token("workspace:read", "reader"))
    text = json.dumps(plan_document(targets=["<details>" * 40_000]))
    started = time.monotonic()
    answer = post_plan(console, client, text)
    elapsed = time.monotonic() - started
    assert answer.status_code in (200, 400)
    assert elapsed < 3, f"{elapsed:.1f}s to render {len(text)} bytes"


# --- bad input -------------------------------------------------------------------------------


def test_bad_input_is_a_clean_error_never_a_500(console: Console, api: Api) -> None:
    assert api.create_source("web").status_code == 200
    client = console.signed_in(api.owner_token)
    for path in ("/audit?page_token=zzz", "/audit?page_token=" + "A" * 4000,
                 "/audit?since=aaaaaaaaaaaaaaaa", "/audit?until=2026-13-45T99:99",
                 "/audit?kind=nope", "/audit?actor=" + "a" * 500, "/applies?page_token=zzz",
                 "/r/source/web?page_token=%FF%FE", "/applies/0", "/applies/99999999999",
                 "/applies/-1", "/applies/1e3", "/resources?q=" + "a" * 60_000,
                 "/resources?managed=maybe&kind=" + "k" * 300, "/resources?label=%3A%3A",
                 "/graph?focus=" + "a" * 60_000, "/graph?focus=%3A", "/r/source/web%00",
                 "/r/source/" + "a" * 3000, "/r/source/..%2F..%2Fetc", "/resources?q=%00"):  # fmt: skip
        answer = client.get(console.url(path))
        assert answer.status_code in (200, 400, 404), (path[:60], answer.status_code)
        assert "Traceback" not in answer.text
    token = csrf(client.get(console.url("/plan")).text)
    for body, kind in ((b"csrf=" + token.encode() + b"&plan=\xff\xfe", "application/x-www-form-urlencoded"),
                       (b"%%%", "application/x-www-form-urlencoded"),
                       (b"&".join(b"a%d=1" % i for i in range(100)), "application/x-www-form-urlencoded"),
                       (b'{"plan": "{}"}', "application/json"), (b"plan=1", "text/plain"),
                       (b"plan=1", "")):  # fmt: skip
        for path in (console.url("/plan"), console.url("/lock/release"), "/console/sign-in",
                     "/console/sign-out"):  # fmt: skip
            answer = client.post(path, content=body, headers={"Origin": ORIGIN,
                                                              "Content-Type": kind})  # fmt: skip
            allowed = (400, 401, 403, 413) if path == "/console/sign-in" else (400, 403, 413)
            assert answer.status_code in allowed, (path, kind, answer.status_code)


def test_static_files_and_addresses_do_not_traverse(console: Console, api: Api) -> None:
    client = console.signed_in(api.owner_token)
    for path in ("/console/static/..%2fsession.py", "/console/static/%2e%2e/session.py",
                 "/console/static/..%5csession.py", "/console/static/%2e%2e%2froutes.py",
                 "/console/static/", "/console/static/%00",
                 "/console/static/templates/../../web/session.py"):  # fmt: skip
        answer = client.get(path)
        assert answer.status_code in (400, 404), path
        assert "secrets.token_bytes" not in answer.text and "def mount" not in answer.text
    assert client.get("/console/static/console.js").status_code == 200


# --- what a user-bound token sees ------------------------------------------------------------


def _bind_sam(api: Api) -> str:
    """A source ``web`` (label team:web) sam may read, a source ``payroll`` (with a
    destination holding a secret) sam may not; sam's token."""
    label = api.http.post(api.url("/labels"), json={"label": {
        "name": f"workspaces/{api.workspace}/labels/team:web"}})
    assert label.status_code == 200, label.text
    assert api.create_source("web", labels={"team": "web"}).status_code == 200
    assert api.create_source("payroll", display_name="Payroll secrets").status_code == 200
    made = api.http.post(api.url("/sources/payroll/destinations"), json={
        "destination": {"name": f"workspaces/{api.workspace}/sources/payroll/destinations/hr",
                        "catalog": "amplitude", "settings": {"api_key": SECRET}},
        "secret_paths": ["destination.settings.api_key"], "manager": "default"})
    assert made.status_code == 200, made.text
    binding = api.http.post(api.url("/role-bindings"), json={"role_binding": {
        "name": f"workspaces/{api.workspace}/role-bindings/sam", "subject": {"user": "sam@x.io"},
        "role": "source_read_only", "scope": {"labels": {"team": "web"}}}})
    assert binding.status_code == 200, binding.text
    return api.cp.workspaces.create_token(api.workspace, "workspace:read", "sam", "sam@x.io")[1]


def test_a_user_token_learns_nothing_of_sources_it_may_not_read(console: Console,
                                                                api: Api) -> None:  # fmt: skip
    sam_token = _bind_sam(api)
    writer = api.client(api.token("workspace:write", "ci"))
    run = writer.post(api.url("/applies"), json={"manager": "default"}).json()["id"]
    tagged = writer.patch(api.url("/sources/payroll"), headers={"Seg-Apply": run}, json={
        "source": {"display_name": "Payroll 2"}, "update_mask": {"paths": ["source.display_name"]}})
    assert tagged.status_code == 200, tagged.text
    done = writer.patch(api.url(f"/applies/{run}"), json={
        "status": "failed", "counts": {"failed": 1}, "failures": [
            {"resource": f"workspaces/{api.workspace}/sources/payroll", "error": "boom"},
            {"resource": "Destination payroll/hr", "error": "boom"}]})
    assert done.status_code == 200, done.text
    sam = console.signed_in(sam_token)
    for path in ("", "/resources", "/resources?q=pay", "/resources?source=payroll",
                 "/resources?kind=destination", "/audit", "/audit?kind=source",
                 "/audit?kind=destination", "/applies", f"/applies/{run}", "/graph",
                 "/graph?focus=web", "/lock", "/r/source/web"):  # fmt: skip
        answer = sam.get(console.url(path))
        assert answer.status_code == 200, (path, answer.status_code)
        text = re.sub(r' value="[^"]*"', "", answer.text)  # the boxes echo sam's own input
        for hidden in ("payroll", "Payroll", "/hr", SECRET):
            assert hidden not in text, (path, hidden)
    # a hidden resource and a missing one answer alike (no existence oracle), in the graph too
    for hidden, missing in (("payroll", "nosuch"), ("source:payroll", "source:nosuch"),
                            ("payroll/hr", "payroll/nosuch")):  # fmt: skip
        one = sam.get(console.url("/graph"), params={"focus": hidden}).text
        two = sam.get(console.url("/graph"), params={"focus": missing}).text
        assert one.replace(hidden, "X") == two.replace(missing, "X"), hidden
    for kind, hidden, missing in (("source", "payroll", "nosuch"),
                                  ("destination", "payroll/hr", "payroll/nosuch"),
                                  ("destination", "payroll/hr", "nosuch/x")):  # fmt: skip
        one = sam.get(console.url(f"/r/{kind}/{hidden}"))
        two = sam.get(console.url(f"/r/{kind}/{missing}"))
        assert one.status_code == two.status_code == 403, (kind, one.status_code, two.status_code)
        assert one.text.replace(hidden, "X") == two.text.replace(missing, "X")


def test_no_page_shows_a_secret_or_its_digest(console: Console, api: Api) -> None:
    """Found in review (low): the resource list's Name column (``console_service._display``) reads
    ``display_name`` straight from the stored data, but a writer may declare
    ``destination.display_name`` a secret path: the list then shows the secret's keyed digest
    (``secret:hmac:…``), which the console promises never to show (``SECRET_SET``), and the
    search box matches against it."""
    assert api.create_source("web").status_code == 200
    made = api.http.post(api.url("/sources/web/destinations"), json={
        "destination": {"name": f"workspaces/{api.workspace}/sources/web/destinations/amp",
                        "catalog": "amplitude", "display_name": SECRET,
                        "settings": {"api_key": SECRET, "region": "us"}},
        "secret_paths": ["destination.settings.api_key", "destination.display_name"],
        "manager": "default"})
    assert made.status_code == 200, made.text
    changed = api.http.patch(api.url("/sources/web/destinations/amp"), json={
        "destination": {"settings": {"api_key": SECRET + "2", "region": "eu"}},
        "update_mask": {"paths": ["destination.settings"]}})
    assert changed.status_code == 200, changed.text
    client = console.signed_in(api.owner_token)
    for path in ("", "/resources", "/resources?kind=destination", "/resources?q=secret",
                 "/r/destination/web/amp", "/r/source/web", "/audit", "/graph",
                 "/graph?focus=web/amp"):  # fmt: skip
        text = client.get(console.url(path)).text
        assert SECRET not in text, path
        assert "secret:hmac" not in text and "secret:" not in text, path
