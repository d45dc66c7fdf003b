"""Where a workspace's files come from: a directory, or a git revision (no checkout)."""

from __future__ import annotations

import errno
import os
import re
import stat
import time
from pathlib import Path, PurePosixPath
from typing import Protocol

__all__ = [
    "FileRefused",
    "FsTree",
    "OutsideWorkspace",
    "Tree",
    "TooLarge",
    "display_path",
    "is_resource_file",
    "recent",
]


class FileRefused(OSError):
    """A file of the tree that seg will not read; the message says why (no path in it)."""


class OutsideWorkspace(FileRefused):
    """The path, after following symlinks, leads outside the workspace root."""


class TooLarge(FileRefused):
    """The file holds more bytes than the caller's limit."""


class Tree(Protocol):
    """A read-only view of a workspace's files, by posix path relative to its root.

    ``read`` never leaves the root: a symlink (or chain of them) that resolves outside raises
    ``OutsideWorkspace``, anything but a regular file ``FileRefused``, and with ``limit`` a file
    longer than ``limit`` bytes ``TooLarge`` (never reading more than ``limit + 1`` bytes)."""

    def files(self) -> list[str]: ...
    def read(self, rel: str, limit: int | None = None) -> str: ...
    def display(self, rel: str) -> str: ...


def check_size(size: int, limit: int | None) -> None:
    if limit is not None and size > limit:
        raise TooLarge(f"it is larger than {limit:,} bytes")


def display_path(path: Path) -> str:
    rel = os.path.relpath(path)
    return path.as_posix() if rel.startswith("..") else Path(rel).as_posix()


def is_resource_file(rel: str) -> bool:
    """``*.yaml``/``*.yml`` except the root ``seg.yaml``, environment overlays under ``envs/``
    and anything under a dot-directory."""
    if not rel.endswith((".yaml", ".yml")) or rel == "seg.yaml":
        return False
    parts = PurePosixPath(rel).parts if ("//" in rel or "./" in rel) else rel.split("/")
    return parts[0] != "envs" and not any(p.startswith(".") for p in parts[:-1])


# A file changed this recently may change again within the same clock tick, leaving its size
# and times as they were: its identity is not trusted (``FsTree.identity``).
RECENT_NS = 2_000_000_000


def recent(identity: tuple[int, ...]) -> bool:
    """Whether a file of this identity (``FsTree.identity``) changed in the last two seconds."""
    return time.time_ns() - max(identity[3], identity[4]) < RECENT_NS


_ODD_PART = re.compile(r"(?:^|/)\.{0,2}(?:/|$)")

# Never block on a FIFO, never follow a symlink in the last component (see FsTree._open).
_OPEN_FLAGS = os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0)


class FsTree:
    """The files of a directory on disk."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self._shown_root = display_path(root)
        self._real_root = root.resolve()
        self._real_prefix = os.path.join(self._real_root, "")  # with its trailing separator
        self._real_dirs: dict[str, bool] = {"": True}  # directories without symlinks in them

    def files(self) -> list[str]:
        found = []
        top = len(os.path.join(self.root, ""))
        for dirpath, dirnames, filenames in os.walk(self.root):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
            base = os.path.join(dirpath, "")[top:].replace(os.sep, "/")
            found += [base + name for name in sorted(filenames)]
        return found

    def read(self, rel: str, limit: int | None = None) -> str:
        with os.fdopen(self._open(rel), "rb") as handle:
            if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
                raise FileRefused("it is not a regular file")
            data = handle.read() if limit is None else handle.read(limit + 1)
        check_size(len(data), limit)
        return data.decode("utf-8")

    def identity(self, rel: str) -> tuple[int, ...] | None:
        """What the kernel says of the regular file ``read`` would read — device, inode, size,
        and modification and change times in ns — or None when that cannot vouch for its
        content: not a regular file, not readable, or changed in the last two seconds. A file
        written since has another change time (which no caller can set)."""
        found = self.stat_identity(rel)
        return None if found is None or recent(found) else found

    def stat_identity(self, rel: str) -> tuple[int, ...] | None:
        """``identity`` of a file however recently it changed (it may change again unseen
        within the clock's granularity: such an identity proves nothing, but one that
        differs from an earlier one shows the file changed)."""
        try:
            if self._plain(rel):  # real directories: the file itself, never a symlink
                info = os.lstat(f"{self._real_prefix}{rel}")
            else:
                descriptor = self._open(rel)
                try:
                    info = os.fstat(descriptor)
                finally:
                    os.close(descriptor)
        except OSError:
            return None
        if not stat.S_ISREG(info.st_mode):
            return None
        return (info.st_dev, info.st_ino, info.st_size, info.st_mtime_ns, info.st_ctime_ns)

    def _open(self, rel: str) -> int:
        """A descriptor on ``rel`` that never leads outside the root. The common case costs no
        extra system call: a plain path under directories known to be real is opened with
        O_NOFOLLOW, and only a symlink (ELOOP) or an unusual path is resolved in full."""
        if self._plain(rel):
            try:
                return os.open(self._real_root / rel, _OPEN_FLAGS)
            except OSError as exc:
                if exc.errno != errno.ELOOP:
                    raise
        return os.open(self._resolved(rel), _OPEN_FLAGS)

    def _plain(self, rel: str) -> bool:
        if _ODD_PART.search(rel):  # an empty, "." or ".." part
            return False
        parent = rel.rpartition("/")[0]
        if parent not in self._real_dirs:
            real = os.path.realpath(self._real_root / parent)
            self._real_dirs[parent] = real == str(self._real_root / parent)
        return self._real_dirs[parent]

    def _resolved(self, rel: str) -> Path:
        """``rel`` with every symlink resolved; it must stay under the (resolved) root."""
        try:
            path = (self._real_root / rel).resolve(strict=True)
        except RuntimeError:  # Python < 3.13 reports a symlink loop this way
            raise FileRefused("it is a symlink loop") from None
        if not path.is_relative_to(self._real_root):
            raise OutsideWorkspace("it leads outside the workspace (through a symlink)")
        return path

    def display(self, rel: str) -> str:
        return rel if self._shown_root == "." else f"{self._shown_root}/{rel}"
