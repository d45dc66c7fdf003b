"""The repository's own workspace copied into a temporary directory, and ``seg`` run on it
as a process."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from tests.repo_files import copy_repo_dir

REPO = Path(__file__).resolve().parents[2]

SEG = [sys.executable, "-m", "seg"]


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """Only what a process needs to run seg from these sources: no SEG_*, no secrets."""
    env = {k: os.environ[k] for k in ("PATH", "PYTHONPATH", "LANG") if k in os.environ}
    return {**env, "HOME": str(home), "NO_COLOR": "1", **extra}


def repo_workspace(tmp_path: Path) -> Path:
    """This repository's workspace/, without any state a user's own run left in it."""
    root = tmp_path / "workspace"
    copy_repo_dir(REPO / "workspace", root)
    return root


def seg(root: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    done = subprocess.run([*SEG, args[0], "-w", str(root), *args[1:]], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert "Traceback" not in done.stdout + done.stderr
    return done
