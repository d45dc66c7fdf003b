"""A workspace read straight from a git revision with gitpython: no second checkout."""

from __future__ import annotations

from pathlib import Path, PurePosixPath

import git

from seg.errors import ConfigError

__all__ = ["GitTree", "open_repo"]


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


class GitTree:
    """The files under ``subdir`` at revision ``rev``; paths display relative to the repo."""

    def __init__(self, repo: git.Repo, rev: str, subdir: str) -> None:
        try:
            self.commit = repo.commit(rev)
        except (git.BadName, ValueError):
            raise ConfigError(f"unknown git revision {rev!r}") from None
        self.rev = rev
        self.subdir = subdir
        self._blobs: dict[str, git.Blob] = {}
        try:
            root = self.commit.tree / subdir if subdir else self.commit.tree
        except KeyError:
            return  # the workspace does not exist at this revision
        for item in root.traverse():
            if isinstance(item, git.Blob):
                rel = PurePosixPath(item.path).relative_to(subdir) if subdir else item.path
                self._blobs[str(rel)] = item

    @property
    def exists(self) -> bool:
        return "seg.yaml" in self._blobs

    def files(self) -> list[str]:
        return sorted(self._blobs)

    def read(self, rel: str) -> str:
        blob = self._blobs.get(rel)
        if blob is None:
            raise FileNotFoundError(f"{rel} not in {self.rev}")
        data: bytes = blob.data_stream.read()
        return data.decode("utf-8")

    def display(self, rel: str) -> str:
        return str(PurePosixPath(self.subdir) / rel) if self.subdir else rel
