"""The browser tests' fixtures: a ``seg serve`` with the workspace applied twice by ``seg`` as
a process, and Debian's Chromium launched headless by Playwright (one of each per module)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.site import ARGS, CHROMIUM, SECRET, write
from tests.e2e.processes import Server, run


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, Path, dict[str, str]]]:
    tmp = tmp_path_factory.mktemp("console")
    server = Server(f"sqlite:///{tmp / 'cp.db'}", tmp, "shop")
    root = tmp / "ws"
    root.mkdir()
    (root / "seg.yaml").write_text("version: seg/v1\nworkspace: shop\n")
    env = {**server.env, "SEG_API_URL": server.url, "SEG_TOKEN": server.token, "AMP_KEY": SECRET,
           "SEG_GIT_REVISION": "0123456789abcdef0123456789abcdef01234567"}
    for region, hook in (("us", "one"), ("eu", "two")):  # two applies: history has two changes
        write(root, region, hook)
        done = run("apply", "--auto-approve", "--workspace", str(root), env=env)
        assert done.returncode == 0, done.stdout + done.stderr
    try:
        yield server, root, env
    finally:
        server.stop()


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    assert Path(CHROMIUM).is_file(), f"Chromium not found at {CHROMIUM} (.ci/run installs it)"
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=ARGS)
        try:
            yield launched
        finally:
            launched.close()
