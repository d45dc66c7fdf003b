"""The PR loop's promise: the plan a reviewer read is what runs (issue 12, item 4).

A real git repository: a pull-request branch is planned (`seg plan --out`, as the PR workflow
does), merged into main, and the saved plan is applied (`seg apply PLANFILE`, as the apply
workflow does). It applies when the merged workspace tree is the reviewed one, and stops with
exit 4 asking for a fresh review when main gained anything in the workspace meanwhile — even a
comment, since the reviewed tree is compared byte for byte.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import git
import pytest

from tests.e2e.processes import run
from tests.git_repos import new_repo
from tests.repo_files import copy_repo_dir

pytestmark = pytest.mark.e2e

BUDGET = "10"  # the shared delete budget both workflows pass


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEG_")}
    return {**env, "AMPLITUDE_API_KEY": "demo-key", "NO_COLOR": "1"}


def seg(repo: Path, *args: str, code: int = 0) -> str:
    result = run(*args, env=_env(), cwd=repo)
    assert result.returncode == code, result.stdout + result.stderr
    assert "Traceback" not in result.stderr
    return result.stdout + result.stderr


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def commit(repo: git.Repo, message: str) -> None:
    repo.git.add("-A")
    repo.index.commit(message)


@pytest.fixture
def reviewed(tmp_path: Path) -> tuple[git.Repo, Path]:
    """main holds the applied workspace; branch `pr` renames a destination, and its plan is
    saved in plan.json (outside the repository, as a CI artifact). HEAD is main again."""
    path = tmp_path / "repo"
    copy_repo_dir("workspace", path / "workspace")
    (path / "README.md").write_text("# infra\n")
    repo = new_repo(path)
    commit(repo, "workspace")
    seg(path, "apply", "-w", "workspace", "--auto-approve")  # the embedded control plane
    repo.git.checkout("-b", "pr")
    edit(path / "workspace/destinations/web.yaml", "display_name: Amplitude", "display_name: Amp EU")
    commit(repo, "rename amplitude")
    plan = seg(path, "plan", "-w", "workspace", "--max-deletes", BUDGET, "--detailed-exitcode",
               "--out", str(tmp_path / "plan.json"), code=2)  # fmt: skip
    assert "1 to change" in plan
    repo.git.checkout("main")
    return repo, tmp_path / "plan.json"


def pending(path: Path) -> list[str]:
    shown = seg(path, "plan", "-w", "workspace", "-o", "json")
    return [c["address"] for c in json.loads(shown)["changes"]]


def test_the_saved_plan_applies_when_the_merged_tree_is_the_reviewed_one(reviewed) -> None:
    repo, planfile = reviewed
    path = Path(repo.working_dir)
    edit(path / "README.md", "# infra", "# infra (outside the workspace)")
    commit(repo, "docs")  # main moved, but not in the workspace
    repo.git.merge("--no-ff", "pr", "-m", "merge pr")
    assert pending(path) == ["web/amplitude"]
    applied = seg(path, "apply", "-w", "workspace", str(planfile), "--max-deletes", BUDGET)
    assert "Apply complete: 1 applied" in applied
    assert pending(path) == []


@pytest.mark.parametrize(
    ("extra", "named"),
    [
        (lambda ws: edit(ws / "sources/web.yaml", "kind: Source", "# owned by web\nkind: Source"),
         "changed: sources/web.yaml"),
        (lambda ws: (ws / "sources/backend.yaml").rename(ws / "sources/server.yaml"),
         "added: sources/server.yaml; removed: sources/backend.yaml"),
    ],
    ids=["comment-only", "renamed-file"],
)  # fmt: skip
def test_a_merge_with_an_extra_commit_stops_with_exit_4_and_asks_for_a_fresh_review(
    reviewed, extra, named
) -> None:
    repo, planfile = reviewed
    path = Path(repo.working_dir)
    extra(path / "workspace")
    commit(repo, "meanwhile on main")
    repo.git.merge("--no-ff", "pr", "-m", "merge pr")
    out = seg(path, "apply", "-w", "workspace", str(planfile), "--max-deletes", BUDGET, code=4)
    assert "saved plan is stale: the workspace files differ" in out
    assert named in out and "have the new plan reviewed" in out
    assert len(out.strip().splitlines()) == 1  # one error line
    assert pending(path) == ["web/amplitude"]  # nothing was written


def test_the_reviewed_plan_needs_the_same_delete_budget(reviewed) -> None:
    repo, planfile = reviewed
    path = Path(repo.working_dir)
    repo.git.merge("--no-ff", "pr", "-m", "merge pr")
    out = seg(path, "apply", "-w", "workspace", str(planfile), "--max-deletes", "50", code=4)
    assert "computed with --max-deletes 10, not 50" in out and "reviewed" in out
    assert pending(path) == ["web/amplitude"]
