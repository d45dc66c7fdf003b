"""Insert and destination functions in the delivery simulator, run for real with Node.js
(``seg.sandbox``): the documented handler contract and its errors, where the steps sit in the
processing order (the trigger before the insert function, the fields after it), settings with
their secrets masked, the impact of a function's change, and "not simulated" without Node.js.
The example workspace as a ``seg trace`` process too."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from seg.catalog import builtin
from seg.kinds.lookup import IndexLookup
from seg.sandbox.node import NodeRunner, node_runner
from seg.trace.functions import MASK
from seg.trace.impact import delivery_impact
from seg.trace.pipeline import Delivery, trace_event
from tests.e2e.cli_workspace import base_env, run

SCRUB = """
async function onTrack(event) {
  if (event.properties.drop) throw new DropEvent('test traffic')
  if (event.properties.bad) throw new ValidationError('bad order')
  delete event.properties.email
  event.properties.tier = 'gold'
  return event
}
"""
SEND = """
async function onTrack(event, settings) {
  await fetch(`https://api.example.com/${settings.region}/events`, {
    method: 'POST', headers: {Authorization: `Bearer ${settings.token}`},
    body: JSON.stringify({name: event.event, tier: event.properties.tier})})
}
"""
ORDER = {"type": "track", "event": "Order Completed", "userId": "u1",
         "properties": {"total": 3, "email": "a@b.c"}}  # fmt: skip


@pytest.fixture(scope="module")
def runner() -> Iterator[NodeRunner]:
    found = node_runner(timeout_seconds=2.0)
    if found is None:
        pytest.skip("Node.js 20 or later is not installed (.ci/run installs it)")
    with found:
        yield found


def _resources(scrub: str = SCRUB) -> dict[Any, Any]:
    return {
        ("Source", "web"): {"catalog": "javascript"},
        ("Function", "scrub"): {"type": "insert", "code": scrub},
        ("Function", "send"): {"type": "destination", "code": SEND, "settings": [
            {"name": "token", "encrypted": True}, {"name": "region"}]},
        ("Destination", "web/mixpanel"): {"catalog": "mixpanel", "enabled": True,
                                          "insert_function": "scrub"},
        ("Mapping", "web/mixpanel/orders"): {
            "action": "trackPurchase", "enabled": True, "trigger": 'properties.email != null',
            "fields": {"event": "$.event", "tier": "$.properties.tier",
                       "email": "$.properties.email"}},
        ("Destination", "web/hook"): {"function": "send", "enabled": True,
                                      "settings": {"token": "tok-secret-1", "region": "eu"}},
    }  # fmt: skip


def _deliveries(lookup: IndexLookup, event: dict[str, Any], runner: Any) -> dict[str, Delivery]:
    trace = trace_event(lookup, "web", event, run=runner)
    return {d.destination: d for d in trace.deliveries}


def test_an_insert_function_changes_the_event_the_mappings_read(runner: NodeRunner) -> None:
    """The trigger sees the event before the insert function (it matches on the email the
    function removes); the mapping's fields read what the function returns."""
    found = _deliveries(IndexLookup(_resources(), builtin()), ORDER, runner)["web/mixpanel"]
    assert found.delivered and found.unsimulated == ()
    assert found.payload["properties"] == {"total": 3, "tier": "gold"}
    assert "properties.email" in found.removed
    assert [(f.mapping, dict(f.payload)) for f in found.fired] == [
        ("web/mixpanel/orders", {"event": "Order Completed", "tier": "gold"})]
    assert ORDER["properties"] == {"total": 3, "email": "a@b.c"}  # the sample is untouched


@pytest.mark.parametrize(("properties", "reason"), [
    ({"drop": True, "email": "x"}, "dropped by insert function scrub: DropEvent: test traffic"),
    ({"bad": True, "email": "x"}, "insert function scrub rejected the event: ValidationError: "
                                  "bad order"),
])  # fmt: skip
def test_an_insert_function_drops_or_rejects(runner: NodeRunner, properties: dict[str, Any],
                                             reason: str) -> None:  # fmt: skip
    event = {**ORDER, "properties": properties}
    found = _deliveries(IndexLookup(_resources(), builtin()), event, runner)["web/mixpanel"]
    assert found.stop is not None and found.stop.step == "insert function"
    assert found.stop.reason == reason


def test_a_missing_handler_blocks_that_event_type(runner: NodeRunner) -> None:
    """"Removing the handler for a specific event type results in blocking the events of
    that type"."""
    identify = {"type": "identify", "userId": "u1", "traits": {"email": "a@b.c"}}
    mapping = {"action": "identifyUser", "enabled": True, "trigger": 'type = "identify"',
               "fields": {}}  # fmt: skip
    lookup = IndexLookup({**_resources(), ("Mapping", "web/mixpanel/people"): mapping}, builtin())
    found = _deliveries(lookup, identify, runner)["web/mixpanel"]
    assert found.stop is not None
    assert found.stop.reason.startswith("insert function scrub does not handle identify events")


def test_a_destination_function_sends_requests_with_secrets_masked(runner: NodeRunner) -> None:
    found = _deliveries(IndexLookup(_resources(), builtin()), ORDER, runner)["web/hook"]
    assert found.delivered
    assert [dict(r) for r in found.requests] == [{
        "url": "https://api.example.com/eu/events", "method": "POST",
        "headers": {"Authorization": f"Bearer {MASK}"},
        "body": json.dumps({"name": "Order Completed"}, separators=(",", ":"))}]


def test_without_node_the_functions_are_not_simulated() -> None:
    found = _deliveries(IndexLookup(_resources(), builtin()), ORDER, None)
    assert found["web/mixpanel"].unsimulated == ("insert function scrub",)
    assert found["web/mixpanel"].payload["properties"]["email"] == "a@b.c"
    assert found["web/hook"].unsimulated == ("destination function send",)


def test_the_impact_of_an_insert_function_change(runner: NodeRunner) -> None:
    """A new version of the insert function that drops every order loses the deliveries and
    silences the mapping."""
    live = _resources()
    planned = _resources(scrub="async function onTrack(event) { throw new DropEvent('no') }")
    samples = [("web", 1, ORDER), ("web", 2, {**ORDER, "properties": {"total": 1}})]
    found = {i.destination: i for i in delivery_impact(live, planned, samples, builtin(), runner)}
    assert set(found) == {"web/mixpanel"}
    assert found["web/mixpanel"].lost == 1  # line 2 matched no trigger on either side
    assert found["web/mixpanel"].lost_example is not None
    assert "dropped by insert function scrub" in found["web/mixpanel"].lost_example.detail


EXAMPLE = Path(__file__).parents[2] / "examples" / "functions"


def test_the_functions_example_as_a_process(tmp_path: Path, runner: NodeRunner) -> None:
    env = base_env(tmp_path, CRM_API_TOKEN="crm-token-9f2", BRAZE_API_KEY="braze-key",
                   PARTNER_SHARED_SECRET="partner-secret")  # fmt: skip
    done = run(["trace", "--source", "web", str(EXAMPLE / "events.jsonl"), "-w", str(EXAMPLE),
                "--no-cache", "-o", "json"], env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert "crm-token-9f2" not in done.stdout
    data = json.loads(done.stdout)
    assert data["not_simulated"] == []
    track, identify = ({d["destination"]: d for d in e["deliveries"]} for e in data["events"])
    assert track["web/braze"]["removed"] == ["properties.email"]
    assert track["web/braze"]["mappings"][0]["payload"]["properties"] == {"plan": "pro"}
    assert track["web/crm"]["stopped"]["step"] == "destination function"
    assert identify["web/crm"]["requests"][0]["headers"]["Authorization"] == f"Bearer {MASK}"
    assert identify["web/crm"]["requests"][0]["url"] == "https://crm.example.com/eu/contacts"


def test_one_commands_functions_share_a_budget_of_time(runner: NodeRunner) -> None:
    """A sample of thousands of events through a function that always times out must not
    hold a CI job for hours: past the budget, calls are refused at once."""
    from seg.sandbox.runtime import Budgeted
    from seg.trace.functions import FunctionCall

    hangs = "async function onTrack(e) { while (true) {} }"
    budgeted = Budgeted(runner, seconds=0.5)
    first = budgeted(FunctionCall("insert", "hang", hangs, ORDER))
    assert first.outcome == "timeout"
    refused = budgeted(FunctionCall("insert", "scrub", SCRUB, ORDER))
    assert refused.outcome == "error" and "budget of 0.5 s" in refused.message
