"""``seg.model.teardown``: the program leaves without freeing what a load kept, yet says
everything it printed, runs the exit handlers and exits with the command's status."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]

_PROGRAM = """
    import atexit, sys, threading
    from seg.model.teardown import exiting_fast, keep_until_exit

    class Big:
        def __del__(self):
            print("freed", flush=True)

    mode, code = sys.argv[1], sys.argv[2]
    atexit.register(lambda: print("exit handler", flush=True))
    if mode == "outside":
        keep_until_exit(Big())  # nothing kept outside the program's block
    stop = threading.Event()
    with exiting_fast():
        print("said", end="")  # left in the buffer: the exit must flush it
        if mode != "nothing":
            keep_until_exit(Big())
        if mode == "thread":
            threading.Thread(target=stop.wait, daemon=True).start()
        if code == "message":
            sys.exit("a message")
        if code == "error":
            raise ValueError("not an exit")
        sys.exit(None if code == "none" else int(code))
"""


def _run(mode: str, code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-c", textwrap.dedent(_PROGRAM), mode, code],
                          env={"PYTHONPATH": str(ROOT / "cli"), "PATH": "/usr/bin:/bin"},
                          capture_output=True, text=True, timeout=60, check=False)  # fmt: skip


def test_a_kept_object_is_not_freed_and_the_status_and_output_survive() -> None:
    for code, status in (("0", 0), ("2", 2), ("none", 0), ("300", 300 & 0xFF)):
        done = _run("kept", code)
        assert done.returncode == status, done.stderr
        assert done.stdout == "saidexit handler\n"  # flushed, handlers run, nothing freed


def test_without_anything_kept_the_interpreter_ends_as_usual() -> None:
    done = _run("nothing", "3")
    assert done.returncode == 3 and done.stdout == "saidexit handler\n"
    outside = _run("outside", "0")  # keep_until_exit outside the block keeps nothing
    assert outside.returncode == 0 and outside.stdout.startswith("freed")


def test_other_ends_are_left_to_the_interpreter() -> None:
    """A message as the status, another exception, another thread running: the usual end,
    in which the interpreter frees what it can (the kept object's ``__del__`` runs)."""
    message = _run("kept", "message")
    assert message.returncode == 1 and "a message" in message.stderr
    assert "freed" in message.stdout and "exit handler" in message.stdout
    error = _run("kept", "error")
    assert error.returncode == 1 and "ValueError: not an exit" in error.stderr
    thread = _run("thread", "4")
    assert thread.returncode == 4 and "freed" in thread.stdout
