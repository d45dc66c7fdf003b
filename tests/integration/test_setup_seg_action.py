"""The setup-seg composite action's install step (``.github/actions/setup-seg/install.sh``),
run as the runner runs it: from the action's directory inside a copy of the repository (as the
runner downloads it: no git history), with RUNNER_TEMP, GITHUB_PATH and GITHUB_OUTPUT files.
It installs the files it came with under the release name it is given, and refuses a name
those files are not."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.repo_files import copy_checkout

RELEASE = "9.8.7"
INSTALL_TIMEOUT = 420  # building the wheel (isolated) and the dependencies from the registry


@pytest.fixture
def action(tmp_path: Path) -> tuple[Path, dict[str, str]]:
    """(the repository copy, the environment of the action's step)."""
    root = tmp_path / "seg-at-pinned-commit"
    copy_checkout(root)
    changelog = root / "CHANGELOG.md"
    changelog.write_text(changelog.read_text().replace(
        "## [Unreleased]", f"## [Unreleased]\n\n## [{RELEASE}] - 2026-12-02", 1))  # the release
    shim = tmp_path / "bin"  # `python` is setup-python's interpreter on the runner
    shim.mkdir()
    (shim / "python").symlink_to(sys.executable)
    (tmp_path / "runner").mkdir()
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("SEG_")}
    env.update(PATH=f"{shim}{os.pathsep}{env['PATH']}", NO_COLOR="1",
               GITHUB_ACTION_PATH=str(root / ".github" / "actions" / "setup-seg"),
               RUNNER_TEMP=str(tmp_path / "runner"), GITHUB_PATH=str(tmp_path / "path.txt"),
               GITHUB_OUTPUT=str(tmp_path / "output.txt"))  # fmt: skip
    return root, env


def _install(env: dict[str, str], release: str) -> subprocess.CompletedProcess[str]:
    script = Path(env["GITHUB_ACTION_PATH"]) / "install.sh"
    return subprocess.run(["bash", str(script)], env={**env, "SEG_RELEASE": release},
                          cwd=env["RUNNER_TEMP"], capture_output=True, text=True,
                          timeout=INSTALL_TIMEOUT)  # fmt: skip


@pytest.mark.parametrize(("release", "message"), [
    ("9.9.9", "the pinned commit is not release 9.9.9 (its CHANGELOG.md has no [9.9.9])"),
    ("latest", 'version "latest" is not a release number like 0.2.0'),
    ("1.0.0; rm -rf /", 'version "1.0.0; rm -rf /" is not a release number like 0.2.0'),
])  # fmt: skip
def test_a_release_name_the_files_are_not_is_refused_before_anything_is_installed(
        action, release: str, message: str) -> None:  # fmt: skip
    _, env = action
    done = _install(env, release)
    assert done.returncode == 1 and f"::error::setup-seg: {message}" in done.stdout, done.stdout
    assert not (Path(env["RUNNER_TEMP"]) / "setup-seg").exists()
    assert not Path(env["GITHUB_PATH"]).exists() and not Path(env["GITHUB_OUTPUT"]).exists()


def test_the_action_installs_its_own_files_as_the_release_into_a_fresh_virtualenv(action) -> None:
    _, env = action
    done = _install(env, RELEASE)
    assert done.returncode == 0, done.stdout + done.stderr
    venv = Path(env["RUNNER_TEMP"]) / "setup-seg" / "venv"
    assert Path(env["GITHUB_PATH"]).read_text() == f"{venv / 'bin'}\n"
    outputs = dict(line.split("=", 1) for line in Path(env["GITHUB_OUTPUT"]).read_text().splitlines())
    assert outputs == {"seg": str(venv / "bin" / "seg"), "version": RELEASE}
    shown = subprocess.run([outputs["seg"], "version"], env=env, capture_output=True, text=True,
                           timeout=60, cwd=env["RUNNER_TEMP"])  # fmt: skip
    assert shown.returncode == 0 and shown.stdout.startswith(f"seg {RELEASE}\n"), shown.stderr
