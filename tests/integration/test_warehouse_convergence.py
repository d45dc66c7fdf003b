"""Convergence of warehouses, as a model-based property (issue 14, part W), like
tests/integration/test_convergence_property.py: Hypothesis builds warehouses and a few random
edits — connected sources added, removed and reordered, selective sync turned off and back on
at every level, schedules switched between an interval and start times or dropped, settings
changed, warehouses renamed and deleted — and drift through the API (a selective-sync key the
YAML never declared, a display name). After every apply, through the real control plane (in
process, SQLite):

- the next plan is empty;
- every declared field holds its declared value (connected sources in any order; each
  declared key of settings and selective sync), and no undeclared warehouse exists;
- nothing the YAML stopped declaring is left behind: selective sync holds only declared keys
  and the drift's, and a schedule no longer declared is gone.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seg.commands.session import Session, make_plan
from seg.model.paths import format_path, get_path
from seg.model.values import json_equal, same_items
from seg.server.service import ControlPlane
from tests.conftest import Api
from tests.integration.convergence import converge, temporary_workspace

Doc = dict[str, Any]
SOURCE_NAMES = ["s1", "s2", "s3"]
WAREHOUSE_NAMES = ["w1", "w2"]
SETTINGS = {"account": "a", "database": "d", "warehouse": "w", "user": "u", "password": "p"}
SCHEDULES = st.sampled_from([None, {"every": "1h"}, {"every": "24h"},
                             {"start_times": ["01:00", "13:30"], "timezone": "UTC"},
                             {"start_times": ["06:00"]}])  # fmt: skip
PROPS = st.dictionaries(st.sampled_from(["email", "url", "plan"]), st.booleans(), max_size=2)
COLLECTION = st.fixed_dictionaries({}, optional={"enabled": st.booleans(), "properties": PROPS})
PER_SOURCE = st.fixed_dictionaries({}, optional={
    "enabled": st.booleans(),
    "collections": st.dictionaries(st.sampled_from(["page", "order", "signup"]), COLLECTION,
                                   max_size=2),
})  # fmt: skip


def selective(data: st.DataObject, connected: list[str]) -> Doc:
    chosen = data.draw(st.lists(st.sampled_from(connected), unique=True)) if connected else []
    return {name: data.draw(PER_SOURCE) for name in chosen}


def warehouse_doc(data: st.DataObject, name: str) -> Doc:
    connected = data.draw(st.lists(st.sampled_from(SOURCE_NAMES), unique=True, max_size=3))
    spec: Doc = {"catalog": "snowflake", "settings": dict(SETTINGS), "sources": connected}
    if data.draw(st.booleans()):
        spec["display_name"] = data.draw(st.sampled_from(["A", "B"]))
    if data.draw(st.booleans()):
        spec["enabled"] = data.draw(st.booleans())
    schedule = data.draw(SCHEDULES)
    if schedule is not None:
        spec["sync_schedule"] = schedule
    if data.draw(st.booleans()):
        spec["selective_sync"] = selective(data, connected)
    return {"kind": "Warehouse", "name": name, "spec": spec}


def edit(data: st.DataObject, docs: dict[str, Doc]) -> None:
    how = data.draw(st.sampled_from(["sources", "selective", "schedule", "settings", "rename",
                                     "delete", "add", "reorder"]))  # fmt: skip
    if how == "add" or not docs:
        free = [n for n in WAREHOUSE_NAMES if n not in docs]
        if free:
            name = data.draw(st.sampled_from(free))
            docs[name] = warehouse_doc(data, name)
        return
    name = data.draw(st.sampled_from(sorted(docs)))
    spec = docs[name]["spec"]
    if how == "sources":
        spec["sources"] = data.draw(st.lists(st.sampled_from(SOURCE_NAMES), unique=True))
        sync = spec.get("selective_sync") or {}
        spec["selective_sync"] = {k: v for k, v in sync.items() if k in spec["sources"]}
    elif how == "reorder":
        spec["sources"] = list(reversed(spec["sources"]))
    elif how == "selective":
        spec["selective_sync"] = selective(data, spec["sources"])
        if data.draw(st.booleans()):
            del spec["selective_sync"]
    elif how == "schedule":
        schedule = data.draw(SCHEDULES)
        spec.pop("sync_schedule", None)
        if schedule is not None:
            spec["sync_schedule"] = schedule
    elif how == "settings":
        spec["settings"]["database"] = data.draw(st.sampled_from(["d", "e", "f"]))
    elif how == "rename":
        new = next((n for n in WAREHOUSE_NAMES if n not in docs), None)
        if new is not None:
            docs[new] = {**docs.pop(name), "name": new}
    else:
        del docs[name]


def drift(data: st.DataObject, api: Api, docs: dict[str, Doc], ui: dict[str, set[str]]) -> None:
    """A write through the API as a UI would: a selective-sync key for a connected source
    the YAML does not declare (unmanaged: recorded in ``ui``), or the display name."""
    name = data.draw(st.sampled_from(sorted(docs)))
    spec = docs[name]["spec"]
    current = api.http.get(api.url(f"/warehouses/{name}"))
    if current.status_code == 404:
        return  # not created yet (added by this step's edits)
    live = current.json()  # the YAML's edits of this step are not applied yet
    declared = spec.get("selective_sync") or {}
    free = [s for s in live["sources"] if s in spec["sources"] and s not in declared
            and s not in live["selective_sync"]]  # fmt: skip
    if free and data.draw(st.booleans()):
        source = data.draw(st.sampled_from(free))
        body: Doc = {"warehouse": {"selective_sync": {source: {"enabled": False}}},
                     "update_mask": {"paths": [f"warehouse.selective_sync.{source}"]}}  # fmt: skip
        ui.setdefault(name, set()).add(source)
    else:
        body = {"warehouse": {"display_name": "from the UI"},
                "update_mask": {"paths": ["warehouse.display_name"]}}  # fmt: skip
    response = api.http.patch(api.url(f"/warehouses/{name}"), json=body)
    assert response.status_code == 200, response.text


def _leaves(value: Any, prefix: tuple[str, ...]) -> list[tuple[str, ...]]:
    if not isinstance(value, dict) or (not value and len(prefix) > 1):
        return [prefix]
    return [p for k, v in value.items() for p in _leaves(v, (*prefix, k))]


def check(session: Session, ui: dict[str, set[str]], ever: dict[str, set[str]]) -> None:
    plan = make_plan(session)
    assert not plan.has_changes, [(c.address, c.action, c.field_changes) for c in plan.changes]
    desired = {r.address: r for r in session.workspace.resources if r.kind.name == "Warehouse"}
    live = {r.address: r for r in session.client.read_state() if r.kind.name == "Warehouse"}
    assert live.keys() == desired.keys()
    problems = []
    for address, want in desired.items():
        have = live[address].fields
        declared = want.declared_paths()
        for name, value in want.fields.items():
            if name in ("settings", "selective_sync") and value:
                problems += [f"{address} {format_path(p)}" for p in declared if p[0] == name
                             and p not in want.secret_paths  # sealed: the plan compared it
                             and not json_equal(get_path(want.fields, p), get_path(have, p))]
            elif name == "sources":
                if not same_items(value, have.get(name)):
                    problems.append(f"{address} sources: {have.get(name)} want {value}")
            elif not json_equal(value, have.get(name)):
                problems.append(f"{address} {name}: {have.get(name)!r} want {value!r}")
        left = [p for p in _leaves(have.get("selective_sync") or {}, ("selective_sync",))
                if not any(p[: len(d)] == d for d in declared)
                and p[1] not in ui.get(address, set())]  # fmt: skip
        problems += [f"{address} {format_path(p)} left behind" for p in left]
        if "sync_schedule" in ever.get(address, set()) and "sync_schedule" not in want.fields:
            if have.get("sync_schedule") not in (None, {}):
                problems.append(f"{address} sync_schedule left behind")
    assert not problems, "\n".join(problems)


def write(root: Path, docs: dict[str, Doc]) -> None:
    sources = [{"kind": "Source", "name": n, "spec": {"catalog": "javascript"}}
               for n in SOURCE_NAMES]  # fmt: skip
    (root / "resources.yaml").write_text(
        yaml.safe_dump_all([*sources, *docs.values()], sort_keys=False), encoding="utf-8"
    )


@settings(max_examples=12, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_every_apply_converges_to_exactly_the_yaml(data: st.DataObject,
                                                   control_plane: ControlPlane) -> None:
    with temporary_workspace(control_plane, "w", "plan_tier: business\n") as (root, api, client):
        ui: dict[str, set[str]] = {}
        ever: dict[str, set[str]] = {}
        docs = {"w1": warehouse_doc(data, "w1")}
        for step in range(data.draw(st.integers(1, 3), label="edits") + 1):
            if step:
                for _ in range(data.draw(st.integers(1, 3))):
                    edit(data, docs)
                if docs and data.draw(st.booleans(), label="drift"):
                    drift(data, api, docs, ui)
            for name in [n for n in ui if n not in docs]:
                del ui[name]
            for name in [n for n in ever if n not in docs]:
                del ever[name]
            write(root, copy.deepcopy(docs))
            converge(root, client, lambda session: check(session, ui, ever))
            for name, doc in docs.items():
                ever.setdefault(name, set()).update(doc["spec"])
