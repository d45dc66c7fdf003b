"""Convergence of transformations, as a model-based property (issue 15, item 2), like
tests/integration/test_warehouse_convergence.py: Hypothesis builds transformations of every type
on one source with two cloud-mode destinations and a few random edits — renames, value
transforms and the FQL-defined property changed, display names and enabled flipped, optional
fields dropped, scopes set, switched and dropped (replacements), events changed (replacements),
transformations renamed, deleted and added — and drift through the API (a display name). After
every apply, through the real control plane (in process, SQLite):

- the next plan is empty;
- every declared field holds its declared value, defaults hold where nothing is declared, and
  no undeclared transformation exists.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seg.commands.session import Session, make_plan
from seg.model.values import json_equal
from seg.server.service import ControlPlane
from tests.conftest import Api
from tests.integration.convergence import converge, temporary_workspace

Doc = dict[str, Any]
NAMES = ["t1", "t2", "t3"]
DESTINATIONS = ["amplitude", "braze"]
# Each name keeps one event per type so two transformations never share source, type, event and
# scope, and the property names are per name, so they never conflict.
EVENTS = ["Order Completed", "Product Viewed"]
KEYS = st.sampled_from(["a", "b.c", "d\\.e", "f.g.h.i"])


def _paths(name: str) -> st.SearchStrategy[list[str]]:
    return st.lists(KEYS.map(lambda k: f"{name}_{k}"), min_size=1, max_size=3, unique=True)


def body(data: st.DataObject, name: str, kind: str) -> Doc:
    """The type-specific fields of a transformation of type ``kind``."""
    if kind == "rename_event":
        return {"new_event_name": data.draw(st.sampled_from(["Renamed", "Placed", "Done"]))}
    if kind in ("rename_properties", "rename_traits"):
        froms = data.draw(_paths(name))
        return {"property_renames": [{"from": f, "to": f"{f}_new"} for f in froms]}
    if kind == "transform_values":
        return {"value_transforms": [{"paths": data.draw(_paths(name)),
                                      "value": data.draw(st.sampled_from(["x", "", "$y"]))}]}
    function = data.draw(st.sampled_from(["lowercase", "uppercase", "titlecase"]))
    return {"fql_defined_properties": [{"property": f"properties.{name}_p",
                                        "fql": f"{function}(properties.{name}_q)"}]}  # fmt: skip


def doc(data: st.DataObject, name: str) -> Doc:
    kind = data.draw(st.sampled_from(["rename_event", "rename_properties", "rename_traits",
                                      "transform_values", "fql_defined_properties"]))  # fmt: skip
    event = data.draw(st.sampled_from(["identify", "group"] if kind == "rename_traits"
                                      else EVENTS))  # fmt: skip
    spec: Doc = {"source": "shop", "type": kind, "event": event, **body(data, name, kind)}
    scope = data.draw(st.sampled_from([None, *DESTINATIONS]))
    if scope is not None:
        spec["destination"] = scope
    if data.draw(st.booleans()):
        spec["display_name"] = data.draw(st.sampled_from(["A", "B → C"]))
    if data.draw(st.booleans()):
        spec["enabled"] = data.draw(st.booleans())
    return {"kind": "Transformation", "name": name, "spec": spec}


def unique(docs: dict[str, Doc]) -> bool:
    """No two share source, type, event and scope (INV-TR-1)."""
    seen = set()
    for d in docs.values():
        s = d["spec"]
        key = (s["type"], s["event"], s.get("destination"))
        if key in seen:
            return False
        seen.add(key)
    return True


def edit(data: st.DataObject, docs: dict[str, Doc]) -> None:
    how = data.draw(st.sampled_from(["body", "display", "enabled", "scope", "event", "rename",
                                     "delete", "add"]))  # fmt: skip
    if how == "add" or not docs:
        free = [n for n in NAMES if n not in docs]
        if free:
            name = data.draw(st.sampled_from(free))
            docs[name] = doc(data, name)
        return
    name = data.draw(st.sampled_from(sorted(docs)))
    spec = docs[name]["spec"]
    if how == "body":
        spec.update(body(data, name, spec["type"]))
    elif how == "display":
        if "display_name" in spec and data.draw(st.booleans()):
            del spec["display_name"]
        else:
            spec["display_name"] = data.draw(st.sampled_from(["A", "Z"]))
    elif how == "enabled":
        spec["enabled"] = not spec.get("enabled", True)
    elif how == "scope":
        spec.pop("destination", None)
        scope = data.draw(st.sampled_from([None, *DESTINATIONS]))
        if scope is not None:
            spec["destination"] = scope
    elif how == "event":
        choices = ["identify", "group"] if spec["type"] == "rename_traits" else EVENTS
        spec["event"] = data.draw(st.sampled_from(choices))
    elif how == "rename":
        new = next((n for n in NAMES if n not in docs), None)
        if new is not None:
            docs[new] = {**docs.pop(name), "name": new}
            docs[new]["spec"].update(body(data, new, docs[new]["spec"]["type"]))
    else:
        del docs[name]


def drift(data: st.DataObject, api: Api, docs: dict[str, Doc]) -> None:
    """A display name written through the API, as a UI would."""
    name = data.draw(st.sampled_from(sorted(docs)))
    path = api.url(f"/sources/shop/transformations/{name}")
    if api.http.get(path).status_code == 404:
        return  # not created yet (added by this step's edits)
    body = {"transformation": {"display_name": "from the UI"},
            "update_mask": {"paths": ["transformation.display_name"]}}  # fmt: skip
    response = api.http.patch(path, json=body)
    assert response.status_code == 200, response.text


def check(session: Session) -> None:
    plan = make_plan(session)
    assert not plan.has_changes, [(c.address, c.action, c.field_changes) for c in plan.changes]
    desired = {r.address: r for r in session.workspace.resources
               if r.kind.name == "Transformation"}  # fmt: skip
    live = {r.address: r for r in session.client.read_state()
            if r.kind.name == "Transformation"}  # fmt: skip
    assert live.keys() == desired.keys()
    problems = []
    for address, want in desired.items():
        have = live[address].fields
        for name, value in want.fields.items():
            if not json_equal(value, have.get(name)):
                problems.append(f"{address} {name}: {have.get(name)!r} want {value!r}")
        if "destination" not in want.fields and have.get("destination"):
            problems.append(f"{address} destination left behind: {have['destination']}")
    assert not problems, "\n".join(problems)


def write(root: Path, docs: dict[str, Doc]) -> None:
    base: list[Doc] = [{"kind": "Source", "name": "shop", "spec": {"catalog": "javascript"}}]
    base += [{"kind": "Destination", "name": name, "spec": {"source": "shop", "catalog": name}}
             for name in DESTINATIONS]  # fmt: skip
    (root / "resources.yaml").write_text(
        yaml.safe_dump_all([*base, *docs.values()], sort_keys=False, allow_unicode=True),
        encoding="utf-8",
    )


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_every_apply_converges_to_exactly_the_yaml(data: st.DataObject,
                                                   control_plane: ControlPlane) -> None:
    with temporary_workspace(control_plane, "t") as (root, api, client):
        docs = {"t1": doc(data, "t1")}
        for step in range(data.draw(st.integers(1, 3), label="edits") + 1):
            if step:
                for _ in range(data.draw(st.integers(1, 3))):
                    candidate = copy.deepcopy(docs)
                    edit(data, candidate)
                    if unique(candidate):
                        docs = candidate
                if docs and data.draw(st.booleans(), label="drift"):
                    drift(data, api, docs)
            write(root, copy.deepcopy(docs))
            converge(root, client, check)
