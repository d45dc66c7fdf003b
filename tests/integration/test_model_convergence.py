"""Convergence of Reverse ETL models, query or dbt model (issue 16, item 5), as a model-based
property like tests/integration/test_warehouse_convergence.py: Hypothesis builds models that
read a query or a dbt model of a small dbt project seg.yaml names, and edits them — switched
between a query and a dbt model and back, relinked to another dbt model, dbt_project given or
left out, query and description changed, models added and deleted — with drift through the API
as a UI would (a model switched to a query of its own; a description). After every apply,
through the real control plane (in process, SQLite):

- the next plan is empty;
- each model's query, dbt_model and dbt_project on the server are exactly the YAML's: the side
  the YAML does not declare is gone (a query left behind by a switch to a dbt model, or a
  link left behind by a switch to a query, would make the two disagree);
- no undeclared model exists.

The mapping on the models is disabled: a model in use cannot change its source of rows at all
(tests/integration/test_dbt_models.py covers that).
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seg.commands.session import Session, make_plan
from seg.server.service import ControlPlane
from tests.conftest import Api
from tests.helpers import WAREHOUSE_SETTINGS
from tests.integration.convergence import converge, temporary_workspace

Doc = dict[str, Any]
MODEL_NAMES = ["m1", "m2", "m3"]
DBT_MODELS = {  # the dbt project's models: each returns user_id and email
    "users": "select id as user_id, email, plan from {{ source('app', 'users') }}\n",
    "buyers": "{{ config(materialized='table') }}\nselect * from {{ ref('users') }}\n",
    "emails": "select user_id, email from {{ ref('users') }} where email is not null\n",
}
QUERIES = st.sampled_from(["SELECT id AS user_id, email FROM app.users",
                           "SELECT id AS user_id, email, plan FROM app.users WHERE active",
                           "SELECT user_id, email FROM analytics.buyers"])  # fmt: skip
LINKED = ("query", "dbt_model", "dbt_project")


def source_of_rows(data: st.DataObject) -> Doc:
    if data.draw(st.booleans(), label="dbt"):
        spec: Doc = {"dbt_model": data.draw(st.sampled_from(sorted(DBT_MODELS)))}
        if data.draw(st.booleans(), label="dbt_project"):
            spec["dbt_project"] = "analytics"
        return spec
    return {"query": data.draw(QUERIES)}


def model_doc(data: st.DataObject, name: str) -> Doc:
    spec: Doc = {"source": "wh", **source_of_rows(data), "identifier_column": "user_id"}
    if data.draw(st.booleans()):
        spec["description"] = data.draw(st.sampled_from(["A", "B"]))
    return {"kind": "Model", "name": name, "spec": spec}


def edit(data: st.DataObject, docs: dict[str, Doc]) -> None:
    how = data.draw(st.sampled_from(["switch", "relink", "project", "query", "description",
                                     "delete", "add"]))  # fmt: skip
    if how == "add" or not docs:
        free = [n for n in MODEL_NAMES if n not in docs]
        if free:
            name = data.draw(st.sampled_from(free))
            docs[name] = model_doc(data, name)
        return
    name = data.draw(st.sampled_from(sorted(docs)))
    spec = docs[name]["spec"]
    if how == "switch":
        for key in LINKED:
            spec.pop(key, None)
        spec.update(source_of_rows(data))
    elif how == "relink" and "dbt_model" in spec:
        spec["dbt_model"] = data.draw(st.sampled_from(sorted(DBT_MODELS)))
    elif how == "project" and "dbt_model" in spec:
        if spec.pop("dbt_project", None) is None:
            spec["dbt_project"] = "analytics"
    elif how == "query" and "query" in spec:
        spec["query"] = data.draw(QUERIES)
    elif how == "description":
        spec["description"] = data.draw(st.sampled_from(["A", "B", "C"]))
    elif how == "delete":
        del docs[name]


def drift(data: st.DataObject, api: Api, docs: dict[str, Doc]) -> None:
    """A write through the API as a UI would: the model switched to a query of its own (its
    link cleared), or its description."""
    name = data.draw(st.sampled_from(sorted(docs)))
    url = api.url(f"/sources/wh/models/{name}")
    if api.http.get(url).status_code == 404:
        return  # not created yet (added by this step's edits)
    if data.draw(st.booleans(), label="to a query"):
        body: Doc = {"model": {"query": "SELECT id AS user_id, email FROM ui.users"},
                     "update_mask": {"paths": ["model.query", "model.dbt_model",
                                               "model.dbt_project"]}}  # fmt: skip
    else:
        body = {"model": {"description": "from the UI"},
                "update_mask": {"paths": ["model.description"]}}  # fmt: skip
    response = api.http.patch(url, json=body)
    assert response.status_code == 200, response.text


def check(session: Session) -> None:
    plan = make_plan(session)
    assert not plan.has_changes, [(c.address, c.action, c.field_changes) for c in plan.changes]
    desired = {r.address: r for r in session.workspace.resources if r.kind.name == "Model"}
    live = {r.address: r for r in session.client.read_state() if r.kind.name == "Model"}
    assert live.keys() == desired.keys()
    problems = []
    for address, want in desired.items():
        have = live[address].fields
        for name in (*LINKED, "identifier_column", "description"):
            if name == "description" and name not in want.fields:
                continue  # not declared: left alone (a UI's description stays)
            if want.fields.get(name) != have.get(name):
                problems.append(f"{address} {name}: {have.get(name)!r} want "
                                f"{want.fields.get(name)!r}")  # fmt: skip
    assert not problems, "\n".join(problems)


def write(root: Path, docs: dict[str, Doc]) -> None:
    fixed = [
        {"kind": "Source", "name": "wh",
         "spec": {"catalog": "postgres", "settings": WAREHOUSE_SETTINGS}},
        {"kind": "Destination", "name": "braze",
         "spec": {"source": "wh", "catalog": "braze", "enabled": True,
                  "settings": {"api_key": "braze-key"}}},
    ]  # fmt: skip
    mappings = [{"kind": "Mapping", "name": "sync", "spec": {
        "destination": "wh/braze", "action": "updateUserProfile", "enabled": False,
        "model": "m1", "schedule": {"strategy": "MANUAL"},
        "fields": {"external_id": "user_id", "email": "email"}}}] if "m1" in docs else []  # fmt: skip
    (root / "resources.yaml").write_text(
        yaml.safe_dump_all([*fixed, *docs.values(), *mappings], sort_keys=False),
        encoding="utf-8",
    )


def dbt_project(root: Path) -> None:
    """The dbt project seg.yaml names (``path: .dbt``: inside the workspace, which is not in
    git, and in a dot-directory, where the loader looks for no resources)."""
    models = root / ".dbt" / "models"
    models.mkdir(parents=True)
    (root / ".dbt" / "dbt_project.yml").write_text("name: analytics\nconfig-version: 2\n")
    for name, sql in DBT_MODELS.items():
        (models / f"{name}.sql").write_text(sql)


@settings(max_examples=20, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_every_apply_converges_to_exactly_the_yaml(data: st.DataObject,
                                                   control_plane: ControlPlane) -> None:
    config = "dbt_projects:\n  analytics:\n    path: .dbt\n"
    with temporary_workspace(control_plane, "m", config) as (root, api, client):
        dbt_project(root)
        docs = {"m1": model_doc(data, "m1")}
        for step in range(data.draw(st.integers(1, 3), label="edits") + 1):
            if step:
                for _ in range(data.draw(st.integers(1, 3))):
                    edit(data, docs)
                if docs and data.draw(st.booleans(), label="drift"):
                    drift(data, api, docs)
            write(root, copy.deepcopy(docs))
            converge(root, client, check)
