"""Runs insert and destination functions in one long-lived, locked-down Node.js process.

The code comes from a workspace file, which a pull request may write, and the simulator runs in
CI: it is treated as hostile. ``NodeRunner`` starts ``node`` on ``harness.js`` once (lazily) and
exchanges one JSON line per call with it; the harness compiles each distinct code once and runs
it in a vm context of its own (see the comment at the top of ``harness.js``). The layers:

- inside node: a vm context from a null-prototype object, no code generation from strings, no
  WebAssembly, microtasks inside the time limit, nothing of the host's in it (the event and the
  settings go in as JSON text, results come out as JSON text); ``fetch`` records, never sends;
  timers run on a virtual clock; dynamic ``import()`` is refused;
- the node process: an empty environment, a fresh empty working directory, the permission model
  (it may read ``harness.js`` and nothing else: no file writes, no child processes, no
  workers), ``--disallow-code-generation-from-strings`` and ``--frozen-intrinsics`` for the host
  realm, a heap cap (``--max-old-space-size``) and a data-segment cap (``RLIMIT_DATA``, which
  also bounds array buffers), no core dumps;
- where user namespaces work (``unshare -rn``), a network namespace of its own: no network at
  all;
- here: a read timeout (the time limit plus a grace period) after which the process is killed,
  and a size limit on what goes in and what comes back.

Every call gets a ``FunctionResult``; a call that killed the process (a timeout the harness
could not stop, memory exhaustion, a crash) reports it, and the next call starts a new process.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import re
import selectors
import shutil
import subprocess
import tempfile
import threading
import time
import weakref
from collections import OrderedDict
from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import IO, Any, Final

from seg.trace.functions import OUTCOMES, FunctionCall, FunctionResult, Outcome
from seg.workspace.samples import MAX_EVENT_DEPTH, nesting

__all__ = ["MAX_CODE_BYTES", "MAX_PAYLOAD_BYTES", "NodeRunner", "node_runner"]

HARNESS: Final = Path(__file__).resolve().with_name("harness.js")
MAX_PAYLOAD_BYTES: Final = 512 * 1024  # an event's or settings' JSON
MAX_CODE_BYTES: Final = 1024 * 1024
MAX_REPLY_BYTES: Final = 8 * 1024 * 1024  # the harness caps its results well below this
LOG_LIMIT_BYTES: Final = 4096
KNOWN_CODES: Final = 128  # fewer than the harness keeps compiled (256), so never out of step
READ_GRACE_SECONDS: Final = 2.0  # past the time limit, the harness itself must have answered
MIN_NODE: Final = (20, 0)  # the permission model

_OUTCOME_NAMES: Final[dict[str, Outcome]] = {outcome: outcome for outcome in OUTCOMES}


def node_runner(timeout_seconds: float = 5.0, memory_mb: int = 128) -> NodeRunner | None:
    """A runner, or None when no usable ``node`` is on PATH (absent, older than 20, or unable
    to start with the sandbox's flags): functions are then reported as not simulated."""
    node = shutil.which("node")
    if node is None:
        return None
    try:
        _launch_prefix(node)
    except RuntimeError:
        return None
    return NodeRunner(node, timeout_seconds=timeout_seconds, memory_mb=memory_mb)


class NodeRunner:
    """A ``FunctionRunner``: one node process for many calls (thread-safe, one call at a time).
    Use it as a context manager, or ``close()`` it."""

    def __init__(
        self,
        node: str,
        *,
        timeout_seconds: float = 5.0,
        memory_mb: int = 128,
        grace_seconds: float = READ_GRACE_SECONDS,
    ) -> None:
        if not 0 < timeout_seconds <= 600:
            raise ValueError("timeout_seconds must be in (0, 600]")
        if not 16 <= memory_mb <= 16384:
            raise ValueError("memory_mb must be in [16, 16384]")
        if not 0 < grace_seconds <= 60:
            raise ValueError("grace_seconds must be in (0, 60]")
        self.node = node
        self.timeout_seconds = timeout_seconds
        self.memory_mb = memory_mb
        self.grace_seconds = grace_seconds  # past the time limit, when the process is killed
        self._lock = threading.Lock()
        self._worker: _Worker | None = None
        self._closed = False
        self._next_id = 0

    def __enter__(self) -> NodeRunner:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        with self._lock:
            self._closed = True
            if self._worker is not None:
                self._worker.close()
                self._worker = None

    @property
    def pid(self) -> int | None:
        """The node process's id while one runs (for tests and diagnostics)."""
        worker = self._worker
        return worker.process.pid if worker is not None and worker.alive() else None

    def __call__(self, call: FunctionCall) -> FunctionResult:
        request = _request(call, round(self.timeout_seconds * 1000))
        if isinstance(request, FunctionResult):
            return request
        with self._lock:
            if self._closed:
                raise RuntimeError("this NodeRunner is closed")
            return self._exchange(call, request)

    def _exchange(self, call: FunctionCall, request: dict[str, Any]) -> FunctionResult:
        if self._worker is not None and not self._worker.alive():
            self._worker.close()
            self._worker = None
        if self._worker is None:
            try:
                self._worker = _Worker(self.node, self.memory_mb)
            except (OSError, RuntimeError) as exc:
                return FunctionResult("error", message=f"could not start Node.js: {exc}")
        worker = self._worker
        deadline = time.monotonic() + self.timeout_seconds + self.grace_seconds
        # A code goes to the process once; later calls name it by its hash (the harness asks
        # for it again if it no longer has it).
        with_code = not worker.knows(request["hash"])
        while True:
            reply = self._round_trip(worker, request, with_code, deadline)
            if isinstance(reply, FunctionResult):
                return reply
            if reply.get("needCode") is True and not with_code:
                with_code = True
                continue
            return _result(reply.get("result"), call.kind)

    def _round_trip(
        self, worker: _Worker, request: dict[str, Any], with_code: bool, deadline: float
    ) -> dict[str, Any] | FunctionResult:
        self._next_id += 1
        sent = {**request, "id": self._next_id}
        if not with_code:
            del sent["code"]
        line = json.dumps(sent, separators=(",", ":")).encode("utf-8", "surrogatepass")
        reply = worker.exchange(line + b"\n", deadline)
        if isinstance(reply, _Failure):
            self._worker = None
            result = self._failure(reply, worker)
            worker.close(force=True)
            return result
        try:
            parsed = json.loads(reply)
        except (ValueError, RecursionError):  # V8 nests deeper than Python parses
            parsed = None
        if not isinstance(parsed, dict) or parsed.get("id") != self._next_id:
            self._worker = None
            worker.close(force=True)
            return FunctionResult("error", message="the function runtime sent an unreadable reply")
        return parsed

    def _failure(self, failure: _Failure, worker: _Worker) -> FunctionResult:
        limit = _seconds(self.timeout_seconds)
        if failure.reason == "timeout":
            worker.kill()
            return FunctionResult("timeout", message=f"the function ran longer than {limit} s "
                                  "(its process was stopped)")  # fmt: skip
        if failure.reason == "overflow":
            return FunctionResult("error", message="the function runtime sent a reply too large")
        if _out_of_memory(worker.stderr_tail()):
            return FunctionResult("memory", message=f"the function ran out of memory "
                                  f"(limit {self.memory_mb} MB)")  # fmt: skip
        status = worker.process.returncode
        return FunctionResult("error", message="the function runtime exited unexpectedly"
                              + (f" (status {status})" if status is not None else ""))  # fmt: skip


class _Failure:
    def __init__(self, reason: str) -> None:
        self.reason = reason  # "timeout", "exited" or "overflow"


class _Worker:
    """One node process running the harness, its pipes, its stderr file and its directory."""

    def __init__(self, node: str, memory_mb: int) -> None:
        prefix = _launch_prefix(node)
        self.workdir = tempfile.mkdtemp(prefix="seg-function-")
        self.stderr: IO[bytes] = tempfile.TemporaryFile()
        try:
            self.process: subprocess.Popen[bytes] = subprocess.Popen(
                [*prefix, *_node_flags(node, memory_mb)],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                stderr=self.stderr,
                cwd=self.workdir,
                env={},
                bufsize=0,
                close_fds=True,
                start_new_session=True,
            )
        except BaseException:
            self.stderr.close()
            shutil.rmtree(self.workdir, ignore_errors=True)
            raise
        _limit_resources(self.process.pid, memory_mb)
        assert self.process.stdin is not None and self.process.stdout is not None
        self._stdin = self.process.stdin.fileno()
        self._stdout = self.process.stdout.fileno()
        os.set_blocking(self._stdin, False)
        self._buffer = bytearray()
        self._known: OrderedDict[str, None] = OrderedDict()
        self._readable = selectors.DefaultSelector()
        self._writable = selectors.DefaultSelector()
        self._finalizer = weakref.finalize(
            self, _shut_down, self.process, self.stderr, self.workdir,
            (self._readable, self._writable),
        )  # fmt: skip
        self._readable.register(self._stdout, selectors.EVENT_READ)
        self._writable.register(self._stdin, selectors.EVENT_WRITE)

    def alive(self) -> bool:
        return self.process.poll() is None

    def knows(self, code_hash: str) -> bool:
        """Was this code sent to the process lately (and so is still in its cache)? Notes it
        as sent from now on."""
        if code_hash in self._known:
            self._known.move_to_end(code_hash)
            return True
        self._known[code_hash] = None
        if len(self._known) > KNOWN_CODES:
            self._known.popitem(last=False)
        return False

    def exchange(self, line: bytes, deadline: float) -> bytes | _Failure:
        failure = self._write(line, deadline)
        return failure if failure is not None else self._read_line(deadline)

    def _write(self, data: bytes, deadline: float) -> _Failure | None:
        view = memoryview(data)
        while view:
            try:
                written = os.write(self._stdin, view)
            except BlockingIOError:
                written = 0
            except OSError:  # the process is gone (broken pipe)
                return _Failure("exited")
            view = view[written:]
            if view and not self._wait(self._writable, deadline):
                return _Failure("timeout")
        return None

    def _read_line(self, deadline: float) -> bytes | _Failure:
        while True:
            end = self._buffer.find(b"\n")
            if end >= 0:
                line = bytes(self._buffer[:end])
                del self._buffer[: end + 1]
                return line
            if len(self._buffer) > MAX_REPLY_BYTES:
                return _Failure("overflow")
            if not self._wait(self._readable, deadline):
                return _Failure("timeout")
            try:
                chunk = os.read(self._stdout, 1 << 16)
            except OSError:
                chunk = b""
            if not chunk:
                return _Failure("exited")
            self._buffer += chunk

    @staticmethod
    def _wait(selector: selectors.BaseSelector, deadline: float) -> bool:
        remaining = deadline - time.monotonic()
        return remaining > 0 and bool(selector.select(remaining))

    def stderr_tail(self) -> bytes:
        try:
            self.process.wait(timeout=2)
        except subprocess.TimeoutExpired:
            pass
        try:
            self.stderr.seek(0, os.SEEK_END)
            size = self.stderr.tell()
            self.stderr.seek(max(0, size - 65536))
            return self.stderr.read()
        except (OSError, ValueError):
            return b""

    def kill(self) -> None:
        try:
            self.process.kill()
        except OSError:
            pass

    def close(self, *, force: bool = False) -> None:
        if force:
            self.kill()
        self._finalizer()


def _shut_down(
    process: subprocess.Popen[bytes],
    stderr: IO[bytes],
    workdir: str,
    selectors_: tuple[selectors.BaseSelector, ...],
) -> None:
    if process.stdin is not None:
        try:
            process.stdin.close()  # the harness exits when its input ends
        except OSError:
            pass
    try:
        process.wait(timeout=1)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
    if process.stdout is not None:
        process.stdout.close()
    stderr.close()
    for selector in selectors_:
        selector.close()
    shutil.rmtree(workdir, ignore_errors=True)


def _limit_resources(pid: int, memory_mb: int) -> None:
    """The data-segment cap covers what the heap cap does not (array buffers, native memory):
    past it an allocation fails instead of the machine swapping. No core files either."""
    try:
        import resource
    except ImportError:  # not a POSIX system: the heap cap alone
        return
    data = (2 * memory_mb + 256) * 1024 * 1024
    for limit, value in ((resource.RLIMIT_DATA, data), (resource.RLIMIT_CORE, 0)):
        try:
            resource.prlimit(pid, limit, (value, value))
        except (OSError, ValueError, AttributeError):
            pass


def _node_flags(node: str, memory_mb: int) -> list[str]:
    version = _node_version(node)
    permission = "--permission" if version >= (22, 13) else "--experimental-permission"
    return [
        node,
        permission,
        f"--allow-fs-read={HARNESS}",
        f"--max-old-space-size={memory_mb}",
        "--disallow-code-generation-from-strings",
        "--frozen-intrinsics",
        "--no-expose-wasm",
        "--no-warnings",
        str(HARNESS),
    ]


@functools.cache
def _node_version(node: str) -> tuple[int, int]:
    try:
        out = subprocess.run(
            [node, "--version"], capture_output=True, env={}, timeout=30, check=True, text=True
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise RuntimeError(f"{node} --version failed: {exc}") from exc
    match = re.match(r"v(\d+)\.(\d+)", out.strip())
    if match is None:
        raise RuntimeError(f"unrecognised Node.js version {out.strip()!r}")
    return int(match[1]), int(match[2])


@functools.cache
def _launch_prefix(node: str) -> tuple[str, ...]:
    """``("unshare", "-rn")`` when the harness starts in a user and network namespace of its
    own, else ``()`` when it starts without; RuntimeError when it does not start at all (or the
    Node.js is too old for the permission model). Decided once per node."""
    version = _node_version(node)
    if version < MIN_NODE:
        raise RuntimeError(f"Node.js {version[0]}.{version[1]} has no permission model (20+)")
    unshare = shutil.which("unshare")
    candidates: list[tuple[str, ...]] = [(unshare, "-rn")] if unshare else []
    for prefix in [*candidates, ()]:
        if _starts(prefix, node):
            return prefix
    raise RuntimeError("Node.js does not start with the sandbox's flags")


def _starts(prefix: tuple[str, ...], node: str) -> bool:
    """Does the harness start (and exit when its input ends) with these flags?"""
    with tempfile.TemporaryDirectory(prefix="seg-function-") as workdir:
        try:
            done = subprocess.run(
                [*prefix, *_node_flags(node, 64)],
                stdin=subprocess.DEVNULL,
                capture_output=True,
                cwd=workdir,
                env={},
                timeout=30,
            )
        except (OSError, subprocess.SubprocessError):
            return False
    return done.returncode == 0


def _out_of_memory(stderr: bytes) -> bool:
    text = stderr.lower()
    return b"out of memory" in text or b"heap limit" in text or b"allocation failed" in text


def _seconds(value: float) -> str:
    return f"{value:g}"


def _json_default(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    if isinstance(value, (tuple, list, set, frozenset)):
        return list(value)
    raise TypeError(f"{type(value).__name__} is not JSON")


def _encode(value: Mapping[str, Any], what: str) -> str | FunctionResult:
    try:
        text = json.dumps(value, default=_json_default, allow_nan=False, separators=(",", ":"))
    except (TypeError, ValueError) as exc:
        return FunctionResult("error", message=f"the {what} is not JSON: {exc}")
    size = len(text.encode("utf-8", "surrogatepass"))
    if size > MAX_PAYLOAD_BYTES:
        return FunctionResult("error", message=f"the {what} is {size} bytes of JSON, more than "
                              f"the {MAX_PAYLOAD_BYTES // 1024} KiB limit")  # fmt: skip
    return text


def _request(call: FunctionCall, timeout_ms: int) -> dict[str, Any] | FunctionResult:
    """The harness request for a call, or the result of refusing it without a round trip."""
    if call.kind not in ("insert", "destination"):
        return FunctionResult("error", message=f"unknown function kind {call.kind!r}")
    if not isinstance(call.code, str):
        return FunctionResult("error", message="the function's code is not text")
    code = call.code.encode("utf-8", "surrogatepass")
    if len(code) > MAX_CODE_BYTES:
        return FunctionResult("error", message=f"the function's code is larger than "
                              f"{MAX_CODE_BYTES // 1024} KiB")  # fmt: skip
    event = _encode(call.event, "event")
    if isinstance(event, FunctionResult):
        return event
    settings = _encode(call.settings, "settings")
    if isinstance(settings, FunctionResult):
        return settings
    return {
        "kind": call.kind,
        "name": str(call.name),
        "hash": hashlib.sha256(code).hexdigest(),
        "code": call.code,
        "event": event,
        "settings": settings,
        "timeoutMs": max(1, timeout_ms),
    }


def _text(value: object) -> str | None:
    """A string from the harness, made printable (no lone surrogates)."""
    if not isinstance(value, str):
        return None
    return value.encode("utf-8", "replace").decode("utf-8")


def _capped_logs(logs: str) -> str:
    data = logs.encode("utf-8")
    if len(data) <= LOG_LIMIT_BYTES:
        return logs
    return data[:LOG_LIMIT_BYTES].decode("utf-8", "ignore")


def _requests(value: object) -> tuple[Mapping[str, Any], ...] | None:
    if not isinstance(value, list):
        return None
    out: list[Mapping[str, Any]] = []
    for item in value:
        if not isinstance(item, dict):
            return None
        url, method, body = _text(item.get("url")), _text(item.get("method")), item.get("body")
        headers = item.get("headers")
        if url is None or method is None or not isinstance(headers, dict):
            return None
        if body is not None and not isinstance(body, str):
            return None
        clean_headers: dict[str, str] = {}
        for name, header in headers.items():
            text = _text(header)
            if text is None:
                return None
            clean_headers[_text(name) or ""] = text
        out.append({"url": url, "method": method, "headers": clean_headers,
                    "body": None if body is None else _text(body)})  # fmt: skip
    return tuple(out)


def _result(raw: object, kind: str) -> FunctionResult:
    """The harness's result, checked: it was made by the function's own context, so nothing in
    it is trusted to have the right shape."""
    broken = FunctionResult("error", message="the function runtime sent a malformed result")
    if not isinstance(raw, dict):
        return broken
    name = raw.get("outcome")
    outcome = _OUTCOME_NAMES.get(name) if isinstance(name, str) else None
    message, logs = _text(raw.get("message")), _text(raw.get("logs"))
    requests = _requests(raw.get("requests"))
    if outcome is None or message is None or logs is None or requests is None:
        return broken
    logs = _capped_logs(logs)
    event = raw.get("event")
    if outcome == "ok" and kind == "insert":
        if not isinstance(event, dict):
            message = "insert function returned an event that is not a JSON object"
            return FunctionResult("error", message=message, logs=logs)
        if nesting(event) > MAX_EVENT_DEPTH:  # as a sample event may
            message = ("insert function returned an event nested deeper than "
                       f"{MAX_EVENT_DEPTH} levels")
            return FunctionResult("error", message=message, logs=logs)
        return FunctionResult("ok", event=event, requests=requests, logs=logs)
    return FunctionResult(outcome, requests=requests, message=message, logs=logs)
