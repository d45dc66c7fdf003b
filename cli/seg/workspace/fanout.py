"""``fan_out``: one pure function over a long list, shared with a forked process.

The kinds' rules over 100,000 declared resources (SQL parsed by sqlglot for every model,
settings checked against their catalog entry) cost seconds of one core. After loading, every
input is already in memory: a process forked then reads it for free (copy on write) and
sends back only the results. So the list is cut into chunks that the parent and one forked
child take in turn from a shared queue (a pipe holding the chunks' numbers, read four bytes
at a time: a pipe hands each record to one reader), the child sending each chunk's results
back as soon as it is done. The parent takes in what arrived between its own chunks, so
receiving the child's results (and ``land``, what completes them) overlaps its work, and
neither side waits for the other for longer than a chunk. The results are joined in the
input's order: the caller sees exactly what the serial loop gives.

Only where it is safe and worth it: Linux (``fork`` without the macOS caveats), no other
thread running (a fork copies locks another thread may hold), and a list long enough to
repay the fork (``MIN_ITEMS``). Anything that goes wrong in the child (it dies, a result
cannot be sent) leaves its chunks to the parent, which computes whatever did not arrive.
"""

from __future__ import annotations

import contextlib
import fcntl
import multiprocessing
import os
import pickle
import signal
import struct
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Generic, TypeVar

__all__ = ["CHUNKS", "MIN_ITEMS", "Background", "can_fork", "fan_out", "in_background"]

_T = TypeVar("_T")
_R = TypeVar("_R")

# Below this the fork and the results' trip back cost more than they save.
MIN_ITEMS = 5_000

# How many chunks a list is cut into: at the end one side waits for at most one chunk of
# the other's; each chunk costs a claim, a frame and a pickle.
CHUNKS = 512

_CLAIM = struct.Struct("<I")  # a chunk's number in the queue
_FRAME = struct.Struct("<IQ")  # a chunk's number and the length of its results' pickle
_PIPE_SIZE = 1 << 20  # the results' pipe, so the child rarely waits for the parent to read


def can_fork() -> bool:
    """Whether a worker may be forked here and now."""
    return (
        sys.platform == "linux"
        and "fork" in multiprocessing.get_all_start_methods()
        and threading.active_count() == 1
        and (os.cpu_count() or 1) > 1
    )


def fan_out(func: Callable[[_T], _R], items: Sequence[_T], min_items: int | None = None,
            ship: Callable[[_R], Any] | None = None,
            land: Callable[[Any], _R] | None = None) -> list[_R]:  # fmt: skip
    """``[func(item) for item in items]``, shared with a forked child when ``items`` is long
    enough and ``can_fork()``. ``func`` must be pure (its effects in the child are lost) and
    its results picklable; ``ship`` (when given) is what the child sends of each result
    instead (a smaller form) and ``land`` what the parent makes of it on arrival."""
    bound = MIN_ITEMS if min_items is None else min_items
    if len(items) < max(bound, 2) or not can_fork():
        return [func(item) for item in items]
    size = -(-len(items) // CHUNKS)
    count = -(-len(items) // size)

    def chunk(number: int) -> list[_R]:
        return [func(item) for item in items[number * size : (number + 1) * size]]

    try:
        queue, child = _queue(count), _results_pipe()
        pid = os.fork()
    except OSError:  # no pipe or process to be had: all of it here
        return [func(item) for item in items]
    if pid == 0:  # pragma: no cover - the child (its work is checked through the results)
        _child(queue, child, chunk, ship)
    reader, writer = child
    os.close(writer)
    done: dict[int, list[_R]] = {}
    try:
        frames = _Frames(reader)
        while (number := _claim(queue)) is not None:
            done[number] = chunk(number)
            frames.receive(done, land, wait=False)
        frames.receive(done, land, wait=True)
    finally:
        os.close(queue)
        os.close(reader)
        with contextlib.suppress(OSError):
            os.kill(pid, signal.SIGKILL)  # gone by now unless the parent failed
        os.waitpid(pid, 0)
    for number in range(count):  # what the child claimed but never sent
        if number not in done:
            done[number] = chunk(number)
    return [result for number in range(count) for result in done[number]]


def _queue(count: int) -> int:
    """The read end of a pipe holding the numbers of ``count`` chunks, its write end closed
    (a read past the last gives nothing)."""
    reader, writer = os.pipe()
    try:
        os.write(writer, b"".join(_CLAIM.pack(number) for number in range(count)))
    finally:
        os.close(writer)
    return reader


def _results_pipe() -> tuple[int, int]:
    reader, writer = os.pipe()
    with contextlib.suppress(OSError):  # a smaller pipe only makes the child wait more
        fcntl.fcntl(writer, fcntl.F_SETPIPE_SZ, _PIPE_SIZE)
    return reader, writer


def _claim(queue: int) -> int | None:
    """The next chunk from the queue, None when it is empty."""
    record = os.read(queue, _CLAIM.size)
    return _CLAIM.unpack(record)[0] if len(record) == _CLAIM.size else None


def _child(queue: int, pipe: tuple[int, int], chunk: Callable[[int], list[Any]],
           ship: Callable[[Any], Any] | None) -> None:  # fmt: skip
    """In the forked child: claim chunks and send each one's results, then leave (with
    ``os._exit``, running no exit handler and flushing no buffer it inherited)."""
    code = 1
    try:
        reader, writer = pipe
        os.close(reader)
        with open(writer, "wb") as out:
            while (number := _claim(queue)) is not None:
                results = chunk(number)
                sent = pickle.dumps(results if ship is None else [ship(one) for one in results],
                                    protocol=pickle.HIGHEST_PROTOCOL)  # fmt: skip
                out.write(_FRAME.pack(number, len(sent)))
                out.write(sent)
                out.flush()
        code = 0
    finally:
        os._exit(code)


class _Frames:
    """The child's results as they arrive: frames of a chunk's number, a length and a pickle."""

    def __init__(self, reader: int) -> None:
        self._reader = reader
        self._buffer = bytearray()
        self._ended = False
        os.set_blocking(reader, False)

    def receive(self, done: dict[int, list[Any]], land: Callable[[Any], Any] | None,
                wait: bool) -> None:  # fmt: skip
        """Put in ``done`` every chunk whose frame is whole: those already sent, or (``wait``)
        all the child will send."""
        if wait and not self._ended:
            os.set_blocking(self._reader, True)
        for number, sent in self._whole(wait):
            try:
                results = pickle.loads(sent)
            except Exception:  # noqa: BLE001 - a frame spoilt by a dying child: done here
                continue
            done[number] = results if land is None else [land(one) for one in results]

    def _whole(self, wait: bool) -> Iterator[tuple[int, bytes]]:
        while not self._ended:
            try:
                data = os.read(self._reader, _PIPE_SIZE)
            except BlockingIOError:
                data = None
            if data == b"":
                self._ended = True
            elif data is not None:
                self._buffer += data
            yield from self._split()
            if data is None and not wait:
                return

    def _split(self) -> Iterator[tuple[int, bytes]]:
        start = 0
        while len(self._buffer) - start >= _FRAME.size:
            number, length = _FRAME.unpack_from(self._buffer, start)
            end = start + _FRAME.size + length
            if end > len(self._buffer):
                break
            yield number, bytes(self._buffer[start + _FRAME.size : end])
            start = end
        del self._buffer[:start]


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
