"""Convergence of alerts, as a model-based property (issue 15, item 4), like
tests/integration/test_warehouse_convergence.py: Hypothesis builds alerts on one source and a
few random edits — thresholds, channels (reordered, Slack added with its webhook and removed
with it), the webhook rotated, enabled, the type or the watched destination switched (a
replace), a watched destination removed together with the switch of its alerts, alerts
renamed and deleted. After every apply, through the real control plane (in process, SQLite):

- the next plan is empty;
- every declared field holds its declared value (channels in any order; the webhook sealed),
  and no undeclared alert exists;
- nothing the YAML stopped declaring is left behind (a webhook or destination no longer
  declared is gone).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seg.commands.session import Session, make_plan
from seg.model.secrets import is_digest
from seg.model.values import json_equal, same_items
from seg.server.service import ControlPlane
from tests.integration.convergence import converge, temporary_workspace

Doc = dict[str, Any]
ALERT_NAMES = ["a1", "a2", "a3"]
DESTINATIONS = ["d1", "d2"]
HOOKS = {"HOOK_A": "https://hooks.slack.com/services/T0/B0/aaa",
         "HOOK_B": "https://hooks.slack.com/services/T0/B0/bbb"}  # fmt: skip
BASE_CHANNELS = st.lists(st.sampled_from(["in_app", "email"]), min_size=1, max_size=3)


def channels(data: st.DataObject, spec: Doc) -> None:
    """Channels, with Slack and its webhook together or neither."""
    chosen = data.draw(BASE_CHANNELS)
    spec.pop("slack_webhook_url", None)
    if data.draw(st.booleans()):
        chosen.append("slack")
        spec["slack_webhook_url"] = "${env:" + data.draw(st.sampled_from(sorted(HOOKS))) + "}"
    spec["channels"] = data.draw(st.permutations(chosen))


def alert_doc(data: st.DataObject, name: str, destinations: list[str]) -> Doc:
    rate = bool(destinations) and data.draw(st.booleans())
    spec: Doc = {"source": "s1", "type": "delivery_rate" if rate else "source_volume"}
    if rate:
        spec["destination"] = data.draw(st.sampled_from(destinations))
    top = 100 if rate else 1000
    spec["threshold_percent"] = data.draw(st.sampled_from([1, 50, 99.5, top]))
    if data.draw(st.booleans()):
        channels(data, spec)
    if data.draw(st.booleans()):
        spec["enabled"] = data.draw(st.booleans())
    return {"kind": "Alert", "name": name, "spec": spec}


def edit(data: st.DataObject, docs: dict[str, Doc], destinations: list[str]) -> None:
    how = data.draw(st.sampled_from(["threshold", "channels", "reorder", "hook", "enabled",
                                     "type", "destination", "drop-destination", "rename",
                                     "delete", "add"]))  # fmt: skip
    if how == "add" or not docs:
        free = [n for n in ALERT_NAMES if n not in docs]
        if free:
            name = data.draw(st.sampled_from(free))
            docs[name] = alert_doc(data, name, destinations)
        return
    if how == "drop-destination" and len(destinations) > 1:
        gone = data.draw(st.sampled_from(destinations))
        destinations.remove(gone)
        for doc in docs.values():  # its alerts move to another destination in the same plan
            if doc["spec"].get("destination") == gone:
                doc["spec"]["destination"] = destinations[0]
        return
    name = data.draw(st.sampled_from(sorted(docs)))
    spec = docs[name]["spec"]
    if how == "threshold":
        spec["threshold_percent"] = data.draw(st.sampled_from([2, 25, 75]))
    elif how == "channels":
        channels(data, spec)
    elif how == "reorder" and "channels" in spec:
        spec["channels"] = list(reversed(spec["channels"]))
    elif how == "hook" and "slack_webhook_url" in spec:
        spec["slack_webhook_url"] = "${env:" + data.draw(st.sampled_from(sorted(HOOKS))) + "}"
    elif how == "enabled":
        spec["enabled"] = not spec.get("enabled", True)
    elif how == "type":
        docs[name] = alert_doc(data, name, destinations)
    elif how == "destination" and "destination" in spec:
        spec["destination"] = data.draw(st.sampled_from(destinations))
    elif how == "rename":
        new = next((n for n in ALERT_NAMES if n not in docs), None)
        if new is not None:
            docs[new] = {**docs.pop(name), "name": new}
    elif how == "delete":
        del docs[name]


def check(session: Session) -> None:
    plan = make_plan(session)
    assert not plan.has_changes, [(c.address, c.action, c.field_changes) for c in plan.changes]
    desired = {r.address: r for r in session.workspace.resources if r.kind.name == "Alert"}
    live = {r.address: r for r in session.client.read_state() if r.kind.name == "Alert"}
    assert live.keys() == desired.keys()
    problems = []
    for address, want in desired.items():
        have = live[address].fields
        for name, value in want.fields.items():
            if name == "slack_webhook_url":
                if not is_digest(have.get(name)):
                    problems.append(f"{address} webhook not sealed")
            elif name == "channels":
                if not same_items(value, have.get(name)):
                    problems.append(f"{address} channels: {have.get(name)} want {value}")
            elif not json_equal(value, have.get(name)):
                problems.append(f"{address} {name}: {have.get(name)!r} want {value!r}")
        for optional in ("slack_webhook_url", "destination"):
            if optional not in want.fields and have.get(optional) not in (None, ""):
                problems.append(f"{address} {optional} left behind")
    assert not problems, "\n".join(problems)


def write(root: Path, docs: dict[str, Doc], destinations: list[str]) -> None:
    base: list[Doc] = [{"kind": "Source", "name": "s1", "spec": {"catalog": "javascript"}}]
    base += [{"kind": "Destination", "name": d, "spec": {"source": "s1", "catalog": "webhook"}}
             for d in destinations]  # fmt: skip
    (root / "resources.yaml").write_text(
        yaml.safe_dump_all([*base, *docs.values()], sort_keys=False), encoding="utf-8"
    )


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_every_apply_converges_to_exactly_the_yaml(data: st.DataObject,
                                                   control_plane: ControlPlane) -> None:
    with temporary_workspace(control_plane, "a") as (root, _, client):
        destinations = list(DESTINATIONS)
        docs = {"a1": alert_doc(data, "a1", destinations)}
        for step in range(data.draw(st.integers(1, 3), label="edits") + 1):
            if step:
                for _ in range(data.draw(st.integers(1, 3))):
                    edit(data, docs, destinations)
            write(root, copy.deepcopy(docs), destinations)
            converge(root, client, check, environ=HOOKS)
