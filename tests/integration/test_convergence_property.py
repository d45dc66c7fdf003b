"""Convergence, as a model-based property (issue 11, item 10).

Hypothesis builds a random workspace and a few random edits of it: settings with nested maps,
lists, empty containers and removed keys; settings emptied or dropped; group members; labels;
filters' actions; tracking-plan rules inserted in the middle, removed, their schemas edited
deep inside, versions added; resources deleted and renamed (references follow); and drift made
through the API between applies. After every apply, through the real control plane (in
process, SQLite):

- the next plan is empty;
- every declared resource exists and each declared field (each declared key of a map field)
  holds its declared value; no undeclared resource exists;
- nothing the YAML stopped declaring is left behind: a map field holds only declared keys and
  keys drift put there (``ui_*``), and a field declared earlier and no longer is empty.
"""

from __future__ import annotations

import copy
import secrets
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seg.apply.executor import NullObserver, apply_plan
from seg.client.http import ControlPlaneClient
from seg.commands.session import Session, make_plan
from seg.kinds import KINDS
from seg.model.paths import MISSING, format_path, get_path, remove_path, set_path
from seg.model.resource import CurrentResource, DesiredResource
from seg.model.values import json_equal, same_items
from seg.server.service import ControlPlane
from seg.store.sql import SqlStore, open_store
from seg.workspace.loader import load_workspace
from tests.conftest import Api

Doc = dict[str, Any]
Key = tuple[str, str]  # (kind, YAML name)
FieldPath = tuple[str, ...]

KEYS = ["a", "b", "url", "opt"]
SCALARS = st.one_of(
    st.booleans(), st.integers(-3, 3), st.text("xy", max_size=2), st.none(), st.just(1.5)
)
JSON = st.recursive(
    SCALARS | st.just({}) | st.just([]),
    lambda inner: (
        st.lists(inner, max_size=2) | st.dictionaries(st.sampled_from(KEYS), inner, max_size=2)
    ),
    max_leaves=4,
)
FREE_MAP = st.dictionaries(st.sampled_from(KEYS), JSON, max_size=3)
# The catalog checks settings keys: the random (nested) keys go beneath each entry's
# object-typed setting, which takes any JSON object.
FREE = {"web": "consent_settings", "amp": "map_query_params", "hook": "headers"}


def free_settings(data: st.DataObject, name: str) -> Doc:
    return {FREE[name]: data.draw(FREE_MAP)}


EMAILS = st.lists(st.sampled_from(["a@x.io", "b@x.io", "c@x.io"]), max_size=3, unique=True)
RULE_IDS = st.sampled_from(
    [("COMMON", None), ("IDENTIFY", None), ("PAGE", None)]
    + [("TRACK", k) for k in ("A", "B", "C", "D")]
)
ACTIONS = st.sampled_from(
    [
        [{"type": "DROP"}],
        [{"type": "SAMPLE", "percent": 0.5}],
        [{"type": "DROP_PROPERTIES", "fields": {"properties": ["email"]}}],
        [{"type": "DROP_PROPERTIES", "fields": {"properties": ["email"], "": ["x"]}}],
    ]
)
NAMES = ["n1", "n2", "n3"]
MAPPING_FIELDS = st.dictionaries(
    st.sampled_from(["event", "user", "email"]),
    st.sampled_from(["event", "userId", "traits.email"]),
    max_size=2,
)
SCOPES = st.sampled_from(
    [
        "workspace",
        {"sources": ["web"]},
        {"sources": ["web", "app"]},
        {"labels": {"team": "a"}},
        {"labels": {"team": "a", "environment": "dev"}},
    ]
)


# -- the workspace model ---------------------------------------------------------------------


def rule(rid: tuple[str, str | None], version: int = 1) -> Doc:
    out: Doc = {"type": rid[0], "version": version, "json_schema": {"type": "object"}}
    if rid[1] is not None:
        out["key"] = rid[1]
    return out


def _ident(r: Doc) -> tuple[str, str, int]:
    return (r["type"], r.get("key", ""), r["version"])


def initial(data: st.DataObject) -> dict[Key, Doc]:
    docs: list[Doc] = [
        {"kind": "Label", "name": "team:a", "spec": {"description": "A"}},
        {"kind": "Label", "name": "team:b", "spec": {}},
        {"kind": "Group", "name": "g1", "spec": {"members": data.draw(EMAILS)}},
        {
            "kind": "TrackingPlan",
            "name": "tp1",
            "spec": {
                "display_name": "one",
                "rules": [rule(("COMMON", None)), rule(("TRACK", "C"))],
            },
        },
        {"kind": "TrackingPlan", "name": "tp2", "spec": {"rules": []}},
        {
            "kind": "Source",
            "name": "web",
            "spec": {
                "catalog": "javascript",
                "settings": free_settings(data, "web"),
                "tracking_plan": "tp1",
                "labels": {"team": "a"},
            },
        },
        {"kind": "Source", "name": "app", "spec": {"catalog": "ios", "display_name": "App"}},
        {
            "kind": "Destination",
            "name": "amp",
            "spec": {"source": "web", "catalog": "amplitude", "settings": free_settings(data, "amp")},
        },
        {"kind": "Destination", "name": "hook", "spec": {"source": "app", "catalog": "webhook"}},
        {
            "kind": "DestinationFilter",
            "name": "f1",
            "spec": {
                "destination": "web/amp",
                "title": "t",
                "if": "all",
                "actions": data.draw(ACTIONS),
            },
        },
        {
            "kind": "Mapping",
            "name": "m1",
            "spec": {
                "destination": "web/amp",
                "action": "track",
                "trigger": "type = 'track'",
                "fields": data.draw(MAPPING_FIELDS),
            },
        },
        {
            "kind": "RoleBinding",
            "name": "rb",
            "spec": {
                "subject": {"group": "g1"},
                "role": "source_read_only",
                "scope": data.draw(SCOPES),
            },
        },
    ]
    return {(d["kind"], d["name"]): d for d in docs}


def of_kind(docs: dict[Key, Doc], *kinds: str) -> list[Key]:
    return sorted(k for k in docs if k[0] in kinds)


def address(doc: Doc) -> str:
    parent = doc["spec"].get("source") or doc["spec"].get("destination")
    return f"{parent}/{doc['name']}" if parent else str(doc["name"])


# -- edits of the YAML -----------------------------------------------------------------------


def edit_settings(data: st.DataObject, docs: dict[Key, Doc]) -> None:
    """Set, replace or remove a (nested) settings key; empty or drop the whole map."""
    key = data.draw(st.sampled_from([k for k in of_kind(docs, "Source", "Destination")
                                     if k[1] in FREE]))  # fmt: skip
    spec = docs[key]["spec"]
    how = data.draw(st.sampled_from(["set", "remove", "empty", "drop", "replace"]))
    settings_ = spec.setdefault("settings", {})
    if how == "set":
        parts = data.draw(st.lists(st.sampled_from(KEYS), min_size=0, max_size=2))
        value = data.draw(JSON)
        leaf = (FREE[key[1]], *parts, data.draw(st.sampled_from(KEYS)))
        set_path(settings_, leaf, value, create=True)
    elif how == "remove":
        paths = _map_leaves(settings_, ())
        if paths:
            path = data.draw(st.sampled_from(paths))
            remove_path(settings_, path)
    elif how == "empty":
        spec["settings"] = {}
    elif how == "drop":
        spec.pop("settings")
    else:
        spec["settings"] = free_settings(data, key[1])


def edit_members(data: st.DataObject, docs: dict[Key, Doc]) -> None:
    keys = of_kind(docs, "Group")
    if keys:
        spec = docs[data.draw(st.sampled_from(keys))]["spec"]
        spec["members"] = data.draw(EMAILS)
        if data.draw(st.booleans()):
            spec["display_name"] = data.draw(st.sampled_from(["G", "Group", ""]))
        else:
            spec.pop("display_name", None)


def edit_labels(data: st.DataObject, docs: dict[Key, Doc]) -> None:
    key = data.draw(st.sampled_from(of_kind(docs, "Source")))
    spec = docs[key]["spec"]
    choice = data.draw(st.sampled_from(["team", "env", "empty", "drop"]))
    labels = spec.setdefault("labels", {})
    if choice == "team":
        if labels.get("team") == "a" or data.draw(st.booleans()):
            labels.pop("team", None) if "team" in labels else labels.update(team="b")
        else:
            labels["team"] = "a"
    elif choice == "env":
        labels["environment"] = data.draw(st.sampled_from(["dev", "prod"]))
    elif choice == "empty":
        spec["labels"] = {}
    else:
        spec.pop("labels")


def edit_filter(data: st.DataObject, docs: dict[Key, Doc]) -> None:
    keys = of_kind(docs, "DestinationFilter")
    if keys:
        spec = docs[data.draw(st.sampled_from(keys))]["spec"]
        spec["actions"] = data.draw(ACTIONS)
        if data.draw(st.booleans()):
            spec["enabled"] = data.draw(st.booleans())
        if data.draw(st.booleans()):
            spec["description"] = data.draw(st.sampled_from(["", "d"]))
        else:
            spec.pop("description", None)


def edit_rules(data: st.DataObject, docs: dict[Key, Doc]) -> None:
    """Insert a rule anywhere, remove one, edit a schema deep inside, add a version."""
    keys = of_kind(docs, "TrackingPlan")
    if not keys:
        return
    rules: list[Doc] = docs[data.draw(st.sampled_from(keys))]["spec"]["rules"]
    how = data.draw(st.sampled_from(["insert", "remove", "deep", "version"]))
    if how == "insert" or not rules:
        new = rule(data.draw(RULE_IDS), data.draw(st.integers(1, 2)))
        if _ident(new) not in {_ident(r) for r in rules}:
            rules.insert(data.draw(st.integers(0, len(rules))), new)
        return
    index = data.draw(st.integers(0, len(rules) - 1))
    if how == "remove":
        rules.pop(index)
    elif how == "deep":
        schema = rules[index]["json_schema"]
        props = schema.setdefault("properties", {}).setdefault("properties", {})
        inner = props.setdefault("properties", {})
        name = data.draw(st.sampled_from(["id", "total", "sku"]))
        if name in inner and data.draw(st.booleans()):
            del inner[name]
        else:
            inner[name] = {"type": data.draw(st.sampled_from(["string", "number", "object"]))}
    else:
        top = max(
            r["version"]
            for r in rules
            if r["type"] == rules[index]["type"] and r.get("key") == rules[index].get("key")
        )
        rules.append({**copy.deepcopy(rules[index]), "version": top + 1})


def edit_tracking_plan_ref(data: st.DataObject, docs: dict[Key, Doc]) -> None:
    spec = docs[data.draw(st.sampled_from(of_kind(docs, "Source")))]["spec"]
    plans = [k[1] for k in of_kind(docs, "TrackingPlan")]
    choice = data.draw(st.sampled_from([*plans, None]))
    if choice is None:
        spec.pop("tracking_plan", None)
    else:
        spec["tracking_plan"] = choice


def delete_or_add(data: st.DataObject, docs: dict[Key, Doc]) -> None:
    """Delete a filter, group or tracking plan (references follow), or add one."""
    kind = data.draw(st.sampled_from(["DestinationFilter", "Group", "TrackingPlan"]))
    keys = of_kind(docs, kind)
    if keys and data.draw(st.booleans()):
        key = data.draw(st.sampled_from(keys))
        del docs[key]
        _retarget(docs, key, None)
        return
    name = data.draw(st.sampled_from(NAMES))
    if (kind, name) in docs:
        return
    spec: Doc = {
        "DestinationFilter": {
            "destination": "app/hook",
            "title": "n",
            "if": "all",
            "actions": [{"type": "DROP"}],
        },
        "Group": {"members": []},
        "TrackingPlan": {"rules": [rule(("TRACK", "A"))]},
    }[kind]
    docs[(kind, name)] = {"kind": kind, "name": name, "spec": spec}


def rename(data: st.DataObject, docs: dict[Key, Doc]) -> None:
    """Rename a resource: a delete and a create; references to it follow."""
    key = data.draw(st.sampled_from(of_kind(docs, "DestinationFilter", "Group", "TrackingPlan")))
    name = data.draw(st.sampled_from(NAMES))
    if (key[0], name) in docs:
        return
    doc = docs.pop(key)
    docs[(key[0], name)] = {**doc, "name": name}
    _retarget(docs, key, name)


def _retarget(docs: dict[Key, Doc], gone: Key, new: str | None) -> None:
    binding = docs[("RoleBinding", "rb")]["spec"]
    if gone[0] == "Group" and binding["subject"].get("group") == gone[1]:
        binding["subject"] = {"group": new} if new else {"user": "a@x.io"}
    if gone[0] != "TrackingPlan":
        return
    for key in of_kind(docs, "Source"):
        spec = docs[key]["spec"]
        if spec.get("tracking_plan") == gone[1]:
            if new is None:
                del spec["tracking_plan"]
            else:
                spec["tracking_plan"] = new


def edit_mapping_and_binding(data: st.DataObject, docs: dict[Key, Doc]) -> None:
    """Objects that are values as a whole (a mapping's fields, a binding's scope and role)."""
    mapping = docs[("Mapping", "m1")]["spec"]
    mapping["fields"] = data.draw(MAPPING_FIELDS)
    if data.draw(st.booleans()):
        mapping["enabled"] = data.draw(st.booleans())
    binding = docs[("RoleBinding", "rb")]["spec"]
    binding["scope"] = data.draw(SCOPES)
    binding["role"] = data.draw(st.sampled_from(["source_read_only", "source_admin"]))
    if ("Group", "g1") not in docs:
        binding["subject"] = {"user": "a@x.io"}


EDITS: list[Callable[[st.DataObject, dict[Key, Doc]], None]] = [
    edit_settings,
    edit_settings,
    edit_members,
    edit_labels,
    edit_filter,
    edit_rules,
    edit_rules,
    edit_tracking_plan_ref,
    delete_or_add,
    rename,
    edit_mapping_and_binding,
]


# -- drift made through the API ---------------------------------------------------------------


def drift(
    data: st.DataObject, api: Api, docs: dict[Key, Doc], ui: dict[Key, set[FieldPath]]
) -> None:
    """One write through the API, as a user in the UI would: a new ``ui_`` key in an object
    setting (unmanaged: recorded in ``ui``), a declared settings key or display name changed,
    or a destination deleted."""
    key = data.draw(st.sampled_from([k for k in of_kind(docs, "Source", "Destination")
                                     if k[1] in FREE]))  # fmt: skip
    kind, doc = KINDS[key[0]], docs[key]
    live_key = (key[0], address(doc))
    path = f"/{kind.collection}/{key[1]}"
    if key[0] == "Destination":
        path = f"/sources/{doc['spec']['source']}/destinations/{key[1]}"
    # declared leaves beneath the object setting (an empty one is a leaf: it stays an object)
    declared = [p for p in _map_leaves(doc["spec"].get("settings") or {}, ("settings",))
                if len(p) > 2]  # fmt: skip
    how = data.draw(st.sampled_from(["ui", "declared", "display_name", "delete"]))
    if how == "delete" and key[0] == "Destination":
        response = api.http.delete(api.url(path))
        assert response.status_code in (200, 404, 409), response.text  # 409: has filters
        if response.status_code == 200:
            ui.pop(live_key, None)
        return
    if how == "declared" and declared:
        target: FieldPath = data.draw(st.sampled_from(declared))
    elif how == "display_name" and "display_name" in doc["spec"]:
        target = ("display_name",)
    else:
        target = ("settings", FREE[key[1]], "ui_" + data.draw(st.sampled_from(KEYS)))
    body: Doc = {"update_mask": {"paths": [f"{kind.key}.{format_path(target)}"]}}
    value = data.draw(SCALARS) if target[0] == "settings" else "from the UI"
    set_path(body, (kind.key, *target), value, create=True)
    response = api.http.patch(api.url(path), json=body)
    if response.status_code == 404:
        return  # not created yet (added by this step's edits)
    assert response.status_code == 200, response.text
    if target[-1].startswith("ui_"):
        ui.setdefault(live_key, set()).add(target)


# -- checks -----------------------------------------------------------------------------------


def _map_leaves(value: Any, prefix: FieldPath) -> list[FieldPath]:
    """Leaf paths under a map field (``prefix``); an empty map inside it is a leaf."""
    if not isinstance(value, dict):
        return [prefix]
    if not value:
        return [prefix] if len(prefix) > 1 else []
    return [p for k, v in value.items() for p in _map_leaves(v, (*prefix, k))]


def _check_resource(
    want: DesiredResource, have: CurrentResource, ui: set[FieldPath], ever: set[str]
) -> list[str]:
    where = f"{want.kind.name} {want.address}"
    problems: list[str] = []
    declared = want.declared_paths()
    for name, value in want.fields.items():
        spec = want.kind.field(name)
        assert spec is not None
        live = have.fields.get(name, MISSING)
        if spec.map_like and isinstance(value, dict) and value:
            problems += [
                f"{where} {format_path(p)}: {get_path(have.fields, p)!r}"
                for p in declared
                if p[0] == name and not json_equal(get_path(want.fields, p), get_path(have.fields, p))
            ]
        elif not (same_items if spec.unordered else json_equal)(value, live):
            problems.append(f"{where} {name}: {live!r}, declared {value!r}")
    for spec in want.kind.fields:
        live = have.fields.get(spec.name)
        if spec.closed:  # declared whole: the declared value, or the default when absent
            expected = want.fields.get(spec.name, want.kind.defaults.get(spec.name, spec.empty))
            if not json_equal(live, expected):
                problems.append(f"{where} {spec.name}: {live!r}, declared {expected!r}")
        elif spec.map_like:
            leftovers = [
                p
                for p in _map_leaves(live or {}, (spec.name,))
                if not any(p[: len(d)] == d for d in declared) and p not in ui
            ]
            problems += [f"{where} {format_path(p)} left behind" for p in leftovers]
        elif spec.name in ever and spec.name not in want.fields and live not in (None, spec.empty):
            problems.append(f"{where} {spec.name}: {live!r} left behind")
    return problems


def check_converged(
    session: Session, ui: dict[Key, set[FieldPath]], ever: dict[Key, set[str]]
) -> None:
    plan = make_plan(session)
    assert not plan.has_changes, [(c.address, c.action, c.field_changes) for c in plan.changes]
    desired = {(r.kind.name, r.address): r for r in session.workspace.resources}
    state = {(r.kind.name, r.address): r for r in session.client.read_state()}
    extra = [k for k in state if k not in desired and k[1] not in KINDS[k[0]].system_names]
    assert not extra, f"undeclared resources left: {extra}"
    problems = [f"missing {k}" for k in desired if k not in state]
    for key, want in desired.items():
        if key in state:
            problems += _check_resource(want, state[key], ui.get(key, set()), ever.get(key, set()))
    assert not problems, "\n".join(problems)


# -- the property ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    store: SqlStore = open_store(f"sqlite:///{tmp_path_factory.mktemp('conv') / 'seg.db'}")
    yield ControlPlane(store)
    store.close()


def write(root: Path, docs: dict[Key, Doc]) -> None:
    (root / "resources.yaml").write_text(
        yaml.safe_dump_all(list(docs.values()), sort_keys=False), encoding="utf-8"
    )


def _addresses(docs: dict[Key, Doc]) -> dict[Key, Doc]:
    return {(k[0], address(d)): d for k, d in docs.items()}


def converge(
    root: Path, client: ControlPlaneClient, ui: dict[Key, set[FieldPath]], ever: dict[Key, set[str]]
) -> None:
    workspace = load_workspace(root, environ={})
    session = Session(workspace, client, "embedded")
    result = apply_plan(make_plan(session), client, NullObserver())
    assert result.ok, [(r.step.change.address, r.error) for r in result.results if r.error]
    check_converged(session, ui, ever)


@settings(
    max_examples=25,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(data=st.data())
def test_every_apply_converges_to_exactly_the_yaml(
    data: st.DataObject, control_plane: ControlPlane
) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        slug = "p" + secrets.token_hex(5)
        (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {slug}\n")
        api = Api(control_plane, slug)
        client = api.seg_client()
        ui: dict[Key, set[FieldPath]] = {}
        ever: dict[Key, set[str]] = {}
        try:
            docs = initial(data)
            for step in range(data.draw(st.integers(1, 4), label="edits") + 1):
                if step:
                    for _ in range(data.draw(st.integers(1, 3))):
                        data.draw(st.sampled_from(EDITS))(data, docs)
                    if data.draw(st.booleans(), label="drift"):
                        drift(data, api, docs, ui)
                write(root, docs)
                _forget_gone(ui, ever, docs)
                converge(root, client, ui, ever)
        finally:
            client.http.close()
            api.close()


def _forget_gone(
    ui: dict[Key, set[FieldPath]], ever: dict[Key, set[str]], docs: dict[Key, Doc]
) -> None:
    """Deleted resources start afresh when re-created; the rest remember what they held."""
    current = _addresses(docs)
    for book in (ui, ever):
        for key in [k for k in book if k not in current]:
            del book[key]
    for key, doc in current.items():
        ever.setdefault(key, set()).update(doc["spec"])
