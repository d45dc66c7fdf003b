"""The hooks of `.pre-commit-hooks.yaml`, run as pre-commit runs them: each hook's `entry`
(with `seg` as this interpreter's `python -m seg`), no file names (`pass_filenames: false`),
from the repository's root, on a copy of this repository's `workspace/`."""

from __future__ import annotations

import os
import re
import shlex
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.repo_files import copy_repo_dir

REPO = Path(__file__).resolve().parents[2]
HOOKS: dict[str, dict[str, Any]] = {
    hook["id"]: hook for hook in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())
}

pytestmark = pytest.mark.e2e


def run_hook(hook_id: str, repo: Path) -> subprocess.CompletedProcess[str]:
    hook = HOOKS[hook_id]
    assert hook["language"] == "python" and hook["pass_filenames"] is False
    command = shlex.split(hook["entry"]) + list(hook.get("args", []))
    assert command[0] == "seg"
    # no SEG_* and none of the variables the workspace reads: hooks need no secrets
    env = {k: v for k, v in os.environ.items()
           if not k.startswith("SEG_") and k != "AMPLITUDE_API_KEY"}  # fmt: skip
    env.update(NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "seg", *command[1:]], cwd=repo, env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A repository holding a copy of workspace/ (without any local state)."""
    copy_repo_dir(REPO / "workspace", tmp_path / "workspace")
    return tmp_path


def test_the_hooks_are_offered_for_workspace_yaml() -> None:
    assert set(HOOKS) == {"seg-validate", "seg-fmt", "seg-fmt-fix"}
    for hook in HOOKS.values():
        assert re.search(hook["files"], "workspace/destinations/web.yaml"), hook["id"]
    assert re.search(HOOKS["seg-validate"]["files"], "workspace/models/users.sql")


def test_every_hook_passes_on_this_repository_workspace(repo: Path) -> None:
    before = {p: p.read_bytes() for p in (repo / "workspace").rglob("*") if p.is_file()}
    for hook_id in HOOKS:
        result = run_hook(hook_id, repo)
        assert result.returncode == 0, (hook_id, result.stdout, result.stderr)
    after = {p: p.read_bytes() for p in (repo / "workspace").rglob("*") if p.is_file()}
    assert {p: b for p, b in after.items() if ".seg" not in p.parts} == before


def test_validate_fails_on_a_misspelled_key(repo: Path) -> None:
    web = repo / "workspace" / "destinations" / "web.yaml"
    web.write_text(web.read_text().replace("  enabled: true", "  enabeld: true", 1))
    result = run_hook("seg-validate", repo)
    assert result.returncode == 1
    assert ("workspace/destinations/web.yaml:8:3: error: unknown key 'enabeld' in spec "
            "(did you mean 'enabled'?) [schema/unknown-key]") in result.stderr  # fmt: skip
    assert run_hook("seg-fmt", repo).returncode == 0  # formatting is another question


def test_fmt_check_fails_on_a_file_out_of_form_and_the_fixer_rewrites_it(repo: Path) -> None:
    web = repo / "workspace" / "destinations" / "web.yaml"
    canonical = web.read_text()
    ugly = canonical.replace("kind: Destination\nname: amplitude\n",
                             "name: amplitude\nkind: Destination\n", 1)  # fmt: skip
    assert ugly != canonical
    web.write_text(ugly)
    result = run_hook("seg-fmt", repo)
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["would reformat workspace/destinations/web.yaml"]
    assert web.read_text() == ugly  # check mode writes nothing
    fixed = run_hook("seg-fmt-fix", repo)
    assert fixed.returncode == 0, fixed.stderr
    assert "reformatted workspace/destinations/web.yaml" in fixed.stdout
    assert web.read_text() == canonical
    assert run_hook("seg-fmt", repo).returncode == 0
