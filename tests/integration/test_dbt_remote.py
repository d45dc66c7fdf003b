"""dbt projects in another git repository (issue 16 item 1): ``seg validate`` reads the project
from a cached bare clone under ``.seg/dbt/`` at a branch, a tag or a commit, fetches what was
pushed since, falls back to the cached revision (with a warning) when the repository is out of
reach, and says in one line when the ref or the project path is wrong."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from seg.ci.dbt_repo import CACHE_DIR
from tests.conftest import run_cli as seg
from tests.dbt_remote import DbtRemote, git, make_remote, make_workspace

pytestmark = pytest.mark.usefixtures("allow_file_repositories")

PROJECT_LINE = 4  # the line of "analytics:" under dbt_projects in make_workspace's seg.yaml


@pytest.fixture
def remote(tmp_path: Path) -> DbtRemote:
    return make_remote(tmp_path / "dbt")


def validate(root: Path) -> tuple[int, list[str]]:
    result = seg("validate", "-w", str(root))
    return result.exit_code, [line for line in result.output.splitlines() if line.strip()]


def config_line(lines: list[str], severity: str) -> list[str]:
    pattern = re.compile(rf"seg\.yaml:{PROJECT_LINE}:\d+: {severity}: .* \[config/dbt\]$")
    return [line for line in lines if pattern.search(line)]


def identifier_error(lines: list[str], column: str) -> bool:
    return any(re.search(rf"resources\.yaml:10:\d+: error: identifier column '{column}' is not "
                         r"among the columns of dbt model users \(user_id, email", line)
               for line in lines)  # fmt: skip


@pytest.mark.parametrize("ref", ["main", "v1", "commit", "short commit"])
def test_the_identifier_column_is_checked_at_a_branch_a_tag_and_a_commit(
    remote: DbtRemote, tmp_path: Path, ref: str
) -> None:
    head = git(remote.work, "rev-parse", "HEAD")
    name = {"commit": head, "short commit": head[:10]}.get(ref, ref)
    good = make_workspace(tmp_path / "good", remote.url, name)
    code, lines = validate(good)
    assert code == 0 and not any("warning" in line for line in lines), lines
    bad = make_workspace(tmp_path / "bad", remote.url, name, identifier="user_key")
    code, lines = validate(bad)
    assert code == 1 and identifier_error(lines, "user_key"), lines
    assert (bad / CACHE_DIR).is_dir() and (bad / ".seg" / ".gitignore").read_text() == "*\n"


def test_a_commit_pushed_to_the_branch_is_seen_on_the_next_validate(
    remote: DbtRemote, tmp_path: Path
) -> None:
    on_main = make_workspace(tmp_path / "main", remote.url, "main", identifier="customer_key")
    on_tag = make_workspace(tmp_path / "tag", remote.url, "v1", identifier="customer_key")
    for root in (on_main, on_tag):
        code, lines = validate(root)
        assert code == 1 and identifier_error(lines, "customer_key"), lines
    remote.document_column("customer_key")
    code, lines = validate(on_main)
    assert code == 0, lines
    code, lines = validate(on_tag)  # the tag still names the first commit
    assert code == 1 and identifier_error(lines, "customer_key"), lines


def test_the_cached_revision_is_read_with_a_warning_when_the_remote_is_gone(
    remote: DbtRemote, tmp_path: Path
) -> None:
    root = make_workspace(tmp_path / "ws", remote.url, "main", identifier="user_key")
    code, lines = validate(root)
    assert code == 1 and identifier_error(lines, "user_key"), lines
    head = git(remote.work, "rev-parse", "HEAD")
    shutil.rmtree(remote.bare)
    code, lines = validate(root)
    # still checked, against the cached revision, which the warning names
    assert code == 1 and identifier_error(lines, "user_key"), lines
    (warning,) = config_line(lines, "warning")
    assert f"dbt project analytics: cannot fetch {remote.url} (" in warning, warning
    assert f"read at the cached revision {head[:12]} (committed " in warning, warning
    assert "of 'main'" in warning, warning


def test_without_a_cache_an_unreachable_repository_is_a_warning_and_links_go_unchecked(
    tmp_path: Path,
) -> None:
    gone = (tmp_path / "nowhere.git").as_uri()
    root = make_workspace(tmp_path / "ws", gone, "main", identifier="user_key")
    code, lines = validate(root)
    assert code == 0, lines
    (warning,) = config_line(lines, "warning")
    assert f"dbt project analytics is not read: cannot fetch {gone} (" in warning, warning
    assert "there is no copy of it in .seg/dbt; its models are not checked" in warning, warning
    assert not any("identifier column" in line for line in lines), lines


def test_a_full_commit_id_in_the_cache_needs_no_fetch(remote: DbtRemote, tmp_path: Path) -> None:
    head = git(remote.work, "rev-parse", "HEAD")
    root = make_workspace(tmp_path / "ws", remote.url, head)
    assert validate(root)[0] == 0
    shutil.rmtree(remote.bare)
    code, lines = validate(root)
    assert code == 0 and not lines[:-1], lines  # no warning: the commit cannot have changed


def test_an_unknown_ref_is_one_line(remote: DbtRemote, tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws", remote.url, "release/2.0")
    code, lines = validate(root)
    assert code == 1, lines
    (error,) = config_line(lines, "error")
    assert error.endswith(f"error: dbt project analytics: {remote.url} has no branch, tag or "
                          "commit 'release/2.0' [config/dbt]"), error  # fmt: skip
    assert len(lines) == 2 and lines[1].startswith("Found 1 error"), lines


def test_a_ref_unknown_to_a_stale_cache_is_a_warning(remote: DbtRemote, tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws", remote.url, "main")
    assert validate(root)[0] == 0
    shutil.rmtree(remote.bare)
    (root / "seg.yaml").write_text((root / "seg.yaml").read_text().replace("'main'", "'next'"))
    code, lines = validate(root)
    assert code == 0, lines
    (warning,) = config_line(lines, "warning")
    assert "and its copy in .seg/dbt has no 'next'; its models are not checked" in warning


@pytest.mark.parametrize("project_path", ["analytics/models", None, "missing", "README.md", "analytics/dbt_project.yml"])
def test_a_project_path_without_dbt_project_yml_is_one_line(
    remote: DbtRemote, tmp_path: Path, project_path: str | None
) -> None:
    root = make_workspace(tmp_path / "ws", remote.url, "main", project_path=project_path)
    code, lines = validate(root)
    assert code == 1, lines
    (error,) = config_line(lines, "error")
    where = f"{project_path}/" if project_path else ""
    assert f"dbt project analytics: {remote.url} has no {where}dbt_project.yml at 'main' " in error
    assert "(project_path is the directory holding it, relative to the top of the repository)" \
        in error  # fmt: skip
    assert len(lines) == 2, lines


def test_a_project_at_the_top_of_its_repository(tmp_path: Path) -> None:
    remote = make_remote(tmp_path / "dbt")
    for item in (remote.work / "analytics").iterdir():
        item.rename(remote.work / item.name)
    remote.commit("the project at the top")
    root = make_workspace(tmp_path / "ws", remote.url, "main", project_path=None,
                          identifier="user_key")  # fmt: skip
    code, lines = validate(root)
    assert code == 1 and identifier_error(lines, "user_key"), lines


def test_a_broken_timeout_setting_is_one_line(
    remote: DbtRemote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SEG_DBT_GIT_TIMEOUT", "soon")
    root = make_workspace(tmp_path / "ws", remote.url, "main")
    code, lines = validate(root)
    assert code == 1, lines
    (error,) = config_line(lines, "error")
    assert "SEG_DBT_GIT_TIMEOUT must be a number of seconds above 0 and up to 3600, not 'soon'" \
        in error  # fmt: skip


def test_a_git_at_host_url_goes_through_ssh(
    remote: DbtRemote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """``git@host:path`` as GitHub, GitLab and Bitbucket give it, through the user's ssh (here
    one that runs git's command in the directory holding the remote)."""
    fake_ssh = tmp_path / "fake-ssh"
    fake_ssh.write_text(f'#!/bin/sh\nfor last; do :; done\ncd {tmp_path} && exec sh -c "$last"\n')
    fake_ssh.chmod(0o755)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(fake_ssh))
    monkeypatch.setenv("GIT_SSH_VARIANT", "simple")
    url = "git@dbt.example.com:dbt/remote.git"
    root = make_workspace(tmp_path / "ws", url, "v1", identifier="user_key")
    code, lines = validate(root)
    assert code == 1 and identifier_error(lines, "user_key"), lines
