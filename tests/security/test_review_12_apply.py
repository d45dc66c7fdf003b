"""Finding F2 of the attacker's review of issue 12, as processes against the embedded control
plane: a saved plan is a file a pull-request author may have shaped (the CI artifact). Its
environment, scope, targets and delete budget must not choose what the apply does: they come
from the apply's own command line, and any difference from the saved values is refused (exit 4,
nothing applied). (F3, an empty ${env:…}: test_review_12_empty_env.py.)
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.repo_workspace import clean_env, seg
from tests.security.review_12_workspace import SEG_YAML, SOURCES

pytestmark = pytest.mark.e2e

FRESH = "run seg plan again and have the new plan reviewed"
SUB_SOURCE = """\
kind: Source
name: ios
spec: {catalog: ios, display_name: iOS}
"""


@pytest.fixture
def root(tmp_path: Path) -> Path:
    base = tmp_path / "ws"
    (base / "sub").mkdir(parents=True)
    (base / "seg.yaml").write_text(SEG_YAML)
    (base / "sources.yaml").write_text(SOURCES)
    (base / "sub" / "ios.yaml").write_text(SUB_SOURCE)
    return base


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return clean_env(tmp_path)


def live(root: Path, env: dict[str, str]) -> list[tuple[str, str]]:
    """What a plan of the whole workspace (default environment) still wants to do."""
    done = seg(root, "plan", "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    return [(c["action"], c["address"]) for c in json.loads(done.stdout)["changes"]]


def refused(done, message: str) -> None:
    assert done.returncode == 4, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line == f"error: saved plan was computed with {message}; {FRESH}", line


# F2 — the environment


def test_a_plan_saved_for_prod_is_not_applied_by_an_apply_that_names_no_environment(
    root: Path, env, tmp_path: Path
) -> None:
    assert seg(root, "apply", "--auto-approve", env=env).returncode == 0  # web-us is live
    planfile = tmp_path / "f.json"
    assert seg(root, "plan", "--env", "prod", "--out", str(planfile), env=env).returncode == 0
    refused(seg(root, "apply", str(planfile), env=env), "--env prod, not (none)")
    assert live(root, env) == []  # still the default environment's web-us: nothing applied
    applied = seg(root, "apply", "--env", "prod", str(planfile), env=env)  # said on purpose
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert live(root, env) == [("update", "web")]  # now web-eu


def test_a_forged_environment_in_the_plan_file_is_refused(root: Path, env, tmp_path: Path) -> None:
    planfile = tmp_path / "f.json"
    assert seg(root, "plan", "--out", str(planfile), env=env).returncode == 0
    data = json.loads(planfile.read_text())
    planfile.write_text(json.dumps({**data, "env": "prod\x1b[2J"}))
    done = seg(root, "apply", str(planfile), env=env)
    refused(done, "--env 'prod\\x1b[2J', not (none)")  # shown escaped, never to the terminal
    assert "\x1b" not in done.stderr
    assert live(root, env) == [("create", "ios"), ("create", "web")]


def test_an_apply_naming_another_environment_than_the_plan_is_refused(
    root: Path, env, tmp_path: Path
) -> None:
    planfile = tmp_path / "f.json"
    assert seg(root, "plan", "--out", str(planfile), env=env).returncode == 0
    refused(seg(root, "apply", "--env", "prod", str(planfile), env=env), "--env (none), not prod")
    prod = {**env, "SEG_ENV": "prod"}  # SEG_ENV is the command line's --env
    refused(seg(root, "apply", str(planfile), env=prod), "--env (none), not prod")
    assert live(root, env) == [("create", "ios"), ("create", "web")]


# F2 — the scope


def test_a_plan_scoped_to_a_sub_directory_is_not_applied_to_the_whole_workspace(
    root: Path, env, tmp_path: Path
) -> None:
    planfile = tmp_path / "p.json"
    made = seg(root / "sub", "plan", "--out", str(planfile), env=env)
    assert made.returncode == 0, made.stderr
    assert json.loads(planfile.read_text())["options"]["scope"] == "sub"
    refused(seg(root, "apply", str(planfile), env=env), "-w (a sub-directory) sub, not (none)")
    assert live(root, env) == [("create", "ios"), ("create", "web")]
    # The same scope, spelled another way, is the same scope.
    spelled = seg(Path(f"{root}/./sub/"), "apply", str(planfile), env=env)
    assert spelled.returncode == 0, spelled.stdout + spelled.stderr
    assert live(root, env) == [("create", "web")]


def test_a_whole_workspace_plan_is_not_applied_to_a_sub_directory(
    root: Path, env, tmp_path: Path
) -> None:
    planfile = tmp_path / "p.json"
    assert seg(root, "plan", "--out", str(planfile), env=env).returncode == 0
    refused(seg(root / "sub", "apply", str(planfile), env=env),
            "-w (a sub-directory) (none), not sub")  # fmt: skip
    assert live(root, env) == [("create", "ios"), ("create", "web")]


def test_a_forged_scope_in_the_plan_file_does_not_narrow_the_apply(
    root: Path, env, tmp_path: Path
) -> None:
    assert seg(root, "apply", "--auto-approve", env=env).returncode == 0
    (root / "sources.yaml").write_text(SOURCES.replace("web-", "site-"))
    planfile = tmp_path / "p.json"
    assert seg(root, "plan", "--out", str(planfile), env=env).returncode == 0
    data = json.loads(planfile.read_text())
    planfile.write_text(json.dumps({**data, "options": {**data["options"], "scope": "sub"}}))
    refused(seg(root, "apply", str(planfile), env=env), "-w (a sub-directory) sub, not (none)")
    assert live(root, env) == [("update", "web")]


# F2 — targets and the delete budget


def test_a_targeted_plan_needs_the_same_targets_on_the_apply(
    root: Path, env, tmp_path: Path
) -> None:
    planfile = tmp_path / "t.json"
    assert seg(root, "plan", "--target", "ios", "--out", str(planfile), env=env).returncode == 0
    refused(seg(root, "apply", str(planfile), env=env), "--target ios, not (none)")
    refused(seg(root, "apply", "--target", "web", str(planfile), env=env), "--target ios, not web")
    assert live(root, env) == [("create", "ios"), ("create", "web")]
    done = seg(root, "apply", "--target", "ios", "--target", "ios", str(planfile), env=env)
    assert done.returncode == 0, done.stdout + done.stderr  # a repeat narrows nothing more
    assert live(root, env) == [("create", "web")]


def test_a_forged_target_list_in_the_plan_file_is_refused(root: Path, env, tmp_path: Path) -> None:
    planfile = tmp_path / "t.json"
    assert seg(root, "plan", "--out", str(planfile), env=env).returncode == 0
    data = json.loads(planfile.read_text())
    planfile.write_text(json.dumps({**data, "options": {**data["options"], "targets": ["ios"]}}))
    refused(seg(root, "apply", str(planfile), env=env), "--target ios, not (none)")


def test_a_budget_only_the_plan_file_names_is_refused(root: Path, env, tmp_path: Path) -> None:
    planfile = tmp_path / "b.json"
    assert seg(root, "plan", "--max-deletes", "3", "--out", str(planfile), env=env).returncode == 0
    refused(seg(root, "apply", str(planfile), env=env), "--max-deletes 3, not (none)")
    ok = seg(root, "apply", "--max-deletes", "3", str(planfile), env=env)
    assert ok.returncode == 0, ok.stdout + ok.stderr
