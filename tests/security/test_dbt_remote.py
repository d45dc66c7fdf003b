"""Hostile dbt repositories in seg.yaml: URLs and refs that would make git run a command are
refused before git runs, a URL's credentials never appear in any output, a symlink committed
in the dbt repository never leads out of the project path, and a remote that never answers
holds seg up for a bounded time only."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import time
from pathlib import Path

import pytest

from seg.ci import dbt_repo
from seg.ci.dbt_repo import CACHE_DIR, check_ref, check_repository_url, remote_dbt_tree
from seg.errors import ConfigError
from seg.workspace.config import DbtProjectConfig, read_config
from seg.workspace.dbt_project import DbtProjectError
from seg.workspace.tree import OutsideWorkspace
from tests.conftest import run_cli as seg
from tests.dbt_remote import DbtRemote, make_remote, make_workspace

pytestmark = pytest.mark.usefixtures("allow_file_repositories")


@pytest.fixture
def remote(tmp_path: Path) -> DbtRemote:
    return make_remote(tmp_path / "dbt")


def validate(root: Path) -> tuple[int, str]:
    result = seg("validate", "-w", str(root))
    return result.exit_code, result.output


@pytest.fixture
def no_git(monkeypatch: pytest.MonkeyPatch) -> list[list[str]]:
    """Every git command line seg would run, recorded instead of run."""
    ran: list[list[str]] = []

    def record(args: list[str], *_: object, **__: object) -> None:
        ran.append(list(args))
        raise OSError("git must not run")

    monkeypatch.setattr(dbt_repo.subprocess, "Popen", record)
    return ran


# What the URL or ref would run, were git to take it as a command or an option.
def _pwned(tmp: Path) -> Path:
    return tmp / "pwned"


HOSTILE_URLS = [
    "ext::sh -c touch% {pwned}",
    "ext::sh -c 'touch {pwned}'",
    "git@host::ext::sh",
    "ssh://-oProxyCommand=touch%20{pwned}/x.git",
    "ssh://user@-oProxyCommand=touch%20{pwned}/x.git",
    "git@-oProxyCommand=touch%20{pwned}:x.git",
    "--upload-pack=touch {pwned}",
    "https://host/x.git --upload-pack=touch",
    "http://host/x.git",
    "fd::17",
    "file:///x\n--upload-pack=touch",
    "ftp://host/x.git",
]
HOSTILE_REFS = ["--upload-pack=touch", "-b", "main --output=x", "main..other", "a//b", "x.lock",
                "HEAD@{1}", "main^", "main~1", "ref:x", "", "a" * 300]  # fmt: skip


@pytest.mark.parametrize("url", HOSTILE_URLS)
def test_a_hostile_url_is_refused_before_git_runs(
    tmp_path: Path, url: str, no_git: list[list[str]]
) -> None:
    url = url.replace("{pwned}", str(_pwned(tmp_path)))
    with pytest.raises(ConfigError, match=r"^repository .* (is not an? |has no valid|holds a)"):
        check_repository_url(url)
    config = read_config(make_workspace(tmp_path / "ws", "file:///x", "main"), None)
    project = DbtProjectConfig("analytics", 4, 3, repository=url, ref="main")
    with pytest.raises(DbtProjectError) as raised:
        remote_dbt_tree(config, project)
    assert raised.value.severity == "error"
    assert str(raised.value).startswith("dbt project analytics: repository ")
    assert no_git == [] and not _pwned(tmp_path).exists()
    assert not (tmp_path / "ws" / CACHE_DIR).exists()


@pytest.mark.parametrize("ref", HOSTILE_REFS)
def test_a_hostile_ref_is_refused_before_git_runs(
    tmp_path: Path, ref: str, no_git: list[list[str]]
) -> None:
    with pytest.raises(ConfigError, match="is not a branch, tag or commit name"):
        check_ref(ref)
    config = read_config(make_workspace(tmp_path / "ws", "file:///x", "main"), None)
    project = DbtProjectConfig("analytics", 4, 3, repository="file:///x", ref=ref)
    with pytest.raises(DbtProjectError, match="is not a branch, tag or commit name"):
        remote_dbt_tree(config, project)
    assert no_git == []


@pytest.mark.parametrize("url, ref", [
    ("ext::sh -c touch% {pwned}", "main"),
    ("ssh://-oProxyCommand=touch%20{pwned}/x.git", "main"),
    ("git@-oProxyCommand=touch%20{pwned}:x.git", "main"),
    ("{remote}", "--upload-pack=touch {pwned}"),
    ("{remote}", "-ooption"),
])  # fmt: skip
def test_validate_refuses_them_in_one_line_and_runs_nothing(
    remote: DbtRemote, tmp_path: Path, url: str, ref: str
) -> None:
    pwned = str(_pwned(tmp_path))
    url, ref = (
        url.replace("{pwned}", pwned).replace("{remote}", remote.url),
        ref.replace("{pwned}", pwned),
    )
    root = make_workspace(tmp_path / "ws", url, ref)
    code, output = validate(root)
    assert code == 1 and len(output.strip().splitlines()) == 2, output
    assert re.search(r"seg\.yaml:\d+:\d+: error: ", output), output
    assert not _pwned(tmp_path).exists() and not (root / CACHE_DIR).exists()


def test_a_file_url_holding_an_option_is_a_path_never_an_option(
    tmp_path: Path,
) -> None:
    pwned = _pwned(tmp_path)
    root = make_workspace(tmp_path / "ws", f"file:///--upload-pack=touch%20{pwned}", "main")
    code, output = validate(root)
    assert code == 0 and "dbt project analytics is not read: cannot fetch" in output, output
    assert not pwned.exists()


def _credentialed(monkeypatch: pytest.MonkeyPatch, remote: DbtRemote, url: str) -> None:
    """git fetches ``url`` from ``remote`` (url.<base>.insteadOf, given in the environment)."""
    monkeypatch.setenv("GIT_CONFIG_COUNT", "1")
    monkeypatch.setenv("GIT_CONFIG_KEY_0", f"url.{remote.url}.insteadOf")
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", url)


def test_credentials_in_the_url_never_appear(
    remote: DbtRemote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    token = "ghp_s3cr3tT0ken"
    url = f"https://x-access-token:{token}@git.example.com/acme/analytics.git"
    shown = "https://x-access-token:***@git.example.com/acme/analytics.git"
    _credentialed(monkeypatch, remote, url)
    root = make_workspace(tmp_path / "ws", url, "main", identifier="user_key")
    outputs = []
    code, output = validate(root)  # read: checked
    assert code == 1 and "identifier column 'user_key' is not among" in output, output
    outputs.append(output)
    for ref, path in (("nope", "analytics"), ("main", "elsewhere")):
        text = (root / "seg.yaml").read_text()
        (root / "seg.yaml").write_text(
            text.replace("'main'", f"'{ref}'").replace(
                "project_path: analytics", f"project_path: {path}"
            )
        )
        code, output = validate(root)
        assert code == 1 and shown in output, output
        outputs.append(output)
        (root / "seg.yaml").write_text(text)
    monkeypatch.setenv("GIT_CONFIG_VALUE_0", "https://nowhere.invalid/")  # the fetch fails
    code, output = validate(root)
    assert f"cannot fetch {shown} (" in output and "read at the cached revision" in output
    outputs.append(output)
    other = make_workspace(tmp_path / "other", url, "main")
    code, output = validate(other)  # no cache, no connection
    assert code == 0 and f"dbt project analytics is not read: cannot fetch {shown} (" in output
    outputs.append(output)
    assert not any(token in text for text in outputs), outputs
    # nor in the cache, named by the URL without its credentials
    for path in (root / ".seg").rglob("*"):
        assert token not in path.name
        if path.is_file():
            assert token.encode() not in path.read_bytes(), path


def test_a_symlink_out_of_the_project_path_is_refused(remote: DbtRemote, tmp_path: Path) -> None:
    project = remote.work / "analytics"
    outside = remote.work / "outside"
    outside.mkdir()
    (outside / "dbt_project.yml").write_text((project / "dbt_project.yml").read_text())
    (outside / "secret.sql").write_text("select 'leaked' as leaked_column\n")
    (project / "dbt_project.yml").unlink()
    (project / "dbt_project.yml").symlink_to("../outside/dbt_project.yml")
    (project / "models" / "marts" / "stolen.sql").symlink_to("../../../outside/secret.sql")
    remote.commit("links out of the project")
    root = make_workspace(tmp_path / "ws", remote.url, "main")
    code, output = validate(root)
    assert re.search(
        r"seg\.yaml:4:3: warning: .*analytics/dbt_project\.yml: it leads outside "
        r"the workspace \[config/dbt\]",
        output,
    ), output
    config = read_config(root, None)
    (item,) = config.dbt_projects
    tree = remote_dbt_tree(config, item)
    with pytest.raises(OutsideWorkspace):
        tree.read("models/marts/stolen.sql")
    assert "leaked" not in output


def test_a_remote_that_never_answers_is_bounded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pids = tmp_path / "pids"
    fake_ssh = tmp_path / "fake-ssh"
    fake_ssh.write_text(f"#!/bin/sh\necho $$ >> {pids}\nexec sleep 60\n")
    fake_ssh.chmod(fake_ssh.stat().st_mode | stat.S_IXUSR)
    monkeypatch.setenv("GIT_SSH_COMMAND", str(fake_ssh))
    monkeypatch.setenv("SEG_DBT_GIT_TIMEOUT", "2")
    root = make_workspace(tmp_path / "ws", "ssh://git@dbt.example.com/acme/analytics.git", "main")
    started = time.monotonic()
    code, output = validate(root)
    assert time.monotonic() - started < 15, output
    assert code == 0 and "(git gave no answer within 2 seconds)" in output, output
    # the command it hung in is gone with git (its whole process group is killed)
    for pid in pids.read_text().split():
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            continue
        state = subprocess.run(["ps", "-o", "stat=", "-p", pid], capture_output=True,
                               text=True, check=False).stdout.strip()  # fmt: skip
        assert state.startswith("Z") or not state, f"{pid} still runs: {state}"


def test_git_never_prompts(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A password prompt would wait for ever: git has no terminal, no askpass, no stdin."""
    askpass = tmp_path / "askpass"
    asked = tmp_path / "asked"
    askpass.write_text(f"#!/bin/sh\ntouch {asked}\necho secret\n")
    askpass.chmod(askpass.stat().st_mode | stat.S_IXUSR)
    for name in ("GIT_ASKPASS", "SSH_ASKPASS"):
        monkeypatch.setenv(name, str(askpass))
    env = dbt_repo._git_env()
    assert env["GIT_TERMINAL_PROMPT"] == "0" and env["GIT_ASKPASS"] == "" == env["SSH_ASKPASS"]
    assert "protocol.ext.allow=never" in dbt_repo._GIT_CONFIG
    assert "protocol.allow=never" in dbt_repo._GIT_CONFIG


def test_the_cache_is_named_by_the_url_without_its_credentials(tmp_path: Path) -> None:
    one = dbt_repo.cache_dir(tmp_path, "https://x:token-one@git.example.com/a.git")
    two = dbt_repo.cache_dir(tmp_path, "https://x:token-two@git.example.com/a.git")
    other = dbt_repo.cache_dir(tmp_path, "https://x:token-one@git.example.com/b.git")
    assert one == two != other and one.parent == tmp_path / CACHE_DIR
    assert "token" not in one.name


@pytest.mark.parametrize("value", ["0", "-1", "nan", "inf", "3601", "soon"])
def test_the_timeout_setting_is_bounded(value: str) -> None:
    with pytest.raises(ConfigError, match="SEG_DBT_GIT_TIMEOUT must be a number of seconds"):
        dbt_repo.git_timeout({"SEG_DBT_GIT_TIMEOUT": value})
    assert dbt_repo.git_timeout({"SEG_DBT_GIT_TIMEOUT": " "}) == dbt_repo.DEFAULT_TIMEOUT
    assert dbt_repo.git_timeout({"SEG_DBT_GIT_TIMEOUT": "2.5"}) == 2.5
