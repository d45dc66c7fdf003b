"""Attacks through a saved plan file (`seg apply PLANFILE`).

In CI the apply job downloads the plan from the pull request's run: a file a pull-request
author may have shaped. It must not choose where the write token goes, nor loosen the options
the apply job passes, nor skip the check that the merged tree is the reviewed one. (Its
environment, scope and targets: test_review_12_apply.py.)
"""

from __future__ import annotations

import json
import os
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.processes import run

pytestmark = pytest.mark.e2e

TOKEN = "write-TOKEN-never-sent-anywhere-else"


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    """A loopback socket that would see any connection seg makes to it."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(8)
        s.setblocking(False)
        yield s


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEG_")}
    return {**env, "SEG_TOKEN": TOKEN, "NO_COLOR": "1"}


@pytest.fixture
def saved(write_workspace, tmp_path: Path) -> tuple[Path, Path]:
    root = write_workspace({"sources.yaml": "kind: Source\nname: web\nspec: {catalog: javascript}\n"})
    planfile = tmp_path / "plan.json"
    made = run("plan", "-w", str(root), "--max-deletes", "3", "--out", str(planfile), env=_env())
    assert made.returncode == 0, made.stderr
    return root, planfile


def forge(planfile: Path, **fields: object) -> None:
    data = json.loads(planfile.read_text())
    for key, value in fields.items():
        if value is None:
            del data[key]
        else:
            data[key] = value
    planfile.write_text(json.dumps(data))


def apply(root: Path, planfile: Path, *extra: str) -> str:
    """Apply as the CI job does (with the budget it planned with, unless ``extra`` says
    otherwise); it must refuse (exit 4) and apply nothing."""
    extra = extra or ("--max-deletes", "3")
    result = run("apply", "-w", str(root), str(planfile), *extra, env=_env())
    assert result.returncode == 4, result.stdout + result.stderr
    assert "Traceback" not in result.stderr and TOKEN not in result.stdout + result.stderr
    shown = run("plan", "-w", str(root), "-o", "json", env=_env())
    changes = json.loads(shown.stdout)["changes"]
    assert [(c["action"], c["address"]) for c in changes] == [("create", "web")]  # none applied
    return result.stderr


def test_a_plan_file_does_not_choose_where_the_token_goes(saved, listener) -> None:
    root, planfile = saved
    port = listener.getsockname()[1]
    forge(planfile, api_url=f"http://127.0.0.1:{port}")
    err = apply(root, planfile)
    assert f"computed against http://127.0.0.1:{port}, but this apply talks to embedded" in err
    with pytest.raises(BlockingIOError):  # nobody connected: the token was never sent there
        listener.accept()


def test_a_plan_file_cannot_loosen_the_delete_budget_the_apply_job_passes(saved) -> None:
    root, planfile = saved
    data = json.loads(planfile.read_text())
    forge(planfile, options={**data["options"], "max_deletes": None})
    err = apply(root, planfile, "--max-deletes", "3")
    assert "computed with --max-deletes (none), not 3" in err


def test_a_plan_file_without_the_reviewed_files_is_refused(saved) -> None:
    root, planfile = saved
    forge(planfile, files=None)
    assert "does not record the files it was planned from" in apply(root, planfile)


def test_a_plan_file_naming_other_file_contents_is_refused(saved) -> None:
    root, planfile = saved
    data = json.loads(planfile.read_text())
    forge(planfile, files={**data["files"], "sources.yaml": "0" * 64})
    assert "changed: sources.yaml" in apply(root, planfile)
