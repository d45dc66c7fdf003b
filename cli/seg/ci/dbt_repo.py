"""dbt projects in another git repository (``seg.yaml``: ``repository``, ``ref``,
``project_path``), read from a cached bare clone under the workspace's ``.seg/dbt/``.

Each repository URL has one cache directory, named by a hash of the URL without its
credentials. Every read fetches its branches and tags into it (a full commit id already in the
cache needs no fetch); git runs bounded in time ($SEG_DBT_GIT_TIMEOUT seconds), without a
terminal or any prompt, with only the https, ssh and file transports allowed. A URL and a ref
are checked here before git sees them, and the ref is resolved by gitpython, never given to git
on a command line. A fetch that fails leaves the cache as it was: the project is read from the
cached revision with a warning, or (no cache, or the ref not in it) not read, with a warning.
A URL's credentials never appear in a message.
"""

from __future__ import annotations

import hashlib
import os
import re
import shutil
import signal
import subprocess
import tempfile
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

import git

from seg.ci.gittree import GitTree
from seg.errors import ConfigError
from seg.model.urls import redact_text, redact_url
from seg.workspace.config import DbtProjectConfig, WorkspaceConfig
from seg.workspace.dbt_project import PROJECT_FILE, DbtProjectError

__all__ = [
    "CACHE_DIR",
    "RemoteDbtTree",
    "cache_dir",
    "check_ref",
    "check_repository_url",
    "git_timeout",
    "remote_dbt_tree",
]

CACHE_DIR = Path(".seg") / "dbt"
DEFAULT_TIMEOUT = 120.0  # seconds for one git fetch
MAX_TIMEOUT = 3600.0
MAX_URL = 2048
FILE_REPOSITORIES = "SEG_DBT_FILE_REPOSITORIES"  # "allow": file:// repositories are read
MAX_REF = 255

_URL = re.compile(r"^(?:(?:https|ssh|file)://|git@)[^\s]+$")
_SCP = re.compile(r"^git@([^/:]+):(.+)$")
_AUTHORITY = re.compile(r"^(?:https|ssh)://(?:[^@/]*@)?([^/]*)")
_REF = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9._/-]*$")
_FULL_SHA = re.compile(r"^[0-9a-f]{40}$")

# Configuration for every git run: only these transports, no hooks, no background work.
_GIT_CONFIG = (
    "protocol.allow=never", "protocol.https.allow=always", "protocol.ssh.allow=always",
    "protocol.file.allow=always", "protocol.ext.allow=never", "core.hooksPath=/dev/null",
    "credential.interactive=never", "gc.auto=0", "maintenance.auto=false",
    "fetch.recurseSubmodules=false", "submodule.recurse=false",
)  # fmt: skip
_REFSPECS = ("+refs/heads/*:refs/heads/*", "+refs/tags/*:refs/tags/*")


def check_repository_url(url: str, environ: Mapping[str, str] | None = None) -> None:
    """Refuse anything but an https, ssh, file or git@host:path URL (ConfigError): no remote
    helper (``ext::…``), no option (``--upload-pack=…``), no host that reads as one. A
    ``file://`` URL only where ``$SEG_DBT_FILE_REPOSITORIES`` is ``allow``: seg.yaml comes
    with pull requests, and one naming any repository on the machine would have seg read it
    and quote its model names."""
    shown = redact_url(url)[:200]
    if len(url) > MAX_URL or not _URL.match(url) or "::" in url:
        raise ConfigError(f"repository {shown!r} is not an https://, ssh://, file:// or "
                          "git@host:path URL")  # fmt: skip
    environ = os.environ if environ is None else environ
    if url.startswith("file://") and environ.get(FILE_REPOSITORIES) != "allow":
        raise ConfigError(f"repository {shown!r}: file:// repositories are read only where "
                          f"{FILE_REPOSITORIES}=allow (a seg.yaml of a pull request could "
                          "name any repository on the machine)")  # fmt: skip
    if any(ord(c) < 0x20 or ord(c) == 0x7F for c in url):
        raise ConfigError(f"repository {shown!r} holds a control character")
    if url.startswith("git@"):
        scp = _SCP.match(url)
        host = scp.group(1) if scp else ""
        if not scp or host.startswith("-"):
            raise ConfigError(f"repository {shown!r} is not a git@host:path URL")
        return
    authority = _AUTHORITY.match(url)
    if authority is not None and (not authority.group(1) or authority.group(1).startswith("-")):
        raise ConfigError(f"repository {shown!r} has no valid host")


def check_ref(ref: str) -> None:
    """Refuse a ref that is not a plain branch, tag or commit name (ConfigError)."""
    if (len(ref) > MAX_REF or not _REF.match(ref) or ".." in ref or "//" in ref
            or ref.endswith((".", "/", ".lock"))):  # fmt: skip
        raise ConfigError(f"ref {ref[:80]!r} is not a branch, tag or commit name")


def git_timeout(environ: Mapping[str, str] | None = None) -> float:
    """Seconds one git fetch may take ($SEG_DBT_GIT_TIMEOUT, default 120)."""
    raw = (os.environ if environ is None else environ).get("SEG_DBT_GIT_TIMEOUT", "")
    if not raw.strip():
        return DEFAULT_TIMEOUT
    try:
        seconds = float(raw)
    except ValueError:
        seconds = -1.0
    if not 0 < seconds <= MAX_TIMEOUT:  # also refuses nan
        raise ConfigError(f"SEG_DBT_GIT_TIMEOUT must be a number of seconds above 0 and up to "
                          f"{MAX_TIMEOUT:.0f}, not {raw[:40]!r}")  # fmt: skip
    return seconds


def _git_env() -> dict[str, str]:
    """The environment git runs in: the user's (ssh keys, credential helpers, proxies) with
    every way of prompting closed."""
    env = dict(os.environ)
    for name in (
        "GIT_DIR",
        "GIT_WORK_TREE",
        "GIT_INDEX_FILE",
        "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES",
        "GIT_NAMESPACE",
        "GIT_CEILING_DIRECTORIES",
    ):
        env.pop(name, None)  # fmt: skip
    env.update(GIT_TERMINAL_PROMPT="0", GIT_ASKPASS="", SSH_ASKPASS="", SSH_ASKPASS_REQUIRE="never",
               GCM_INTERACTIVE="never", GIT_PROTOCOL_FROM_USER="0", LC_ALL="C")  # fmt: skip
    return env


class _GitFailed(Exception):
    """A git run failed; the message is one line without credentials."""


def _run_git(args: list[str], cwd: Path, url: str, timeout: float) -> None:
    """``git -c … args`` in ``cwd``: no stdin, no terminal (a session of its own), killed with
    everything it started after ``timeout`` seconds. Raises _GitFailed."""
    command = ["git", *[part for item in _GIT_CONFIG for part in ("-c", item)], *args]
    try:
        proc = subprocess.Popen(command, cwd=cwd, env=_git_env(), stdin=subprocess.DEVNULL,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True)  # fmt: skip
    except OSError as exc:
        raise _GitFailed(f"git cannot run ({exc.strerror or exc})") from None
    try:
        _, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        proc.communicate()
        raise _GitFailed(f"git gave no answer within {timeout:g} seconds") from None
    if proc.returncode != 0:
        lines = [line.strip() for line in err.decode("utf-8", "replace").splitlines()
                 if line.strip()]  # fmt: skip
        # git's first "fatal:" line says why (the next ones and the hints are generic)
        fatal = [line for line in lines if line.startswith(("fatal:", "error:"))]
        reason = (fatal or lines[-1:] or [f"git exited with {proc.returncode}"])[0]
        raise _GitFailed(redact_text(reason, url)[:300])


def cache_dir(root: Path, url: str) -> Path:
    """The bare clone of ``url`` under the workspace (named by its URL without credentials)."""
    digest = hashlib.sha256(redact_url(url).encode("utf-8")).hexdigest()[:24]
    return root / CACHE_DIR / digest


def _new_cache(where: Path, timeout: float, url: str) -> None:
    """An empty bare repository at ``where``, made aside and renamed into place (another seg
    making the same one at the same time is no harm)."""
    state = where.parent.parent
    state.mkdir(parents=True, exist_ok=True)
    gitignore = state / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("*\n", encoding="utf-8")
    where.parent.mkdir(exist_ok=True)
    aside = Path(tempfile.mkdtemp(prefix=".new-", dir=where.parent))
    try:
        _run_git(["init", "--quiet", "--bare", "--template=", "--", str(aside)], where.parent,
                 url, timeout)  # fmt: skip
        os.replace(aside, where)
    except OSError:
        shutil.rmtree(aside, ignore_errors=True)  # someone else made it first
        if not (where / "HEAD").is_file():
            raise
    except _GitFailed:
        shutil.rmtree(aside, ignore_errors=True)
        raise


# The lines of the config ``git init --bare --template=`` writes: a cache holding anything
# else (a ``remote.<url>.uploadpack``, ``core.sshCommand``, ``credential.helper``,
# ``url.<x>.insteadOf``, an include …) was not made by seg, e.g. committed by a pull request,
# and git would run or follow it on the next fetch.
_INIT_CONFIG_LINE = re.compile(r"\[core\]|\t(?:repositoryformatversion|filemode|bare|"
                               r"ignorecase|precomposeunicode|symlinks|logallrefupdates) = "
                               r"(?:true|false|0|1)|\[extensions\]|\tobjectformat = "
                               r"(?:sha1|sha256)|\trefstorage = (?:files|reftable)")  # fmt: skip
MAX_CONFIG = 4096


def _check_cache(where: Path) -> str | None:
    """Why the cache at ``where`` is not one seg made (None when it is)."""
    config = where / "config"
    try:
        if config.is_symlink() or not config.is_file() or config.stat().st_size > MAX_CONFIG:
            return "its config is not the file git init writes"
        lines = config.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError):
        return "its config cannot be read"
    if not all(_INIT_CONFIG_LINE.fullmatch(line) for line in lines):
        return "its config holds settings seg does not write (git would act on them)"
    return None


def _fetch(where: Path, url: str, timeout: float) -> None:
    _run_git(["fetch", "--quiet", "--prune", "--no-tags", "--no-write-fetch-head",
              "--no-recurse-submodules", "--", url, *_REFSPECS], where, url, timeout)  # fmt: skip


def _resolve(repo: git.Repo, ref: str) -> git.Commit | None:
    """The commit ``ref`` names in the cache (gitpython's rev-parse: no git command line)."""
    try:
        commit = repo.commit(ref)
    except (git.BadName, git.BadObject, ValueError, IndexError, KeyError, TypeError):
        return None
    return commit if isinstance(commit, git.Commit) else None


def _described(commit: git.Commit) -> str:
    when = datetime.fromtimestamp(commit.committed_date, UTC).strftime("%Y-%m-%d %H:%M UTC")
    return f"{commit.hexsha[:12]} (committed {when})"


class RemoteDbtTree:
    """A dbt project's directory at one commit of a cached clone: a ``GitTree`` whose paths
    display as ``URL@ref:path``, with ``notes`` on how it was read (a cached revision used)."""

    def __init__(self, inner: GitTree, url: str, ref: str, notes: tuple[str, ...] = ()) -> None:
        self.inner = inner
        self.url = url
        self.ref = ref
        self.notes = notes

    @property
    def commit(self) -> git.Commit:
        return self.inner.commit

    def files(self) -> list[str]:
        return self.inner.files()

    def read(self, rel: str, limit: int | None = None) -> str:
        return self.inner.read(rel, limit)

    def display(self, rel: str) -> str:
        return f"{redact_url(self.url)}@{self.ref}:{self.inner.display(rel)}"


def remote_dbt_tree(config: WorkspaceConfig, project: DbtProjectConfig) -> RemoteDbtTree:
    """The tree of a ``repository:`` project at its ``ref``, fetched into the workspace's
    cache. Raises DbtProjectError: a warning when the repository cannot be reached and the
    cache cannot stand in; an error for a ref the repository does not have, or a
    ``project_path`` without dbt_project.yml."""
    url, ref, name = project.repository or "", project.ref or "", project.name
    try:
        check_repository_url(url)
        check_ref(ref)
        timeout = git_timeout()
    except ConfigError as exc:
        raise DbtProjectError(f"dbt project {name}: {exc}", "error") from None
    shown = redact_url(url)
    where = cache_dir(config.root.resolve(), url)
    failure: str | None = None
    cached = (where / "HEAD").is_file()
    if cached and (why := _check_cache(where)) is not None:
        shown_cache = f"{CACHE_DIR / where.name}"
        raise DbtProjectError(f"dbt project {name}: the copy of {shown} in {shown_cache} was "
                              f"not made by seg: {why}; remove {shown_cache} (seg fetches it "
                              "again)", "error")  # fmt: skip
    try:
        if not cached:
            _new_cache(where, timeout, url)
        repo = git.Repo(where)
        known = _resolve(repo, ref) if cached else None
        # a full commit id names the same files forever: no fetch once it is here
        if known is None or not (_FULL_SHA.match(ref) and known.hexsha == ref):
            _fetch(where, url, timeout)
    except _GitFailed as exc:
        failure = str(exc)
    except (OSError, git.GitError) as exc:
        failure = redact_text(str(exc).splitlines()[0] if str(exc) else type(exc).__name__,
                              url)[:300]  # fmt: skip
    try:
        repo = git.Repo(where)
        if failure is not None and not repo.refs:  # made now, or never fetched into
            raise git.NoSuchPathError(where)
    except (OSError, git.GitError):
        raise DbtProjectError(f"dbt project {name} is not read: cannot fetch {shown} "
                              f"({failure}), and there is no copy of it in {CACHE_DIR}; its "
                              "models are not checked", "warning") from None  # fmt: skip
    commit = _resolve(repo, ref)
    notes: tuple[str, ...] = ()
    if failure is not None:
        if commit is None:
            raise DbtProjectError(f"dbt project {name} is not read: cannot fetch {shown} "
                                  f"({failure}), and its copy in {CACHE_DIR} has no {ref!r}; "
                                  "its models are not checked", "warning")  # fmt: skip
        notes = (f"dbt project {name}: cannot fetch {shown} ({failure}); read at the cached "
                 f"revision {_described(commit)} of {ref!r}",)  # fmt: skip
    elif commit is None:
        raise DbtProjectError(f"dbt project {name}: {shown} has no branch, tag or commit "
                              f"{ref!r}", "error")  # fmt: skip
    assert commit is not None
    try:
        tree = GitTree(repo, commit.hexsha, project.project_path)
    except ConfigError as exc:
        raise DbtProjectError(f"dbt project {name}: {exc}", "error") from None
    if PROJECT_FILE not in tree.files():
        where_in = f"{project.project_path}/" if project.project_path else ""
        hint = ("project_path is the directory holding it, relative to the top of the "
                "repository")  # fmt: skip
        raise DbtProjectError(f"dbt project {name}: {shown} has no {where_in}{PROJECT_FILE} "
                              f"at {ref!r} ({hint})", "error")  # fmt: skip
    return RemoteDbtTree(tree, url, ref, notes)
