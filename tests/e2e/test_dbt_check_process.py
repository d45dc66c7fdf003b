"""`seg check --dbt` as the dbt repository's CI runs it (issue 16): `seg serve` on a free port,
the seg workspace applied to it from another directory, then `seg check --dbt` as a process in
a dbt repository that holds no seg.yaml at all, with SEG_API_URL, SEG_WORKSPACE and a read
token in the environment."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import git
import pytest
import yaml

from tests.dbt_repo import MART, write_workspace
from tests.dbt_tool import DBT_EXAMPLE, copy_dbt_example, dbt_executable
from tests.e2e.processes import Server, run
from tests.git_repos import identify, new_repo

SLUG = "shop"


@pytest.fixture
def server(tmp_path: Path) -> Iterator[Server]:
    srv = Server(f"sqlite:///{tmp_path / 'cp.db'}", tmp_path, SLUG)
    yield srv
    srv.stop()


def applied_with_read_token(server: Server, tmp_path: Path) -> str:
    """The seg workspace applied to the server from its own repository; a read token."""
    ws = tmp_path / "seg-repo" / "seg"  # the seg workspace's repository (a copy of the project
    write_workspace(ws)  # beside it for seg validate)
    copy_dbt_example(ws.parent / "analytics", workspace=False)
    git.Repo.init(ws.parent, initial_branch="main")
    seg_yaml = ws / "seg.yaml"
    seg_yaml.write_text(seg_yaml.read_text().replace("path: ..", "path: ../analytics"))
    env = server.client_env(WAREHOUSE_PASSWORD="pw", BRAZE_API_KEY="braze-key")
    applied = run("apply", "-w", str(ws), "--auto-approve", env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    made = run("server", "token", "create", "--scope", "workspace:read", "--description",
               "dbt repository CI", "--slug", SLUG, "-o", "json", env=server.env)  # fmt: skip
    assert made.returncode == 0, made.stderr
    return str(json.loads(made.stdout)["token"])


def test_a_pull_request_of_the_dbt_repository_is_blocked_with_an_annotation(
    server: Server, tmp_path: Path
) -> None:
    read_token = applied_with_read_token(server, tmp_path)
    dbt = tmp_path / "dbt-repo"
    copy_dbt_example(dbt, workspace=False)
    repo = new_repo(dbt, commit="dbt")
    repo.git.checkout("-b", "feature")
    mart = dbt / MART
    mart.write_text(mart.read_text().replace("    u.plan,\n", "    u.plan,\n    u.created_at,\n"))
    repo.git.add("-A")
    repo.index.commit("users: created_at")
    assert not list(dbt.rglob("seg.yaml"))

    check_env = {**server.env, "SEG_API_URL": server.url, "SEG_WORKSPACE": SLUG,
                 "SEG_TOKEN": read_token, "GITHUB_ACTIONS": "true",
                 "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md")}  # fmt: skip
    done = run("check", "--dbt", ".", "--base", "main", "--head", "HEAD", env=check_env, cwd=dbt)
    assert done.returncode == 3, done.stdout + done.stderr
    assert f"::error file={MART},line=1,title=seg check%3A dbt model users::model " in done.stdout
    assert "is in use by warehouse/braze/users-to-braze" in done.stdout
    assert "Traceback" not in done.stderr
    assert "| `users` | modified | **blocked** |" in (tmp_path / "summary.md").read_text()

    refused = run("check", "--dbt", ".", "--base", "main", cwd=dbt,
                  env={**check_env, "SEG_TOKEN": "not-a-token"})  # fmt: skip
    assert refused.returncode not in (0, 3) and "Traceback" not in refused.stderr


def _step(workflow: dict, name_start: str) -> str:
    steps = [s for job in workflow["jobs"].values() for s in job["steps"]]
    return str(next(s["run"] for s in steps if s.get("name", "").startswith(name_start)))


def test_the_workflow_template_steps_catch_a_macro_change(server: Server, tmp_path: Path) -> None:
    """The template's own shell steps with the real dbt and seg: a pull request that only
    changes a macro is blocked through the two compiled manifests."""
    read_token = applied_with_read_token(server, tmp_path)
    origin = tmp_path / "origin"
    copy_dbt_example(origin, workspace=False)
    new_repo(origin, commit="dbt")
    checkout = tmp_path / "checkout"  # as actions/checkout leaves it: origin/main fetched
    clone = git.Repo.clone_from(origin, checkout)
    identify(clone)
    clone.git.checkout("-b", "feature")
    macro = checkout / "macros/cents_to_dollars.sql"
    macro.write_text(macro.read_text().replace("/ 100.0, 2)", "/ 100.0, 4)"))
    clone.git.add("-A")
    clone.index.commit("more precision")

    runner = tmp_path / "runner"
    (runner / "seg" / "bin").mkdir(parents=True)  # what the install step leaves
    shim = runner / "seg" / "bin" / "seg"
    shim.write_text(f'#!/bin/sh\nexec "{sys.executable}" -m seg "$@"\n')
    shim.chmod(0o755)
    workflow = yaml.safe_load((DBT_EXAMPLE / ".github/workflows/seg-check.yml").read_text())
    env = {**server.env, "RUNNER_TEMP": str(runner), "BASE_REF": "main", "NO_COLOR": "1",
           "PATH": f"{Path(dbt_executable()).parent}{os.pathsep}{os.environ['PATH']}",
           "DBT_SEND_ANONYMOUS_USAGE_STATS": "false", "DO_NOT_TRACK": "1"}  # fmt: skip
    compiled = subprocess.run(["bash", "-e", "-c", _step(workflow, "dbt compile")], cwd=checkout,
                              env=env, capture_output=True, text=True, timeout=600)  # fmt: skip
    assert compiled.returncode == 0, compiled.stdout[-3000:] + compiled.stderr[-3000:]
    # the setup-seg step's output `seg`: the executable it installed
    env.update(SEG_API_URL=server.url, SEG_WORKSPACE=SLUG, SEG_TOKEN=read_token, SEG=str(shim))
    checked = subprocess.run(["bash", "-e", "-c", _step(workflow, "seg check --dbt")],
                             cwd=checkout, env=env, capture_output=True, text=True,
                             timeout=300)  # fmt: skip
    assert checked.returncode == 3, checked.stdout + checked.stderr
    assert "its compiled SQL change (policy strict blocks any change)" in " ".join(
        checked.stdout.split()
    )
    assert "note:" not in checked.stdout  # both manifests were used
