"""Checks that need no secrets, as processes with a clean environment: validate and the
pre-commit hook, plan's and apply's refusal naming every unset variable, and seg diff
--base/--head --env. (--missing-secrets=skip: test_skip_secrets.py; the commands that only
talk to the control plane: test_control_plane_only.py.)"""

from __future__ import annotations

import json
import shlex
import subprocess
from pathlib import Path

import git
import pytest

from seg.workspace.yamlpos import read_documents
from tests.e2e.repo_workspace import REPO, SEG, clean_env, repo_workspace, seg
from tests.e2e.secret_workspace import DESTINATIONS, SOURCES, write

pytestmark = pytest.mark.e2e


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write(tmp_path / "ws", {"sources.yaml": SOURCES, "destinations.yaml": DESTINATIONS})


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return clean_env(tmp_path)  # no AMP_KEY, no HOOK_TOKEN


def hook_entry() -> list[str]:
    """The shipped pre-commit hook's command line (``seg validate``), as seg from here."""
    (doc,) = read_documents((REPO / ".pre-commit-hooks.yaml").read_text())
    (hook,) = [h for h in doc.value if h["id"] == "seg-validate"]
    words = shlex.split(hook["entry"])
    assert words[:2] == ["seg", "validate"] and hook["pass_filenames"] is False
    return [*SEG, *words[1:]]


def test_the_pre_commit_hook_passes_on_this_repo_without_variables(tmp_path: Path) -> None:
    root = repo_workspace(tmp_path)  # tmp_path/workspace: the hook's default directory
    env = clean_env(tmp_path)
    done = subprocess.run(hook_entry(), cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "is valid: 6 resources" in done.stdout
    assert "Not set: AMPLITUDE_API_KEY." in done.stdout
    assert not (root / ".seg" / "control-plane.db").exists()  # no control plane touched

    web = root / "destinations" / "web.yaml"
    web.write_text(web.read_text().replace("  enabled: true", "  enabeld: true", 1))
    done = subprocess.run(hook_entry(), cwd=tmp_path, env=env, capture_output=True, text=True,
                          timeout=120)  # fmt: skip
    assert done.returncode == 1, done.stdout
    assert ("destinations/web.yaml:8:3: error: unknown key 'enabeld' in spec (did you mean "
            "'enabled'?) [schema/unknown-key]") in done.stderr  # fmt: skip
    assert "not set" not in done.stderr
    assert "Found 1 error." in done.stderr


def test_validate_reports_every_error_a_missing_variable_used_to_hide(root: Path, env) -> None:
    dest = root / "destinations.yaml"
    dest.write_text(dest.read_text().replace("    region: eu", "    region: eu\n  enabeld: 1")
                    .replace("source: web\n  catalog: webhook", "source: wbe\n  catalog: webhook"))
    done = seg(root, "validate", env=env)
    assert done.returncode == 1
    errors = [line for line in done.stderr.splitlines() if ": error: " in line]
    assert len(errors) == 2, done.stderr
    assert "destinations.yaml:10:3: error: unknown key 'enabeld'" in errors[0]
    assert ("destinations.yaml:15:11: error: Destination 'wbe/hook' refers to source 'wbe', which "
            "is not declared (did you mean 'web'?)") in errors[1]  # fmt: skip
    assert "Found 2 errors." in done.stderr


def test_validate_json_names_the_variables_it_could_not_check(root: Path, env) -> None:
    done = seg(root, "validate", "-o", "json", env=env)
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["missing_variables"] == ["AMP_KEY", "HOOK_TOKEN"]


def test_plan_and_apply_without_a_secret_fail_naming_every_variable(root: Path, env) -> None:
    plan = seg(root, "plan", env=env)
    assert plan.returncode == 1 and plan.stdout == ""
    (line,) = plan.stderr.replace(f"{root}/", "").strip().splitlines()
    assert line == (
        "error: environment variables not set: AMP_KEY (used at destinations.yaml:8:14), "
        "HOOK_TOKEN (used at destinations.yaml:18:20); set them, or plan without those values "
        "with --missing-secrets=skip"
    )
    apply = seg(root, "apply", "--auto-approve", env={**env, "AMP_KEY": "k"})
    assert apply.returncode == 1 and apply.stdout == ""
    (line,) = apply.stderr.replace(f"{root}/", "").strip().splitlines()
    assert line == ("error: environment variable not set: HOOK_TOKEN (used at "
                    "destinations.yaml:18:20); set it: seg apply needs every value")  # fmt: skip
    assert not (root / ".seg" / "control-plane.db").exists()  # refused before any control plane was opened


def _commit(repo: git.Repo, message: str) -> None:
    repo.git.add("-A")
    repo.index.commit(message)


def test_diff_between_revisions_reads_them_in_one_environment(tmp_path: Path, env) -> None:
    seg_yaml = ("version: seg/v1\nworkspace: acme\nenvironments:\n  dev:\n    vars: {region: us}\n"
                "  prod:\n    vars: {region: eu}\n")  # fmt: skip
    doc = ("kind: Source\nname: web\nspec:\n  catalog: postgres\n"
           "  settings: {host: '${var:region}', password: '${env:WEB_KEY}', database: a, port: %d}\n")  # fmt: skip
    root = write(tmp_path / "repo" / "ws", {"web.yaml": doc % 1}, seg_yaml)
    repo = git.Repo.init(tmp_path / "repo", initial_branch="main")
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", "t")
        cfg.set_value("user", "email", "t@example.com")
    _commit(repo, "base")
    (root / "web.yaml").write_text(doc % 2 + "---\nkind: Source\nname: ios\nspec: {catalog: ios}\n")
    _commit(repo, "head")

    without = seg(root, "diff", "--base", "HEAD~1", env=env)
    assert without.returncode == 1
    assert "variable 'region' is not defined for this environment" in without.stderr

    done = seg(root, "diff", "--base", "HEAD~1", "--head", "HEAD", "--env", "prod", "-o", "json",
               env=env)  # fmt: skip
    assert done.returncode == 2, done.stderr
    changes = {c["address"]: c for c in json.loads(done.stdout)["changes"]}
    assert changes["ios"]["action"] == "create"
    assert changes["web"]["update_mask"] == ["source.settings.port"]  # the unset WEB_KEY: same
    same = seg(root, "diff", "--base", "HEAD", "--env", "dev", env=env)
    assert same.returncode == 0, same.stderr

    (root / "web.yaml").write_text((doc % 2).replace("WEB_KEY", "OTHER_KEY"))
    _commit(repo, "renamed")  # a different variable: a change, shown as (sensitive)
    renamed = seg(root, "diff", "--base", "HEAD~1", "--env", "prod", env=env)
    assert renamed.returncode == 2
    assert "settings.password: (sensitive)" in renamed.stdout and "OTHER_KEY" not in renamed.stdout

    both = seg(root, "diff", "--base", "HEAD~1", "--env", "dev", "--env", "prod", env=env)
    assert both.returncode == 1
    assert "with --base, give at most one --env" in both.stderr
