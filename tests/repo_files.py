"""The repository's own files for tests: copied without the state a user's runs leave in them.

Running the README's quick start (or any example) with the embedded control plane leaves
`.seg/` (its database and owner token) inside the workspace directory, and `seg serve` leaves
`*.db` files. A test that copied those along would plan against a user's state ("No changes"
instead of creates): every test copies repository directories through `copy_repo_dir`.
"""

from __future__ import annotations

import shutil
from pathlib import Path

__all__ = ["LOCAL_STATE", "REPO", "copy_repo_dir"]

REPO = Path(__file__).resolve().parents[1]

# What a user's runs may leave in the tree (and .gitignore keeps out of git).
LOCAL_STATE = (".seg", "*.db", "*.db-wal", "*.db-shm", "*.key", "__pycache__")


def copy_repo_dir(source: Path | str, dest: Path, skip: tuple[str, ...] = ()) -> Path:
    """Copy ``source`` (absolute, or relative to the repository root) to ``dest`` without local
    state, and without the names matching ``skip``."""
    shutil.copytree(REPO / source, dest, ignore=shutil.ignore_patterns(*LOCAL_STATE, *skip))
    return dest
