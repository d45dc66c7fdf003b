"""Convergence of consent categories, as a model-based property (issue 15, item 3), like
tests/integration/test_warehouse_convergence.py: Hypothesis builds categories (ids differing
only by case among them) mapped to destinations, and a few random edits — destinations mapped,
unmapped and reordered, categories disabled, renamed (a new id) and deleted, destinations
deleted together with their mappings and added back — and drift through the API (a display
name, a category disabled). After every apply, through the real control plane (in process,
SQLite):

- the next plan is empty;
- every declared field holds its declared value (mapped destinations in any order), and no
  undeclared category or destination exists.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seg.commands.session import Session, make_plan
from seg.model.values import json_equal, same_items
from seg.server.service import ControlPlane
from tests.conftest import Api
from tests.integration.convergence import converge, temporary_workspace

Doc = dict[str, Any]
# Two amplitude instances, so a category often maps one type's instances in part (a warning).
DESTINATIONS = {"amplitude": "amplitude", "amp-eu": "amplitude", "braze": "braze",
                "google-ads": "google-ads"}  # fmt: skip
CATEGORY_NAMES = ["Ads", "ads", "Analytics", "C0004"]
KINDS = ("ConsentCategory", "Destination")


def category_doc(data: st.DataObject, name: str, present: list[str]) -> Doc:
    mapped = data.draw(st.lists(st.sampled_from(present), unique=True, max_size=3)) if present \
        else []  # fmt: skip
    spec: Doc = {"display_name": data.draw(st.sampled_from([name, "Consent"])),
                 "destinations": [f"shop/{d}" for d in mapped]}  # fmt: skip
    if data.draw(st.booleans()):
        spec["enabled"] = data.draw(st.booleans())
    return {"kind": "ConsentCategory", "name": name, "spec": spec}


def edit(data: st.DataObject, docs: dict[str, Doc], present: list[str]) -> None:
    how = data.draw(st.sampled_from(["map", "reorder", "enabled", "display", "rename", "delete",
                                     "add", "drop-destination", "add-destination"]))  # fmt: skip
    if how == "drop-destination" and present:
        gone = data.draw(st.sampled_from(present))
        present.remove(gone)
        for doc in docs.values():  # one plan: the mappings go, then the destination
            doc["spec"]["destinations"] = [d for d in doc["spec"]["destinations"]
                                           if d != f"shop/{gone}"]  # fmt: skip
        return
    if how == "add-destination":
        missing = [d for d in DESTINATIONS if d not in present]
        if missing:
            present.append(data.draw(st.sampled_from(missing)))
        return
    if how == "add" or not docs:
        free = [n for n in CATEGORY_NAMES if n not in docs]
        if free:
            name = data.draw(st.sampled_from(free))
            docs[name] = category_doc(data, name, present)
        return
    name = data.draw(st.sampled_from(sorted(docs)))
    spec = docs[name]["spec"]
    if how == "map":
        spec["destinations"] = category_doc(data, name, present)["spec"]["destinations"]
    elif how == "reorder":
        spec["destinations"] = list(reversed(spec["destinations"]))
    elif how == "enabled":
        spec["enabled"] = not spec.get("enabled", True)
    elif how == "display":
        spec["display_name"] = spec["display_name"] + "!"
    elif how == "rename":
        new = next((n for n in CATEGORY_NAMES if n not in docs), None)
        if new is not None:
            docs[new] = {**docs.pop(name), "name": new}
    else:
        del docs[name]


def drift(data: st.DataObject, api: Api, docs: dict[str, Doc]) -> None:
    """A write through the API as a UI would: the display name, or the category disabled."""
    name = data.draw(st.sampled_from(sorted(docs)))
    if api.http.get(api.url(f"/consent-categories/{name}")).status_code == 404:
        return  # not created yet (added by this step's edits)
    field, value = data.draw(st.sampled_from([("display_name", "from the UI"),
                                              ("enabled", False)]))  # fmt: skip
    body = {"consent_category": {field: value},
            "update_mask": {"paths": [f"consent_category.{field}"]}}  # fmt: skip
    response = api.http.patch(api.url(f"/consent-categories/{name}"), json=body)
    assert response.status_code == 200, response.text


def check(session: Session) -> None:
    plan = make_plan(session)
    assert not plan.has_changes, [(c.address, c.action, c.field_changes) for c in plan.changes]
    desired = {(r.kind.name, r.address): r for r in session.workspace.resources
               if r.kind.name in KINDS}  # fmt: skip
    live = {(r.kind.name, r.address): r for r in session.client.read_state()
            if r.kind.name in KINDS}  # fmt: skip
    assert live.keys() == desired.keys()
    problems = []
    for key, want in desired.items():
        if key[0] != "ConsentCategory":
            continue
        have = live[key].fields
        for name, value in want.fields.items():
            if name == "destinations":
                if not same_items(value, have.get(name)):
                    problems.append(f"{key} destinations: {have.get(name)} want {value}")
            elif not json_equal(value, have.get(name)):
                problems.append(f"{key} {name}: {have.get(name)!r} want {value!r}")
    assert not problems, "\n".join(problems)


def write(root: Path, docs: dict[str, Doc], present: list[str]) -> None:
    shop = {"kind": "Source", "name": "shop", "spec": {"catalog": "javascript"}}
    destinations = [{"kind": "Destination", "name": d,
                     "spec": {"source": "shop", "catalog": DESTINATIONS[d]}}
                    for d in present]  # fmt: skip
    (root / "resources.yaml").write_text(
        yaml.safe_dump_all([shop, *destinations, *docs.values()], sort_keys=False),
        encoding="utf-8",
    )


@settings(
    max_examples=20,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_apply_converges_to_exactly_the_yaml(
    data: st.DataObject, control_plane: ControlPlane
) -> None:
    with temporary_workspace(control_plane, "c") as (root, api, client):
        present = list(DESTINATIONS)
        docs = {"Ads": category_doc(data, "Ads", present)}
        for step in range(data.draw(st.integers(1, 3), label="edits") + 1):
            if step:
                for _ in range(data.draw(st.integers(1, 3))):
                    edit(data, docs, present)
                if docs and data.draw(st.booleans(), label="drift"):
                    drift(data, api, docs)
            write(root, copy.deepcopy(docs), present)
            converge(root, client, check)
