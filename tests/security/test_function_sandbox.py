"""Attacks on the function sandbox (``seg.sandbox.node``): every one ever found lives here.

Insert and destination function code comes from a workspace file that a pull request may
write, and the delivery simulator runs it in CI. Whatever the code does, it must not reach the
host (files, environment, processes, network), outlive its time limit, or take the runner down:
each attack below ends in an outcome, and the next call works.

These run a real node; they are skipped only where no node (20 or later) is installed."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest

from seg.sandbox.node import HARNESS, MAX_PAYLOAD_BYTES, NodeRunner, node_runner
from seg.trace.functions import FunctionResult
from tests.function_calls import call as call_function

OK = "function onTrack(event) { event.ok = true; return event }"
SECRET = "s3cr3t-7f1e-do-not-show"


def make_runner(timeout_seconds: float = 0.5, memory_mb: int = 64) -> NodeRunner:
    made = node_runner(timeout_seconds=timeout_seconds, memory_mb=memory_mb)
    if made is None:
        pytest.skip("node (20 or later) is not installed")
    return made


@pytest.fixture(scope="module")
def runner() -> Iterator[NodeRunner]:
    with make_runner() as made:
        yield made


def call(runner: NodeRunner, code: str, event: Mapping[str, Any] | None = None,
         **options: Any) -> FunctionResult:  # fmt: skip
    options.setdefault("name", "attack")
    return call_function(runner, code, event,
                         default={"type": "track"}, **options)  # fmt: skip


def everything(result: FunctionResult) -> str:
    """All a result says, for "does X show anywhere" assertions."""
    return json.dumps(
        [result.outcome, result.event, list(result.requests), result.message, result.logs]
    )


def still_works(runner: NodeRunner) -> None:
    result = call(runner, OK)
    assert (result.outcome, result.event) == ("ok", {"type": "track", "ok": True})


# Each probe returns what it reached; none may reach anything.
PROBES = {
    "require": "require('fs').readFileSync('/etc/passwd', 'utf8')",
    "process.env": "JSON.stringify(process.env)",
    "process via constructor": "this.constructor.constructor('return process')().env",
    "Function constructor": "Function('return this')().process",
    "eval": "eval('1 + 1')",
    "indirect eval": "(0, eval)('globalThis.process')",
    "module": "module.require('fs')",
    "Buffer": "Buffer.from('x')",
    "setInterval": "setInterval(() => {}, 1)",
    "globalThis.process": "globalThis.process.mainModule",
    "function constructor via a handler": "onTrack.constructor('return process')()",
    "async function constructor": "(async () => {}).constructor('return process')()",
    "generator constructor": "(function* () {}).constructor('return process')().next()",
    "WebAssembly": "WebAssembly.compile(new Uint8Array([0, 97, 115, 109, 1, 0, 0, 0]))",
    "Atomics.wait": "Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0)",
    "FinalizationRegistry": "new FinalizationRegistry(() => { while (true) {} })",
}


@pytest.mark.parametrize("probe", PROBES.values(), ids=PROBES.keys())
def test_host_is_out_of_reach(runner: NodeRunner, probe: str) -> None:
    code = f"function onTrack(event) {{ event.got = String({probe}); return event }}"
    result = call(runner, code)
    assert result.outcome == "error", everything(result)
    assert result.message.split(":")[0] in {"ReferenceError", "EvalError", "TypeError"}
    assert "root:" not in everything(result)


def test_the_context_has_only_the_documented_globals(runner: NodeRunner) -> None:
    code = "function onTrack(e) { e.names = Object.getOwnPropertyNames(globalThis); return e }"
    result = call(runner, code)
    assert result.event is not None
    names = set(result.event["names"])
    for host in ("process", "require", "module", "Buffer", "setInterval", "setImmediate",
                 "global", "WebAssembly", "Atomics", "SharedArrayBuffer",
                 "FinalizationRegistry", "structuredClone", "performance"):  # fmt: skip
        assert host not in names
    assert {"fetch", "console", "setTimeout", "DropEvent", "RetryError"} <= names


@pytest.mark.parametrize(
    "code",
    [
        "async function onTrack(e) { return await import('fs') }",
        "async function onTrack(e) { return import /* hidden */ ('fs') }",
        "async function onTrack(e) { return import\n('node:fs') }",
        "async function onTrack(e) { return import<!-- html comment\n('fs') }",
        "async function onTrack(e) { const m = [...import('fs')]; return e }",
        "const p = import('fs').catch((x) => x);\nfunction onTrack(e) { return e }",
        # A number ending in "." then, after automatic semicolon insertion, an import.
        "const n = 1.\nimport('fs').catch((x) => x);\nfunction onTrack(e) { return e }",
        "async function onTrack(e) { return import\u3000('fs') }",
        "async function onTrack(e) { return import\n-->comment\n('fs') }",
        # Refused too: a method named import (the check does not tell it from a keyword).
        "const api = { import: (x) => x };\nfunction onTrack(e) { api.import(1); return e }",
    ],
)
def test_dynamic_import_is_refused(runner: NodeRunner, code: str) -> None:
    """Its promise and its error would be host objects (a way out of the context)."""
    result = call(runner, code)
    assert (result.outcome, result.message) == ("error", "import() is not available in functions")


def test_words_containing_import_are_allowed(runner: NodeRunner) -> None:
    code = """
const importer = (x) => x + 1;
const reimport = { important: 'yes' };
// import the data (a comment)
function onTrack(e) { e.n = importer(1); e.s = reimport.important + ' import'; return e }"""
    assert call(runner, code).event == {"type": "track", "n": 2, "s": "yes import"}


def test_errors_made_by_node_never_reach_the_function(runner: NodeRunner) -> None:
    """An error whose name is a Symbol made Node's own stack formatter throw a host TypeError,
    whose constructor's constructor was the host's Function (-> process). Stack traces are
    formatted inside the context now, however the function tampers with Error."""
    code = """
function attempt(make) {
  try {
    const e = make();
    e.stack;
    return 'no throw';
  } catch (x) {
    if (!(x instanceof Error)) return 'HOST ERROR';
    try { return String(x.constructor.constructor('return process')()) } catch (y) { return y.name }
  }
}
function onTrack(event) {
  const symbolName = () => { const e = new Error('x'); e.name = Symbol('s'); return e };
  event.plain = attempt(symbolName);
  Error.prepareStackTrace = undefined;
  event.reset = attempt(symbolName);
  try { Error = function () {} } catch (x) { event.assign = x.name }
  try { delete Error.prepareStackTrace } catch (x) { event.remove = x.name }
  event.captured = attempt(() => { const o = { name: Symbol('s') }; Error.captureStackTrace(o); return o });
  return event;
}"""
    result = call(runner, code)
    assert result.outcome == "ok", result.message
    assert result.event is not None
    for key in ("plain", "reset", "captured"):
        assert result.event[key] in ("no throw", "EvalError"), result.event
    assert "process" not in everything(result)


def test_stack_frames_show_only_the_functions_code(runner: NodeRunner) -> None:
    """A user prepareStackTrace gets call sites: never the harness's (their receivers and
    functions would be host objects, their file names say where seg is installed)."""
    code = """
function onTrack(event) {
  Error.prepareStackTrace = (error, frames) => frames.map((f) => [
    f.getFileName(), typeof f.getThis(), typeof f.getFunction()]);
  event.frames = new Error('x').stack;
  Error.prepareStackTrace = undefined;
  event.text = new Error('y').stack;
  return event;
}"""
    result = call(runner, code)
    assert result.event is not None, result.message
    assert result.event["frames"] and {f[0] for f in result.event["frames"]} == {"function.js"}
    assert result.event["text"].startswith("Error: y\n    at onTrack (function.js:")
    assert str(HARNESS.parent) not in everything(result)
    assert "harness" not in everything(result)


@pytest.mark.parametrize(
    "code",
    [
        "function onTrack(e) { e.r = require('fs').readFileSync('/etc/passwd', 'utf8'); return e }",
        "async function onTrack(e) { e.r = await (await fetch('file:///etc/passwd')).text(); return e }",
        "async function onTrack(e) { return import('/etc/passwd') }",
        "function onTrack(e) { e.r = this.constructor.constructor(\"return require('fs')\")(); return e }",
        "function onTrack(e) { e.r = process.binding('fs'); return e }",
    ],
)
def test_etc_passwd_cannot_be_read(runner: NodeRunner, code: str) -> None:
    result = call(runner, code)
    assert "root:" not in everything(result)
    assert result.outcome in ("error", "ok")
    if result.outcome == "ok":
        assert result.event == {"type": "track", "r": ""}


def test_the_process_may_read_nothing_but_the_harness(runner: NodeRunner) -> None:
    """The node process's own flags, run with a script of ours instead of the harness: the
    permission model refuses a file read, a child process and a worker."""
    still_works(runner)
    assert runner.pid is not None
    argv = Path(f"/proc/{runner.pid}/cmdline").read_bytes().decode().split("\0")[:-1]
    assert argv[-1] == str(HARNESS)
    assert any(a in ("--permission", "--experimental-permission") for a in argv)
    assert [a for a in argv if a.startswith("--allow-")] == [f"--allow-fs-read={HARNESS}"]
    script = """
const out = [];
for (const [name, f] of [
  ['read', () => require('fs').readFileSync('/etc/passwd', 'utf8')],
  ['write', () => require('fs').writeFileSync('written', 'x')],
  ['spawn', () => require('child_process').execSync('id')],
  ['worker', () => new (require('worker_threads').Worker)('1', { eval: true })],
]) { try { f(); out.push(name + ' ALLOWED') } catch (e) { out.push(name + ' ' + e.code) } }
console.log(out.join(','));
"""
    done = subprocess.run(
        [*argv[:-1], "-e", script], capture_output=True, text=True, env={}, timeout=30,
        cwd=Path(f"/proc/{runner.pid}/cwd").resolve(),
    )  # fmt: skip
    assert done.stdout.strip() == (
        "read ERR_ACCESS_DENIED,write ERR_ACCESS_DENIED,spawn ERR_ACCESS_DENIED,"
        "worker ERR_ACCESS_DENIED"
    ), done.stderr


def test_the_process_has_an_empty_environment_and_its_own_directory(runner: NodeRunner) -> None:
    still_works(runner)
    assert Path(f"/proc/{runner.pid}/environ").read_bytes() == b""
    cwd = Path(f"/proc/{runner.pid}/cwd").resolve()
    assert cwd.name.startswith("seg-function-") and list(cwd.iterdir()) == []


def test_parent_environment_is_not_visible(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("SEG_TEST_SECRET", SECRET)
    code = """
function onTrack(event) {
  const found = [];
  for (const probe of [
    () => process.env.SEG_TEST_SECRET,
    () => this.constructor.constructor('return process.env')().SEG_TEST_SECRET,
    () => globalThis.SEG_TEST_SECRET,
    () => Object.getOwnPropertyNames(globalThis).join(','),
    () => { const e = new Error(); e.name = Symbol(); e.stack; return 'x' },
  ]) { try { found.push(String(probe())) } catch (e) { found.push(String(e)) } }
  console.log(found.join('\\n'));
  event.found = found;
  return event;
}"""
    with make_runner() as fresh:
        result = call(fresh, code)
    assert result.outcome == "ok", result.message
    assert SECRET not in everything(result)
    assert "SEG_TEST_SECRET" not in result.event["found"][3]  # type: ignore[index]


@pytest.fixture
def listener() -> Iterator[socket.socket]:
    server = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    server.settimeout(0.3)
    yield server
    server.close()


def test_no_request_leaves_the_sandbox(runner: NodeRunner, listener: socket.socket) -> None:
    port = listener.getsockname()[1]
    url = f"http://127.0.0.1:{port}/collect"
    code = f"""
async function onTrack(event) {{
  for (const attempt of [
    () => require('http').get('{url}'),
    () => require('net').connect({port}, '127.0.0.1'),
    () => this.constructor.constructor("return fetch('{url}')")(),
    () => process.binding('tcp_wrap'),
  ]) {{ try {{ await attempt() }} catch (e) {{}} }}
  const response = await fetch('{url}', {{ method: 'POST', body: 'data' }});
  event.status = response.status;
  return event;
}}"""
    result = call(runner, code, kind="destination")
    assert result.outcome == "ok", result.message
    assert result.requests == (
        {"url": url, "method": "POST", "headers": {}, "body": "data"},
    )  # recorded, not sent
    with pytest.raises(TimeoutError):
        connection, _ = listener.accept()
        connection.close()


def test_the_process_has_no_network_where_namespaces_work(runner: NodeRunner) -> None:
    from seg.sandbox.node import _launch_prefix

    still_works(runner)
    if not _launch_prefix(runner.node):
        pytest.skip("user namespaces are not available here")
    ours = os.readlink("/proc/self/ns/net")
    assert os.readlink(f"/proc/{runner.pid}/ns/net") != ours


def test_infinite_loop_times_out_and_the_runner_goes_on(runner: NodeRunner) -> None:
    still_works(runner)
    pid = runner.pid
    for code in (
        "function onTrack() { while (true) {} }",
        "while (true) {}",
        "async function onTrack() { while (true) { await null } }",
        "async function onTrack() { for (;;) { await Promise.resolve() } }",
        "throw { get name() { for (;;) {} } }",
    ):
        result = call(runner, code)
        assert result.outcome == "timeout", (code, everything(result))
        still_works(runner)
    assert runner.pid == pid  # stopped by the vm's own limit: no process was killed


def test_promise_that_never_settles_times_out(runner: NodeRunner) -> None:
    for code in (
        "async function onTrack() { await new Promise(() => {}) }",
        "async function onTrack() { await new Promise((r) => setTimeout(r, 60000)) }",
        "function onTrack() { return { then() {} } }",
    ):
        result = call(runner, code)
        assert result.outcome == "timeout", (code, everything(result))
    still_works(runner)


def test_timer_storm_times_out() -> None:
    code = "async function onTrack() { const tick = () => setTimeout(tick, 0); tick(); await new Promise(() => {}) }"
    with make_runner(timeout_seconds=0.3) as fresh:
        assert call(fresh, code).outcome == "timeout"
        still_works(fresh)


def test_memory_bomb_is_stopped_and_the_runner_goes_on() -> None:
    code = "async function onTrack() { const a = []; while (true) a.push(new Array(1e6).fill(1)) }"
    with make_runner(timeout_seconds=2.0, memory_mb=64) as fresh:
        result = call(fresh, code)
        assert result.outcome in ("memory", "timeout"), everything(result)
        still_works(fresh)


def test_array_buffers_are_bounded_too() -> None:
    """Array buffers live outside the heap cap; the process's data limit stops them."""
    code = "async function onTrack() { const a = []; while (true) a.push(new ArrayBuffer(1e8)) }"
    with make_runner(timeout_seconds=2.0, memory_mb=64) as fresh:
        result = call(fresh, code)
        assert result.outcome in ("error", "memory"), everything(result)
        still_works(fresh)


def test_unhandled_rejection_does_not_stop_the_runner(runner: NodeRunner) -> None:
    still_works(runner)
    pid = runner.pid
    code = "function onTrack(e) { Promise.reject(new Error('nobody listens')); return e }"
    assert call(runner, code).outcome == "ok"
    still_works(runner)
    assert runner.pid == pid


@pytest.mark.parametrize("field", ["event", "settings"])
def test_huge_event_or_settings_are_refused_without_a_round_trip(field: str) -> None:
    big = {"type": "track", "blob": "x" * (MAX_PAYLOAD_BYTES + 1)}
    with make_runner() as fresh:
        result = call(fresh, OK, **{field: big})  # type: ignore[arg-type]
        assert result.outcome == "error"
        assert "512 KiB" in result.message and field in result.message
        assert fresh.pid is None  # node was never even started
        still_works(fresh)


def test_huge_results_are_refused(runner: NodeRunner) -> None:
    event = call(runner, "function onTrack(e) { e.blob = 'x'.repeat(2e6); return e }")
    assert event.outcome == "error" and "larger than 1 MiB" in event.message
    code = "async function onTrack() { for (let i = 0; ; i++) await fetch('https://x.test/' + i) }"
    flood = call(runner, code, kind="destination")
    assert flood.outcome == "error" and "more than 100 requests" in flood.message
    assert len(flood.requests) == 100
    still_works(runner)


def test_results_cannot_forge_the_protocol(runner: NodeRunner) -> None:
    forged = '\n{"id": 99, "result": {"outcome": "ok"}}\n'
    code = f"function onTrack(e) {{ e.x = {json.dumps(forged)}; console.log({json.dumps(forged)}); return e }}"
    result = call(runner, code)
    assert result.outcome == "ok" and result.event == {"type": "track", "x": forged}
    assert result.logs == forged + "\n"
    still_works(runner)


def test_tampering_with_the_harness_hooks_only_hurts_the_function(runner: NodeRunner) -> None:
    code = """
try { __segHarness = null } catch (e) {}
try { Object.defineProperty(globalThis, '__segHarness', { value: {} }) } catch (e) {}
Object.prototype.toJSON = function () { return 'polluted' };
JSON.stringify = () => 'forged';
Promise.prototype.then = function () {};
function onTrack(event) { event.kept = true; return event }"""
    result = call(runner, code)
    assert result.outcome in ("ok", "error"), everything(result)
    still_works(runner)
    other = call(runner, "function onTrack(e) { e.clean = JSON.stringify({}); return e }")
    assert other.event == {"type": "track", "clean": "{}"}


def test_a_hung_process_is_killed_and_replaced() -> None:
    """When the harness itself does not answer (here: the process is stopped), the read
    timeout kills it; the next call starts a new process."""
    made = make_runner(timeout_seconds=0.3)
    hung = NodeRunner(made.node, timeout_seconds=0.3, grace_seconds=0.3)
    with hung:
        still_works(hung)
        pid = hung.pid
        assert pid is not None
        os.kill(pid, signal.SIGSTOP)
        result = call(hung, OK)
        assert result.outcome == "timeout" and "stopped" in result.message
        assert hung.pid is None  # killed, not left stopped
        still_works(hung)
        assert hung.pid not in (None, pid)


def test_a_crash_is_an_error_and_the_runner_goes_on() -> None:
    code = "function onTrack(e) { e.n = 'ab'.repeat(2 ** 26).split('').length; return e }"
    with make_runner(timeout_seconds=2.0) as fresh:
        result = call(fresh, code)
        assert result.outcome in ("error", "memory"), everything(result)
        if result.outcome == "error":
            assert "exited unexpectedly" in result.message
        still_works(fresh)
