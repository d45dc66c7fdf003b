"""The distribution (issue 17, item 6): the version is the git tag, the sdist carries what a
wheel build needs, and the wheel built from it, installed in a clean virtualenv with its
dependencies from the package registry, runs ``seg --version``, ``seg version -o json`` and
``seg validate`` of an example with nothing of this checkout on its path.

The build is ``python -m build --no-isolation`` (hatchling and hatch-vcs come with the test
extra) of a copy of the checkout as it is — the files git tracks or would track — committed
into a fresh repository and tagged, so the version is known and the edits under test count.
"""

from __future__ import annotations

import email.parser
import json
import os
import re
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

from seg.commands.about_cmd import schema_head
from tests.repo_files import REPO, copy_checkout, copy_repo_dir

TAG, VERSION = "v9.8.7", "9.8.7"
# Building, and installing the dependencies: bounded, so a stuck registry fails the test.
BUILD_TIMEOUT, INSTALL_TIMEOUT = 240, 300
GIT = ("git", "-c", "user.name=seg tests", "-c", "user.email=tests@seg.invalid",
       "-c", "commit.gpgsign=false", "-c", "tag.gpgsign=false", "-c", "init.defaultBranch=main")  # fmt: skip


def _run(*args: str | Path, cwd: Path, timeout: float = 120,
         env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    done = subprocess.run([str(a) for a in args], cwd=cwd, capture_output=True, text=True,
                          timeout=timeout, env=env)  # fmt: skip
    assert done.returncode == 0, f"{args}: {done.stdout}{done.stderr}"
    return done


def _git(cwd: Path, *args: str) -> str:
    return _run(*GIT, *args, cwd=cwd).stdout.strip()


def _hatchling_version(root: Path) -> str:
    """The version hatch-vcs gives the project at ``root`` (its last output line)."""
    return _run(sys.executable, "-m", "hatchling", "version", cwd=root).stdout.strip().splitlines()[-1]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, list[str]]:
    """(sdist, wheel, the checkout's file names) of the checkout tagged ``TAG``: ``build``
    makes the sdist, then the wheel from the unpacked sdist."""
    top = tmp_path_factory.mktemp("distribution")
    source = top / "source"
    files = copy_checkout(source)
    _git(source, "init", "-q")
    _git(source, "add", "-A")
    _git(source, "commit", "-q", "-m", "release")
    _git(source, "tag", TAG)
    _run(sys.executable, "-m", "build", "--no-isolation", "--outdir", top / "dist", source,
         cwd=top, timeout=BUILD_TIMEOUT)  # fmt: skip
    (sdist,) = (top / "dist").glob("*.tar.gz")
    (wheel,) = (top / "dist").glob("*.whl")
    return sdist, wheel, files


def test_the_version_is_the_git_tag_and_an_untagged_or_gitless_copy_still_builds(tmp_path) -> None:
    """A copy without git is 0.0 (pyproject's fallback-version); a clone without tags, as a
    shallow CI checkout is, 0.1.devN+gSHA; the tagged commit the tag; a commit after it the
    next patch's dev release."""
    for name in ("pyproject.toml", "README.md", "LICENSE"):
        (tmp_path / name).write_bytes((REPO / name).read_bytes())
    assert _hatchling_version(tmp_path) == "0.0"
    _git(tmp_path, "init", "-q")
    _git(tmp_path, "add", "-A")
    _git(tmp_path, "commit", "-q", "-m", "first")
    sha = _git(tmp_path, "rev-parse", "--short", "HEAD")
    assert re.fullmatch(rf"0\.1\.dev1\+g{sha}[0-9a-f]*", _hatchling_version(tmp_path))
    _git(tmp_path, "tag", "v1.2.3")
    assert _hatchling_version(tmp_path) == "1.2.3"
    (tmp_path / "LICENSE").write_text("changed\n")
    _git(tmp_path, "commit", "-q", "-am", "after the release")
    assert re.fullmatch(r"1\.2\.4\.dev1\+g[0-9a-f]+", _hatchling_version(tmp_path))
    shallow = tmp_path / "shallow"
    _git(tmp_path, "clone", "-q", "--depth", "1", f"file://{tmp_path}", str(shallow))
    assert re.fullmatch(r"0\.1\.dev1\+g[0-9a-f]+", _hatchling_version(shallow))


def test_the_sdist_holds_what_building_and_testing_need(built) -> None:
    sdist, _, files = built
    assert sdist.name == f"seg-{VERSION}.tar.gz"
    with tarfile.open(sdist) as archive:
        names = {n.split("/", 1)[1] for n in archive.getnames() if "/" in n}
        pkg_info = archive.extractfile(f"seg-{VERSION}/PKG-INFO")
        assert pkg_info is not None
        metadata = email.parser.BytesParser().parse(pkg_info)
    assert metadata["Version"] == VERSION
    needed = [n for n in files if n.split("/")[0] in
              {"cli", "schemas", "tests", "examples", "benchmarks"} or "/" not in n]  # fmt: skip
    assert [n for n in needed if n not in names] == []
    assert {"pyproject.toml", "README.md", "CHANGELOG.md", "LICENSE", "tests/conftest.py",
            "examples/basic/seg.yaml"} <= names  # fmt: skip


def test_the_wheel_holds_what_seg_needs_at_run_time(built) -> None:
    """Every file of the package (code, migration scripts, catalog data, anything else) and
    every schema, at the version of the tag, with the ``seg`` command."""
    _, wheel, files = built
    assert wheel.name == f"seg-{VERSION}-py3-none-any.whl"
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
        metadata = email.parser.Parser().parsestr(
            archive.read(f"seg-{VERSION}.dist-info/METADATA").decode())
        scripts = archive.read(f"seg-{VERSION}.dist-info/entry_points.txt").decode()
    package = [f"seg/{n.removeprefix('cli/seg/')}" for n in files if n.startswith("cli/seg/")]
    schemas = [f"seg/{n}" for n in files if n.startswith("schemas/") and n.endswith(".json")]
    assert "seg/catalog/data/sources.json" in package and "seg/schemas/workspace.schema.json" in schemas
    migrations = [n for n in package if n.startswith("seg/store/migrations/")]
    assert [n for n in package + schemas if n not in names] == [], "missing from the wheel"
    assert set(migrations) <= names
    assert metadata["Version"] == VERSION and metadata["Name"] == "seg"
    assert "seg = seg.commands.app:main" in scripts


def test_the_wheel_installs_and_runs_in_a_clean_virtualenv(built, tmp_path) -> None:
    _, wheel, _ = built
    venv = tmp_path / "venv"
    _run(sys.executable, "-m", "venv", "--without-pip", venv, cwd=tmp_path)
    python = venv / "bin" / "python"
    _run(sys.executable, "-m", "pip", "--python", python, "install", "--quiet",
         "--disable-pip-version-check", "--prefer-binary", "--no-compile", wheel,
         cwd=tmp_path, timeout=INSTALL_TIMEOUT)  # fmt: skip
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH" and not k.startswith("SEG_")}
    env["NO_COLOR"] = "1"
    seg = venv / "bin" / "seg"
    shown = _run(seg, "--version", cwd=tmp_path, env=env).stdout
    assert shown == f"seg {VERSION}\n"
    where = _run(python, "-c", "import seg; print(seg.__file__, seg.__version__)", cwd=tmp_path,
                 env=env).stdout.split()  # fmt: skip
    assert Path(where[0]).is_relative_to(venv) and where[1] == VERSION  # not this checkout's
    basic = copy_repo_dir("examples/basic", tmp_path / "basic")
    assert "valid" in _run(seg, "validate", "-w", basic, cwd=tmp_path, env=env).stdout.lower()
    _run(seg, "plan", "-w", basic, cwd=tmp_path, env=env)  # the embedded control plane
    facts = json.loads(_run(seg, "version", "-o", "json", "-w", basic, cwd=tmp_path,
                            env=env).stdout)  # fmt: skip
    assert facts["version"] == VERSION
    assert facts["python"]["version"] == _run(python, "-c", "import platform; print("
                                              "platform.python_version())", cwd=tmp_path,
                                              env=env).stdout.strip()  # fmt: skip
    head = schema_head()  # the migrations of the code under test: the wheel's are the same
    assert facts["schema"]["head"] == head
    database = facts["schema"]["database"]
    assert database["url"].endswith("/basic/.seg/control-plane.db")
    assert database["revision"] == head and database["up_to_date"] is (head is not None)
