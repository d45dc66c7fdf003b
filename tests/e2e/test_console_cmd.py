"""``seg console`` as a process: with the embedded control plane it serves the console on
127.0.0.1 and prints a one-time sign-in link that works once; with a served control plane it
prints that server's console address."""

from __future__ import annotations

import re
import subprocess
import sys
import time
from pathlib import Path

import httpx

from tests.e2e.cli_workspace import base_env, make_workspace, run
from tests.e2e.processes import free_port


def test_seg_console_serves_the_embedded_plane_and_signs_in_once(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws")
    env = base_env(tmp_path)
    applied = run(["apply", "--auto-approve", "-w", str(root)], env)
    assert applied.returncode == 0, applied.stderr
    port = free_port()
    proc = subprocess.Popen([sys.executable, "-m", "seg", "console", "--no-browser", "--port",
                             str(port), "-w", str(root)], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        assert proc.stderr is not None
        line = ""
        deadline = time.monotonic() + 60
        while "sign in once with" not in line and time.monotonic() < deadline:
            line = proc.stderr.readline()
            assert line or proc.poll() is None, proc.stderr.read()
        link = re.search(r"(http://127\.0\.0\.1:\d+/console/sign-in/link\?code=\S+)", line)
        assert link, line
        assert link.group(1).startswith(f"http://127.0.0.1:{port}/")
        base = f"http://127.0.0.1:{port}"
        for _ in range(100):  # the socket listens before uvicorn serves
            try:
                httpx.get(f"{base}/healthz", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.1)
        with httpx.Client(base_url=base, follow_redirects=True) as browser:
            signed = browser.get(link.group(1))
            assert signed.status_code == 200, signed.text  # followed to the overview
            assert "Workspace <code>shop</code>" in signed.text
            page = browser.get("/console/w/shop/resources")
            assert page.status_code == 200 and "web/amplitude" in page.text
        again = httpx.get(link.group(1), follow_redirects=False)
        assert again.status_code == 401  # used once
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def test_seg_console_names_a_served_plane_s_console(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws")
    env = base_env(tmp_path, SEG_API_URL="https://seg.example.com/")
    shown = run(["console", "--no-browser", "-w", str(root)], env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.strip() == ("The console of https://seg.example.com/: "
                                    "https://seg.example.com/console/")  # fmt: skip
