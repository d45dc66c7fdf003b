"""``keep_until_exit``: let the ``seg`` program end without freeing what a load built.

At 100,000 resources a load builds millions of objects. Freeing them one by one when they go
out of scope, then the interpreter's own teardown, cost most of a second of a ``seg
validate`` that has already printed its answer. The program (``seg.commands.app.main``)
runs its command inside ``exiting_fast``: there, ``keep_until_exit`` keeps what it is given
referenced to the end, and the command's exit (``SystemExit``, as click ends every command)
runs the exit handlers (``atexit``: logging's flush, a finaliser's clean-up, a pool's join),
flushes the output streams and leaves with ``os._exit`` — the interpreter's teardown
skipped, as mypy does. Only when something was kept, and only when no other thread is
running (one the interpreter would otherwise wait for). Outside it (a test, a library
caller, the control plane), ``keep_until_exit`` does nothing: nothing lives longer than
usual.
"""

from __future__ import annotations

import atexit
import os
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["exiting_fast", "keep_until_exit"]

_KEPT: list[object] | None = None  # a list while ``exiting_fast`` runs


def keep_until_exit(*objects: object) -> None:
    """Keep ``objects`` referenced until the program leaves (nothing outside ``exiting_fast``)."""
    if _KEPT is not None:
        _KEPT.extend(objects)


@contextmanager
def exiting_fast() -> Iterator[None]:
    """Run the program's command; when it exits with a status (an int or None) after
    ``keep_until_exit`` kept something, leave the process with that status at once (exit
    handlers run, streams flushed). Any other end (another exception, a message as the
    status) goes on as usual."""
    global _KEPT
    outer, _KEPT = _KEPT, []
    try:
        yield
    except SystemExit as end:
        code = end.code
        if _KEPT and (code is None or isinstance(code, int)) and threading.active_count() == 1:
            _leave(0 if code is None else code)
        raise
    finally:
        _KEPT = outer


def _leave(code: int) -> None:  # pragma: no cover - the process ends (tested as a process)
    atexit._run_exitfuncs()
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):  # a closed pipe: what the interpreter would say too
            code = code or 120
    os._exit(code & 0xFF)
