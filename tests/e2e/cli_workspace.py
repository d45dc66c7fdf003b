"""A small workspace and a clean environment for running ``seg`` as a process."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import git

SEG = [sys.executable, "-m", "seg"]
SEG_YAML = "version: seg/v1\nworkspace: shop\napi_url: embedded\n"
RESOURCES = """\
kind: Source
name: web
spec: {catalog: javascript, display_name: Web}
---
kind: Destination
name: amplitude
spec: {source: web, catalog: amplitude, settings: {region: us}}
---
kind: TrackingPlan
name: orders
spec:
  rules:
    - {type: TRACK, key: Order Completed, version: 1,
       json_schema: {type: object, required: [properties]}}
"""
# Settings that would change what seg prints or where it connects.
UNSET = ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "GITHUB_ACTIONS", "COLUMNS")


def base_env(home: Path, **extra: str) -> dict[str, str]:
    """The environment of a user with nothing configured; HOME is the test's own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEG_") and k not in UNSET}
    env.update(HOME=str(home), **extra)
    return env


def run(
    args: Iterable[str], env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SEG, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def run_all(
    commands: list[list[str]], env: dict[str, str]
) -> list[subprocess.CompletedProcess[str]]:
    """Several independent ``seg`` processes at once (never two on one embedded plane)."""
    with ThreadPoolExecutor(max_workers=4) as pool:
        return list(pool.map(lambda args: run(args, env), commands))


def make_workspace(root: Path) -> Path:
    root.mkdir()
    (root / "seg.yaml").write_text(SEG_YAML)
    (root / "resources.yaml").write_text(RESOURCES)
    return root


def commit_two_revisions(ws: Path) -> None:
    """The workspace as a git repository: the base, then the head with one region changed."""
    repo = git.Repo.init(ws, initial_branch="main")
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", "t")
        cfg.set_value("user", "email", "t@example.com")
    (ws / ".gitignore").write_text(".seg/\n")
    repo.git.add("-A")
    repo.index.commit("base")
    (ws / "resources.yaml").write_text(RESOURCES.replace("region: us", "region: eu"))
    repo.git.add("-A")
    repo.index.commit("head")
