"""Every example's README runs as written (issue 12, item 7).

Each README's ```sh blocks are run line by line, from the root of a copy of the repository's
`examples/` (a git repository whose `origin/main` is that copy, as in a clone), with `seg` on
PATH (a shim for `python -m seg`, and one for the dbt the tests use: tests/dbt_tool.py, for the
README that compiles its dbt project) and no variable but those the README itself exports. Each
line must exit 0, or N when it ends with `# exit N`. Every `${env:NAME}` the example uses is
named in its README. Also: tests copy repository directories without a user's `.seg/` state.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.dbt_tool import DBT_STATE, dbt_executable
from tests.git_repos import new_repo
from tests.repo_files import REPO, copy_repo_dir

pytestmark = pytest.mark.e2e

EXAMPLES = sorted(p.name for p in (REPO / "examples").iterdir() if p.is_dir())
SH_BLOCK = re.compile(r"^```sh\n(.*?)^```", re.S | re.M)
EXPECTED = re.compile(r"#\s*exit (\d+)\b")


def commands(readme: str) -> list[tuple[str, int]]:
    """(command line, expected exit code) for every line of the ```sh blocks."""
    lines = [line for block in SH_BLOCK.findall(readme) for line in block.splitlines()]
    found = []
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        expected = EXPECTED.search(line)
        found.append((line, int(expected.group(1)) if expected else 0))
    return found


def clean_env(tmp_path: Path) -> dict[str, str]:
    """The machine's environment without seg's variables or the examples' secrets, with a
    `seg` shim first on PATH."""
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "seg").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m seg "$@"\n')
    (shim / "seg").chmod(0o755)
    if any(line.startswith("dbt ") for d in EXAMPLES
           for line, _ in commands((REPO / "examples" / d / "README.md").read_text())):  # fmt: skip
        quiet = "DBT_SEND_ANONYMOUS_USAGE_STATS=false DBT_VERSION_CHECK=false DO_NOT_TRACK=1"
        (shim / "dbt").write_text(f'#!/bin/sh\n{quiet} exec "{dbt_executable()}" "$@"\n')
        (shim / "dbt").chmod(0o755)
    named = {n for d in EXAMPLES for n in env_names(REPO / "examples" / d)}
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEG_") and k not in named}
    return {**env, "PATH": f"{shim}{os.pathsep}{env['PATH']}", "NO_COLOR": "1"}


def env_names(example: Path) -> set[str]:
    return {
        name
        for path in example.rglob("*")
        if path.is_file() and path.suffix in (".yaml", ".yml") and ".seg" not in path.parts
        for name in re.findall(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}", path.read_text())
    }


def clone(tmp_path: Path, name: str) -> Path:
    """A repository root holding a copy of the example, committed, with origin/main."""
    root = tmp_path / "repo"
    copy_repo_dir(f"examples/{name}", root / "examples" / name, skip=DBT_STATE)
    repo = new_repo(root, commit="examples")
    repo.git.update_ref("refs/remotes/origin/main", "HEAD")
    return root


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_readme_names_every_variable_the_example_needs(name: str) -> None:
    readme = (REPO / "examples" / name / "README.md").read_text()
    for variable in env_names(REPO / "examples" / name):
        assert f"`{variable}`" in readme, f"{name}/README.md does not name {variable}"
        assert f"export {variable}=" in readme, f"{name}/README.md sets no {variable}"


@pytest.mark.parametrize("name", EXAMPLES)
def test_the_readme_commands_run_as_written(tmp_path: Path, name: str) -> None:
    steps = commands((REPO / "examples" / name / "README.md").read_text())
    assert steps, f"{name}/README.md has no ```sh block"
    root = clone(tmp_path, name)
    script = "\n".join(
        f"{line}\ncode=$?; [ $code -eq {code} ] || {{ echo \"exit $code, not {code}: \"{quote(line)}; exit 99; }}"
        for line, code in steps
    )  # fmt: skip
    done = subprocess.run(["bash", "-c", script], cwd=root, env=clean_env(tmp_path),
                          capture_output=True, text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Traceback" not in done.stderr


def quote(text: str) -> str:
    return "'" + text.replace("'", "'\\''") + "'"


def test_the_license_pyproject_claims_is_there() -> None:
    import tomllib

    claimed = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["license"]["text"]
    text = (REPO / "LICENSE").read_text()
    assert claimed == "MIT" and text.startswith("MIT License\n")
    assert "Copyright (c) 2026 the seg authors" in text
    assert "THE SOFTWARE IS PROVIDED \"AS IS\", WITHOUT WARRANTY OF ANY KIND" in text
