"""``fan_out``: one pure function over a long list, its second half in a forked process.

The kinds' rules over 100,000 declared resources (SQL parsed by sqlglot for every model,
settings checked against their catalog entry) cost seconds of one core. After loading, every
input is already in memory: a process forked then reads it for free (copy on write) and
sends back only the results, which are small (diagnostics). So the work is split in two, the
parent doing the first half while the child does the second, and the results are joined in
the input's order: the caller sees exactly what the serial loop gives.

Only where it is safe and worth it: Linux (``fork`` without the macOS caveats), no other
thread running (a fork copies locks another thread may hold), and a list long enough to
repay the fork (``MIN_ITEMS``). Anything that goes wrong in the child (it dies, its result
cannot be sent) falls back to computing that half here.
"""

from __future__ import annotations

import multiprocessing
import os
import pickle
import sys
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor
from typing import Any, Generic, TypeVar

__all__ = ["MIN_ITEMS", "Background", "can_fork", "fan_out", "in_background"]

_T = TypeVar("_T")
_R = TypeVar("_R")

# Below this the fork and the results' trip back cost more than they save.
MIN_ITEMS = 5_000

# What the child runs: set just before the fork, so it is inherited, never pickled.
_JOB: tuple[Callable[[Any], Any], Sequence[Any], Callable[[Any], Any] | None] | None = None


def can_fork() -> bool:
    """Whether a worker may be forked here and now."""
    return (
        sys.platform == "linux"
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
        and (os.cpu_count() or 1) > 1
    )


def fan_out(func: Callable[[_T], _R], items: Sequence[_T], min_items: int | None = None,
            ship: Callable[[_R], _R] | None = None) -> list[_R]:  # fmt: skip
    """``[func(item) for item in items]``, the second half computed in a forked child when
    ``items`` is long enough and ``can_fork()``. ``func`` must be pure (its effects in the
    child are lost) and its results picklable; ``ship`` (when given) is what the child sends
    of each result instead (a smaller form the caller completes)."""
    global _JOB
    bound = MIN_ITEMS if min_items is None else min_items
    if len(items) < max(bound, 2) or not can_fork():
        return [func(item) for item in items]
    half = len(items) // 2
    _JOB = (func, items, ship)
    try:
        try:
            context = multiprocessing.get_context("fork")
            pool = ProcessPoolExecutor(max_workers=1, mp_context=context)
            later = pool.submit(_run, half, len(items))
        except (OSError, RuntimeError):  # no process to be had: all of it here
            return [func(item) for item in items]
        with pool:
            first = [func(item) for item in items[:half]]
            try:
                second: list[_R] = later.result()
            except Exception:  # noqa: BLE001 - the child's trouble: do its half here
                second = [func(item) for item in items[half:]]
    finally:
        _JOB = None
    return first + second


def _run(start: int, stop: int) -> list[Any]:
    """In the child: the job inherited from the parent, over ``items[start:stop]``."""
    assert _JOB is not None
    func, items, ship = _JOB
    done = [func(item) for item in items[start:stop]]
    return done if ship is None else [ship(result) for result in done]


class Background(Generic[_R]):
    """A job ``in_background`` started: ``wait`` for what it returned (at once when it ran in
    the caller)."""

    def __init__(self, pid: int | None = None, reader: int | None = None,
                 result: _R | None = None) -> None:  # fmt: skip
        self._pid = pid
        self._reader = reader
        self._result = result

    def wait(self) -> _R | None:
        """What the job returned; None when it failed (it raised, its process died, or what
        it returned could not be sent)."""
        if self._pid is not None and self._reader is not None:
            pid, reader, self._pid, self._reader = self._pid, self._reader, None, None
            with os.fdopen(reader, "rb") as pipe:
                sent = pipe.read()
            _, status = os.waitpid(pid, 0)
            if os.waitstatus_to_exitcode(status) == 0 and sent:
                try:
                    self._result = pickle.loads(sent)
                except Exception:  # noqa: BLE001 - a child that died mid-write
                    self._result = None
        return self._result


def in_background(job: Callable[[], _R]) -> Background[_R]:
    """Run ``job`` in a forked child while the caller goes on (then ``wait`` for what it
    returned, sent back pickled), or here and now where a fork is not safe (``can_fork``).
    The child's effects stay in the child but for what it writes to files; it leaves with
    ``os._exit``, running no exit handler and flushing no output buffer it inherited. Its
    failure is its own (a cache write is allowed to fail): ``wait`` then gives None."""
    if not can_fork():
        return Background(result=job())
    reader, writer = os.pipe()
    try:
        pid = os.fork()
    except OSError:
        os.close(reader)
        os.close(writer)
        return Background(result=job())
    if pid == 0:  # pragma: no cover - the child (its effects are tested through the files)
        code = 1
        try:
            os.close(reader)
            sent = pickle.dumps(job(), protocol=pickle.HIGHEST_PROTOCOL)
            with os.fdopen(writer, "wb") as pipe:
                pipe.write(sent)
            code = 0
        finally:
            os._exit(code)
    os.close(writer)  # closed before any other fork: the child's end is its alone
    return Background(pid, reader)
