"""The one writer of files into a directory tree: ``seg init``, ``seg export`` / ``seg import``,
``seg schema --write`` and ``seg fmt``.

A batch of files is written all or none, and never through a symlink:

1. Every target is checked before anything is written: each directory between the root and
   the file must be a real directory (``lstat``: a symlink, even one pointing inside the tree,
   or a regular file there is refused) or not exist yet; the file must not exist, or, as the
   caller asks per file, is left alone (``skip``) or replaced (``replace``: it must be a
   regular file). The first problem is one ``ConfigError`` naming the path; nothing is written.
2. Then the writes go through directory descriptors: each directory below the root is opened
   (or made) relative to its parent with ``O_NOFOLLOW``, a new file is created with
   ``O_CREAT|O_EXCL|O_NOFOLLOW``, and a replaced file is written to a temporary file beside it
   and renamed over it (a rename replaces the name, never what a symlink points at). A symlink
   swapped in after the checks is therefore refused, not followed.
3. An ``OSError`` on the way (disk full, permissions, a race) removes what this batch created
   and is one ``ConfigError`` line; replaced files are swapped in only once every file is
   written.

The root itself is the caller's (``-w DIR``, ``seg init DIR``): it is created when missing and
may be reached through symlinks. POSIX only (``dir_fd``), like the rest of seg's file handling.
"""

from __future__ import annotations

import os
import secrets
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from seg.errors import ConfigError

__all__ = ["NewFile", "write_files"]

# What to do when the file exists already (as a regular file; a symlink is always refused).
Existing = Literal["refuse", "skip", "replace"]

_DIR_FLAGS = os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW
_NEW_FLAGS = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW
_NOTHING = " (nothing written)"


@dataclass(frozen=True)
class NewFile:
    """One file to write: ``rel`` is a posix path below the root."""

    rel: str
    text: str
    existing: Existing = "refuse"


def write_files(root: Path, files: Iterable[NewFile], removed: Iterable[str] = ()) -> list[str]:
    """Write ``files`` under ``root``, all or none (see the module), then remove the regular
    files ``removed`` names (checked with the writes; ``seg sync``'s deleted resources);
    returns the relative paths written, in the order given (files left alone under ``skip``
    are not listed)."""
    batch = list(files)
    gone = list(dict.fromkeys(removed))
    checked = _check(root, batch + [NewFile(rel, "", "replace") for rel in gone])
    todo = [f for f in checked if f.rel not in set(gone)]
    present = [rel for rel in gone if _lstat(root / rel) is not None]  # missing: nothing to do
    _Batch(root).run(todo, present)
    return [f.rel for f in todo]


def _parts(root: Path, rel: str) -> list[str]:
    parts = rel.split("/")
    if rel.startswith("/") or any(p in ("", ".", "..") for p in parts):
        raise ConfigError(f"{root / rel}: not a plain path below {root}{_NOTHING}")
    return parts


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}{_NOTHING}") from None


def _check(root: Path, files: list[NewFile]) -> list[NewFile]:
    """The files to write, once every target is known to be safe (module, step 1)."""
    found = _lstat(root)
    if found is not None and not root.is_dir():  # the root may be reached through a symlink
        raise ConfigError(f"{root} exists and is not a directory{_NOTHING}")
    dirs: dict[str, bool] = {"": found is not None}  # directory below the root → it exists
    todo = []
    for new in files:
        parts = _parts(root, new.rel)
        for depth in range(1, len(parts)):
            _check_dir(root, "/".join(parts[:depth]), dirs)
        path = root / new.rel
        st = _lstat(path) if dirs["/".join(parts[:-1])] else None
        if st is None:
            todo.append(new)
        elif stat.S_ISLNK(st.st_mode):
            raise ConfigError(f"{path} is a symlink; seg does not write through one{_NOTHING}")
        elif new.existing == "refuse":
            raise ConfigError(f"{path} exists; not overwriting it{_NOTHING}")
        elif new.existing == "replace":
            if not stat.S_ISREG(st.st_mode):
                raise ConfigError(f"{path} exists and is not a regular file{_NOTHING}")
            todo.append(new)
    return todo


def _check_dir(root: Path, rel: str, dirs: dict[str, bool]) -> None:
    if rel in dirs:
        return
    parent = rel.rpartition("/")[0]
    st = _lstat(root / rel) if dirs[parent] else None
    if st is not None and stat.S_ISLNK(st.st_mode):
        raise ConfigError(f"{root / rel} is a symlink; seg does not write through one{_NOTHING}")
    if st is not None and not stat.S_ISDIR(st.st_mode):
        raise ConfigError(f"{root / rel} exists and is not a directory{_NOTHING}")
    dirs[rel] = st is not None


class _Batch:
    """The writes of one checked batch, undone on the first OSError (module, steps 2–3)."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.fds: dict[str, int] = {}
        self.made_root: list[Path] = []  # the root and its missing parents, outermost first
        self.made_dirs: list[str] = []
        self.made_files: list[tuple[str, str]] = []  # (directory, name): new files and temps
        self.renames: list[tuple[str, str, str]] = []  # (directory, temp, name)

    def run(self, files: list[NewFile], removed: list[str] | None = None) -> None:
        if not files and not removed:
            return
        current = self.root
        try:
            self.made_root = [p for p in (*reversed(self.root.parents), self.root)
                              if not p.exists()]  # fmt: skip
            self.root.mkdir(parents=True, exist_ok=True)
            self.fds[""] = os.open(self.root, os.O_RDONLY | os.O_DIRECTORY)
            for new in files:
                current = self.root / new.rel
                self._write(new)
            for directory, temp, name in self.renames:
                current = self.root / directory / name
                fd = self.fds[directory]
                os.replace(temp, name, src_dir_fd=fd, dst_dir_fd=fd)
            for rel in removed or ():  # last: nothing to undo once files are swapped in
                current = self.root / rel
                directory, _, name = rel.rpartition("/")
                at = self._dir(directory)
                if stat.S_ISREG(os.stat(name, dir_fd=at, follow_symlinks=False).st_mode):
                    os.unlink(name, dir_fd=at)
        except OSError as exc:
            self._undo()
            raise ConfigError(f"cannot write {current}: {exc.strerror or exc}{_NOTHING}"
                              ) from None  # fmt: skip
        finally:
            for fd in self.fds.values():
                os.close(fd)

    def _dir(self, rel: str) -> int:
        """A descriptor on the directory ``rel`` (made when missing), never through a symlink."""
        if rel not in self.fds:
            parent, _, name = rel.rpartition("/")
            at = self._dir(parent)
            try:
                os.mkdir(name, 0o777, dir_fd=at)
                self.made_dirs.append(rel)
            except FileExistsError:
                pass
            self.fds[rel] = os.open(name, _DIR_FLAGS, dir_fd=at)
        return self.fds[rel]

    def _write(self, new: NewFile) -> None:
        directory, _, name = new.rel.rpartition("/")
        at = self._dir(directory)
        data = new.text.encode("utf-8")
        if new.existing != "replace":
            fd = os.open(name, _NEW_FLAGS, 0o666, dir_fd=at)
            self.made_files.append((directory, name))
            _fill(fd, data)
            return
        temp = f".{name}.{secrets.token_hex(6)}.tmp"
        fd = os.open(temp, _NEW_FLAGS, 0o666, dir_fd=at)
        self.made_files.append((directory, temp))
        try:
            old = os.stat(name, dir_fd=at, follow_symlinks=False)
            if stat.S_ISREG(old.st_mode):
                os.fchmod(fd, stat.S_IMODE(old.st_mode))  # a rewrite keeps the file's mode
        except FileNotFoundError:
            pass
        except BaseException:
            os.close(fd)
            raise
        _fill(fd, data, sync=True)
        self.renames.append((directory, temp, name))

    def _undo(self) -> None:
        """Remove what this batch made that was not yet swapped in (best effort)."""
        for directory, name in reversed(self.made_files):
            if directory in self.fds:
                try:
                    os.unlink(name, dir_fd=self.fds[directory])
                except OSError:
                    pass
        for rel in reversed(self.made_dirs):
            parent, _, name = rel.rpartition("/")
            try:
                os.rmdir(name, dir_fd=self.fds[parent])
            except OSError:
                pass
        for path in reversed(self.made_root):
            try:
                path.rmdir()
            except OSError:
                pass


def _fill(fd: int, data: bytes, sync: bool = False) -> None:
    """Write ``data`` to the new file ``fd`` and close it."""
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
        if sync:
            handle.flush()
            os.fsync(handle.fileno())
