"""CLI habits: -h beside --help, shell completion, help that names values (FILE, DIR, N…),
NO_COLOR and --no-color with no escape left, and ``seg init DIR --slug SLUG``."""

from __future__ import annotations

import contextlib
import io
import json
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import pytest

from seg.commands.app import build_command
from tests.e2e.cli_workspace import SEG, SEG_YAML, base_env, make_workspace, run, run_all

pytestmark = pytest.mark.e2e

ESC = "\x1b["
PYTHON_TYPES = re.compile(r"<(bool|str|int|float|path|list)\b")


def command_paths() -> list[list[str]]:
    """Every command and group of ``seg``, read from the program itself."""
    paths: list[list[str]] = [[]]

    def walk(command: object, prefix: list[str]) -> None:
        for name, sub in sorted(getattr(command, "commands", {}).items()):
            paths.append([*prefix, name])
            walk(sub, [*prefix, name])

    walk(build_command(), [])
    return paths


def help_of(args: list[str]) -> tuple[int, str]:
    """The help ``main`` would print for ``args`` (the same command object, in-process)."""
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        code = build_command().main(args=args, prog_name="seg", standalone_mode=False)
    return int(code or 0), out.getvalue()


@pytest.fixture(scope="module")
def helps() -> dict[str, str]:
    """``-h`` of every command and group (each equal to its ``--help``): {path: text}."""
    out = {}
    for path in command_paths():
        short, long = help_of([*path, "-h"]), help_of([*path, "--help"])
        assert short == long and short[0] == 0, path
        out[" ".join(path)] = short[1]
    return out


@pytest.fixture
def ws(tmp_path: Path) -> Path:
    return make_workspace(tmp_path / "ws")


def test_dash_h_is_help_on_every_command_and_group(helps: dict[str, str], tmp_path: Path) -> None:
    assert {"", "plan", "apply", "show", "server", "server token", "server token create",
            "lock release", "tracking-plan check-events"} <= helps.keys()  # fmt: skip
    for path, text in helps.items():
        assert f"Usage: seg {path}".rstrip() in text, text
    # the program itself: a group, a leaf two levels down, both spellings
    env = base_env(tmp_path)
    samples = [["-h"], ["server", "token", "create", "-h"], ["plan", "-h"], ["plan", "--help"]]
    shown = run_all(samples, env)
    assert all(r.returncode == 0 and r.stderr == "" for r in shown)
    assert "Usage: seg [OPTIONS] COMMAND" in shown[0].stdout and "-h" in shown[0].stdout
    assert "Usage: seg server token create [OPTIONS]" in shown[1].stdout
    assert shown[2].stdout == shown[3].stdout and "--target" in shown[2].stdout


def test_help_names_values_not_python_types(helps: dict[str, str], tmp_path: Path) -> None:
    for path, text in helps.items():
        assert not PYTHON_TYPES.search(text), (path, text)
    plan = helps["plan"]
    for metavar in ("DIR", "NAME", "URL", "TOKEN", "FILE", "ADDRESS", " N "):
        assert metavar in plan, metavar
    assert "PLANFILE" in helps["apply"] and "SECONDS" in helps["apply"]
    assert "EXPR" in helps["fql eval"] and "FILE" in helps["fql eval"]
    assert "--slug" in helps["init"] and "DIR" in helps["init"]
    assert "--workspace" not in helps["init"]  # the deprecated alias is hidden
    assert "--install-completion" in helps[""] and "--no-color" in helps[""]
    served = run(["serve", "-h"], base_env(tmp_path))  # the program shows the same
    assert not PYTHON_TYPES.search(served.stdout) and "PORT" in served.stdout


def test_completion_script_and_candidates_without_touching_rc_files(tmp_path: Path) -> None:
    home = tmp_path / "home"
    home.mkdir()
    env = base_env(home)
    script = run([], {**env, "_SEG_COMPLETE": "source_bash"})
    assert script.returncode == 0 and "_SEG_COMPLETE=complete_bash" in script.stdout
    assert "complete -o default -F _seg_completion seg" in script.stdout
    words = {**env, "_SEG_COMPLETE": "complete_bash", "COMP_WORDS": "seg pl", "COMP_CWORD": "1"}
    lock = {**words, "COMP_WORDS": "seg lock ", "COMP_CWORD": "2"}
    fixed = {**env, "_TYPER_COMPLETE_TEST_DISABLE_SHELL_DETECTION": "1"}
    plan, subcommands = run([], words), run([], lock)
    assert plan.stdout.split() == ["plan"]
    assert sorted(subcommands.stdout.split()) == ["release", "status"]
    shown = run(["--show-completion", "bash"], fixed)
    assert shown.returncode == 0 and "_seg_completion" in shown.stdout
    assert list(home.iterdir()) == []  # asking for candidates or the script writes nothing
    installed = run(["--install-completion", "bash"], fixed)
    assert installed.returncode == 0, installed.stderr
    assert "_SEG_COMPLETE" in (home / ".bash_completions" / "seg.sh").read_text()
    assert ".bash_completions/seg.sh" in (home / ".bashrc").read_text()


def _outputs(results: list[subprocess.CompletedProcess[str]]) -> str:
    return "".join(r.stdout + r.stderr for r in results)


def test_no_color_leaves_no_escape_even_when_forced(ws: Path, tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "seg.yaml").write_text(SEG_YAML)
    (bad / "s.yaml").write_text("kind: Source\nname: web\nspec: {catalog: javascript, enabeld: true}\n")
    forced = base_env(tmp_path, FORCE_COLOR="1", TTY_COMPATIBLE="1", TERM="xterm-256color")
    # help, a usage error (typer's panel), diagnostics, a plan: one touches the embedded plane
    commands = [["plan", "-h"], ["nosuch"], ["validate", "-w", str(bad)], ["plan", "-w", str(ws)]]
    coloured = run_all(commands, forced)
    assert ESC in coloured[0].stdout and ESC in coloured[1].stderr  # the control: seg colours
    assert ESC in coloured[2].stderr and ESC in coloured[3].stdout
    codes = [r.returncode for r in coloured]
    assert codes == [0, 2, 1, 0]
    variants = [
        (run_all(commands, {**forced, "NO_COLOR": "1"}), codes),
        (run_all([["--no-color", *c] for c in commands], forced), codes),
        (run_all(commands[2:3], {**forced, "NO_COLOR": ""}), codes[2:3]),  # any value
    ]
    for plain, expected in variants:
        assert ESC not in _outputs(plain)
        assert [r.returncode for r in plain] == expected
    assert "Source web will be created" in variants[1][0][3].stdout


def _pty_run(args: list[str], env: dict[str, str]) -> tuple[int, str]:
    """``seg`` with a real terminal as its stdin, stdout and stderr."""
    master, slave = pty.openpty()
    proc = subprocess.Popen([*SEG, *args], env=env, stdin=slave, stdout=slave, stderr=slave)
    os.close(slave)
    chunks, deadline = [], time.monotonic() + 120
    while time.monotonic() < deadline:
        ready, _, _ = select.select([master], [], [], 0.5)
        if ready:
            try:
                data = os.read(master, 65536)
            except OSError:  # EIO: the other end closed
                break
            if not data:
                break
            chunks.append(data)
        elif proc.poll() is not None:
            break
    os.close(master)
    return proc.wait(timeout=60), b"".join(chunks).decode("utf-8", "replace")


def test_no_color_on_a_real_terminal(ws: Path, tmp_path: Path) -> None:
    env = base_env(tmp_path, TERM="xterm-256color")
    code, shown = _pty_run(["plan", "-w", str(ws)], env)
    assert code == 0 and ESC in shown  # a terminal gets colour by default
    code, shown = _pty_run(["apply", "-w", str(ws), "--auto-approve"], {**env, "NO_COLOR": "1"})
    assert code == 0, shown
    assert "\x1b" not in shown  # no colour, no bold, no progress bar, no cursor movement
    assert "Apply complete: 3 applied, 0 failed, 0 skipped." in shown


def test_init_takes_a_directory_and_a_slug(tmp_path: Path) -> None:
    env = base_env(tmp_path)
    made = run(["init", str(tmp_path / "new"), "--slug", "shop"], env)
    assert made.returncode == 0, made.stderr
    assert "workspace: shop\n" in (tmp_path / "new" / "seg.yaml").read_text()
    valid = run(["validate", "-w", str(tmp_path / "new")], env)
    assert valid.stdout == "Workspace shop is valid: 1 resource (1 Source).\n"
    old = run(["init", str(tmp_path / "old"), "--workspace", "legacy"], env)
    assert old.returncode == 0 and old.stderr.startswith("warning: --workspace SLUG is deprecated")
    assert "workspace: legacy\n" in (tmp_path / "old" / "seg.yaml").read_text()
    both = run(["init", str(tmp_path / "x"), "--slug", "a", "--workspace", "b"], env)
    assert both.returncode == 1
    assert both.stderr == "error: give the workspace slug once, with --slug SLUG\n"
    assert not (tmp_path / "x").exists()
    assert run(["init", "-w", str(tmp_path / "y")], env).returncode == 2  # -w is not init's
    database = {**env, "SEG_DATABASE_URL": f"sqlite:///{tmp_path / 'cp.db'}"}
    server = run(["server", "init", "--slug", "shop", "-o", "json"], database)
    assert server.returncode == 0 and json.loads(server.stdout)["workspace"] == "shop"
