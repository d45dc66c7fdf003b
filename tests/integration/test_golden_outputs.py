"""Golden outputs of the examples: what users see from plan, apply, export, check, access and
the commands each example's README shows, byte for byte (issue 13, item 6).

Each example in `examples/` is copied (without local state) into a temporary repository root
and driven with the real `seg` CLI in-process (Typer's runner, no mocks) against a fresh
embedded control plane, from that root and with relative paths, exactly as its README does.
Every output is compared with a file under `tests/golden/<example>/`:

- `<step>.txt|.json|.md` — the stdout of one command, by its `-o` (text, json, markdown);
- `export/…` — every file `seg export` wrote (the editor schemas it adds beside them aside:
  they are the published schemas, checked by tests/integration/test_editor_schemas.py);
- `transcript.txt` — each command line in order, its exit code and its stderr.

A mismatch fails with a unified diff; a file that is missing or left over fails too. Two
cross-checks: the `basic` README through real `seg` subprocesses prints the same bytes, and
`tracking-plans` against a real `seg serve` (SQLite) plans and applies with the same bytes and
exports the same files with a plain `seg export --slug` (plus its seg.yaml, `export-plain/`).

To accept a deliberate change of output, rewrite the files and review the diff in git:

    SEG_UPDATE_GOLDEN=1 python -m pytest -q tests/integration/test_golden_outputs.py

Only what is truly non-deterministic may be normalised, by the explicit list `VOLATILE`
below; everything else is compared exactly. The random inputs that reach the outputs (the
control plane's secret key, behind keyed secret digests, and the ids it generates) are fixed
instead: see `FIXED_KEY` and `fixed_ids`.
"""

from __future__ import annotations

import base64
import contextlib
import difflib
import json
import os
import random
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from types import SimpleNamespace

import git
import httpx
import pytest
import typer.main
from typer.testing import CliRunner

from seg.commands.app import app
from seg.editor_schemas import SCHEMA_DIR
from seg.embedded import STATE_DIR
from seg.server import bodies
from tests.dbt_tool import DBT_STATE
from tests.git_repos import new_repo
from tests.repo_files import REPO, copy_repo_dir

GOLDEN = REPO / "tests" / "golden"
UPDATE = os.environ.get("SEG_UPDATE_GOLDEN") == "1"
EXAMPLES = sorted(p.name for p in (REPO / "examples").iterdir() if p.is_dir())
# Examples whose seg workspace is a directory below the example's (beside what it links to).
WORKSPACE_DIR = {"dbt": "dbt/seg"}
# Examples whose workspace reads files beside it, inside its git repository: their copies are
# repositories (see git_clone).
IN_GIT = ("dbt",)

# The variables the examples' READMEs export; SEG_* and width settings of the developer's
# shell are removed so that every run sees the same defaults.
ENV: dict[str, str | None] = {
    "AMPLITUDE_API_KEY": "demo-key",
    "WAREHOUSE_PASSWORD": "demo-password",
    "PARTNER_SHARED_SECRET": "demo-partner-key",
    "CRM_API_TOKEN": "demo-crm-token",
    "BRAZE_API_KEY": "demo-braze-key",
    "SLACK_ALERTS_WEBHOOK": "https://hooks.slack.com/services/T000/B000/demo",
    "NO_COLOR": "1",
    "SEG_API_URL": None, "SEG_TOKEN": None, "SEG_WORKSPACE": None, "SEG_ENV": None,
    "COLUMNS": None, "LINES": None,
}  # fmt: skip

# The one random input that reaches the outputs: the embedded control plane's key, which it
# generates on first use (`.seg/secret.key`). Keyed digests of secret values, and with them
# the etags of resources holding secrets and the plan's workspace_digest, derive from it. Each
# copy is given this fixed key up front (a valid Fernet key), so those are compared exactly.
FIXED_KEY = base64.urlsafe_b64encode(bytes(range(32))) + b"\n"

# What is truly non-deterministic in the outputs, and its stand-in. Commands run from the
# temporary root with relative paths, so the root is not expected in any output; should a
# message quote it anyway, it is the one varying part. Nothing else (digests, etags, order,
# wording) is normalised.
VOLATILE: list[tuple[Callable[[Path], str], str]] = [
    (lambda root: str(root.resolve()), "<ROOT>"),
    (lambda root: str(root), "<ROOT>"),
]

SUFFIX = {"text": "txt", "json": "json", "markdown": "md"}


class Session:
    """One example's copies and the outputs recorded from them, by golden file name."""

    def __init__(self, example: str, tmp: Path) -> None:
        self.example = example
        self.tmp = tmp
        self.files: dict[str, str] = {}
        self.transcript: list[str] = []

    def copy(self, label: str) -> Path:
        """A fresh repository root holding a copy of the example (its own embedded plane)."""
        root = self.tmp / label
        copy_repo_dir(f"examples/{self.example}", root / "examples" / self.example,
                      skip=DBT_STATE)  # fmt: skip
        fix_key(root / self.workspace)
        if self.example in IN_GIT:
            git_clone(root)
        return root

    @property
    def workspace(self) -> str:
        return f"examples/{WORKSPACE_DIR.get(self.example, self.example)}"

    def run(self, root: Path, name: str | None, *args: str, code: int = 0,
            remote: dict[str, str] | None = None) -> str:  # fmt: skip
        """Run `seg ARGS` from ``root`` (against ``remote``'s SEG_API_URL and SEG_TOKEN when
        given); record its stdout as ``name`` (when given) and its exit code and stderr in the
        transcript. Returns stdout."""
        here = Path.cwd()
        os.chdir(root)
        try:
            result = CliRunner().invoke(app, list(args), env={**ENV, **(remote or {})})
        finally:
            os.chdir(here)
        stdout, stderr = normalise(result.stdout, root), normalise(result.stderr, root)
        assert "Traceback" not in result.output, result.output
        assert result.exit_code == code, f"seg {' '.join(args)}: exit {result.exit_code}\n" \
                                         f"{result.output}"  # fmt: skip
        self.note(args, result.exit_code, stderr, name)
        if name is not None:
            self.files[name] = stdout
        return stdout

    def note(self, args: tuple[str, ...], code: int, stderr: str, name: str | None) -> None:
        line = "$ seg " + " ".join(_quote(a) for a in args)
        self.transcript.append(f"{line}\n  exit {code}" + (f" -> {name}" if name else ""))
        self.transcript.extend(f"  stderr| {text}" for text in stderr.splitlines())

    def each_output(self, root: Path, step: str, *args: str, code: int = 0) -> None:
        """``seg ARGS`` (text, the default, as users run it), then with ``-o json`` and
        ``-o markdown``: ``step.txt|.json|.md``."""
        self.run(root, f"{step}.txt", *args, code=code)
        for output in ("json", "markdown"):
            self.run(root, f"{step}.{SUFFIX[output]}", *args, "-o", output, code=code)

    def collect_export(self, root: Path, out: Path, prefix: str, with_config: bool = False
                       ) -> None:  # fmt: skip
        """Every file export wrote under ``out`` but the editor schemas (and, unless
        ``with_config``, the seg.yaml and `.seg/` put there beforehand for --merge)."""
        skip = (SCHEMA_DIR,) if with_config else (SCHEMA_DIR, STATE_DIR, "seg.yaml")
        for path in sorted(out.rglob("*")):
            rel = path.relative_to(out)
            if path.is_file() and rel.parts[0] not in skip:
                self.files[f"{prefix}/{rel.as_posix()}"] = normalise(path.read_text(), root)

    def golden(self) -> dict[str, str]:
        return {**self.files, "transcript.txt": "\n".join(self.transcript) + "\n"}


def fix_key(workspace: Path) -> None:
    """Give the embedded control plane of ``workspace`` the fixed key (see FIXED_KEY)."""
    state = workspace / STATE_DIR
    state.mkdir()
    (state / "secret.key").write_bytes(FIXED_KEY)
    (state / "secret.key").chmod(0o600)


def normalise(text: str, root: Path) -> str:
    for value, stand_in in VOLATILE:
        text = text.replace(value(root), stand_in)
    return text


def _quote(arg: str) -> str:
    return arg if re.fullmatch(r"[\w@%+=:,./-]+", arg) else "'" + arg.replace("'", "'\\''") + "'"


# --- the flows -------------------------------------------------------------------------------


def plan_apply(s: Session, env: tuple[str, ...] = (), tag: str = "") -> Path:
    """validate, the first plan, apply (text; JSON and markdown on fresh copies), the plan after
    apply, and export of the applied workspace. Returns the applied root."""
    w = ("-w", s.workspace, *env)
    root = s.copy(f"main{tag}")
    s.each_output(root, f"validate{tag}", "validate", *w)
    s.each_output(root, f"plan{tag}", "plan", *w)
    s.run(root, f"plan{tag}-detailed-exitcode.txt", "plan", *w, "--detailed-exitcode", code=2)
    s.run(root, f"apply{tag}.txt", "apply", *w, "--auto-approve")
    for output in ("json", "markdown"):
        fresh = s.copy(f"{output}{tag}")
        s.run(fresh, f"apply{tag}.{SUFFIX[output]}", "apply", *w, "--auto-approve", "-o", output)
    s.each_output(root, f"plan{tag}-after-apply", "plan", *w)
    s.run(root, f"plan{tag}-after-apply-detailed-exitcode.txt", "plan", *w, "--detailed-exitcode")
    s.run(root, f"apply{tag}-again.txt", "apply", *w, "--auto-approve")
    export(s, root, env, tag)
    return root


def export(s: Session, root: Path, env: tuple[str, ...], tag: str) -> None:
    """`seg export` of the applied workspace, in each output format: into a tree holding only
    the example's seg.yaml and its embedded control plane (`.seg/`), with --merge, so that
    every live resource is written (the embedded plane lives beside seg.yaml)."""
    for output, suffix in SUFFIX.items():
        out = root / f"exported-{output}"
        out.mkdir()
        shutil.copy(root / s.workspace / "seg.yaml", out / "seg.yaml")
        shutil.copytree(root / s.workspace / STATE_DIR, out / STATE_DIR)
        formats = ("-o", output) if output != "text" else ()
        s.run(root, f"export{tag}.{suffix}", "export", "-w", out.name, "--merge", *env, *formats)
        if output == "text":
            s.collect_export(root, out, f"export{tag}")


def flow_access(s: Session) -> None:
    root = plan_apply(s)
    w = ("-w", s.workspace)
    s.each_output(root, "access-explain-alice", "access", "explain", *w, "--user",
                  "alice@example.com")  # fmt: skip
    for user in ("bob", "carol", "dana", "erin"):
        s.run(root, f"access-explain-{user}.txt", "access", "explain", *w, "--user",
              f"{user}@example.com")  # fmt: skip


def flow_basic(s: Session) -> None:
    plan_apply(s)


def flow_dbt(s: Session) -> None:
    plan_apply(s)


def flow_dev_prod(s: Session) -> None:
    dev = plan_apply(s, ("--env", "dev"), "-dev")
    s.run(dev, "apply-prod-on-dev-copy.txt", "apply", "-w", s.workspace, "--env", "prod",
          "--auto-approve")  # fmt: skip
    s.each_output(dev, "diff-dev-prod", "diff", "-w", s.workspace, "--env", "dev", "--env",
                  "prod", code=2)  # fmt: skip
    plan_apply(s, ("--env", "prod"), "-prod")
    plan_apply(s, (), "-default")


def flow_filters(s: Session) -> None:
    root = plan_apply(s)
    s.each_output(root, "filter-test", "filter", "test", "-w", s.workspace, "--destination",
                  "web/amplitude", "--events", f"{s.workspace}/events.jsonl")  # fmt: skip
    s.each_output(root, "fql-eval", "fql", "eval", "length(userId) < 1", "--event",
                  f"{s.workspace}/event.json")  # fmt: skip


def flow_functions(s: Session) -> None:
    """Plan and apply; then a code file that does not parse, reported at its line and column."""
    root = plan_apply(s)
    code = root / s.workspace / "functions" / "scrub-pii.js"
    broken = code.read_text().replace("  return event\n}\n\nasync", "  return event +\n}\n\nasync")
    code.write_text(broken)
    s.each_output(root, "validate-broken-code", "validate", "-w", s.workspace, code=1)


def flow_protocols(s: Session) -> None:
    plan_apply(s)  # the first plan lists the changes that drop data first


def flow_reverse_etl(s: Session) -> None:
    root = plan_apply(s)
    repo = git_clone(root)
    w = ("-w", s.workspace, "--base", "origin/main")
    s.each_output(root, "check-unchanged", "check", *w)
    repo.git.switch("-q", "-c", "try-seg-check")
    with (root / s.workspace / "models" / "users.sql").open("a") as sql:
        sql.write("LIMIT 100\n")
    repo.git.commit("-qam", "users: at most 100 rows")
    s.each_output(root, "check-users-edited", "check", *w, code=3)
    s.each_output(root, "plan-users-edited", "plan", "-w", s.workspace, code=3)
    s.run(root, "apply-users-edited.txt", "apply", "-w", s.workspace, "--auto-approve", code=3)


def flow_tracking_plans(s: Session) -> None:
    root = plan_apply(s)
    s.each_output(root, "check-events", "tracking-plan", "check-events", "ecommerce", "-w",
                  s.workspace, "--events", f"{s.workspace}/events.jsonl", code=3)  # fmt: skip
    with served(s.tmp / "server", "shop") as remote:
        over_http(s, remote, "shop")


def flow_warehouse(s: Session) -> None:
    plan_apply(s)


def over_http(s: Session, remote: dict[str, str], slug: str) -> None:
    """The same plan and apply against `seg serve` print what the embedded plane printed, and
    a plain `seg export` into an empty directory writes the same files plus a seg.yaml."""
    root = s.copy("served")
    s.transcript.append("# against seg serve (SQLite): SEG_API_URL and SEG_TOKEN set")
    w = ("-w", s.workspace)
    for name, args in [("plan.txt", ("plan", *w)), ("plan.json", ("plan", *w, "-o", "json")),
                       ("apply.txt", ("apply", *w, "--auto-approve")),
                       ("plan-after-apply.txt", ("plan", *w))]:  # fmt: skip
        at = len(s.transcript)
        assert s.run(root, None, *args, remote=remote) == s.files[name], name
        s.transcript[at] += f" (stdout as {name})"
    s.run(root, "export-plain.txt", "export", "-w", "exported", "--slug", slug, remote=remote)
    s.collect_export(root, root / "exported", "export-plain", with_config=True)
    plain = {k.removeprefix("export-plain/") for k in s.files if k.startswith("export-plain/")}
    merged = {k.removeprefix("export/") for k in s.files if k.startswith("export/")}
    assert plain == merged | {"seg.yaml"}
    for rel in merged:
        assert s.files.pop(f"export-plain/{rel}") == s.files[f"export/{rel}"], rel


@contextlib.contextmanager
def served(tmp: Path, slug: str) -> Iterator[dict[str, str]]:
    """`seg serve` on a fresh SQLite database holding workspace ``slug``, with the fixed key,
    on 127.0.0.1; yields the client's SEG_API_URL and SEG_TOKEN."""
    tmp.mkdir()
    (tmp / "secret.key").write_bytes(FIXED_KEY)
    env = {k: v for k, v in os.environ.items() if k not in ENV}
    env.update({k: v for k, v in ENV.items() if v is not None})
    env.update(SEG_DATABASE_URL=f"sqlite:///{tmp / 'cp.db'}",
               SEG_SECRET_KEY_FILE=str(tmp / "secret.key"))  # fmt: skip
    made = CliRunner().invoke(app, ["server", "init", "--slug", slug, "-o", "json"], env=env)
    assert made.exit_code == 0, made.output
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = int(probe.getsockname()[1])
    url = f"http://127.0.0.1:{port}"
    with open(tmp / "serve.log", "w") as log:
        proc = subprocess.Popen([sys.executable, "-m", "seg", "serve", "--host", "127.0.0.1",
                                 port_flag(), str(port)], env=env, stdout=log,
                                stderr=subprocess.STDOUT)  # fmt: skip
        try:
            wait_ready(url, proc, tmp / "serve.log")
            yield {"SEG_API_URL": url, "SEG_TOKEN": json.loads(made.stdout)["token"]}
        finally:
            proc.terminate()
            proc.wait(timeout=15)


def port_flag() -> str:
    """`seg serve`'s port option as the installed Typer spells it: `--port`, or `--PORT` where
    Typer takes the flag from a metavar equal to the parameter's name (metavar="PORT")."""
    serve = typer.main.get_command(app).commands["serve"]  # type: ignore[attr-defined]
    return next(o for p in serve.params if p.name == "port" for o in p.opts)


def wait_ready(url: str, proc: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 120  # a loaded machine starts slowly; ready ends the wait
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(f"{url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise AssertionError("seg serve did not start: " + log.read_text())


FLOWS: dict[str, Callable[[Session], None]] = {
    "access": flow_access,
    "basic": flow_basic,
    "dbt": flow_dbt,
    "dev-prod": flow_dev_prod,
    "filters": flow_filters,
    "functions": flow_functions,
    "protocols": flow_protocols,
    "reverse-etl": flow_reverse_etl,
    "tracking-plans": flow_tracking_plans,
    "warehouse": flow_warehouse,
}


def git_clone(root: Path) -> git.Repo:
    """Make ``root`` a repository with the example committed and origin/main at it, as in a
    clone (`seg check` reads committed revisions). The embedded plane's state is ignored."""
    repo = new_repo(root)
    (root / ".gitignore").write_text(".seg/\nexported-*/\n")
    repo.git.add("-A")
    repo.index.commit("examples")
    repo.git.update_ref("refs/remotes/origin/main", "HEAD")
    return repo


# --- comparison ------------------------------------------------------------------------------


def stored(directory: Path) -> dict[str, str]:
    if not directory.is_dir():
        return {}
    return {p.relative_to(directory).as_posix(): p.read_text(encoding="utf-8")
            for p in sorted(directory.rglob("*")) if p.is_file()}  # fmt: skip


def write_golden(directory: Path, files: dict[str, str]) -> None:
    if directory.exists():
        shutil.rmtree(directory)
    for rel, text in files.items():
        path = directory / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode("utf-8"))


def mismatches(example: str, expected: dict[str, str], actual: dict[str, str]) -> list[str]:
    """A unified diff for each file that differs, and a line for each missing or extra one."""
    out = []
    for rel in sorted(expected.keys() | actual.keys()):
        where = f"tests/golden/{example}/{rel}"
        if rel not in actual:
            out.append(f"{where}: no longer produced")
        elif rel not in expected:
            out.append(f"{where}: produced but has no golden file")
        elif expected[rel] != actual[rel]:
            diff = difflib.unified_diff(expected[rel].splitlines(keepends=True),
                                        actual[rel].splitlines(keepends=True),
                                        f"{where} (golden)", f"{where} (now)")  # fmt: skip
            out.append("".join(diff))
    return out


def test_every_example_has_a_flow() -> None:
    assert sorted(FLOWS) == EXAMPLES
    assert UPDATE or sorted(p.name for p in GOLDEN.iterdir()) == EXAMPLES


def fixed_ids(monkeypatch: pytest.MonkeyPatch, seed: str) -> None:
    """The other random input: the ids the (in-process) control plane generates, such as a
    tracking plan's ``tp_…``. The etag of a source connected to a plan derives from the plan's
    id, and a plan or diff shows live etags; the ids are drawn from a generator seeded per
    example instead, so those are compared exactly too."""
    monkeypatch.setattr(bodies, "secrets", SimpleNamespace(choice=random.Random(seed).choice))


@pytest.mark.parametrize("example", EXAMPLES)
def test_example_outputs_match_their_golden_files(
    example: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fixed_ids(monkeypatch, example)
    session = Session(example, tmp_path)
    FLOWS[example](session)
    actual = session.golden()
    if UPDATE:
        write_golden(GOLDEN / example, actual)
    problems = mismatches(example, stored(GOLDEN / example), actual)
    assert not problems, "\n".join(problems) + "\n(SEG_UPDATE_GOLDEN=1 rewrites the files)"


def recorded(example: str, name: str) -> tuple[str, list[str]]:
    """The command line and the transcript lines (exit code, stderr) recorded for ``name``."""
    transcript = (GOLDEN / example / "transcript.txt").read_text(encoding="utf-8")
    for entry in transcript.split("\n$ "):
        line, _, rest = entry.removeprefix("$ ").partition("\n")
        if rest.splitlines()[0].endswith(f" -> {name}"):
            return line, rest.splitlines()
    raise AssertionError(f"{example}/transcript.txt records no {name}")


BASIC_README = [  # the basic README's commands, then the JSON views of the same plans
    ("plan.txt", "plan -w examples/basic"),
    ("apply.txt", "apply -w examples/basic --auto-approve"),
    ("plan-after-apply-detailed-exitcode.txt", "plan -w examples/basic --detailed-exitcode"),
    ("plan-after-apply.json", "plan -w examples/basic -o json"),
]


@pytest.mark.e2e
def test_basic_readme_as_real_processes_prints_the_golden_bytes(tmp_path: Path) -> None:
    """The basic example's README through `seg` subprocesses on a fresh copy: the same
    command lines, stdout, stderr and exit codes as the in-process runs recorded."""
    root = tmp_path / "repo"
    copy_repo_dir("examples/basic", root / "examples" / "basic")
    fix_key(root / "examples" / "basic")
    env = {k: v for k, v in os.environ.items() if k not in ENV}
    env.update({k: v for k, v in ENV.items() if v is not None})
    for name, command in BASIC_README:
        line, lines = recorded("basic", name)
        assert line == f"seg {command}"
        done = subprocess.run([sys.executable, "-m", "seg", *command.split()], cwd=root,
                              env=env, capture_output=True, text=True, timeout=120)  # fmt: skip
        assert "Traceback" not in done.stderr
        assert lines[0] == f"  exit {done.returncode} -> {name}", done.stderr
        stderr = [f"  stderr| {text}" for text in normalise(done.stderr, root).splitlines()]
        assert lines[1:] == stderr
        golden = (GOLDEN / "basic" / name).read_text(encoding="utf-8")
        problems = mismatches("basic", {name: golden}, {name: normalise(done.stdout, root)})
        assert not problems, "\n".join(problems)
