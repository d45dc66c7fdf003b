"""The console is accessible (issue 21), measured in a real headless Chromium on every page:
one ``<h1>`` and no skipped heading level; every visible form control has an accessible name;
text, links, table cells and buttons reach WCAG AA contrast against the background they are
drawn on; and from the keyboard alone the skip link comes first and leads into the page's
content, the main navigation and the search box are reached, and focus is always shown.

The checks run inside the page (``page.evaluate``) on the computed styles, so a template that
loses a ``<label>`` or a stylesheet colour that fades below 4.5:1 fails here by name.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.browser.site import sign_in
from tests.e2e.processes import Server

pytestmark = [pytest.mark.e2e, pytest.mark.browser]

# Colours as computed styles give them; the background an element is drawn on (its
# ancestors' backgrounds composited down to the first opaque one, white under the root); the
# WCAG 2 contrast ratio of two colours from their relative luminance.
COLOURS = r"""
  const rgba = text => {
    const m = /^rgba?\(([^)]*)\)$/.exec(text.trim());
    if (!m) return null;
    const p = m[1].split(/[\s,\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1];
  };
  const over = (top, under) => {  // alpha-composite one colour over an opaque one
    const a = top[3];
    return [0, 1, 2].map(i => top[i] * a + under[i] * (1 - a)).concat([1]);
  };
  const background = el => {  // the ancestors' backgrounds down to the first opaque one
    const layers = [];
    for (let n = el; n; n = n.parentElement) {
      const c = rgba(getComputedStyle(n).backgroundColor);
      if (c && c[3] > 0) { layers.push(c); if (c[3] >= 1) break; }
    }
    return layers.reverse().reduce((under, top) => over(top, under), [255, 255, 255, 1]);
  };
  const channel = v => { v /= 255; return v <= 0.03928 ? v / 12.92 : Math.pow((v + 0.055) / 1.055, 2.4); };
  const luminance = c => 0.2126 * channel(c[0]) + 0.7152 * channel(c[1]) + 0.0722 * channel(c[2]);
  const ratio = (a, b) => {
    const [hi, lo] = [luminance(a), luminance(b)].sort((x, y) => y - x);
    return (hi + 0.05) / (lo + 0.05);
  };
"""

# Each page's headings, unnamed controls and low-contrast text, as plain data.
AUDIT = r"""() => {
  /* COLOURS */
  const shown = el => {
    const s = getComputedStyle(el);
    if (s.display === "none" || s.visibility !== "visible") return false;
    const r = el.getBoundingClientRect();
    return r.width > 1 && r.height > 1;  // .sr-only text (1px, clipped) is not seen
  };
  const words = el => (el.textContent || "").replace(/\s+/g, " ").trim();
  const describe = el => el.tagName.toLowerCase() + (el.id ? "#" + el.id : "") +
    (el.className && typeof el.className === "string" ? "." + el.className.trim().split(/\s+/).join(".") : "") +
    ' "' + words(el).slice(0, 40) + '"';

  // 1. headings, in document order
  const headings = [...document.querySelectorAll("h1, h2, h3, h4, h5, h6")]
    .map(h => [Number(h.tagName[1]), words(h).slice(0, 50)]);

  // 2. form controls a person can see and use, and their accessible names
  const labelText = label => {  // a label's own words, without the control it wraps
    const copy = label.cloneNode(true);
    copy.querySelectorAll("input, select, textarea, button").forEach(c => c.remove());
    return words(copy);
  };
  const nameOf = el => {
    const by = (el.getAttribute("aria-labelledby") || "").split(/\s+/).filter(Boolean)
      .map(id => document.getElementById(id)).filter(Boolean).map(words).join(" ").trim();
    if (by) return by;
    const aria = (el.getAttribute("aria-label") || "").trim();
    if (aria) return aria;
    return [...(el.labels || [])].map(labelText).join(" ").trim();
  };
  const controls = [...document.querySelectorAll("input, select, textarea")]
    .filter(el => !(el.tagName === "INPUT" && ["hidden", "submit", "button", "reset", "image"].includes(el.type)))
    .filter(shown);
  const unnamed = controls.filter(el => !nameOf(el)).map(el => el.outerHTML.slice(0, 120));

  // 3. contrast of the text of body, links, table cells, buttons (WCAG 2 relative luminance)
  const ownText = el => [...el.childNodes].some(n => n.nodeType === 3 && n.textContent.trim());
  const texts = [...document.querySelectorAll(
      "body, p, li, dt, dd, td, th, caption, a, button, label, summary, span, code, strong, em, small, time, pre, h1, h2, h3, h4")]
    .filter(el => !el.closest("svg") && ownText(el) && shown(el));
  const low = [];
  const seen = new Set();
  for (const el of texts) {
    const s = getComputedStyle(el);
    const bg = background(el);
    const fgRaw = rgba(s.color);
    if (!fgRaw) { low.push(describe(el) + ": colour " + s.color + " not read"); continue; }
    const fg = over(fgRaw, bg);
    const size = parseFloat(s.fontSize);
    const large = size >= 24 || (Number(s.fontWeight) >= 700 && size >= 18.66);
    const need = large ? 3 : 4.5;
    const got = ratio(fg, bg);
    const key = [el.tagName, el.className, s.color, bg.join()].join("|");
    if (got < need && !seen.has(key)) {
      seen.add(key);
      low.push(describe(el) + ": " + s.color + " on rgb(" + bg.slice(0, 3).map(Math.round).join(", ") +
               ") is " + got.toFixed(2) + ":1, needs " + need + ":1");
    }
  }
  return {headings, controls: controls.length, unnamed, texts: texts.length, low};
}""".replace("/* COLOURS */", COLOURS)

# What has the keyboard focus, where it is, whether its focus is drawn, and the contrast of
# a drawn outline with what is around it (WCAG 1.4.11: 3:1).
FOCUSED = r"""() => {
  /* COLOURS */
  const el = document.activeElement;
  if (!el || el === document.body) return {tag: "body"};
  const s = getComputedStyle(el);
  const r = el.getBoundingClientRect();
  return {
    tag: el.tagName.toLowerCase(), id: el.id, cls: el.getAttribute("class") || "",
    text: (el.textContent || "").trim().slice(0, 40), href: el.getAttribute("href") || "",
    type: el.getAttribute("type") || "", inMain: !!el.closest("main"),
    inNav: !!el.closest("nav"),
    ring: (s.outlineStyle !== "none" && parseFloat(s.outlineWidth) > 0) || s.boxShadow !== "none",
    ringContrast: s.outlineStyle === "none" || s.outlineStyle === "auto" || !rgba(s.outlineColor)
      ? null  // no outline, or the browser's own two-tone ring
      : ratio(over(rgba(s.outlineColor), background(el.parentElement)), background(el.parentElement)),
    onScreen: r.right > 0 && r.bottom > 0 && r.left < innerWidth && r.top < innerHeight,
  };
}""".replace("/* COLOURS */", COLOURS)

NAV = ["Overview", "Resources", "Audit", "Applies", "Lock", "Graph", "Render a plan"]


def check_page(page: Any, name: str) -> tuple[list[str], int]:
    """The problems on the page ``page`` shows, each naming the page and the element; and
    how many form controls it has."""
    found = page.evaluate(AUDIT)
    problems = []
    levels = [level for level, _ in found["headings"]]
    if levels.count(1) != 1:
        problems.append(f"{name}: {levels.count(1)} <h1> (one wanted): {found['headings']}")
    if levels and levels[0] != 1:
        problems.append(f"{name}: the first heading is not the <h1>: {found['headings']}")
    for (before, _), (level, text) in zip(found["headings"], found["headings"][1:], strict=False):
        if level > before + 1:
            problems.append(f"{name}: heading h{level} {text!r} follows an h{before}")
    problems += [f"{name}: form control without an accessible name: {c}" for c in found["unnamed"]]
    problems += [f"{name}: low contrast: {low}" for low in found["low"]]
    assert found["texts"] > 3, f"{name}: no text was measured"  # the check ran on something
    return problems, found["controls"]


def test_every_page_has_headings_names_contrast_and_a_keyboard_path(
    served: tuple[Server, Path, dict[str, str]],  # noqa: F811
    browser: object,  # noqa: F811
) -> None:
    from seg.engine.plan import Plan
    from seg.render.plan_json import plan_to_json

    server, _, _ = served
    base = f"{server.url}/console/w/shop"
    api = httpx.Client(base_url=server.url, headers={"Authorization": f"Bearer {server.token}"})
    held = api.post(
        "/v1beta/workspaces/shop/lock", json={"holder": "seg apply (ci)", "host": "runner-7"}
    )
    assert held.status_code == 200, held.text  # the lock page shows it with its release form
    page = sign_in(browser, server.url, server.token)
    problems: list[str] = []
    try:
        pages = {
            "sign-in": f"{server.url}/console/sign-in",
            "overview": base,
            "workspaces": f"{server.url}/console/workspaces",
            "resources": f"{base}/resources",
            "destination": f"{base}/r/destination/web/amplitude",
            "source": f"{base}/r/source/web",
            "audit": f"{base}/audit",
            "applies": f"{base}/applies",
            "lock": f"{base}/lock",
            "graph": f"{base}/graph",
            "plan": f"{base}/plan",
            "not found": f"{base}/r/source/nowhere",
        }
        controls = {}
        for name, url in pages.items():
            page.goto(url)
            found, controls[name] = check_page(page, name)
            problems += found
        # the pages' forms were there to be checked (resources: search, kind, source, label,
        # managed; audit: actor, kind, from, until; lock: the confirmation; plan: box, file)
        assert controls["resources"] == 5 and controls["audit"] == 4, controls
        assert controls["lock"] == 1 and controls["plan"] == 2 and controls["sign-in"] == 1
        page.goto(f"{base}/applies")
        page.locator("main table tbody a").first.click()
        page.wait_for_url(re.compile(r".*/applies/\d+$"))
        problems += check_page(page, "apply run")[0]
        page.goto(f"{base}/plan")  # a plan rendered as the comment: its own h3/h4 headings
        plan = {"type": "seg-saved-plan", "plan": plan_to_json(Plan("shop", (), resource_count=7))}
        page.locator("#plan").fill(json.dumps(plan))
        page.get_by_role("button", name="Render").click()
        assert "seg plan for shop" in page.get_by_test_id("rendered-plan").inner_text()
        problems += check_page(page, "rendered plan")[0]
        assert not problems, "accessibility problems:\n" + "\n".join(problems)

        # keyboard: the first Tab of a fresh page lands on the skip link, which is shown
        page.goto(f"{base}/resources")
        page.keyboard.press("Tab")
        first = page.evaluate(FOCUSED)
        assert first["tag"] == "a" and first["text"] == "Skip to content", first
        assert first["onScreen"] and first["ring"] and (first["ringContrast"] or 3) >= 3, (
            f"the focused skip link is not shown: {first}"
        )
        target = first["href"]
        assert (
            target.startswith("#")
            and page.evaluate("id => document.getElementById(id)?.tagName", target[1:]) == "MAIN"
        ), target
        # ... and Enter on it takes the keyboard past the header, into the content
        page.keyboard.press("Enter")
        assert page.evaluate("location.hash") == target
        page.keyboard.press("Tab")
        landed = page.evaluate(FOCUSED)
        assert landed["inMain"] and landed["id"] == "f-q", (
            f"after the skip link, Tab went to {landed}, not the search box in <main>"
        )

        # tabbing through from the top reaches every navigation link and the search box,
        # each with its focus drawn
        page.goto(f"{base}/resources")
        reached, unringed = [], []
        for _ in range(30):
            page.keyboard.press("Tab")
            now = page.evaluate(FOCUSED)
            if now["tag"] == "body":
                break
            reached.append(now)
            if not now["ring"] or (now["ringContrast"] is not None and now["ringContrast"] < 3):
                unringed.append(now)
            if now["id"] == "f-q":
                break
        nav = [r["text"] for r in reached if r["inNav"]]
        assert nav == NAV, f"Tab reached these navigation links: {nav}"
        assert reached and reached[-1]["id"] == "f-q", (
            f"Tab never reached the search box: {reached}"
        )
        assert not unringed, f"focused without a visible focus indicator (3:1): {unringed}"
    finally:
        page.context.close()
        api.delete("/v1beta/workspaces/shop/lock", params={"id": held.json()["id"]})
        api.close()
