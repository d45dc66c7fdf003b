"""`*_file` fields cannot read outside the workspace (issue 11, item 1).

A pull request controls the YAML, and the plan it produces is posted as a comment: a
`query_file` or `json_schema_file` that leads outside the workspace root (an absolute path, a
`..` that leaves it, a symlink — on disk or committed in git, to a file or a directory, or a
chain of them) must be a validate error at the value's file:line:col, and the file it names is
never read, so a marker planted in it shows in no output. `..` and symlinks that stay inside
remain allowed, and what a `*_file` field reads is capped in size and must be a regular file.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from seg.schemas import schema_dir
from seg.workspace.linked import MAX_LINKED_FILE_BYTES
from tests.conftest import run_cli
from tests.git_repos import new_repo

MARKER = "OUTSIDE-MARKER-7c1f9e"
INSIDE = "INSIDE-MARKER-42ab"

SOURCE = """\
kind: Source
name: warehouse
spec:
  catalog: postgres
  settings: {host: db.internal, database: analytics}
"""

# `query_file`'s value starts at line 5, column 15 of models/users.yaml.
MODEL = """\
kind: Model
name: users
spec:
  source: warehouse
  query_file: {value}
  identifier_column: id
"""
MODEL_AT = "models/users.yaml:5:15"

# `json_schema_file`'s value starts at line 7, column 25 of plans/checkout.yaml.
PLAN = """\
kind: TrackingPlan
name: checkout
spec:
  rules:
    - type: TRACK
      key: Order Completed
      json_schema_file: {value}
      version: 1
"""
PLAN_AT = "plans/checkout.yaml:7:25"

OUTPUTS = (("validate",), ("plan",), ("plan", "-o", "json"), ("plan", "-o", "markdown"))


@pytest.fixture(autouse=True)
def _clean(clean_seg_env: None) -> None:
    """No SEG_* settings from the shell: the embedded control plane only."""


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """Files outside the workspace holding the marker."""
    out = tmp_path / "outside"
    out.mkdir()
    (out / "secret.sql").write_text(f"SELECT '{MARKER}' AS id\n")
    (out / "schema.json").write_text(json.dumps({"type": "object", "title": MARKER}))
    return out


@pytest.fixture
def ws(tmp_path: Path, outside: Path) -> Path:
    """A workspace at tmp/ws: a warehouse source, and sql/ and schemas/ inside it."""
    root = tmp_path / "ws"
    for rel, text in {
        "seg.yaml": "version: seg/v1\nworkspace: acme\n",
        "sources.yaml": SOURCE,
        "sql/users.sql": f"SELECT '{INSIDE}' AS id\n",
        "schemas/order.json": json.dumps({"type": "object", "title": INSIDE}),
    }.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    (root / "models").mkdir()
    (root / "plans").mkdir()
    return root


def model(root: Path, value: str) -> None:
    (root / "models" / "users.yaml").write_text(MODEL.format(value=value))


def plan_doc(root: Path, value: str) -> None:
    (root / "plans" / "checkout.yaml").write_text(PLAN.format(value=value))


def link(path: Path, target: str | Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.symlink_to(target)


def _file_link(root: Path, out: Path) -> None:
    link(root / "models" / "q.sql", out / "secret.sql")
    model(root, "q.sql")


def _relative_file_link(root: Path, out: Path) -> None:
    link(root / "models" / "q.sql", "../../outside/secret.sql")
    model(root, "q.sql")


def _directory_link(root: Path, out: Path) -> None:
    link(root / "models" / "lib", out)
    model(root, "lib/secret.sql")


def _link_chain(root: Path, out: Path) -> None:
    link(root / "sql" / "hop.sql", "../../outside/secret.sql")  # the last hop leaves
    link(root / "models" / "q.sql", "../sql/hop.sql")  # the first stays inside
    model(root, "q.sql")


def _schema_link(root: Path, out: Path) -> None:
    link(root / "plans" / "s.json", out / "schema.json")
    plan_doc(root, "s.json")


# Each way out: it writes the document (and any link) given the workspace and outside/.
ESCAPES: dict[str, Callable[[Path, Path], None]] = {
    "dotdot": lambda root, out: model(root, "../../outside/secret.sql"),
    "dotdot-after-descending": lambda root, out: model(root, "../sql/../../outside/secret.sql"),
    "absolute": lambda root, out: model(root, str(out / "secret.sql")),
    "file-symlink": _file_link,
    "relative-file-symlink": _relative_file_link,
    "directory-symlink": _directory_link,
    "symlink-chain": _link_chain,
    "schema-absolute": lambda root, out: plan_doc(root, str(out / "schema.json")),
    "schema-dotdot": lambda root, out: plan_doc(root, "../../outside/schema.json"),
    "schema-symlink": _schema_link,
}

ERROR_LINE = re.compile(
    r"^(?P<at>[\w./-]+:\d+:\d+): error: cannot read (query|schema) file '[^']*'…?: (?P<why>.+) "
    r"\[(query|schema)-file\]$"
)


def error_lines(output: str) -> list[re.Match[str]]:
    lines = [line for line in output.splitlines() if ": error: " in line]
    matches = [ERROR_LINE.match(line) for line in lines]
    assert all(matches), output
    return [m for m in matches if m]


@pytest.mark.parametrize("case", sorted(ESCAPES))
def test_escaping_file_is_an_error_on_every_output_and_never_read(
    case: str, ws: Path, outside: Path
) -> None:
    ESCAPES[case](ws, outside)
    expected_at = PLAN_AT if case.startswith("schema") else MODEL_AT
    for args in OUTPUTS:
        result = run_cli(*args, "-w", str(ws))
        assert result.exit_code == 1, (args, result.output)
        (line,) = error_lines(result.stderr)
        assert line["at"].endswith(expected_at), result.stderr
        assert "outside the workspace" in line["why"] or "absolute path" in line["why"]
        assert MARKER not in result.output, (args, result.output)
        assert result.stdout == "", (args, result.stdout)
    assert not (ws / ".seg" / "control-plane.db").exists(), "nothing may reach the control plane"


def test_the_issues_literal_etc_passwd_is_refused(ws: Path) -> None:
    """`query_file: ../../etc/passwd` (the issue's example) fails before any read: it is not a
    `.sql` file, and no line of /etc/passwd shows."""
    model(ws, "../../../../../../../../etc/passwd")
    for args in OUTPUTS:
        result = run_cli(*args, "-w", str(ws))
        assert result.exit_code == 1, result.output
        (line,) = [x for x in result.stderr.splitlines() if ": error: " in x]
        assert f"{MODEL_AT}: error: spec.query_file: " in line and "[schema/pattern]" in line
        assert "root:" not in result.output


def test_the_markers_would_show_if_read(ws: Path) -> None:
    """The channel the escape tests watch is real: what a `*_file` reads is printed."""
    model(ws, "../sql/users.sql")
    plan_doc(ws, "../schemas/order.json")
    for args in OUTPUTS[1:]:
        result = run_cli(*args, "-w", str(ws))
        assert result.exit_code == 0, result.output
        assert INSIDE in result.stdout, args


def test_dotdot_that_stays_inside_and_symlinks_inside_are_allowed(ws: Path) -> None:
    link(ws / "models" / "q.sql", "../sql/users.sql")  # a file symlink inside
    link(ws / "models" / "lib", ws / "sql")  # an absolute directory symlink into the tree
    link(ws / "plans" / "s.json", "../schemas/order.json")
    model(ws, "q.sql")
    plan_doc(ws, "s.json")
    result = run_cli("plan", "-w", str(ws), "-o", "json")
    assert result.exit_code == 0, result.output
    changes = {c["address"]: c for c in json.loads(result.stdout)["changes"]}
    assert INSIDE in changes["warehouse/users"]["after"]["query"]
    for value in ("lib/users.sql", "v:1.sql"):  # a colon is no drive letter on posix
        (ws / "models" / "v:1.sql").write_text("SELECT 1 AS id\n")
        model(ws, value)
        result = run_cli("validate", "-w", str(ws))
        assert result.exit_code == 0, result.output


def test_proc_self_environ_through_a_symlink_as_a_process(ws: Path, tmp_path: Path) -> None:
    """`seg` as a real process with a secret in its environment: a symlink to
    /proc/self/environ is refused, and neither the secret nor anything else of the
    environment shows in any output."""
    link(ws / "models" / "env.sql", "/proc/self/environ")
    model(ws, "env.sql")
    env = {**os.environ, "SEG_LEAK_PROBE": MARKER, "NO_COLOR": "1"}
    for var in ("SEG_API_URL", "SEG_TOKEN", "SEG_WORKSPACE", "SEG_ENV"):
        env.pop(var, None)
    for args in OUTPUTS:
        done = subprocess.run([sys.executable, "-m", "seg", *args, "-w", str(ws)], env=env,
                              capture_output=True, text=True, timeout=120)  # fmt: skip
        assert done.returncode == 1, (args, done.stderr)
        (line,) = error_lines(done.stderr)
        assert line["at"].endswith(MODEL_AT)
        assert "outside the workspace (through a symlink)" in line["why"]
        assert MARKER not in done.stdout + done.stderr
        assert "PATH=" not in done.stdout + done.stderr
        assert "Traceback" not in done.stderr


def test_non_regular_files_are_refused_without_hanging(ws: Path) -> None:
    """A FIFO inside the workspace (nobody will ever write to it) and /dev/zero: refused at
    once, as a process with a timeout so that a hang fails the test instead of stalling it."""
    os.mkfifo(ws / "models" / "pipe.sql")
    link(ws / "sql" / "zero.sql", "/dev/zero")
    for value, why in (("pipe.sql", "it is not a regular file"),
                       ("../sql/zero.sql", "outside the workspace")):  # fmt: skip
        model(ws, value)
        done = subprocess.run([sys.executable, "-m", "seg", "validate", "-w", str(ws)],
                              capture_output=True, text=True, timeout=60)  # fmt: skip
        assert done.returncode == 1, done.stderr
        (line,) = error_lines(done.stderr)
        assert line["at"].endswith(MODEL_AT) and why in line["why"], done.stderr


def test_a_resource_file_that_is_a_fifo_or_leads_outside_is_an_error(
    ws: Path, outside: Path
) -> None:
    """The same guard holds for the YAML documents themselves: never a hang, never a read
    outside the root."""
    (outside / "evil.yaml").write_text(f"kind: Source\nname: {MARKER.lower()}\nspec: {{}}\n")
    link(ws / "evil.yaml", outside / "evil.yaml")
    os.mkfifo(ws / "pipe.yaml")
    done = subprocess.run([sys.executable, "-m", "seg", "validate", "-w", str(ws)],
                          capture_output=True, text=True, timeout=60)  # fmt: skip
    assert done.returncode == 1, done.stderr
    lines = sorted(line for line in done.stderr.splitlines() if ": error: " in line)
    assert len(lines) == 2, done.stderr
    assert "evil.yaml:1:1: error: cannot read file: it leads outside the workspace" in lines[0]
    assert "pipe.yaml:1:1: error: cannot read file: it is not a regular file" in lines[1]
    assert MARKER.lower() not in done.stdout + done.stderr


def test_size_is_capped(ws: Path) -> None:
    (ws / "sql" / "huge.sql").write_text("-- " + "x" * MAX_LINKED_FILE_BYTES + "\nSELECT 1 AS id\n")
    (ws / "schemas" / "huge.json").write_text(" " * MAX_LINKED_FILE_BYTES + "{}")
    model(ws, "../sql/huge.sql")
    plan_doc(ws, "../schemas/huge.json")
    result = run_cli("validate", "-w", str(ws))
    assert result.exit_code == 1, result.output
    lines = error_lines(result.stderr)
    assert len(lines) == 2, result.stderr
    assert lines[0]["at"].endswith(MODEL_AT) and lines[1]["at"].endswith(PLAN_AT)
    for m in lines:
        assert m["why"] == f"it is larger than {MAX_LINKED_FILE_BYTES:,} bytes", m.group(0)
    # exactly at the cap is read (the query is then too long for the platform's own limit)
    (ws / "schemas" / "huge.json").write_text(" " * (MAX_LINKED_FILE_BYTES - 2) + "{}")
    (ws / "sql" / "huge.sql").write_text("SELECT 1 AS id\n")
    result = run_cli("validate", "-w", str(ws))
    assert result.exit_code == 0, result.output


def test_every_file_field_of_the_schemas_is_guarded() -> None:
    """A new `*_file` field in a schema must be added to the escape cases above (and read
    through seg.workspace.linked.read_linked_file)."""
    covered = {
        ("model.schema.json", "query_file"),
        ("tracking-plan.schema.json", "json_schema_file"),
        # a function's code_file: the same escapes in tests/security/test_functions.py
        ("function.schema.json", "code_file"),
    }
    found = {
        (path.name, key)
        for path in schema_dir().rglob("*.schema.json")  # resolved/ and the published ones
        for key in re.findall(r'"(\w+_file)"\s*:\s*\{', path.read_text())
    }
    assert found == covered


# ---------------------------------------------------------------------------------------------
# Committed symlinks: `seg check` and `seg diff` read revisions straight from git.


class Repo:
    """A git repository with the workspace in ws/ and an outside/ directory beside it (inside
    the repository, but outside the workspace root)."""

    def __init__(self, path: Path, ws: Path, outside: Path) -> None:
        self.path = path
        self.git = new_repo(path)
        self.ws = ws
        model(ws, "../sql/users.sql")
        self.commit("base")
        self.git.git.checkout("-b", "feature")  # --base main stays at the base commit

    def commit(self, message: str) -> None:
        self.git.git.add("-A")
        self.git.index.commit(message)

    def run(self, *args: str):
        return run_cli(*args, "-w", str(self.ws), "--base", "main")


@pytest.fixture
def repo(tmp_path: Path, outside: Path, ws: Path, monkeypatch: pytest.MonkeyPatch) -> Repo:
    monkeypatch.chdir(tmp_path)
    for var in ("GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(var, raising=False)
    return Repo(tmp_path, ws, outside)


def _commit_then_disarm(repo: Repo, rel: str) -> None:
    """Commit, then make the working-tree copy of ``rel`` a harmless file: only the committed
    blob can lead outside (check and diff read git, not the disk)."""
    repo.commit(f"use {rel}")
    path = repo.ws / rel
    path.unlink()
    path.write_text("SELECT 1 AS id\n")


@pytest.mark.parametrize(
    ("target", "why"),
    [
        ("../../outside/secret.sql", "outside the workspace"),  # inside the repo, not the ws
        ("/etc/hostname", "outside the workspace (through a symlink)"),
        ("../sql/../../outside/secret.sql", "outside the workspace"),
    ],
)
@pytest.mark.parametrize("command", [("diff",), ("diff", "-o", "json"), ("check", "--offline")])
def test_committed_symlink_leading_outside_is_refused_by_check_and_diff(
    repo: Repo, target: str, why: str, command: tuple[str, ...]
) -> None:
    (repo.path / "outside" / "secret.sql").write_text(f"SELECT '{MARKER}' AS id\n")
    link(repo.ws / "models" / "q.sql", target)
    model(repo.ws, "q.sql")
    _commit_then_disarm(repo, "models/q.sql")
    result = repo.run(*command)
    assert result.exit_code == 1, result.output
    (line,) = error_lines(result.stderr)
    assert line["at"] == f"ws/{MODEL_AT}", result.stderr
    assert why in line["why"]
    assert MARKER not in result.output


@pytest.mark.parametrize("value", ["lib/secret.sql", "chain.sql"])
def test_committed_directory_symlink_and_chain_leading_outside(repo: Repo, value: str) -> None:
    (repo.path / "outside" / "secret.sql").write_text(f"SELECT '{MARKER}' AS id\n")
    link(repo.ws / "models" / "lib", "../../outside")
    link(repo.ws / "sql" / "hop.sql", "../../outside/secret.sql")
    link(repo.ws / "models" / "chain.sql", "../sql/hop.sql")
    model(repo.ws, value)
    repo.commit(value)
    for command in (("diff",), ("check", "--offline")):
        result = repo.run(*command)
        assert result.exit_code == 1, result.output
        (line,) = error_lines(result.stderr)
        assert line["at"] == f"ws/{MODEL_AT}" and "outside the workspace" in line["why"]
        assert MARKER not in result.output


@pytest.mark.parametrize("value", ["q.sql", "lib/users.sql"])
def test_committed_symlink_inside_the_workspace_is_followed(repo: Repo, value: str) -> None:
    """A link inside the tree reads its target's committed content — not the link's text,
    and not the working tree: the model's query equals the base's, so there is no change."""
    link(repo.ws / "models" / "q.sql", "../sql/users.sql")
    link(repo.ws / "models" / "lib", "../sql")
    model(repo.ws, value)
    _commit_then_disarm(repo, "models/q.sql")
    result = repo.run("diff", "-o", "json")
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["changes"] == []
    assert repo.run("check", "--offline").exit_code == 0


def test_committed_symlink_loop_is_an_error(repo: Repo) -> None:
    link(repo.ws / "models" / "a.sql", "b.sql")
    link(repo.ws / "models" / "b.sql", "a.sql")
    model(repo.ws, "a.sql")
    repo.commit("a loop")
    result = repo.run("diff")
    assert result.exit_code == 1, result.output
    (line,) = error_lines(result.stderr)
    assert line["why"] == "it is a symlink loop"
