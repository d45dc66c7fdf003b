"""``seg apply`` records its run on the control plane (the embedded one here): the HEAD
commit of a clean git repository holding the workspace (null when the workspace has
uncommitted or untracked changes, outside git, or for a partial apply; ``SEG_GIT_REVISION``
overrides), the plan's digest, the manager and environment; its writes tagged with the run;
a plan without changes recorded as a no-op; finished ``failed`` with its counts however the
apply ends — and nothing new printed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import git
import pytest
from click.testing import Result

from seg.client.http import ControlPlaneClient
from seg.commands.apply_runs import RunFacts, git_revision, record_noop
from seg.errors import ApiError, ConfigError
from tests.conftest import Api, embedded_call, run_cli
from tests.git_repos import commit_all, new_repo

SOURCES = """\
kind: Source
name: web
spec:
  catalog: javascript
---
kind: Source
name: ios
spec:
  catalog: ios
"""

SEG_YAML = """\
version: seg/v1
workspace: acme
manager: platform
environments:
  prod: {}
"""


@pytest.fixture
def repo(tmp_path: Path, write_workspace, clean_seg_env: None,
         monkeypatch: pytest.MonkeyPatch) -> git.Repo:  # fmt: skip
    """A repository whose ``infra/`` directory is the workspace, everything committed."""
    monkeypatch.delenv("SEG_GIT_REVISION", raising=False)
    write_workspace({"sources.yaml": SOURCES}, root=tmp_path / "repo" / "infra",
                    seg_yaml=SEG_YAML)  # fmt: skip
    (tmp_path / "repo" / "README.md").write_text("docs\n")
    return new_repo(tmp_path / "repo", commit="infra")


def root_of(repo: git.Repo) -> Path:
    return Path(str(repo.working_tree_dir)) / "infra"


def apply(root: Path, *args: str) -> Result:
    return run_cli("apply", "-w", str(root), "--auto-approve", *args)


def runs(root: Path) -> list[dict[str, Any]]:
    return list(embedded_call(root, "GET", "applies").json()["applies"])


def detail(root: Path, run_id: str) -> dict[str, Any]:
    return dict(embedded_call(root, "GET", f"applies/{run_id}").json())


def test_an_apply_from_a_clean_repository_records_its_commit(repo: git.Repo) -> None:
    root = root_of(repo)
    plan = run_cli("plan", "-w", str(root), "--env", "prod", "-o", "json")
    applied = apply(root, "--env", "prod")
    assert applied.exit_code == 0, applied.output
    assert "apply" not in applied.output.lower().replace("apply complete", "")  # nothing new
    [run] = runs(root)
    assert run["git_revision"] == repo.head.commit.hexsha
    assert (run["status"], run["manager"], run["environment"]) == ("applied", "platform", "prod")
    assert run["plan_digest"] == json.loads(plan.stdout)["workspace_digest"]
    assert run["counts"] == {"created": 2, "updated": 0, "deleted": 0, "failed": 0}
    changes = detail(root, run["id"])["changes"]
    assert sorted(e["resource"] for e in changes) == ["workspaces/acme/sources/ios",
                                                      "workspaces/acme/sources/web"]
    assert {e["apply"] for e in changes} == {run["id"]}
    # the lock's release is still the last event, outside the run
    trail = embedded_call(root, "GET", "audit-events").json()["audit_events"]
    assert (trail[0]["method"], trail[0]["resource"]) == ("DELETE", "workspaces/acme/lock")
    assert trail[1]["method"] == "apply finish"


def test_a_plan_without_changes_is_recorded_as_a_noop(repo: git.Repo) -> None:
    root = root_of(repo)
    assert apply(root).exit_code == 0
    again = apply(root)
    assert again.exit_code == 0, again.output
    noop, first = runs(root)
    assert noop["status"] == "noop" and noop["git_revision"] == repo.head.commit.hexsha
    assert noop["counts"]["created"] == 0 and detail(root, noop["id"])["changes"] == []
    assert noop["environment"] is None and first["status"] == "applied"


@pytest.mark.parametrize("change", ["edited", "staged", "untracked"])
def test_changes_in_the_workspace_record_no_commit(repo: git.Repo, change: str) -> None:
    root = root_of(repo)
    if change == "untracked":
        (root / "more.yaml").write_text("kind: Source\nname: app\nspec:\n  catalog: ios\n")
    else:
        (root / "sources.yaml").write_text(SOURCES.replace("catalog: ios", "catalog: android"))
        if change == "staged":
            repo.git.add("-A")
    assert apply(root).exit_code == 0
    [run] = runs(root)
    assert run["git_revision"] is None and run["status"] == "applied"


def test_changes_outside_the_workspace_and_ignored_files_do_not_count(repo: git.Repo,
                                                                      tmp_path: Path) -> None:
    root = root_of(repo)
    (Path(str(repo.working_tree_dir)) / "README.md").write_text("changed\n")
    (root / ".gitignore").write_text("*.log\n")
    commit_all(repo, "ignore logs")
    (root / "debug.log").write_text("noise\n")
    saved = root / "plan.seg"
    assert run_cli("plan", "-w", str(root), "--out", str(saved)).exit_code == 0
    (Path(str(repo.working_tree_dir)) / "README.md").write_text("changed again\n")
    applied = run_cli("apply", str(saved), "-w", str(root))
    assert applied.exit_code == 0, applied.output
    [run] = runs(root)
    assert run["git_revision"] == repo.head.commit.hexsha  # the saved plan itself is not a change
    assert run["plan_digest"] == json.loads(saved.read_text())["plan"]["workspace_digest"]


def test_a_partial_apply_records_no_commit(repo: git.Repo) -> None:
    root = root_of(repo)
    assert apply(root, "--target", "web").exit_code == 0
    [run] = runs(root)
    assert run["git_revision"] is None and run["counts"]["created"] == 1


def test_outside_git_no_commit_and_the_variable_overrides(write_workspace, clean_seg_env: None,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:  # fmt: skip
    monkeypatch.delenv("SEG_GIT_REVISION", raising=False)
    root = write_workspace({"sources.yaml": SOURCES})
    assert git_revision(root) is None
    assert apply(root).exit_code == 0
    assert runs(root)[0]["git_revision"] is None
    monkeypatch.setenv("SEG_GIT_REVISION", "not a commit")
    assert git_revision(root) is None
    monkeypatch.setenv("SEG_GIT_REVISION", "AB" * 20)
    assert apply(root).exit_code == 0
    assert runs(root)[0]["git_revision"] == "ab" * 20


def test_a_repository_without_a_commit_has_no_revision(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("SEG_GIT_REVISION", raising=False)
    new_repo(tmp_path)
    (tmp_path / "seg.yaml").write_text("version: seg/v1\nworkspace: acme\n")
    assert git_revision(tmp_path) is None


def test_a_failed_apply_records_its_counts_and_failures(repo: git.Repo,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    original = ControlPlaneClient.create

    def create(self: ControlPlaneClient, kind: Any, address: str, *args: Any, **kw: Any) -> None:
        if address == "ios":
            raise ApiError(409, 6, "ios refused", "POST", "sources")
        original(self, kind, address, *args, **kw)

    monkeypatch.setattr(ControlPlaneClient, "create", create)
    root = root_of(repo)
    failed = apply(root)
    assert failed.exit_code == 1, failed.output
    [run] = runs(root)
    assert run["status"] == "failed"
    assert run["counts"] == {"created": 1, "updated": 0, "deleted": 0, "failed": 1}
    [failure] = run["failures"]
    assert failure["resource"] == "Source ios" and "ios refused" in failure["error"]


def test_an_apply_that_does_not_return_still_finishes_its_run(repo: git.Repo,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:  # fmt: skip
    def broken(*_: Any, **__: Any) -> Any:
        raise ConfigError("interrupted")

    monkeypatch.setattr("seg.commands.workspace_cmds.apply_plan", broken)
    root = root_of(repo)
    result = apply(root)
    assert result.exit_code == 1 and "interrupted" in result.output
    [run] = runs(root)
    assert run["status"] == "failed" and run["finished"] is not None
    assert run["counts"] == {"created": 0, "updated": 0, "deleted": 0, "failed": 0}


def test_a_token_that_may_not_record_skips_the_noop_without_error(api: Api) -> None:
    reader = ControlPlaneClient(api.client(api.token("workspace:read")), api.workspace)
    record_noop(reader, RunFacts("default", None, None, "digest"))
    assert api.http.get(api.url("/applies")).json()["applies"] == []
    writer = api.seg_client()
    record_noop(writer, RunFacts("default", None, "a" * 40, "digest"))
    [run] = api.http.get(api.url("/applies")).json()["applies"]
    assert (run["status"], run["git_revision"]) == ("noop", "a" * 40)
