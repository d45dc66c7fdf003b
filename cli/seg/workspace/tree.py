"""Where a workspace's files come from: a directory, or a git revision (no checkout)."""

from __future__ import annotations

import os
from pathlib import Path, PurePosixPath
from typing import Protocol

__all__ = ["FsTree", "Tree", "display_path", "is_resource_file"]


class Tree(Protocol):
    """A read-only view of a workspace's files, by posix path relative to its root."""

    def files(self) -> list[str]: ...
    def read(self, rel: str) -> str: ...
    def display(self, rel: str) -> str: ...


def display_path(path: Path) -> str:
    rel = os.path.relpath(path)
    return path.as_posix() if rel.startswith("..") else Path(rel).as_posix()


def is_resource_file(rel: str) -> bool:
    """``*.yaml``/``*.yml`` except the root ``seg.yaml``, environment overlays under ``envs/``
    and anything under a dot-directory."""
    parts = PurePosixPath(rel).parts
    if any(p.startswith(".") for p in parts[:-1]) or rel == "seg.yaml" or parts[0] == "envs":
        return False
    return rel.endswith((".yaml", ".yml"))


class FsTree:
    """The files of a directory on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._shown_root = display_path(root)

    def files(self) -> list[str]:
        found = []
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            base = Path(dirpath).relative_to(self.root)
            found += [(base / name).as_posix() for name in sorted(filenames)]
        return found

    def read(self, rel: str) -> str:
        return (self.root / rel).read_text(encoding="utf-8")

    def display(self, rel: str) -> str:
        return rel if self._shown_root == "." else f"{self._shown_root}/{rel}"
