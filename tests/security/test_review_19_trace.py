"""Review 19 (delivery simulator): attacks through ``seg trace`` and ``seg plan --events``.

A pull request controls every workspace file, and CI runs the simulator with secrets in the
environment. Values from ``${env:…}`` must never reach workspace code (a function could
encode one past the output scrubber), and whatever a function returns must end in an outcome,
never in a crash of the command."""

from __future__ import annotations

import base64
import json
from pathlib import Path

import pytest

from seg.sandbox.node import node_runner
from seg.trace.functions import FunctionCall
from tests.conftest import WriteWorkspace, run_cli

SECRET = "rv19-secret-5c2d-do-not-show"
ENCODED = base64.b64encode(SECRET.encode()).decode()  # what btoa() makes of it
EVENT = {"type": "track", "event": "Signed Up", "properties": {"plan": "pro"}}


def _needs_node() -> None:
    runner = node_runner()
    if runner is None:
        pytest.skip("node (20 or later) is not installed")
    runner.close()


def _trace_workspace(root: Path, resources: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "seg.yaml").write_text("version: seg/v1\nworkspace: shop\n")
    (root / "resources.yaml").write_text(resources)
    (root / "events.jsonl").write_text(json.dumps(EVENT) + "\n")
    return root


SOURCE_AND_HOOK = """\
kind: Source
name: web
spec:
  catalog: javascript
---
kind: Destination
name: hook
spec:
  source: web
  catalog: webhook
  enabled: true
  insert_function: leak
  settings:
    url: https://example.com/hook
---
"""


def _trace_output(root: Path) -> str:
    outputs = []
    for fmt in ("text", "json", "markdown"):
        done = run_cli("trace", "--source", "web", str(root / "events.jsonl"), "-w", str(root),
                       "--no-cache", "-o", fmt)  # fmt: skip
        assert done.exit_code == 0, done.output
        outputs.append(done.output)
    return "\n".join(outputs)


def test_trace_hands_no_env_value_set_by_a_transformation_to_an_insert_function(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_seg_env: None) -> None:  # fmt: skip
    """``seg trace`` masks values from the environment in ``settings`` only: a transformation
    that sets a property to ``${env:…}`` hands the secret to the insert function, which
    encodes it past the output scrubber (here with btoa) into its error message."""
    _needs_node()
    monkeypatch.setenv("RV19_SECRET", SECRET)
    root = _trace_workspace(tmp_path / "ws", SOURCE_AND_HOOK + """\
kind: Transformation
name: set-plan
spec:
  source: web
  type: transform_values
  event: Signed Up
  value_transforms:
    - paths: [properties.plan]
      value: ${env:RV19_SECRET}
---
kind: Function
name: leak
spec:
  type: insert
  code: "function onTrack(e) { throw new Error('got ' + btoa(e.properties.plan)) }"
""")
    output = _trace_output(root)
    assert "insert function web/hook" in output or "insert function leak" in output, output
    assert ENCODED not in output and SECRET not in output, output


def test_trace_runs_no_function_code_holding_an_env_value(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_seg_env: None) -> None:  # fmt: skip
    """A function's inline ``code`` is interpolated like any string: ``${env:…}`` in it puts
    the secret into the code the simulator runs."""
    _needs_node()
    monkeypatch.setenv("RV19_SECRET", SECRET)
    root = _trace_workspace(tmp_path / "ws", SOURCE_AND_HOOK + """\
kind: Function
name: leak
spec:
  type: insert
  code: "function onTrack(e) { throw new Error(btoa('${env:RV19_SECRET}')) }"
""")
    output = _trace_output(root)
    assert ENCODED not in output and SECRET not in output, output


PLAN_WS = """\
kind: Source
name: web
spec:
  catalog: javascript
---
kind: Function
name: fn
spec:
  type: destination
  code: "async function onTrack(event, settings) {{ {body} }}"
  settings:
    - name: token
      type: string
---
kind: Destination
name: hook
spec:
  source: web
  function: fn
  enabled: true
  settings:
    token: ${{env:{variable}}}
"""


def test_plan_delivery_impact_hands_no_secret_to_a_destination_function(
        write_workspace: WriteWorkspace, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
        clean_seg_env: None) -> None:  # fmt: skip
    """``seg plan --events`` traces the planned fields, whose ``${env:…}`` values are in
    clear, and masks only the settings the function declares encrypted: a changed setting's
    secret reaches the function, which writes it (base64) into the stop reason, and so into
    the Delivery impact's example — the pull request comment."""
    _needs_node()
    monkeypatch.setenv("RV19_OLD", "rv19-old-token")
    monkeypatch.setenv("RV19_SECRET", SECRET)
    root = write_workspace({"ws.yaml": PLAN_WS.format(body="return", variable="RV19_OLD")})
    events = tmp_path / "events.jsonl"
    events.write_text(json.dumps(EVENT) + "\n")
    applied = run_cli("apply", "-w", str(root), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    (root / "ws.yaml").write_text(PLAN_WS.format(
        body="throw new Error(btoa(settings.token))", variable="RV19_SECRET"))  # fmt: skip
    outputs = []
    for fmt in ("text", "json", "markdown"):
        planned = run_cli("plan", "-w", str(root), "--events", f"web={events}", "-o", fmt)
        assert planned.exit_code == 0, planned.output
        outputs.append(planned.output)
    output = "\n".join(outputs)
    assert "destination function fn failed" in output, output
    assert ENCODED not in output and SECRET not in output, output


def test_a_deeply_nested_insert_result_is_an_outcome_not_a_crash() -> None:
    """An insert function returning an event nested a few thousand levels deep (fine for V8's
    JSON.stringify) makes Python's json.loads raise RecursionError, which is not a ValueError:
    it escapes the runner and ``seg trace`` fails with an internal error."""
    runner = node_runner(timeout_seconds=2, memory_mb=64)
    if runner is None:
        pytest.skip("node (20 or later) is not installed")
    code = ("function onTrack(e) { let o = {}; for (let i = 0; i < 3000; i++) o = { a: o };"
            " e.properties = o; return e }")  # fmt: skip
    with runner:
        result = runner(FunctionCall("insert", "deep", code, {"type": "track"}))
        assert result.outcome == "error", result
        ok = runner(FunctionCall("insert", "ok", "function onTrack(e) { return e }",
                                 {"type": "track"}))  # fmt: skip
        assert (ok.outcome, ok.event) == ("ok", {"type": "track"})
