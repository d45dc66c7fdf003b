"""A workspace read straight from a git revision with gitpython: no second checkout."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path, PurePosixPath

import git

from seg.errors import ConfigError
from seg.workspace.tree import FileRefused, OutsideWorkspace, check_size

__all__ = ["GitTree", "clean_revision", "open_repo"]

MAX_LINK_HOPS = 40  # as the kernel's ELOOP limit
MAX_LINK_TARGET = 4096  # bytes (PATH_MAX)


def open_repo(path: Path) -> tuple[git.Repo, str]:
    """The repository holding ``path``, and ``path`` relative to its top (posix, "" = top)."""
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        raise ConfigError(f"{path} is not inside a git repository") from None
    top = Path(repo.working_tree_dir or ".").resolve()
    try:
        rel = path.resolve().relative_to(top)
    except ValueError:
        raise ConfigError(f"{path} is outside the repository at {top}") from None
    return repo, "" if str(rel) == "." else rel.as_posix()


def clean_revision(path: Path, ignore: Iterable[Path] = ()) -> str | None:
    """The HEAD commit of the git repository holding the directory ``path``, when nothing
    under ``path`` differs from it: no staged, unstaged or untracked change (files git
    ignores do not count, nor those in ``ignore``: a saved plan beside the tree). None
    outside git, before the first commit, with a change, or when git cannot answer."""
    try:
        repo = git.Repo(path, search_parent_directories=True)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError):
        return None
    try:
        with repo:
            if repo.bare or repo.working_tree_dir is None or not repo.head.is_valid():
                return None
            top = Path(repo.working_tree_dir).resolve()
            rel = path.resolve().relative_to(top).as_posix()
            listed = repo.git.status("--porcelain=v1", "-z", "--untracked-files=all",
                                     "--", rel)  # fmt: skip
            head = str(repo.head.commit.hexsha)
    except (ValueError, OSError, git.GitError):
        return None
    skipped = set()
    for other in ignore:
        try:
            skipped.add(other.resolve().relative_to(top).as_posix())
        except ValueError:
            continue  # outside the repository: git does not list it
    return None if set(_status_paths(listed)) - skipped else head


def _status_paths(listed: str) -> list[str]:
    """The paths of ``git status --porcelain=v1 -z`` (a rename's source too)."""
    entries = listed.split("\0")
    paths: list[str] = []
    i = 0
    while i < len(entries):
        entry = entries[i]
        i += 1
        if len(entry) < 4:
            continue
        paths.append(entry[3:])
        if entry[0] in "RC" and i < len(entries):  # the source follows its rename or copy
            paths.append(entries[i])
            i += 1
    return paths


class GitTree:
    """The files under ``subdir`` at revision ``rev``; paths display relative to the repo.

    A committed symlink is a blob whose content is its target. It is followed only inside
    ``subdir`` (the workspace root), component by component as the kernel would; a target that
    is absolute or steps above the root — even on the way back in — is ``OutsideWorkspace``."""

    def __init__(self, repo: git.Repo, rev: str, subdir: str) -> None:
        try:
            self.commit = repo.commit(rev)
        except (git.BadName, ValueError):
            raise ConfigError(f"unknown git revision {rev!r}") from None
        self.rev = rev
        self.subdir = subdir
        self._blobs: dict[str, git.Blob] = {}
        self._links: dict[str, str] = {}
        self._dirs: set[str] = {""}
        try:
            root = self.commit.tree / subdir if subdir else self.commit.tree
        except KeyError:
            return  # the workspace does not exist at this revision
        if not isinstance(root, git.Tree):
            return  # a file or a symlink where the directory was: no workspace either
        for item in root.traverse():
            if not isinstance(item, (git.Tree, git.Blob)):
                continue  # submodules are not part of the workspace
            rel = str(PurePosixPath(item.path).relative_to(subdir) if subdir else item.path)
            if isinstance(item, git.Tree):
                self._dirs.add(rel)
            elif item.mode == git.Blob.link_mode:
                self._links[rel] = _link_target(item)
            else:
                self._blobs[rel] = item

    @property
    def exists(self) -> bool:
        return "seg.yaml" in self._blobs or "seg.yaml" in self._links

    def files(self) -> list[str]:
        """Regular files and symlinks (as a checkout lists them), except links to directories."""
        links = [rel for rel in self._links if not self._is_dir_link(rel)]
        return sorted([*self._blobs, *links])

    def read(self, rel: str, limit: int | None = None) -> str:
        resolved = self.resolve(rel)
        blob = self._blobs.get(resolved)
        if blob is None:
            if resolved in self._dirs:
                raise FileRefused("it is not a regular file")
            raise FileNotFoundError(f"{rel} not in {self.rev}")
        check_size(blob.size, limit)
        data: bytes = blob.data_stream.read()
        return data.decode("utf-8")

    def resolve(self, rel: str) -> str:
        """``rel`` with every committed symlink followed; it never leaves the root."""
        pending = [p for p in rel.split("/") if p not in ("", ".")]
        done: list[str] = []
        hops = 0
        while pending:
            part = pending.pop(0)
            if part == "..":
                if not done:
                    raise OutsideWorkspace("it leads outside the workspace")
                done.pop()
                continue
            here = "/".join([*done, part])
            target = self._links.get(here)
            if target is None:
                done.append(part)
                continue
            hops += 1
            if hops > MAX_LINK_HOPS:
                raise FileRefused("it is a symlink loop")
            if target.startswith("/"):
                raise OutsideWorkspace("it leads outside the workspace (through a symlink)")
            pending = [p for p in target.split("/") if p not in ("", ".")] + pending
        return "/".join(done)

    def _is_dir_link(self, rel: str) -> bool:
        try:
            return self.resolve(rel) in self._dirs
        except FileRefused:
            return False

    def display(self, rel: str) -> str:
        return str(PurePosixPath(self.subdir) / rel) if self.subdir else rel


def _link_target(blob: git.Blob) -> str:
    """A committed symlink's target; one longer than any path is refused like an absolute
    target (it leaves the root)."""
    target: bytes = blob.data_stream.read(MAX_LINK_TARGET + 1)
    return "/" if len(target) > MAX_LINK_TARGET else target.decode("utf-8", "replace")
