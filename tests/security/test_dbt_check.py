"""Hostile input to `seg check --dbt` (issue 16): a project directory outside the repository,
committed symlinks leading out of the dbt project, unknown revisions and hostile manifests are
each one readable line (or a note), never a traceback or the content of a file outside."""

from __future__ import annotations

import os
from pathlib import Path

import git
import pytest
from typer.testing import CliRunner

from seg.commands.app import app
from tests.dbt_repo import MART, DbtRepo
from tests.dbt_tool import copy_dbt_example
from tests.git_repos import new_repo

OUTSIDE = "SECRET-FROM-OUTSIDE-THE-PROJECT"


@pytest.fixture
def env(check_env: None) -> None:
    """The check's environment (tests/conftest.py)."""


@pytest.fixture
def unreachable(monkeypatch: pytest.MonkeyPatch, env: None) -> None:
    """A control plane named by the environment that nothing listens on: every failure these
    tests provoke must come before it is asked."""
    monkeypatch.setenv("SEG_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SEG_WORKSPACE", "shop")
    monkeypatch.setenv("SEG_TOKEN", "read-token")


def one_line(result, code: int, text: str) -> None:
    assert result.exit_code == code, result.output
    assert "Traceback" not in result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and text in lines[0], result.output


def check(*args: str):
    return CliRunner().invoke(app, ["check", *args])


def project_repo(top: Path, subdir: str = "") -> git.Repo:
    copy_dbt_example(top / subdir if subdir else top, workspace=False)
    repo = new_repo(top, commit="dbt")
    return repo


def test_a_project_dir_outside_any_repository_is_one_line(tmp_path: Path, unreachable) -> None:
    copy_dbt_example(tmp_path / "loose", workspace=False)
    one_line(check("--dbt", str(tmp_path / "loose"), "--base", "main"), 1,
             "is not inside a git repository")  # fmt: skip


def test_a_project_dir_leading_out_of_the_repository_is_one_line(tmp_path: Path,
                                                                 unreachable) -> None:  # fmt: skip
    project_repo(tmp_path / "repo")
    elsewhere = tmp_path / "elsewhere"
    project_repo(elsewhere)
    (tmp_path / "repo" / "linked").symlink_to(elsewhere / "models")
    result = check("--dbt", str(tmp_path / "repo" / "linked"), "--base", "main")
    assert result.exit_code == 1 and "Traceback" not in result.output, result.output
    assert "linked is outside the repository at" in result.output


def test_an_unknown_base_ref_is_one_line(tmp_path: Path, unreachable) -> None:
    project_repo(tmp_path / "repo")
    one_line(check("--dbt", str(tmp_path / "repo"), "--base", "nope"), 1,
             "unknown git revision 'nope'")  # fmt: skip
    one_line(check("--dbt", str(tmp_path / "repo"), "--base", "main", "--head", "-x"), 1,
             "unknown git revision '-x'")  # fmt: skip


def test_a_project_missing_at_the_head_is_one_line(tmp_path: Path, unreachable) -> None:
    project_repo(tmp_path / "repo")
    (tmp_path / "repo" / "empty").mkdir()
    one_line(check("--dbt", str(tmp_path / "repo" / "empty"), "--base", "main"), 1,
             "no dbt_project.yml in empty at HEAD")  # fmt: skip


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", "the manifest is not JSON"),
        ("[" * 200_000 + "]" * 200_000, "the manifest is not JSON"),
        ("\xff\xfe", "the manifest is not JSON"),
    ],
    ids=["not-json", "deeply-nested", "odd-bytes"],
)
def test_a_hostile_manifest_is_one_line(tmp_path: Path, unreachable, content: str,
                                        expected: str) -> None:  # fmt: skip
    project_repo(tmp_path / "repo")
    manifest = tmp_path / "manifest.json"
    manifest.write_text(content)
    for option in ("--base-manifest", "--head-manifest"):
        result = check("--dbt", str(tmp_path / "repo"), "--base", "main", option, str(manifest))
        one_line(result, 1, expected)


def test_a_manifest_that_is_not_a_file_is_one_line(tmp_path: Path, unreachable) -> None:
    project_repo(tmp_path / "repo")
    one_line(check("--dbt", str(tmp_path / "repo"), "--base", "main", "--base-manifest",
                   str(tmp_path)), 1, "no such file")  # fmt: skip
    binary = tmp_path / "binary.json"
    binary.write_bytes(b"\xff\xfe\x00")
    one_line(check("--dbt", str(tmp_path / "repo"), "--base", "main", "--head-manifest",
                   str(binary)), 1, "--head-manifest")  # fmt: skip


def test_a_committed_manifest_of_odd_shape_is_a_note(tmp_path: Path, env) -> None:
    repo = DbtRepo(tmp_path / "repo")
    repo.apply_live()
    (repo.path / "target").mkdir()
    (repo.path / "target/manifest.json").write_text('{"nodes": [1, 2]}')
    repo.git.git.add("-f", "target/manifest.json")
    repo.commit("a committed manifest of no use")
    repo.git.git.branch("-f", "main", "HEAD")  # the base's (a head's is never read)
    (repo.path / "target").rename(repo.path / "not-target")  # not the working tree's
    result = repo.check()
    assert result.exit_code == 0, result.output
    assert "note: base: the manifest has no nodes; it is ignored" in result.output


@pytest.mark.parametrize("target", ["../secret.sql", "/etc/hostname", "../../../../../x"])
def test_a_committed_symlink_leading_out_of_the_project_is_not_followed(
    tmp_path: Path, env, target: str
) -> None:
    repo = DbtRepo(tmp_path / "repo")
    repo.apply_live()
    (repo.path / "secret.sql").write_text(f"select '{OUTSIDE}' as leak\n")
    # the project is the repository's top: move it into analytics/ so ../secret.sql is outside
    top = repo.path
    os.symlink(target, top / "models/marts/leak.sql")
    repo.commit("a symlink")
    result = repo.check()
    assert "Traceback" not in result.output and OUTSIDE not in result.output
    if target == "../secret.sql":  # models/marts/../secret.sql stays inside the project
        return
    assert "note: head: models/marts/leak.sql is not read: it leads outside" in " ".join(
        result.output.split()
    ), result.output


def test_a_symlink_out_of_a_sub_directory_project_is_refused(tmp_path: Path, env,
                                                             monkeypatch) -> None:  # fmt: skip
    top = tmp_path / "mono"
    repo = project_repo(top, "analytics")
    (top / "secret.sql").write_text(f"select '{OUTSIDE}' as leak\n")
    os.symlink("../../../secret.sql", top / "analytics/models/marts/leak.sql")
    (top / "analytics/dbt_project.yml").rename(top / "real.yml")
    os.symlink("../real.yml", top / "analytics/dbt_project.yml")
    repo.git.add("-A")
    repo.index.commit("links out")
    monkeypatch.setenv("SEG_API_URL", "http://127.0.0.1:9")
    monkeypatch.setenv("SEG_WORKSPACE", "shop")
    monkeypatch.setenv("SEG_TOKEN", "t")
    result = check("--dbt", str(top / "analytics"), "--base", "main")
    one_line(result, 1, "dbt project at HEAD: analytics/dbt_project.yml: it leads outside")
    assert OUTSIDE not in result.output


def test_a_model_name_with_terminal_controls_is_escaped(tmp_path: Path, env) -> None:
    repo = DbtRepo(tmp_path / "repo")
    repo.apply_live()
    evil = "models/marts/evil\x1b]8;;https:__x\x07.sql"
    (repo.path / evil).write_text("select 1 as a\n")
    repo.commit("evil name")
    repo.git.git.branch("-f", "main", "HEAD")
    (repo.path / evil).write_text("select 2 as a\n")
    repo.edit(MART, "    u.plan,\n", "    u.plan,\n    u.created_at,\n")
    repo.commit("edit both")
    result = repo.check(env={"GITHUB_ACTIONS": "true"})
    assert result.exit_code == 3, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
