"""A dbt project in a git repository of its own, served by ``file://``, and a seg workspace in
another directory that names it (``dbt_projects: {analytics: {repository, ref,
project_path}}``), for the tests of seg reading dbt projects from another repository."""

from __future__ import annotations

import subprocess
from dataclasses import dataclass
from pathlib import Path

from tests.dbt_tool import copy_dbt_example

__all__ = ["DbtRemote", "make_remote", "make_workspace"]

PROJECT_PATH = "analytics"
RESOURCES = """\
kind: Source
name: warehouse
spec: {catalog: postgres, settings: {host: db.internal, database: analytics}}
---
kind: Model
name: users
spec:
  source: warehouse
  dbt_model: users
  identifier_column: {identifier}
"""


def git(cwd: Path, *args: str) -> str:
    result = subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@example.com",
                             "-c", "init.defaultBranch=main", *args], cwd=cwd,
                            capture_output=True, text=True, check=True, timeout=60)  # fmt: skip
    return result.stdout.strip()


@dataclass
class DbtRemote:
    """``work``: a clone to commit in; ``bare``: the repository seg fetches (``url``)."""

    work: Path
    bare: Path

    @property
    def url(self) -> str:
        return self.bare.as_uri()

    def commit(self, message: str) -> str:
        git(self.work, "add", "-A")
        git(self.work, "commit", "-q", "-m", message)
        git(self.work, "push", "-q", "--tags", "origin", "HEAD:main")
        return git(self.work, "rev-parse", "HEAD")

    def document_column(self, column: str) -> str:
        """Document one more column of the users mart and push it to main; the commit id."""
        schema = self.work / PROJECT_PATH / "models" / "schema.yml"
        text = schema.read_text().replace("      - name: lifetime_value\n",
                                          f"      - name: lifetime_value\n      - name: {column}\n")  # fmt: skip
        schema.write_text(text)
        return self.commit(f"document {column}")


def make_remote(base: Path) -> DbtRemote:
    """``base/remote.git`` holding the example dbt project under ``analytics/`` (tag v1 on its
    first commit), and ``base/work``, a clone to push more commits from."""
    base.mkdir(parents=True, exist_ok=True)
    bare = base / "remote.git"
    git(base, "init", "-q", "--bare", str(bare))
    work = base / "work"
    git(base, "clone", "-q", str(bare), str(work))
    copy_dbt_example(work / PROJECT_PATH, workspace=False)
    (work / "README.md").write_text("the analytics dbt project\n")
    remote = DbtRemote(work, bare)
    remote.commit("the analytics project")
    git(work, "tag", "v1")
    git(work, "push", "-q", "origin", "v1")
    return remote


def make_workspace(root: Path, url: str, ref: str, identifier: str = "user_id",
                   project_path: str | None = PROJECT_PATH) -> Path:  # fmt: skip
    """A seg workspace at ``root`` whose Model links to the dbt model ``users`` of the project
    ``analytics`` at ``url``/``ref``; its name under dbt_projects is on line 4 of seg.yaml."""
    root.mkdir(parents=True, exist_ok=True)
    path = "" if project_path is None else f"    project_path: {project_path}\n"
    (root / "seg.yaml").write_text(
        f"version: seg/v1\nworkspace: acme\ndbt_projects:\n  analytics:\n"
        f"    repository: '{url}'\n    ref: '{ref}'\n{path}"
    )
    (root / "resources.yaml").write_text(RESOURCES.replace("{identifier}", identifier))
    return root
