"""``--no-color`` after the command name works as before it (``seg plan --no-color``), for
the command's output, its usage errors and its help, even where FORCE_COLOR asks for colour."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.cli_workspace import base_env, make_workspace, run


def test_no_color_is_accepted_after_the_command(tmp_path: Path) -> None:
    root = make_workspace(tmp_path / "ws")
    env = base_env(tmp_path, FORCE_COLOR="1")
    coloured = run(["plan", "-w", str(root)], env)
    assert coloured.returncode == 0 and "\x1b[" in coloured.stdout  # the control: colour is on
    for args in (["plan", "--no-color"], ["--no-color", "plan"], ["validate", "--no-color"]):
        result = run([*args, "-w", str(root)], env)
        assert result.returncode == 0, (args, result.stderr)
        assert "\x1b" not in result.stdout + result.stderr, args
    planned = run(["plan", "-w", str(root), "--no-color"], env)
    assert planned.stdout.splitlines()[-1] == coloured.stdout.splitlines()[-1][4:-4]  # unstyled


def test_usage_errors_and_help_of_a_command_are_plain_too(tmp_path: Path) -> None:
    env = base_env(tmp_path, FORCE_COLOR="1")
    bad = run(["plan", "--no-color", "--bogus"], env)
    assert bad.returncode == 2 and "No such option" in bad.stderr
    assert "\x1b" not in bad.stderr
    assert "\x1b" in run(["plan", "--bogus"], env).stderr  # the control
    for args in (["lock", "status", "--no-color", "-h"], ["plan", "-h", "--no-color"]):
        shown = run(args, env)
        assert shown.returncode == 0, shown.stderr
        assert "--no-color" in shown.stdout and "\x1b" not in shown.stdout, args
