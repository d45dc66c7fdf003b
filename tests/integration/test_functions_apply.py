"""Functions and their instances through `seg apply` on the embedded control plane: creates
run functions first, deletes run instances first and detach insert functions before the
function goes, the export writes code to .js files and reads back to an empty plan, and a
model-based property: random edits of functions and instances always converge."""

from __future__ import annotations

import secrets
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seg.apply.executor import NullObserver, apply_plan
from seg.commands.session import Session, make_plan
from seg.server.service import ControlPlane
from seg.store.sql import SqlStore, open_store
from seg.workspace.loader import load_workspace
from tests.conftest import Api, run_cli
from tests.repo_files import copy_repo_dir

SECRETS = {"PARTNER_SHARED_SECRET": "partner-5ecret-1", "CRM_API_TOKEN": "crm-t0ken-2",
           "BRAZE_API_KEY": "braze-k3y-3"}  # fmt: skip


@pytest.fixture
def example(tmp_path: Path, clean_seg_env: None, monkeypatch: pytest.MonkeyPatch) -> Path:
    """examples/functions, applied on its embedded control plane."""
    for name, value in SECRETS.items():
        monkeypatch.setenv(name, value)
    root = tmp_path / "functions"
    copy_repo_dir("examples/functions", root)
    return root


def lines_of(output: str, *words: str) -> list[str]:
    return [line for line in output.splitlines() if line.split(" ", 1)[0] in words]


def test_functions_are_created_before_the_instances_that_deploy_them(example: Path) -> None:
    result = run_cli("apply", "-w", str(example), "--auto-approve")
    assert result.exit_code == 0, result.output
    order = lines_of(result.output, "created")
    assert order == [
        "created Function scrub-pii", "created Function to-crm", "created Function webhook-in",
        "created Source partner-webhook", "created Source web", "created Destination web/braze",
        "created Destination web/crm", "created Mapping web/braze/track-events",
    ]  # fmt: skip
    assert not any(value in result.output for value in SECRETS.values())
    plan = run_cli("plan", "-w", str(example), "--detailed-exitcode")
    assert plan.exit_code == 0 and "No changes." in plan.output, plan.output


def without(text: str, *blocks: str) -> str:
    """The YAML stream without the documents naming ``blocks`` (``kind: X\\nname: y``)."""
    docs = text.split("---\n")
    return "---\n".join(d for d in docs if not any(b in d for b in blocks))


def test_instances_go_and_insert_functions_detach_before_their_function(example: Path) -> None:
    assert run_cli("apply", "-w", str(example), "--auto-approve").exit_code == 0
    functions = example / "functions.yaml"
    functions.write_text(without(functions.read_text(), "name: to-crm", "name: scrub-pii",
                                 "name: webhook-in"))  # fmt: skip
    sources = example / "sources.yaml"
    text = without(sources.read_text(), "name: crm", "name: partner-webhook")
    text = text.replace("  insert_function: scrub-pii\n  insert_function_enabled: true\n", "")
    sources.write_text(text)
    result = run_cli("apply", "-w", str(example), "--auto-approve")
    assert result.exit_code == 0, result.output
    order = lines_of(result.output, "deleted", "updated")
    assert order.index("updated Destination web/braze") < order.index("deleted Function scrub-pii")
    assert order.index("deleted Destination web/crm") < order.index("deleted Function to-crm")
    assert order.index("deleted Source partner-webhook") < order.index(
        "deleted Function webhook-in")
    plan = run_cli("plan", "-w", str(example), "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output


def test_export_writes_code_files_and_reads_back_to_an_empty_plan(
    example: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert run_cli("apply", "-w", str(example), "--auto-approve").exit_code == 0
    out = tmp_path / "exported"
    out.mkdir()
    shutil.copy(example / "seg.yaml", out / "seg.yaml")
    shutil.copytree(example / ".seg", out / ".seg")
    result = run_cli("export", "-w", str(out), "--merge")
    assert result.exit_code == 0, result.output
    for name in ("webhook-in", "to-crm", "scrub-pii"):
        code = (out / "functions" / f"{name}.js").read_text()
        assert code == (example / "functions" / f"{name}.js").read_text()
        spec = yaml.safe_load((out / "functions" / f"{name}.yaml").read_text())["spec"]
        assert spec["code_file"] == f"{name}.js" and "code" not in spec
    exported = "\n".join(p.read_text() for p in out.rglob("*.yaml") if ".seg" not in p.parts)
    assert not any(value in exported for value in SECRETS.values())
    monkeypatch.setenv("SEG_SECRET_PARTNER_WEBHOOK_SETTINGS_SHAREDSECRET",
                       SECRETS["PARTNER_SHARED_SECRET"])  # fmt: skip
    monkeypatch.setenv("SEG_SECRET_WEB_CRM_SETTINGS_APITOKEN", SECRETS["CRM_API_TOKEN"])
    monkeypatch.setenv("SEG_SECRET_WEB_BRAZE_SETTINGS_API_KEY", SECRETS["BRAZE_API_KEY"])
    plan = run_cli("plan", "-w", str(out), "--detailed-exitcode")
    assert plan.exit_code == 0 and "No changes." in plan.output, plan.output


# -- the property ----------------------------------------------------------------------------

Doc = dict[str, Any]
CODES = {
    "source": ["async function onRequest(request, settings) {\n  return 1\n}\n",
               "exports.onRequest = async (request) => request.json()?.x ?? null\n"],
    "destination": ["async function onTrack(event) {\n  return event\n}\n",
                    "function onIdentify(e) { return e }\nasync function onBatch(es) {}\n"],
    "insert": ["async function onTrack(event) {\n  return event\n}\n",
               "const onPage = (event) => event\n"],
}  # fmt: skip
SCHEMAS = st.lists(
    st.fixed_dictionaries({"name": st.sampled_from(["region", "mode"])},
                          optional={"type": st.sampled_from(["string", "number"]),
                                    "label": st.sampled_from(["R", "Mode"])}),
    max_size=2, unique_by=lambda s: s["name"],
)  # fmt: skip


def function_doc(data: st.DataObject, name: str, kind: str) -> Doc:
    spec: Doc = {"type": kind, "code": data.draw(st.sampled_from(CODES[kind])),
                 "settings": data.draw(SCHEMAS)}  # fmt: skip
    if data.draw(st.booleans()):
        spec["display_name"] = data.draw(st.sampled_from(["F", "Function", ""]))
    if data.draw(st.booleans()):
        spec["description"] = "d"
    return {"kind": "Function", "name": name, "spec": spec}


def workspace_docs(data: st.DataObject) -> list[Doc]:
    """Some functions of each type (names keep their type), the instances that deploy them
    and a braze destination whose insert function comes and goes."""
    docs: list[Doc] = [{"kind": "Source", "name": "web", "spec": {"catalog": "javascript"}}]
    present = {}
    for name, kind in (("s1", "source"), ("s2", "source"), ("d1", "destination"),
                       ("d2", "destination"), ("i1", "insert"), ("i2", "insert")):  # fmt: skip
        if data.draw(st.booleans(), label=f"has {name}"):
            docs.append(function_doc(data, name, kind))
            present[name] = kind
    for name in [n for n, k in present.items() if k == "source"]:
        if data.draw(st.booleans()):
            docs.append({"kind": "Source", "name": f"hook-{name}",
                         "spec": {"catalog": f"function:{name}", "enabled": data.draw(
                             st.booleans())}})  # fmt: skip
    for name in [n for n, k in present.items() if k == "destination"]:
        if data.draw(st.booleans()):
            docs.append({"kind": "Destination", "name": f"to-{name}",
                         "spec": {"source": "web", "function": name}})  # fmt: skip
    braze: Doc = {"source": "web", "catalog": "braze", "settings": {"api_key": "${env:BRAZE}"}}
    inserts = [n for n, k in present.items() if k == "insert"]
    choice = data.draw(st.sampled_from([*inserts, None]))
    if choice is not None:
        braze["insert_function"] = choice
        if data.draw(st.booleans()):
            braze["insert_function_enabled"] = data.draw(st.booleans())
    docs.append({"kind": "Destination", "name": "braze", "spec": braze})
    return docs


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    store: SqlStore = open_store(f"sqlite:///{tmp_path_factory.mktemp('fnconv') / 'seg.db'}")
    yield ControlPlane(store)
    store.close()


@settings(max_examples=10, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(data=st.data())
def test_random_function_workspaces_converge(data: st.DataObject,
                                             control_plane: ControlPlane) -> None:  # fmt: skip
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        slug = "f" + secrets.token_hex(5)
        (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {slug}\n")
        api = Api(control_plane, slug)
        client = api.seg_client()
        try:
            for _ in range(data.draw(st.integers(2, 4), label="applies")):
                docs = workspace_docs(data)
                (root / "resources.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False))
                workspace = load_workspace(root, environ={"BRAZE": "k"})
                session = Session(workspace, client, "embedded")
                result = apply_plan(make_plan(session), client, NullObserver())
                assert result.ok, [(r.step.change.address, r.error) for r in result.results
                                   if r.error]  # fmt: skip
                plan = make_plan(session)
                assert not plan.has_changes, [(c.address, c.action) for c in plan.changes]
                state = {(r.kind.name, r.address): r for r in client.read_state()
                         if r.address not in r.kind.system_names}  # fmt: skip
                desired = {(r.kind.name, r.address): r for r in workspace.resources}
                assert state.keys() == desired.keys()
                for key, want in desired.items():
                    for field, value in want.fields.items():
                        if field != "settings":
                            assert state[key].fields.get(field) == value, (key, field)
        finally:
            client.http.close()
            api.close()
