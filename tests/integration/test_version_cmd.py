"""``seg version`` and ``seg --version``: the build's version, Python, platform and the schema
revisions (the code's, and a database's, read without changing it)."""

from __future__ import annotations

import hashlib
import json
import platform
import subprocess
import sys
from pathlib import Path

import pytest

from seg.about import build_version
from seg.commands.about_cmd import schema_head
from tests.conftest import POSTGRES_URL, run_cli
from tests.repo_files import copy_repo_dir

SEG = [sys.executable, "-m", "seg"]


def _seg(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SEG, *args], cwd=cwd, capture_output=True, text=True, timeout=120)


def test_dash_dash_version_and_the_text_view_name_the_build(tmp_path) -> None:
    assert _seg("--version", cwd=tmp_path).stdout == f"seg {build_version()}\n"
    text = run_cli("version")
    assert text.exit_code == 0
    lines = text.output.splitlines()
    assert lines[0] == f"seg {build_version()}"
    assert lines[1] == f"Python    {platform.python_version()} ({platform.python_implementation()})"
    assert lines[2] == f"Platform  {platform.platform()}"
    assert lines[3].startswith("Schema    ") and len(lines) == 4  # no database named


def test_the_json_document(monkeypatch) -> None:
    monkeypatch.delenv("SEG_DATABASE_URL", raising=False)
    done = run_cli("version", "-o", "json")
    assert done.exit_code == 0
    assert json.loads(done.output) == {
        "format_version": "1.0", "version": build_version(),
        "python": {"version": platform.python_version(),
                   "implementation": platform.python_implementation()},
        "platform": platform.platform(),
        "schema": {"head": schema_head(), "database": None},
    }  # fmt: skip


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def test_the_embedded_databases_revision_is_read_and_left_as_it_was(tmp_path, clean_seg_env) -> None:
    basic = copy_repo_dir("examples/basic", tmp_path / "basic")
    assert run_cli("plan", "-w", str(basic)).exit_code == 0  # makes .seg/control-plane.db
    database = basic / ".seg" / "control-plane.db"
    before = _digest(database)
    done = _seg("version", "-o", "json", "-w", str(basic), cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    found = json.loads(done.stdout)["schema"]["database"]
    assert found["url"] == f"sqlite:///{database.resolve()}"
    assert found["revision"] == schema_head() and found["up_to_date"] is (schema_head() is not None)
    assert _digest(database) == before


def test_a_missing_database_is_one_line_and_is_not_created(tmp_path) -> None:
    for args in (["--database", "sqlite:///nothing-here.db"], ["-w", "."]):
        done = _seg("version", *args, cwd=tmp_path)
        assert done.returncode == 1 and done.stderr.count("\n") == 1, done.stderr
        assert done.stderr.startswith("error: ") and "Traceback" not in done.stderr
    assert list(tmp_path.iterdir()) == []


@pytest.mark.postgres
def test_a_postgresql_databases_revision(pg_store) -> None:
    done = run_cli("version", "-o", "json", "--database", POSTGRES_URL)
    assert done.exit_code == 0, done.output
    found = json.loads(done.output)["schema"]["database"]
    assert found["revision"] == schema_head()
