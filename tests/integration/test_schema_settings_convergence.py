"""Convergence of source schema settings, as a model-based property (issue 15, item 1), like
tests/integration/test_warehouse_convergence.py: Hypothesis builds a source's schema settings
(flags, common actions in the docs' spellings, forwarding targets, the block list; with or
without one of two tracking plans) and random edits — forwarding keys removed, calls reset,
the whole block dropped, the plan switched or disconnected — and drift through the API (a
forwarding target, a flag, a blocked event the YAML never declared), starting from a source
made through the API and adopted. After every apply, through the real control plane (in
process, SQLite):

- the next plan is empty;
- the control plane holds exactly the declared schema settings, canonical and complete (the
  defaults where the YAML declares nothing; nothing left behind of the drift or of keys the
  YAML stopped declaring).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seg.commands.session import Session, make_plan
from seg.kinds.source import DEFAULT_SCHEMA_SETTINGS, normalize
from seg.server.service import ControlPlane
from tests.conftest import Api
from tests.integration.convergence import converge, temporary_workspace

Doc = dict[str, Any]
PLANS = ["tp-a", "tp-b"]
TARGETS = ["q1", "q2"]
TRACK = ["allow_unplanned_events", "allow_unplanned_event_properties",
         "allow_event_on_violations", "allow_properties_on_violations"]  # fmt: skip
TRAITS = ["allow_unplanned_traits", "allow_traits_on_violations"]
SPELLINGS = {
    "track": ["ALLOW", "allow", "Block", "Block Event", "block-event", "Omit", "OMIT_PROPERTIES",
              "Omit Properties"],
    "identify": ["ALLOW", "BLOCK", "Block Event", "omit", "Omit Traits", "OMIT_PROPERTIES"],
}  # fmt: skip
SPELLINGS["group"] = SPELLINGS["identify"]
EVENTS = st.lists(st.sampled_from(["Test Event", "Debug", "Order Completed", "ping"]),
                  max_size=4)  # fmt: skip


def call(data: st.DataObject, name: str) -> Doc:
    flags = TRACK if name == "track" else TRAITS
    out: Doc = {f: data.draw(st.booleans()) for f in flags if data.draw(st.booleans())}
    if data.draw(st.booleans()):
        out["common_event_on_violations"] = data.draw(st.sampled_from(SPELLINGS[name]))
    return out


def schema_settings(data: st.DataObject, planned: bool) -> Doc:
    """Settings the rules accept: enforcing ones with a plan, a block list without."""
    if not planned:
        return {"blocked_events": data.draw(EVENTS)} if data.draw(st.booleans()) else {}
    out: Doc = {name: call(data, name) for name in ("track", "identify", "group")
                if data.draw(st.booleans())}  # fmt: skip
    for key in ("forwarding_blocked_events_to", "forwarding_violations_to"):
        if data.draw(st.booleans()):
            out[key] = data.draw(st.sampled_from(TARGETS))
    return out


def shop_doc(data: st.DataObject, planned: bool = False) -> Doc:
    plan = data.draw(st.sampled_from(PLANS if planned else [None, *PLANS]))
    spec: Doc = {"catalog": "javascript"}
    if plan:
        spec["tracking_plan"] = plan
    chosen = schema_settings(data, plan is not None)
    if chosen or data.draw(st.booleans()):
        spec["schema_settings"] = chosen
    return {"kind": "Source", "name": "shop", "spec": spec}


def edit(data: st.DataObject, doc: Doc) -> None:
    spec = doc["spec"]
    chosen = spec.get("schema_settings", {})
    how = data.draw(st.sampled_from(["forwarding", "reset", "drop", "plan", "redraw"]))
    if how == "forwarding":  # remove a forwarding key (absent = disabled)
        for key in ("forwarding_blocked_events_to", "forwarding_violations_to"):
            chosen.pop(key, None)
    elif how == "reset" and chosen:  # a call back to its defaults by leaving it out
        chosen.pop(data.draw(st.sampled_from(sorted(chosen))), None)
    elif how == "drop":
        spec.pop("schema_settings", None)
    elif how == "plan":  # switch, connect or disconnect; settings that fit the new state
        plan = data.draw(st.sampled_from([None, *PLANS]))
        spec.pop("tracking_plan", None)
        if plan:
            spec["tracking_plan"] = plan
        spec["schema_settings"] = schema_settings(data, plan is not None)
    else:
        doc.update(shop_doc(data))


def drift(data: st.DataObject, api: Api) -> None:
    """A write through the API as the UI would: one the rules accept on the live source."""
    live = api.http.get(api.url("/sources/shop"))
    if live.status_code == 404:
        return
    if live.json().get("tracking_plan"):
        path, value = data.draw(st.sampled_from([
            ("forwarding_violations_to", "q2"), ("forwarding_blocked_events_to", "q1"),
            ("track.allow_unplanned_events", False), ("group.common_event_on_violations", "Omit"),
        ]))  # fmt: skip
    else:
        path, value = "blocked_events", ["Drift Event"]
    body: Doc = {}
    cursor = body.setdefault("schema_settings", {})
    *head, last = path.split(".")
    for key in head:
        cursor = cursor.setdefault(key, {})
    cursor[last] = value
    response = api.http.patch(api.url("/sources/shop"), json={
        "source": body, "update_mask": {"paths": [f"source.schema_settings.{path}"]}})  # fmt: skip
    assert response.status_code == 200, response.text


def adopt_from_nobody(data: st.DataObject, api: Api) -> bool:
    """The shop made through the API first (no manager), with settings of its own; whether
    it is connected to a plan (the first YAML then declares one: an undeclared field of an
    adopted resource is left alone, and blocked events beside the live plan are refused)."""
    planned = data.draw(st.booleans(), label="adopted with a plan")
    fields: Doc = {"catalog": "javascript", "schema_settings": schema_settings(data, planned)}
    if planned:
        made = api.http.post(
            api.url("/tracking-plans"), json={"tracking_plan": {"external_id": "tp-a", "rules": []}}
        )
        assert made.status_code == 200, made.text
        fields["tracking_plan"] = made.json()["name"]
    for target in TARGETS:
        body = {"name": f"workspaces/{api.workspace}/sources/{target}", "catalog": "http-api"}
        assert api.http.post(api.url("/sources"), json={"source": body}).status_code == 200
    body = {"name": f"workspaces/{api.workspace}/sources/shop", **fields}
    response = api.http.post(api.url("/sources"), json={"source": body})
    assert response.status_code == 200, response.text
    return planned


def write(root: Path, doc: Doc) -> None:
    plans = [{"kind": "TrackingPlan", "name": p, "spec": {"rules": []}} for p in PLANS]
    targets = [{"kind": "Source", "name": t, "spec": {"catalog": "http-api"}} for t in TARGETS]
    (root / "resources.yaml").write_text(
        yaml.safe_dump_all([*plans, *targets, doc], sort_keys=False), encoding="utf-8"
    )


def check(session: Session, doc: Doc) -> None:
    plan = make_plan(session)
    assert not plan.has_changes, [(c.address, c.action, c.field_changes) for c in plan.changes]
    (live,) = [r for r in session.client.read_state() if r.address == "shop"]
    declared = doc["spec"].get("schema_settings")
    want = DEFAULT_SCHEMA_SETTINGS if declared is None else normalize(
        {"schema_settings": copy.deepcopy(declared)})["schema_settings"]  # fmt: skip
    assert live.fields["schema_settings"] == want
    assert bool(live.fields.get("tracking_plan")) == ("tracking_plan" in doc["spec"])


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_apply_converges_to_exactly_the_declared_schema_settings(
    data: st.DataObject, control_plane: ControlPlane
) -> None:  # fmt: skip
    with temporary_workspace(control_plane, "s") as (root, api, client):
        planned = data.draw(st.booleans(), label="adopt") and adopt_from_nobody(data, api)
        doc = shop_doc(data, planned)
        for step in range(data.draw(st.integers(1, 3), label="edits") + 1):
            if step:
                for _ in range(data.draw(st.integers(1, 2))):
                    edit(data, doc)
                if data.draw(st.booleans(), label="drift"):
                    drift(data, api)
            write(root, copy.deepcopy(doc))
            converge(root, client, lambda session: check(session, doc))
