"""What the browser tests share: the workspace the console shows, Chromium's path and flags,
signing in, and the screenshots (``SEG_UPDATE_SCREENSHOTS=1`` writes them to
``docs/screenshots/``, which the README shows). The fixtures are in ``conftest.py``."""

from __future__ import annotations

import os
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = os.environ.get("SEG_CHROMIUM", "/usr/bin/chromium")
# As the machine's probe starts it: no background connections to a network that is closed
ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync"]
SECRET = "amp-SECRET-value-5150"

SOURCES = """\
kind: Label
name: team:growth
spec: {description: Growth}
---
kind: Source
name: web
spec: {catalog: javascript, display_name: Web shop, labels: {team: growth}}
---
kind: Source
name: payroll
spec: {catalog: javascript, display_name: Payroll events}
---
kind: RoleBinding
name: sam-growth
spec:
  subject: {user: sam@example.com}
  role: source_read_only
  scope: {labels: {team: growth}}
"""
DESTINATIONS = """\
kind: Destination
name: amplitude
spec:
  source: web
  catalog: amplitude
  enabled: true
  settings: {{api_key: "${{env:AMP_KEY}}", region: {region}}}
---
kind: Destination
name: payroll-hook
spec:
  source: payroll
  catalog: webhook
  settings: {{url: "https://hooks.example.com/{hook}"}}
"""


def write(root: Path, region: str, hook: str) -> None:
    (root / "sources.yaml").write_text(SOURCES)
    (root / "destinations.yaml").write_text(DESTINATIONS.format(region=region, hook=hook))


def shots() -> Path | None:
    if os.environ.get("SEG_UPDATE_SCREENSHOTS"):
        out = REPO / "docs" / "screenshots"
        out.mkdir(parents=True, exist_ok=True)
        return out
    return None


def snap(page: object, name: str, tmp: Path) -> None:
    out = shots() or tmp
    page.screenshot(path=str(out / f"{name}.png"), full_page=True)  # type: ignore[attr-defined]


def sign_in(
    browser: object, url: str, token: str, width: int = 1280, javascript: bool = True
) -> object:
    context = browser.new_context(  # type: ignore[attr-defined]
        viewport={"width": width, "height": 900}, java_script_enabled=javascript
    )
    context.set_default_timeout(10_000)
    page = context.new_page()
    page.goto(f"{url}/console/")
    assert page.url.startswith(f"{url}/console/sign-in")
    page.get_by_label("Token").fill(token)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{url}/console/w/shop")
    return page
