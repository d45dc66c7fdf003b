"""The repository's own files for tests: copied without the state a user's runs leave in them.

Running the README's quick start (or any example) with the embedded control plane leaves
`.seg/` (its database and owner token) inside the workspace directory, and `seg serve` leaves
`*.db` files. A test that copied those along would plan against a user's state ("No changes"
instead of creates): every test copies repository directories through `copy_repo_dir`.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

__all__ = ["EXAMPLE_WORKSPACES", "LOCAL_STATE", "REPO", "copy_checkout", "copy_repo_dir",
           "example_workspace"]

REPO = Path(__file__).resolve().parents[1]

def example_workspace(example: Path) -> Path:
    """The seg workspace of an example: its directory, or its ``seg/`` when the example is
    something else with a workspace inside (``examples/dbt``: a dbt project)."""
    inner = example / "seg"
    return inner if (inner / "seg.yaml").is_file() else example


# Every example's seg workspace.
EXAMPLE_WORKSPACES = [example_workspace(p) for p in sorted((REPO / "examples").iterdir())
                      if p.is_dir()]  # fmt: skip

# What a user's runs may leave in the tree (and .gitignore keeps out of git).
LOCAL_STATE = (".seg", "*.db", "*.db-wal", "*.db-shm", "*.key", "__pycache__")


def copy_repo_dir(source: Path | str, dest: Path, skip: tuple[str, ...] = ()) -> Path:
    """Copy ``source`` (absolute, or relative to the repository root) to ``dest`` without local
    state, and without the names matching ``skip``."""
    shutil.copytree(REPO / source, dest, ignore=shutil.ignore_patterns(*LOCAL_STATE, *skip))
    return dest


def copy_checkout(dest: Path) -> list[str]:
    """Copy the checkout as git sees it (tracked files, and new ones it does not ignore: the
    edits under test count, a user's local state does not) to ``dest``, without ``.git``;
    return the copied names."""
    listed = subprocess.run(["git", "ls-files", "-z", "--cached", "--others", "--exclude-standard"],
                            cwd=REPO, capture_output=True, text=True, timeout=60, check=True)  # fmt: skip
    names = [n for n in listed.stdout.split("\0") if n and (REPO / n).is_file()]
    for name in names:
        (dest / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, dest / name)
    return names
