"""schemathesis (v4) with every check against a live `seg serve`: 0 failures.

Every check runs: schemathesis's default when no ``--checks`` is given (``--checks all`` on
the command line would also override the per-operation exceptions of the config file).
The configuration is the repository's ``schemathesis.toml`` (workspace, token, and the few
justified exceptions); the budget is bounded here. Two runs: everything but taking the
workspace lock, then the lock routes — a lock taken early would turn every later write into
409 "locked" and leave the other routes untested.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.processes import Server

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / "schemathesis.toml"


@pytest.fixture
def live(tmp_path: Path, slug: str) -> Iterator[Server]:
    srv = Server(f"sqlite:///{tmp_path / 'cp.db'}", tmp_path, slug)
    yield srv
    srv.stop()


def schemathesis(server: Server, workspace: str, seconds: int, *select: str) -> str:
    """One run from the server's temporary directory (its cache stays out of the repo)."""
    env = {**os.environ, "SEG_ST_WORKSPACE": workspace, "SEG_ST_TOKEN": server.token,
           "NO_COLOR": "1"}  # fmt: skip
    cmd = [sys.executable, "-m", "schemathesis.cli", "--config-file", str(CONFIG), "run",
           f"{server.url}/openapi.json", "--max-time", str(seconds),
           "--seed", "13", "--no-color", *select]  # fmt: skip
    done = subprocess.run(cmd, env=env, capture_output=True, text=True, cwd=server.tmp,
                          timeout=seconds + 120)  # fmt: skip
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-12000:]
    assert "passed" in output, output[-3000:]
    return output


def test_schemathesis_finds_no_failure_with_every_check(live: Server, slug: str) -> None:
    schemathesis(live, slug, 55, "--exclude-operation-id", "acquire_lock")
    schemathesis(live, slug, 20, "--include-path-regex", "/lock$")
    assert "Traceback" not in live.log_text()
