"""dbt Core with the DuckDB adapter, for the tests that compile a real dbt project.

`.ci/run` installs dbt into `.ci/dbt/` (a virtualenv of its own: dbt pins libraries that seg's
environment does not need); `SEG_TEST_DBT` names another dbt executable. A test that needs dbt
fails when there is none: it is part of what CI installs, never a reason to skip.
"""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.repo_files import REPO, copy_repo_dir

__all__ = ["DBT_EXAMPLE", "DBT_STATE", "compile_manifest", "copy_dbt_example", "dbt_executable"]

DBT_EXAMPLE = REPO / "examples" / "dbt"
# What dbt leaves in a project directory.
DBT_STATE = ("target", "logs", "dbt_packages", ".user.yml")


def dbt_executable() -> str:
    candidates = [os.environ.get("SEG_TEST_DBT"), str(REPO / ".ci" / "dbt" / "bin" / "dbt"),
                  shutil.which("dbt")]  # fmt: skip
    for found in candidates:
        if found and Path(found).is_file():
            return found
    pytest.fail("dbt is not installed: .ci/run installs dbt-core and dbt-duckdb into .ci/dbt "
                "(or set SEG_TEST_DBT to a dbt executable)")  # fmt: skip


def copy_dbt_example(dest: Path, workspace: bool = True) -> Path:
    """``examples/dbt`` copied to ``dest`` without what dbt or seg runs leave behind; with
    ``workspace=False`` without its seg workspace (``seg/``) and workflow (``.github/``): the
    dbt project alone, as a dbt repository holds it."""
    skip = DBT_STATE if workspace else (*DBT_STATE, "seg", ".github")
    return copy_repo_dir(DBT_EXAMPLE, dest, skip=skip)


def compile_manifest(project: Path, target: Path, command: str = "compile") -> Path:
    """Run ``dbt compile`` (or ``parse``) on ``project`` with its own profiles.yml (DuckDB in
    memory), writing into ``target``; the manifest's path."""
    env = {**os.environ, "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
           "DBT_VERSION_CHECK": "false", "DO_NOT_TRACK": "1"}  # fmt: skip
    result = subprocess.run(
        [dbt_executable(), command, "--project-dir", str(project), "--profiles-dir",
         str(project), "--target-path", str(target), "--log-path", str(target / "logs")],
        capture_output=True, text=True, env=env, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    manifest = target / "manifest.json"
    assert manifest.is_file(), result.stdout[-3000:]
    return manifest
