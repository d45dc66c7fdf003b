"""seg.yaml's ``catalog:`` files: private entries seg validate knows offline (the built-in
catalog plus the tree's files), each bad file one diagnostic at its seg.yaml entry."""

from __future__ import annotations

import json

import pytest

from seg.errors import WorkspaceInvalid
from seg.workspace import load_workspace
from tests.conftest import run_cli

# The first catalog path is at line 4, column 5 of seg.yaml; the second at line 5.
SEG_YAML = """\
version: seg/v1
workspace: acme
catalog:
  - {first}
  - {second}
"""

CRM = {
    "format_version": 1,
    "entries": [{
        "id": "acme-crm", "section": "destination", "display_name": "Acme CRM",
        "settings": {"api_token": {"type": "string", "required": True, "secret": True},
                     "region": {"type": "string", "enum": ["us", "eu"]}},
    }],
}  # fmt: skip

CRM_YAML = """\
format_version: 1
entries:
  - id: acme-db
    section: source
    settings:
      dsn: {type: string, required: true, secret: true}
"""

# `catalog: acme-crmm` is at line 5, column 12 of destinations.yaml.
RESOURCES = """\
kind: Source
name: web
spec:
  catalog: acme-db
  settings: {{dsn: "${{env:DSN}}"}}
---
kind: Destination
name: crm
spec:
  source: web
  catalog: {catalog}
  enabled: true
  settings:
    api_token: ${{env:CRM_TOKEN}}
    region: eu
"""


def seg_yaml(first: str = "catalog/crm.json", second: str = "catalog/db.yaml") -> str:
    return SEG_YAML.format(first=first, second=second)


@pytest.fixture
def tree(write_workspace):
    def make(catalog: str = "acme-crm", crm: str = json.dumps(CRM), **seg: str):
        return write_workspace({"catalog/crm.json": crm, "catalog/db.yaml": CRM_YAML,
                                "resources.yaml": RESOURCES.format(catalog=catalog)},
                               seg_yaml=seg_yaml(**seg))  # fmt: skip

    return make


def test_private_ids_from_the_tree_are_known_and_their_secrets_marked(tree) -> None:
    ws = load_workspace(tree(), environ={"DSN": "postgres://x", "CRM_TOKEN": "t"})
    by_address = {r.address: r for r in ws.resources}
    assert by_address["web/crm"].fields["catalog"] == "acme-crm"
    # a YAML catalog file is not read as a resource document
    assert {r.kind.name for r in ws.resources} == {"Source", "Destination"}
    assert ("settings", "api_token") in by_address["web/crm"].secret_paths


def test_a_misspelled_private_id_has_a_did_you_mean_at_file_line_col(tree) -> None:
    with pytest.raises(WorkspaceInvalid) as info:
        load_workspace(tree(catalog="acme-crmm"), environ={"DSN": "x", "CRM_TOKEN": "t"})
    (problem,) = info.value.diagnostics
    assert (problem.file.endswith("resources.yaml"), problem.line, problem.col) == (True, 11, 12)
    assert "unknown destination catalog id 'acme-crmm' (did you mean 'acme-crm'?)" in (
        problem.message)  # fmt: skip


def test_without_the_catalog_file_the_private_id_is_unknown(write_workspace) -> None:
    root = write_workspace({"resources.yaml": RESOURCES.format(catalog="acme-crm")})
    with pytest.raises(WorkspaceInvalid) as info:
        load_workspace(root, environ={"DSN": "x", "CRM_TOKEN": "t"})
    messages = [d.message for d in info.value.diagnostics]
    assert any("unknown destination catalog id 'acme-crm'" in m for m in messages)
    assert any("unknown source catalog id 'acme-db'" in m for m in messages)


def test_private_schema_checks_apply_offline(tree, tmp_path) -> None:
    root = tree()
    text = (root / "resources.yaml").read_text().replace("region: eu", "regoin: eu")
    (root / "resources.yaml").write_text(text)
    with pytest.raises(WorkspaceInvalid) as info:
        load_workspace(root, environ={"DSN": "x", "CRM_TOKEN": "t"})
    (problem,) = info.value.diagnostics
    assert problem.line == 15 and "(did you mean 'region'?)" in problem.message


BAD_FILES = [
    ("{", "cannot use catalog file 'catalog/crm.json': line 1 column 2: invalid JSON"),
    (json.dumps({"entries": [{"id": "x", "section": "kind"}]}),
     "entries[0] (x).section: one of source, destination, warehouse"),
    (json.dumps({"entries": [{"id": "amplitude", "section": "destination"}]}),
     "destination 'amplitude' is a built-in catalog entry"),
    (json.dumps({"entries": [{"id": "acme-db", "section": "source"}]}),
     "source 'acme-db' is already defined in 'catalog/db.yaml'"),
    ('{"entries": [], "entries": []}', "duplicate key 'entries'"),
    ('{"entries": [{"id": "x", "section": "source", "settings": {"a": {"default": NaN}}}]}',
     "NaN is not a JSON number"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "reason"), BAD_FILES)
def test_a_bad_catalog_file_is_one_diagnostic_at_its_seg_yaml_entry(tree, text, reason) -> None:
    # the clash with the other file is reported on the later one: list the JSON file second
    root = tree(crm=text, first="catalog/db.yaml", second="catalog/crm.json")
    with pytest.raises(WorkspaceInvalid) as info:
        load_workspace(root, environ={"DSN": "x", "CRM_TOKEN": "t"})
    config = [d for d in info.value.diagnostics if d.file.endswith("seg.yaml")]
    assert len(config) == 1, info.value.diagnostics
    assert (config[0].line, config[0].col, config[0].rule) == (5, 5, "catalog-file")
    assert reason in config[0].message


def test_a_missing_file_and_a_yaml_error_name_the_reason(tree) -> None:
    root = tree(second="catalog/none.yaml")
    (root / "catalog" / "crm.json").write_text("format_version: [")  # YAML-ish, but .json
    with pytest.raises(WorkspaceInvalid) as info:
        load_workspace(root, environ={"DSN": "x", "CRM_TOKEN": "t"})
    config = sorted(d for d in info.value.diagnostics if d.file.endswith("seg.yaml"))
    assert [(d.line, d.col) for d in config] == [(4, 5), (5, 5)]
    assert "invalid JSON" in config[0].message
    assert config[1].message == "cannot use catalog file 'catalog/none.yaml': no such file"


def test_seg_yaml_catalog_must_be_a_list_of_paths(write_workspace) -> None:
    root = write_workspace({}, seg_yaml="version: seg/v1\nworkspace: acme\ncatalog: crm.json\n")
    with pytest.raises(WorkspaceInvalid) as info:
        load_workspace(root, environ={})
    (problem,) = info.value.diagnostics
    assert problem.line == 3 and "catalog" in problem.message


def test_validate_prints_the_diagnostic_as_one_line(tree) -> None:
    root = tree(catalog="acme-crmm")
    result = run_cli("validate", "-w", str(root))
    assert result.exit_code == 1
    assert ("resources.yaml:11:12: error: unknown destination catalog id 'acme-crmm' "
            "(did you mean 'acme-crm'?)") in result.output  # fmt: skip
