"""Every mutable field of every kind can be edited alone through `seg apply` (issue 11, item 10).

The list of fields comes from the kind registry, so a new mutable field fails
``test_every_mutable_field_has_an_edit`` until an edit for it is added here. Each case copies
one applied workspace (its embedded control plane included), edits one field of one resource
in the YAML, applies, and checks that the next plan is empty, that the control plane holds the
new value, and that nothing else changed.
"""

from __future__ import annotations

import copy
import shutil
from pathlib import Path

import pytest

from seg.model.paths import get_path
from seg.model.resource import CurrentResource, DesiredResource
from seg.model.secrets import is_digest
from seg.model.values import json_equal, same_items
from seg.workspace.loader import load_workspace
from tests.conftest import Api, run_cli
from tests.integration.patch_workspace import (
    EDITS,
    MUTABLE,
    Doc,
    apply,
    assert_plan_empty,
    base_documents,
    live_state,
    rule,
    write_documents,
)


def _declared_values_match(want: DesiredResource, have: CurrentResource) -> list[str]:
    problems = []
    for name, value in want.fields.items():
        spec = want.kind.field(name)
        live = have.fields.get(name)
        if spec is not None and spec.map_like and isinstance(value, dict) and value:
            for path in want.declared_paths():
                if path in want.secret_paths:  # sealed: a digest stands for it (the next
                    if is_digest(get_path(have.fields, path)):  # plan compares the values)
                        continue
                if not json_equal(get_path(want.fields, path), get_path(have.fields, path)):
                    problems.append(f"{have.address} {'.'.join(path)}: "
                                    f"{get_path(have.fields, path)!r}")  # fmt: skip
        elif (name,) in want.secret_paths and is_digest(live):
            continue  # sealed: a digest stands for it (the next plan compares the values)
        elif spec is not None and spec.unordered:
            if not same_items(value, live):
                problems.append(f"{have.address} {name}: {live!r} (want {value!r})")
        elif not json_equal(value, live):
            problems.append(f"{have.address} {name}: {live!r} (want {value!r})")
    return problems


def assert_holds_declared(root: Path) -> dict[tuple[str, str], CurrentResource]:
    """The control plane holds exactly the declared resources, each declared field (each
    declared key of map fields) with its declared value; returns the live state."""
    desired = {(r.kind.name, r.address): r for r in load_workspace(root, environ={}).resources}
    state = live_state(root)
    extra = [k for k, r in state.items() if k not in desired
             and r.address not in r.kind.system_names]  # fmt: skip
    assert not extra, f"undeclared resources on the control plane: {extra}"
    problems = [f"missing {k}" for k in desired if k not in state]
    for key, want in desired.items():
        if key in state:
            problems += _declared_values_match(want, state[key])
    assert not problems, "\n".join(problems)
    return state


def test_every_mutable_field_has_an_edit() -> None:
    assert sorted(EDITS) == MUTABLE
    for (kind, field), (key, value) in EDITS.items():
        base = base_documents()[key]["spec"]
        assert key[0] == kind and field in base, f"{kind}.{field} is not set in the base"
        assert not json_equal(base[field], value), f"{kind}.{field}: the edit changes nothing"


def _address(doc: Doc) -> str:
    spec = doc["spec"]
    parent = spec.get("source") or spec.get("destination")
    return f"{parent}/{doc['name']}" if parent else str(doc["name"])


@pytest.mark.parametrize(("kind", "field"), MUTABLE, ids=[f"{k}.{f}" for k, f in MUTABLE])
def test_one_field_edited_alone_applies_and_converges(
    kind: str, field: str, applied_base: Path, tmp_path: Path, clean_seg_env: None
) -> None:
    if (kind, field) not in EDITS:
        pytest.fail(f"no edit for the mutable field {kind}.{field}: add one to EDITS")
    key, value = EDITS[(kind, field)]
    root = tmp_path / "ws"
    shutil.copytree(applied_base, root)
    before = live_state(root)
    docs = copy.deepcopy(base_documents())
    docs[key]["spec"][field] = value
    write_documents(root, docs)

    plan = run_cli("plan", "-w", str(root))
    assert plan.exit_code == 0 and "1 to change" in plan.output, plan.output
    apply(root)
    assert_plan_empty(root)
    after = assert_holds_declared(root)

    edited = (kind, _address(docs[key]))
    assert not json_equal(after[edited].fields.get(field), before[edited].fields.get(field))
    assert after.keys() == before.keys()
    for res_key, res in after.items():
        expected = dict(before[res_key].fields)
        if res_key == edited:
            expected[field] = after[edited].fields[field]
        assert res.fields == expected, f"{res_key} changed beyond {kind}.{field}"


def test_tracking_plan_display_name_is_patchable_alone_on_each_store(api: Api) -> None:
    body = {"tracking_plan": {"external_id": "tp", "display_name": "A", "rules": []}}
    made = api.http.post(api.url("/tracking-plans"), json=body)
    assert made.status_code == 200, made.text
    name = made.json()["name"].rsplit("/", 1)[-1]
    patch = {"tracking_plan": {"display_name": "B"},
             "update_mask": {"paths": ["tracking_plan.display_name"]}}  # fmt: skip
    response = api.http.patch(api.url(f"/tracking-plans/{name}"), json=patch)
    assert response.status_code == 200, response.text
    assert response.json()["display_name"] == "B"
    assert response.json()["external_id"] == "tp"


def test_a_rule_inserted_between_two_is_applied_once_and_then_no_change(
    applied_base: Path, tmp_path: Path, clean_seg_env: None
) -> None:
    root = tmp_path / "ws"
    shutil.copytree(applied_base, root)
    docs = base_documents()
    rules = docs[("TrackingPlan", "tp-a")]["spec"]["rules"]
    rules.insert(1, rule("TRACK", "Cart Viewed", schema={"type": "object", "required": ["x"]}))
    write_documents(root, docs)
    plan = run_cli("plan", "-w", str(root))
    assert "rules: 1 added, 0 removed, 0 changed" in plan.output, plan.output
    apply(root)
    plan = run_cli("plan", "-w", str(root), "--detailed-exitcode")
    assert plan.exit_code == 0 and "rules:" not in plan.output, plan.output
    live = live_state(root)[("TrackingPlan", "tp-a")].fields["rules"]
    assert same_items(live, rules) and len(live) == 3
