"""Real git repositories for tests: created on ``main`` with a test identity."""

from __future__ import annotations

from pathlib import Path

import git

__all__ = ["commit_all", "identify", "new_repo"]


def identify(repo: git.Repo) -> git.Repo:
    """``repo`` with the tests' author and committer identity in its own config."""
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", "seg tests")
        cfg.set_value("user", "email", "tests@example.com")
    return repo


def new_repo(path: Path, commit: str | None = None) -> git.Repo:
    """A repository at ``path`` on branch ``main``; with ``commit``, everything in it
    committed under that message."""
    repo = identify(git.Repo.init(path, initial_branch="main"))
    if commit is not None:
        commit_all(repo, commit)
    return repo


def commit_all(repo: git.Repo, message: str) -> None:
    """Everything in the working tree committed under ``message``."""
    repo.git.add("-A")
    repo.index.commit(message)
