"""The kind registry: one module per kind, complete, pure, and the only code that names a
kind; its rules run unchanged through the CLI adapter (validate) and the server adapter."""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import sys
from pathlib import Path

import httpx
import pytest

import seg.kinds
from seg.kinds import KINDS, MODULES, kind_by_key, kinds_in_order
from seg.kinds.refs import references
from seg.model.kinds import AccessScope, Kind
from seg.workspace.diagnostics import Diagnostic
from seg.workspace.loader import WorkspaceInvalid, load_workspace
from tests.conftest import Api, WriteWorkspace

PACKAGE = Path(seg.kinds.__file__).parent
SOURCE_ROOT = PACKAGE.parent
KIND_NAMES = re.compile(
    r'"(Label|Group|TrackingPlan|Source|RoleBinding|Warehouse|Destination|Model|DestinationFilter|'
    r'Mapping)"'
)
HELPERS = {"__init__", *seg.kinds.HELPERS}
# What a kind module may import: the pure packages and its siblings.
KIND_IMPORTS = ("seg.model", "seg.policy", "seg.fql", "seg.tracking", "seg.catalog", "seg.kinds")


def _kind_modules() -> list[str]:
    return sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in HELPERS)


def _type_checking_only(tree: ast.Module) -> set[ast.AST]:
    """The nodes inside ``if TYPE_CHECKING:`` blocks: types only, as import-linter counts
    them (exclude_type_checking_imports)."""
    out: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and isinstance(node.test, ast.Name) and (
            node.test.id == "TYPE_CHECKING"
        ):
            out |= {child for stmt in node.body for child in ast.walk(stmt)}
    return out


def _imports(path: Path) -> set[str]:
    tree = ast.parse(path.read_text())
    skipped = _type_checking_only(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.add(node.module)
    return found


def test_every_kind_module_is_registered_once_under_its_name() -> None:
    names = _kind_modules()
    assert names == sorted(m.__name__.rsplit(".", 1)[1] for m in MODULES)
    for name in names:
        kind = importlib.import_module(f"seg.kinds.{name}").KIND
        assert isinstance(kind, Kind)
        assert KINDS[kind.name] is kind
        assert kind_by_key(kind.key) is kind
    assert len({k.key for k in KINDS.values()}) == len({k.collection for k in KINDS.values()})
    assert len(KINDS) == len(names) == 14
    assert list(KINDS) == [k.name for k in kinds_in_order()]  # listings keep apply order


def test_parents_are_objects_and_come_first_in_apply_order() -> None:
    order = kinds_in_order()
    for kind in order:
        chain = kind.chain()
        assert chain[-1] is kind
        for ancestor in chain[:-1]:
            assert KINDS[ancestor.name] is ancestor  # the registry's object, no lookup needed
            assert order.index(ancestor) < order.index(kind)
        if kind.parent_kind is not None:
            assert kind.parent == kind.parent_kind.name and kind.parent_field
        # a reference names a registered kind
        for spec in kind.fields:
            assert spec.ref is None or spec.ref in KINDS


def test_access_scopes_replace_the_kind_lists() -> None:
    by_scope = {scope: sorted(k.name for k in KINDS.values() if k.access_scope is scope)
                for scope in AccessScope}  # fmt: skip
    assert by_scope == {
        AccessScope.SOURCE: ["Alert", "Destination", "DestinationFilter", "Mapping", "Model",
                             "Source", "Transformation"],
        AccessScope.TRACKING_PLAN: ["TrackingPlan"],
        AccessScope.WAREHOUSE: ["Warehouse"],
        AccessScope.FUNCTION: ["Function"],
        AccessScope.OWNER: ["ConsentCategory", "Group", "Label", "RoleBinding"],
    }
    # what lives under a source is scoped by it
    for kind in KINDS.values():
        if kind.parent_kind is not None:
            assert kind.access_scope is kind.parent_kind.access_scope


def test_references_come_from_field_refs_and_the_kinds_hook() -> None:
    source = {"tracking_plan": "web-plan", "labels": {"team": "growth"}}
    assert references("Source", source) == [
        ("TrackingPlan", "web-plan", ("tracking_plan",)),
        ("Label", "team:growth", ("labels", "team")),
    ]
    binding = {"subject": {"group": "ops"}, "scope": {"sources": ["web"], "labels": {"a": "b"}}}
    assert references("RoleBinding", binding) == [
        ("Group", "ops", ("subject", "group")),
        ("Source", "web", ("scope", "sources")),
        ("Label", "a:b", ("scope", "labels", "a")),
    ]
    assert references("Destination", {"settings": {"labels": {"x": "y"}}}) == []


def test_rules_are_functions_of_subject_and_lookup() -> None:
    for kind in KINDS.values():
        for rule in (*kind.rules, *kind.value_rules, *kind.delete_rules):
            assert callable(rule)
            assert len(inspect.signature(rule).parameters) == 2, (kind.name, rule)


def test_kind_modules_import_only_pure_packages() -> None:
    stdlib = sys.stdlib_module_names
    for path in PACKAGE.glob("*.py"):
        for module in _imports(path):
            top = module.split(".")[0]
            if top == "seg":
                assert module.startswith(KIND_IMPORTS), (path.name, module)
            else:
                assert top in stdlib or top == "__future__", (path.name, module)


def test_the_model_package_is_stdlib_only_and_holds_no_registry() -> None:
    for path in (SOURCE_ROOT / "model").glob("*.py"):
        for module in _imports(path):
            top = module.split(".")[0]
            assert top in sys.stdlib_module_names or top == "__future__" or module.startswith(
                "seg.model"
            ), (path.name, module)
    assert not hasattr(importlib.import_module("seg.model.kinds"), "KINDS")


def test_generic_code_names_no_kind() -> None:
    hits: dict[str, set[str]] = {}
    for path in SOURCE_ROOT.rglob("*.py"):
        rel = path.relative_to(SOURCE_ROOT).as_posix()
        if rel.startswith("kinds/"):
            continue
        for line in path.read_text().splitlines():
            if KIND_NAMES.search(line):
                hits.setdefault(rel, set()).add(line.strip())
    assert hits == {}


# -- one rule, two adapters, one message -----------------------------------------------------


def _cli_messages(root: Path) -> list[Diagnostic]:
    with pytest.raises(WorkspaceInvalid) as info:
        load_workspace(root, None, {})
    return list(info.value.diagnostics)


def _server_message(response: httpx.Response, status: int, code: int) -> str:
    body = response.json()
    assert (response.status_code, body["code"]) == (status, code), body
    return str(body["error"])


def test_the_label_scope_rule_says_the_same_through_both_adapters(
    api: Api, write_workspace: WriteWorkspace
) -> None:
    root = write_workspace({"iam.yaml": """
        kind: Label
        name: team:x
        spec: {description: the x team}
        ---
        kind: RoleBinding
        name: b
        spec: {subject: {user: a@b.io}, role: workspace_owner, scope: {labels: {team: x}}}
        """})  # fmt: skip
    (cli,) = _cli_messages(root)
    assert (cli.line, cli.col, cli.rule) == (8, 39, "access/label-scope")
    ws = api.workspace
    assert api.http.post(api.url("/labels"),
                         json={"label": {"name": f"workspaces/{ws}/labels/team:x"}}
                         ).status_code == 200  # fmt: skip
    binding = {"name": f"workspaces/{ws}/role-bindings/b", "subject": {"user": "a@b.io"},
               "role": "workspace_owner", "scope": {"labels": {"team": "x"}}}  # fmt: skip
    server = api.http.post(api.url("/role-bindings"), json={"role_binding": binding})
    assert _server_message(server, 400, 3) == cli.message
    assert cli.message.startswith("role 'workspace_owner' cannot take a label scope (only ")


def test_fql_and_warehouse_rules_say_the_same_through_both_adapters(
    api: Api, write_workspace: WriteWorkspace
) -> None:
    root = write_workspace({"a.yaml": """
        kind: Source
        name: web
        spec: {catalog: javascript}
        ---
        kind: Destination
        name: amp
        spec: {source: web, catalog: amplitude}
        ---
        kind: DestinationFilter
        name: bad
        spec: {destination: web/amp, title: t, if: 'userId = oops"', actions: [{type: DROP}]}
        ---
        kind: Model
        name: users
        spec: {source: web, query: SELECT 1 AS id, identifier_column: id}
        """})  # fmt: skip
    cli = {d.rule: d.message for d in _cli_messages(root)}
    assert set(cli) == {"fql", "model/warehouse"}
    ws = api.workspace
    assert api.create_source("web").status_code == 200
    assert api.create_destination("web", "amp").status_code == 200
    bad = {"name": f"workspaces/{ws}/sources/web/destinations/amp/filters/bad", "title": "t",
           "if": 'userId = oops"', "actions": [{"type": "DROP"}]}  # fmt: skip
    made = api.http.post(api.url("/sources/web/destinations/amp/filters"), json={"filter": bad})
    assert _server_message(made, 400, 3) == cli["fql"]
    model = {"name": f"workspaces/{ws}/sources/web/models/users", "query": "SELECT 1 AS id",
             "identifier_column": "id"}  # fmt: skip
    made = api.http.post(api.url("/sources/web/models"), json={"model": model})
    assert _server_message(made, 400, 3) == cli["model/warehouse"]


def test_a_limit_says_the_same_through_both_adapters(
    api: Api, write_workspace: WriteWorkspace
) -> None:
    filters = "".join(
        f"---\nkind: DestinationFilter\nname: f{i}\n"
        f"spec: {{destination: web/amp, title: t, if: all, actions: [{{type: DROP}}]}}\n"
        for i in range(11)
    )
    head = "kind: Source\nname: web\nspec: {catalog: javascript}\n---\n"
    head += "kind: Destination\nname: amp\nspec: {source: web, catalog: amplitude}\n"
    (cli,) = _cli_messages(write_workspace({"a.yaml": head + filters}))
    assert cli.rule == "filter/limit"
    assert api.create_source("web").status_code == 200
    assert api.create_destination("web", "amp").status_code == 200
    url = api.url("/sources/web/destinations/amp/filters")
    responses = [
        api.http.post(url, json={"filter": {
            "name": f"workspaces/{api.workspace}/sources/web/destinations/amp/filters/f{i}",
            "title": "t", "if": "all", "actions": [{"type": "DROP"}]}})
        for i in range(11)
    ]  # fmt: skip
    assert [r.status_code for r in responses] == [200] * 10 + [409]
    assert _server_message(responses[-1], 409, 9) == cli.message
    assert cli.message == "destination 'web/amp' has 11 filters; the limit is 10"
