"""The web console in a real headless Chromium (Debian's, driven by Playwright) against a real
``seg serve``, with the workspace applied twice by ``seg`` as a process: sign in, browse,
search, a resource's history with each field before and after, the lock held by a running
apply, a plan file rendered as the PR comment, sign out — and a user-bound token that may not
read a source sees it nowhere (lists, search, audit, history, its page).

With ``SEG_UPDATE_SCREENSHOTS=1`` the main pages' screenshots are written to
``docs/screenshots/`` (the README shows them); otherwise to the test's own directory.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import httpx
import pytest
from playwright.sync_api import expect

from tests.browser.site import SECRET, sign_in, snap, write
from tests.e2e.processes import Server, run

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

def test_an_owner_signs_in_browses_and_signs_out(served: tuple[Server, Path, dict[str, str]],
                                                 browser: object, tmp_path: Path) -> None:
    server, root, env = served
    page = sign_in(browser, server.url, server.token)
    # the token's powers are on the page
    caps = page.get_by_test_id("capabilities")
    assert "Change resources: yes" in caps.inner_text()
    assert "Owner actions (release another's lock, manage tokens): yes" in caps.inner_text()
    assert page.get_by_test_id("scope").inner_text() == "workspace:owner"
    snap(page, "overview", tmp_path)

    # browse: every resource, then a search narrowed as one types (htmx) and by kind
    page.get_by_role("link", name="Resources", exact=True).click()
    rows = page.locator("#rows tbody tr")
    assert {"web", "payroll", "web/amplitude", "payroll/payroll-hook"} <= set(
        page.locator("#rows tbody tr td:nth-child(2)").all_inner_texts())
    page.get_by_role("searchbox", name="Search").fill("ampl")
    expect(rows).to_have_count(1)
    assert rows.first.locator("td").nth(1).inner_text() == "web/amplitude"
    assert "q=ampl" in page.url  # the search is a link one can share (hx-push-url)
    page.get_by_role("searchbox", name="Search").fill("")
    page.get_by_label("Kind", exact=True).select_option("source")
    expect(rows).to_have_count(2)
    page.get_by_label("Label", exact=True).fill("team:growth")
    expect(rows).to_have_count(1)
    assert rows.first.locator("td").nth(1).inner_text() == "web"
    snap(page, "resources", tmp_path)

    # a resource: fields (the secret as "set", never its value), manager, parent, history
    page.goto(f"{server.url}/console/w/shop/r/destination/web/amplitude")
    body = page.content()
    assert SECRET not in body
    fields = page.locator("table.fields")
    assert "secret" in fields.inner_text() and '"api_key": "set"' in fields.inner_text()
    assert "default" in page.locator("dl.facts").inner_text()  # seg's manager
    assert page.get_by_test_id("parent").inner_text() == "Source web"
    history = page.locator("#history > tbody > tr")
    assert history.count() == 2  # created by the first apply, changed by the second
    newest = history.first
    assert newest.locator("td").nth(2).inner_text() == "PATCH"
    newest.locator("summary").click()
    change = newest.locator("table.changes tbody tr", has_text="destination.settings.region")
    assert change.locator("td").nth(0).inner_text().strip() == '"us"'
    assert change.locator("td").nth(1).inner_text().strip() == '"eu"'
    assert re.fullmatch(r"#\d+", newest.locator("td").nth(4).inner_text())  # its apply run
    snap(page, "history", tmp_path)

    # the audit trail, filtered by kind, with its apply runs linked
    page.get_by_role("link", name="Audit", exact=True).click()
    page.get_by_label("Kind", exact=True).select_option("destination")
    page.get_by_role("button", name="Filter").click()
    kinds = page.locator("#event-rows tr td:nth-child(4)").all_inner_texts()
    assert kinds and all("/destinations/" in k for k in kinds)
    snap(page, "audit", tmp_path)

    # the applies: two runs with their revision and counts; one run's changes
    page.get_by_role("link", name="Applies", exact=True).click()
    runs = page.locator("main > table > tbody > tr")
    assert runs.count() == 2
    assert "0123456789ab" in runs.first.inner_text() and "applied" in runs.first.inner_text()
    runs.first.locator("a").first.click()
    assert "2 updated" in page.locator("dl.facts").inner_text()
    assert page.locator("main > table > tbody > tr").count() == 2
    snap(page, "apply", tmp_path)

    # a lock held by a running apply, released by the owner after confirming
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token}"})
    started = api.post("/v1beta/workspaces/shop/applies", json={"manager": "default"})
    assert started.status_code == 201, started.text
    lock = api.post("/v1beta/workspaces/shop/lock",
                    json={"holder": "seg apply (ci)", "host": "runner-7", "plan": "abc123",
                          "ci_run": "https://ci.example.com/run/7", "ttl_seconds": 600})
    assert lock.status_code == 200, lock.text
    page.get_by_role("link", name="Lock", exact=True).click()
    facts = page.get_by_test_id("lock").inner_text()
    assert "seg apply (ci)" in facts and "runner-7" in facts and "https://ci.example.com/run/7" in facts
    snap(page, "lock", tmp_path)
    page.get_by_role("button", name="Release the lock").click()
    assert "/lock/release" not in page.url  # the form needs the confirmation first
    page.get_by_label(re.compile("I understand")).check()
    page.get_by_role("button", name="Release the lock").click()
    page.wait_for_url(re.compile(r".*/lock\?released=1$"))
    assert api.get("/v1beta/workspaces/shop/lock").status_code == 404
    forced = api.get("/v1beta/workspaces/shop/audit-events").json()
    assert any(e["resource"].endswith("/lock") and "forced" in e["paths"]
               for e in forced["audit_events"])  # audited as a forced release
    api.patch(f"/v1beta/workspaces/shop/applies/{started.json()['id']}", json={"status": "noop"})

    # the graph of the live resources, and one resource's neighbourhood
    page.get_by_role("link", name="Graph", exact=True).click()
    labels = page.locator(".graph svg g.node text.label").all_text_contents()
    assert {"web", "payroll", "web/amplitude", "payroll/payroll-hook"} <= set(labels), labels
    assert page.locator(".graph svg path.edge").count() >= 2  # each source to its destination
    snap(page, "graph", tmp_path)
    page.get_by_label("Focus on").fill("source:payroll")
    page.get_by_role("button", name="Draw").click()
    labels = page.locator(".graph svg g.node text.label").all_text_contents()
    assert "payroll" in labels and "payroll/payroll-hook" in labels and "web" not in labels

    # a plan file, dropped in through the file input, rendered as the PR comment would be
    write(root, "eu", "three")
    plan_file = root.parent / "plan.json"
    planned = run("plan", "--workspace", str(root), "--out", str(plan_file), env=env)
    assert planned.returncode in (0, 2), planned.stderr
    page.get_by_role("link", name="Render a plan").click()
    page.locator("input[type=file]").set_input_files(str(plan_file))
    expect(page.locator("#plan")).to_have_value(re.compile(r"seg-saved-plan"))
    page.get_by_role("button", name="Render").click()
    rendered = page.get_by_test_id("rendered-plan")
    expected = run("show", str(plan_file), "-o", "markdown", env=env).stdout
    assert "seg plan for" in rendered.inner_text()
    assert "payroll/payroll-hook" in rendered.inner_text()
    assert (page.locator("details pre").last.text_content() or "").strip() == expected.strip()
    rendered.locator("details", has_text="will be updated").locator("summary").click()
    assert "hooks.example.com/three" in rendered.inner_text()
    snap(page, "plan", tmp_path)

    # narrow screens: no horizontal scrolling of the page itself
    page.set_viewport_size({"width": 380, "height": 800})
    page.goto(f"{server.url}/console/w/shop/resources")
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    snap(page, "narrow", tmp_path)
    page.set_viewport_size({"width": 1280, "height": 900})

    # sign out: the session is gone, pages lead to the sign-in form again
    page.get_by_role("button", name="Sign out").click()
    page.wait_for_url(f"{server.url}/console/sign-in")
    page.goto(f"{server.url}/console/w/shop/resources")
    assert page.url.startswith(f"{server.url}/console/sign-in")
    page.context.close()


def test_a_user_token_never_sees_a_source_it_may_not_read(
        served: tuple[Server, Path, dict[str, str]], browser: object) -> None:
    server, _, env = served
    made = run("server", "token", "create", "--slug", "shop", "--scope", "workspace:read",
               "--description", "sam's console", "--user", "sam@example.com", "-o", "json",
               env=server.env)
    assert made.returncode == 0, made.stderr
    token = json.loads(made.stdout)["token"]
    page = sign_in(browser, server.url, token)
    caps = page.get_by_test_id("capabilities").inner_text()
    assert "Change resources: no" in caps and "sam@example.com" in caps
    assert "Source web: source_read_only" in caps

    def shown(path: str) -> str:
        """The page's text and links, without what the user typed into its inputs."""
        page.goto(f"{server.url}/console/w/shop{path}")
        return re.sub(r' value="[^"]*"', "", page.content())

    for path in ("", "/resources", "/resources?q=payroll", "/resources?source=payroll",
                 "/audit", "/audit?kind=source", "/audit?kind=destination", "/applies"):
        assert "payroll" not in shown(path).lower(), path
    links = [a.get_attribute("href") or "" for a in page.locator("main > table a").all()]
    assert links  # the two applies
    for link in links:
        assert "payroll" not in shown(link.split("/w/shop", 1)[1]).lower(), link
    assert "web/amplitude" in shown("/resources")
    assert "payroll" not in shown("/r/destination/web/amplitude").lower()
    page.goto(f"{server.url}/console/w/shop/r/source/payroll")
    assert page.locator("h1").inner_text() == "Not allowed"
    assert "payroll" not in shown("/graph").lower()
    # the owner does see it (the source is there to hide)
    assert run("plan", "--workspace", str(served[1]), env=env).returncode in (0, 2)
    page.context.close()


def test_a_plan_file_dropped_on_the_box_is_read_into_it(
    served: tuple[Server, Path, dict[str, str]], browser: object
) -> None:
    """The file input is driven above; this drops a file on the box as a drag from the
    desktop does (a ``drop`` event whose DataTransfer holds the file)."""
    from seg.engine.plan import Plan
    from seg.render.plan_json import plan_to_json

    server, _, _ = served
    page = sign_in(browser, server.url, server.token)
    page.goto(f"{server.url}/console/w/shop/plan")
    text = json.dumps(
        {"type": "seg-saved-plan", "plan": plan_to_json(Plan("shop", (), resource_count=7))}
    )
    dropped = page.evaluate_handle(
        """text => {
        const data = new DataTransfer();
        data.items.add(new File([text], "plan.json", {type: "application/json"}));
        return data;
    }""",
        text,
    )
    box = page.locator("#plan")
    box.dispatch_event("dragover", {"dataTransfer": dropped})
    expect(box).to_have_class(re.compile(r"\bdragging\b"))
    box.dispatch_event("drop", {"dataTransfer": dropped})
    expect(box).to_have_value(text)
    expect(box).not_to_have_class(re.compile(r"\bdragging\b"))
    page.get_by_role("button", name="Render").click()
    rendered = page.get_by_test_id("rendered-plan").inner_text()
    assert "seg plan for shop" in rendered and "No changes (7 resources match)." in rendered
    page.context.close()


def test_the_pages_read_without_javascript(
    served: tuple[Server, Path, dict[str, str]], browser: object
) -> None:
    """With JavaScript off: sign in, the resource list searched by its form, a resource with
    its fields and history, the audit trail filtered by its form."""
    server, _, _ = served
    page = sign_in(browser, server.url, server.token, javascript=False)
    page.get_by_role("link", name="Resources", exact=True).click()
    assert page.evaluate("typeof htmx") == "undefined"  # the page's scripts did not run
    addresses = page.locator("#rows tbody tr td:nth-child(2)")
    assert {"web", "payroll", "web/amplitude", "payroll/payroll-hook"} <= set(
        addresses.all_inner_texts()
    )
    page.get_by_role("searchbox", name="Search").fill("ampl")
    page.get_by_role("button", name="Search").click()
    page.wait_for_url(re.compile(r".*/resources\?q=ampl&"))
    assert addresses.all_inner_texts() == ["web/amplitude"]

    page.get_by_role("link", name="web/amplitude").click()
    page.wait_for_url(f"{server.url}/console/w/shop/r/destination/web/amplitude")
    assert SECRET not in page.content()
    fields = page.locator("table.fields").inner_text()
    assert '"api_key": "set"' in fields and '"region": "eu"' in fields
    history = page.locator("#history > tbody > tr")
    assert history.count() == 2
    history.first.locator("summary").click()  # <details>: no script needed
    change = history.first.locator("table.changes tbody tr", has_text="destination.settings.region")
    assert [t.strip() for t in change.locator("td").all_inner_texts()] == ['"us"', '"eu"']

    page.get_by_role("link", name="Audit", exact=True).click()
    page.get_by_label("Kind", exact=True).select_option("destination")
    page.get_by_role("button", name="Filter").click()
    page.wait_for_url(re.compile(r".*/audit\?.*kind=destination"))
    resources = page.locator("#event-rows tr td:nth-child(4)").all_inner_texts()
    assert resources and all("/destinations/" in r for r in resources)
    assert any(r.endswith("/destinations/amplitude") for r in resources)
    page.context.close()
