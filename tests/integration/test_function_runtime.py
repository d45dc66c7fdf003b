"""The Node.js function runtime (``seg.sandbox.node``) against a real node: the platform's
handler contract for insert and destination functions, as the delivery simulator sees it.

The attacks on the sandbox are in ``tests/security/test_function_sandbox.py``."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Mapping
from typing import Any

import pytest

from seg.sandbox.node import NodeRunner, node_runner
from seg.trace.functions import FunctionResult
from tests.function_calls import call as call_function


@pytest.fixture(scope="module")
def runner() -> Iterator[NodeRunner]:
    made = node_runner(timeout_seconds=1.0, memory_mb=64)
    if made is None:
        pytest.skip("node (20 or later) is not installed")
    with made:
        yield made


def call(runner: NodeRunner, code: str, event: Mapping[str, Any] | None = None,
         **options: Any) -> FunctionResult:  # fmt: skip
    options.setdefault("name", "f")
    return call_function(runner, code, event,
                         default={"type": "track", "event": "Order Completed"}, **options)  # fmt: skip


def test_insert_function_changes_a_property(runner: NodeRunner) -> None:
    code = """
async function onTrack(event, settings) {
  event.properties.total = event.properties.price * 2;
  event.context = { tagged: settings.tag };
  return event;
}"""
    event = {"type": "track", "event": "Order Completed", "properties": {"price": 21}}
    result = call(runner, code, event, settings={"tag": "blue"})
    assert result.outcome == "ok", result.message
    assert result.event == {
        "type": "track",
        "event": "Order Completed",
        "properties": {"price": 21, "total": 42},
        "context": {"tagged": "blue"},
    }
    assert event == {"type": "track", "event": "Order Completed", "properties": {"price": 21}}


def test_handler_is_chosen_by_event_type_and_track_is_the_default(runner: NodeRunner) -> None:
    code = """
function onTrack(event) { event.seen = 'track'; return event }
function onIdentify(event) { event.seen = 'identify'; return event }
function onPage(event) { event.seen = 'page'; return event }
function onScreen(event) { event.seen = 'screen'; return event }
function onGroup(event) { event.seen = 'group'; return event }
function onAlias(event) { event.seen = 'alias'; return event }
"""
    for type_ in ("track", "identify", "page", "screen", "group", "alias"):
        result = call(runner, code, {"type": type_})
        assert result.outcome == "ok"
        assert result.event is not None and result.event["seen"] == type_
    untyped = call(runner, code, {"event": "x"})
    assert untyped.event == {"event": "x", "seen": "track"}


def test_insert_returning_nothing_is_an_error(runner: NodeRunner) -> None:
    result = call(runner, "async function onTrack(event) { event.x = 1 }")
    assert result.outcome == "error"
    assert result.message == "insert function returned no event"
    assert call(runner, "function onTrack() { return null }").message == (
        "insert function returned no event"
    )


@pytest.mark.parametrize(
    ("returned", "what"), [("[event]", "an array"), ("'event'", "string"), ("42", "number")]
)
def test_insert_must_return_a_plain_object(runner: NodeRunner, returned: str, what: str) -> None:
    result = call(runner, f"async function onTrack(event) {{ return {returned} }}")
    assert result.outcome == "error"
    assert "plain object" in result.message and what in result.message
    assert result.event is None


def test_insert_returning_something_not_json_is_an_error(runner: NodeRunner) -> None:
    result = call(runner, "function onTrack(e) { e.n = 10n; return e }")
    assert result.outcome == "error"
    assert result.message.startswith("insert function returned an event that is not JSON")


def test_drop_event_drops(runner: NodeRunner) -> None:
    result = call(runner, "async function onTrack(event) { throw new DropEvent('not wanted') }")
    assert (result.outcome, result.message) == ("dropped", "DropEvent: not wanted")


def test_missing_handler_is_not_supported(runner: NodeRunner) -> None:
    result = call(runner, "async function onTrack(event) { return event }", {"type": "identify"})
    assert result.outcome == "not supported"
    assert "onIdentify" in result.message
    thrown = call(runner, "function onTrack() { throw new EventNotSupported('no thanks') }")
    assert (thrown.outcome, thrown.message) == ("not supported", "EventNotSupported: no thanks")


def test_validation_errors_are_invalid(runner: NodeRunner) -> None:
    result = call(runner, "async function onTrack() { throw new ValidationError('no email') }")
    assert (result.outcome, result.message) == ("invalid", "ValidationError: no email")
    payload = call(runner, "function onTrack() { throw new InvalidEventPayload('bad') }")
    assert (payload.outcome, payload.message) == ("invalid", "InvalidEventPayload: bad")


def test_retry_error_is_retried(runner: NodeRunner) -> None:
    result = call(runner, "async function onTrack() { throw new RetryError('busy') }")
    assert (result.outcome, result.message) == ("retry", "RetryError: busy")


def test_error_classes_are_errors_with_their_name(runner: NodeRunner) -> None:
    code = """
function onTrack(event) {
  event.checks = [EventNotSupported, InvalidEventPayload, ValidationError, RetryError, DropEvent]
    .map((C) => { const e = new C('m'); return [e instanceof Error, e.name, e.message] });
  return event;
}"""
    result = call(runner, code)
    assert result.event is not None
    assert result.event["checks"] == [
        [True, name, "m"]
        for name in (
            "EventNotSupported",
            "InvalidEventPayload",
            "ValidationError",
            "RetryError",
            "DropEvent",
        )
    ]


def test_plain_throw_is_an_error_with_its_message(runner: NodeRunner) -> None:
    result = call(runner, "async function onTrack() { throw new Error('boom') }")
    assert (result.outcome, result.message) == ("error", "Error: boom")
    bug = call(runner, "function onTrack(event) { return event.properties.missing.deeper }")
    assert bug.outcome == "error"
    assert bug.message.startswith("TypeError: Cannot read properties of undefined")
    thrown = call(runner, "function onTrack() { throw 'just a string' }")
    assert (thrown.outcome, thrown.message) == ("error", "just a string")


def test_code_that_does_not_load_is_an_error(runner: NodeRunner) -> None:
    syntax = call(runner, "async function onTrack(event) { return event")
    assert syntax.outcome == "error" and syntax.message.startswith("SyntaxError:")
    top = call(runner, "const x = undefinedThing.y;\nfunction onTrack(e) { return e }")
    assert top.outcome == "error"
    assert "failed to load" in top.message and "ReferenceError" in top.message


def test_destination_fetch_is_recorded_and_not_sent(runner: NodeRunner) -> None:
    code = """
async function onTrack(event, settings) {
  const response = await fetch('https://api.example.test/v1/events', {
    method: 'POST',
    headers: { 'Content-Type': 'application/json', Authorization: `Bearer ${settings.apiKey}` },
    body: JSON.stringify({ name: event.event }),
  });
  const parsed = await response.json();
  const text = await response.text();
  if (!response.ok || response.status !== 200 || text !== '' || Object.keys(parsed).length) {
    throw new Error('unexpected fake response');
  }
  await fetch('https://api.example.test/v1/ping');
}"""
    result = call(runner, code, kind="destination", settings={"apiKey": "k-1"})
    assert result.outcome == "ok", result.message
    assert result.event is None
    assert result.requests == (
        {
            "url": "https://api.example.test/v1/events",
            "method": "POST",
            "headers": {"Content-Type": "application/json", "Authorization": "Bearer k-1"},
            "body": '{"name":"Order Completed"}',
        },
        {"url": "https://api.example.test/v1/ping", "method": "GET", "headers": {}, "body": None},
    )


def test_destination_errors_keep_their_requests(runner: NodeRunner) -> None:
    code = """
async function onTrack(event) {
  await fetch('https://api.example.test/a', { method: 'PUT', body: 'x' });
  throw new RetryError('rate limited');
}"""
    result = call(runner, code, kind="destination")
    assert (result.outcome, result.message) == ("retry", "RetryError: rate limited")
    assert [r["method"] for r in result.requests] == ["PUT"]


def test_console_is_captured_per_call(runner: NodeRunner) -> None:
    code = """
function onTrack(event) {
  console.log('hello', 1, { a: [1, 2] });
  console.warn('careful');
  console.error(new TypeError('bad'));
  console.info(undefined, null, true);
  return event;
}"""
    first = call(runner, code)
    assert first.logs == 'hello 1 {"a":[1,2]}\ncareful\nTypeError: bad\nundefined null true\n'
    assert call(runner, code).logs == first.logs  # not accumulated across calls


def test_console_is_capped_at_4_kb(runner: NodeRunner) -> None:
    code = """
function onTrack(event) {
  for (let i = 0; i < 10000; i++) console.log('line ' + i + ' ' + 'é'.repeat(20));
  console.log('x'.repeat(1e6));
  return event;
}"""
    result = call(runner, code)
    assert result.outcome == "ok"
    size = len(result.logs.encode("utf-8"))
    assert 4000 < size <= 4096
    assert result.logs.startswith("line 0 " + "é" * 20 + "\nline 1 ")
    assert result.logs.endswith("[logs truncated at 4 KB]")


def test_async_handler_awaiting_promises(runner: NodeRunner) -> None:
    code = """
const later = (value) => new Promise((resolve) => setTimeout(() => resolve(value), 50));
async function onTrack(event) {
  event.a = await Promise.resolve(1);
  event.b = await later(2);
  event.c = await new Promise((resolve) => queueMicrotask(() => resolve(3)));
  return event;
}"""
    result = call(runner, code, {"type": "track"})
    assert result.outcome == "ok", result.message
    assert result.event == {"type": "track", "a": 1, "b": 2, "c": 3}


def test_settings_are_passed_as_given(runner: NodeRunner) -> None:
    settings = {"apiKey": "k", "nested": {"list": [1, "two", None, True]}, "n": 1.5}
    result = call(runner, "function onTrack(e, s) { e.s = s; return e }", {}, settings=settings)
    assert result.event == {"s": settings}


def test_base64_helpers(runner: NodeRunner) -> None:
    code = "function onTrack(e) { e.b = btoa('user:pass'); e.a = atob(e.b); return e }"
    assert call(runner, code, {}).event == {"b": "dXNlcjpwYXNz", "a": "user:pass"}


def test_each_function_has_its_own_context(runner: NodeRunner) -> None:
    """Module-level state lives as long as the function's warm context (as on the platform),
    and is never shared with another function, even one with the same code."""
    code = "let calls = 0;\nfunction onTrack(event) { event.calls = ++calls; return event }"
    counts = [call(runner, code, {}, name="a").event for _ in range(3)]
    assert counts == [{"calls": 1}, {"calls": 2}, {"calls": 3}]
    assert call(runner, code, {}, name="b").event == {"calls": 1}


def test_many_calls_on_one_process(runner: NodeRunner) -> None:
    code = "function onTrack(event) { event.i += 1; return event }"
    results = [call(runner, code, {"i": i}) for i in range(300)]
    assert [r.event for r in results] == [{"i": i + 1} for i in range(300)]
    pid = runner.pid
    call(runner, code, {"i": 0})
    assert pid is not None and runner.pid == pid


def test_closed_runner_refuses_calls() -> None:
    made = node_runner(timeout_seconds=1.0)
    if made is None:
        pytest.skip("node (20 or later) is not installed")
    with made:
        assert call(made, "function onTrack(e) { return e }", {}).outcome == "ok"
        pid = made.pid
    assert made.pid is None and pid is not None
    with pytest.raises(RuntimeError):
        call(made, "function onTrack(e) { return e }", {})


def test_a_code_is_sent_once_and_again_when_the_process_lost_it(runner: NodeRunner) -> None:
    code = "function onTrack(e) { e.v = 'resent'; return e }"
    assert call(runner, code, {}).event == {"v": "resent"}
    assert call(runner, code, {}).event == {"v": "resent"}  # by its hash only
    # The Python side believes a code it never sent is there: the harness asks for it.
    other = "function onTrack(e) { e.v = 'asked'; return e }"
    worker = runner._worker
    assert worker is not None
    worker.knows(hashlib.sha256(other.encode()).hexdigest())
    assert call(runner, other, {}).event == {"v": "asked"}
