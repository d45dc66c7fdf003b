"""Loading a workspace: every bad-input rule of SPEC §3.2 gives file:line:col."""

from __future__ import annotations

import pytest

from seg.errors import WorkspaceInvalid
from seg.workspace import load_workspace

GOOD = """\
kind: Source
name: web
spec:
  catalog: javascript
---
kind: Destination
name: amp
spec:
  source: web
  catalog: amplitude
  enabled: yes_please
  settings:
    api_key: ${env:WEB_KEY}
    region: ${var:region}
    group_type_trait: "$$5"
"""

SEG_YAML = """\
version: seg/v1
workspace: acme
environments:
  dev:
    workspace: acme-dev
    vars: {region: eu}
"""


def errors_of(root, env=None, environ=None):
    with pytest.raises(WorkspaceInvalid) as info:
        load_workspace(root, env, environ or {})
    return [str(d) for d in info.value.diagnostics]


def test_loads_documents_interpolates_and_marks_secrets(write_workspace) -> None:
    root = write_workspace({"a.yaml": GOOD.replace("yes_please", "true")}, seg_yaml=SEG_YAML)
    ws = load_workspace(root, "dev", {"WEB_KEY": "k1"})
    assert ws.config.workspace == "acme-dev"
    _, dst = ws.resources
    assert dst.fields["settings"] == {"api_key": "k1", "region": "eu", "group_type_trait": "$5"}
    assert ("settings", "api_key") in dst.secret_paths
    assert ("settings", "region") not in dst.secret_paths
    assert dst.address == "web/amp" and "source" not in dst.fields


def test_core_schema_keeps_yes_and_dates_as_strings(write_workspace) -> None:
    root = write_workspace({"a.yaml": "kind: Source\nname: web\nspec:\n  catalog: javascript\n"
                            "  settings: {consent_settings: {a: yes, b: 2024-01-01, c: 0x10, d: on,"
                            " e: 1.5}}\n"})  # fmt: skip
    (src,) = load_workspace(root, None, {}).resources
    assert src.fields["settings"]["consent_settings"] == {"a": "yes", "b": "2024-01-01", "c": 16,
                                                          "d": "on", "e": 1.5}  # fmt: skip


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("kind: Source\nname: web\nspec: [\n", "a.yaml:4:1: error: YAML syntax error"),
        ("kind: Source\nname: web\nname: web2\nspec: {catalog: javascript}\n",
         "a.yaml:3:1: error: duplicate key 'name' (first defined at line 2)"),
        ("kind: Source\nname: web\nspce: {catalog: javascript}\n",
         "a.yaml:3:1: error: unknown key 'spce' (did you mean 'spec'?)"),
        ("kind: Source\nname: web\nspec:\n  catalog: javascript\n  enabeld: true\n",
         "a.yaml:5:3: error: unknown key 'enabeld' in spec (did you mean 'enabled'?)"),
        ("kind: Source\nname: web\nspec:\n  catalog: javascript\n  enabled: sometimes\n",
         "a.yaml:5:12: error: spec.enabled: 'sometimes' is not of type 'boolean'"),
        ("kind: Sauce\nname: web\nspec: {}\n", "a.yaml:1:7: error: unknown kind 'Sauce'"),
        ("kind: Source\nname: Web_1\nspec: {catalog: javascript}\n", "a.yaml:2:7: error: name: 'Web_1' does not match"),
        ("kind: Source\nname: web\nspec: {}\n", "a.yaml:3:7: error: spec: 'catalog' is a required property"),
        ("kind: Source\nname: web\nspec: !!python/object:os.system {catalog: javascript}\n",
         "a.yaml:3:7: error: YAML tag 'tag:yaml.org,2002:python/object:os.system' is not allowed"),
        ("kind: Source\nname: web\nspec: {catalog: !custom js}\n",
         "a.yaml:3:17: error: YAML tag '!custom' is not allowed"),
        ("kind: Source\nname: web\nspec:\n  catalog: javascript\n  settings: {k: '${var:nope}'}\n",
         "a.yaml:5:17: error: variable 'nope' is not defined"),
        ("kind: Source\nname: web\nspec:\n  catalog: javascript\n  settings: {k: '${shell:ls}'}\n",
         "a.yaml:5:17: error: bad interpolation"),
        ("- just\n- a list\n", "a.yaml:1:1: error: a resource document must be a mapping"),
        ("kind: Destination\nname: amp\nspec:\n  source: webb\n  catalog: amplitude\n---\n"
         "kind: Source\nname: web\nspec: {catalog: javascript}\n",
         "a.yaml:4:11: error: Destination 'webb/amp' refers to source 'webb', which is not "
         "declared (did you mean 'web'?)"),
    ],
)  # fmt: skip
def test_bad_input_points_at_file_line_col(write_workspace, text: str, expected: str) -> None:
    root = write_workspace({"a.yaml": text})
    found = errors_of(root)
    assert any(expected in line for line in found), found
    assert all(line.startswith("ws/a.yaml:") or "/a.yaml:" in line for line in found)


def test_duplicate_addresses_across_files(write_workspace) -> None:
    doc = "kind: Source\nname: web\nspec: {catalog: javascript}\n"
    root = write_workspace({"a.yaml": doc, "b/c.yml": "\n" + doc})
    (line,) = errors_of(root)
    assert "b/c.yml:3:7: error: duplicate address 'web' (Source); first declared at" in line
    assert "a.yaml:2:7" in line  # the first declaration's name


def test_alias_bomb_is_refused(write_workspace) -> None:
    bomb = ["a: &a [x, x, x, x, x, x, x, x, x, x]"]
    for i in range(1, 8):
        bomb.append(f"{chr(97 + i)}: &{chr(97 + i)} [" + ", ".join([f"*{chr(96 + i)}"] * 10) + "]")
    text = "kind: Source\nname: web\nspec:\n  catalog: javascript\n  settings:\n" + "".join(
        f"    {line}\n" for line in bomb
    )
    (line,) = errors_of(write_workspace({"a.yaml": text}))
    assert "expands past 100000 nodes" in line


def test_every_error_is_reported_not_just_the_first(write_workspace) -> None:
    root = write_workspace({
        "a.yaml": "kind: Source\nname: web\nspec: {catalog: javascript, colour: red}\n",
        "b.yaml": "kind: Source\nname: ios\nspec: {catalog: 5}\n",
    })  # fmt: skip
    assert len(errors_of(root)) == 2


@pytest.mark.parametrize(
    ("seg_yaml", "env", "expected"),
    [
        ("version: seg/v1\nworkspace: acme\ncolour: red\n", None, "seg.yaml:3:1: error: unknown key 'colour'"),
        ("version: seg/v2\nworkspace: acme\n", None, "seg.yaml:1:10: error: version: 'seg/v1' was expected"),
        (SEG_YAML, "staging", "seg.yaml:3:1: error: unknown environment 'staging' (defined: dev)"),
        ("workspace: acme\n", None, "seg.yaml:1:1: error: document: 'version' is a required property"),
    ],
)  # fmt: skip
def test_workspace_file_errors(write_workspace, seg_yaml: str, env, expected: str) -> None:
    root = write_workspace({}, seg_yaml=seg_yaml)
    found = errors_of(root, env)
    assert any(expected in line for line in found), found


def test_missing_seg_yaml(tmp_path) -> None:
    (line,) = errors_of(tmp_path)
    assert "seg.yaml not found" in line


def test_seg_workspace_env_overrides_slug(write_workspace) -> None:
    root = write_workspace({})
    assert load_workspace(root, None, {"SEG_WORKSPACE": "other"}).config.workspace == "other"


def test_undeclared_fields_stay_unmanaged(write_workspace) -> None:
    root = write_workspace({"a.yaml": "kind: Destination\nname: amp\nspec: {source: web, catalog: amplitude}\n"
                            "---\nkind: Source\nname: web\nspec: {catalog: javascript}\n"})  # fmt: skip
    src, dst = load_workspace(root, None, {}).resources
    assert dict(src.fields) == {"catalog": "javascript"}
    assert dict(dst.fields) == {"catalog": "amplitude"}  # schema defaults are not declarations


def test_schema_checks_the_interpolated_value_without_echoing_secrets(write_workspace) -> None:
    text = ("kind: Destination\nname: amp\nspec:\n  source: web\n  catalog: amplitude\n"
            "  connection_mode: ${var:mode}\n  display_name: ${env:LONG}\n"
            "---\nkind: Source\nname: web\nspec: {catalog: javascript}\n")  # fmt: skip
    seg_yaml = "version: seg/v1\nworkspace: acme\nvars: {mode: device}\n"
    root = write_workspace({"a.yaml": text}, seg_yaml=seg_yaml)
    ws = load_workspace(root, None, {"LONG": "short"})
    assert ws.resources[1].fields["connection_mode"] == "device"
    secret = "S3CRET" * 50
    (line,) = errors_of(root, None, {"LONG": secret})
    assert "a.yaml:7:17: error: spec.display_name: the value from the environment fails" in line
    assert "S3CRET" not in line


RETL = """\
kind: Source
name: wh
spec: {catalog: postgres, settings: {host: db, database: analytics}}
---
kind: Source
name: web
spec: {catalog: javascript}
---
kind: Destination
name: braze
spec: {source: wh, catalog: braze}
---
kind: Model
name: users
spec: {source: wh, query: "SELECT id, email FROM users", identifier_column: id}
"""


def mapping(i: int, strategy: str = "MANUAL") -> str:
    return (f"---\nkind: Mapping\nname: m{i}\nspec:\n  destination: wh/braze\n  action: a\n"
            f"  model: users\n  schedule: {{strategy: {strategy}}}\n")  # fmt: skip


def test_mapping_limits_in_validate(write_workspace) -> None:
    root = write_workspace({"a.yaml": RETL + "".join(mapping(i) for i in range(51))})
    (line,) = errors_of(root)
    assert "destination 'wh/braze' has 51 mappings; the limit is 50" in line
    root = write_workspace({"a.yaml": RETL + "".join(mapping(i, "DBT_CLOUD") for i in range(6))})
    (line,) = errors_of(root)
    assert "6 mappings use the DBT_CLOUD strategy; the limit is 5 per workspace" in line


def test_model_rules_in_the_loader(write_workspace) -> None:
    bad = (
        RETL
        + "---\nkind: Model\nname: m\nspec: {source: web, query: 'SELECT 1 AS id', identifier_column: id}\n"
    )
    (line,) = errors_of(write_workspace({"a.yaml": bad}))
    assert "model 'web/m' needs a warehouse source" in line
    both = RETL.replace(
        'query: "SELECT id, email FROM users"', 'query: "SELECT 1 AS id", query_file: q.sql'
    )
    (line,) = errors_of(write_workspace({"a.yaml": both}))
    assert "spec: give exactly one of query, query_file or dbt_model" in line
    missing = RETL.replace('query: "SELECT id, email FROM users"', "query_file: nope.sql")
    (line,) = errors_of(write_workspace({"a.yaml": missing}))
    assert "cannot read query file 'nope.sql'" in line
    ok = write_workspace({"a.yaml": missing, "nope.sql": "SELECT id FROM t"})
    model = [r for r in load_workspace(ok, None, {}).resources if r.kind.name == "Model"][0]
    assert model.fields["query"] == "SELECT id FROM t" and model.attachments[-1].endswith(
        "nope.sql"
    )
    mixed = RETL + ("---\nkind: Mapping\nname: x\nspec:\n  destination: wh/braze\n  action: a\n"
                    "  trigger: \"type = 'track'\"\n  model: users\n  schedule: {strategy: MANUAL}\n")  # fmt: skip
    (line,) = errors_of(write_workspace({"a.yaml": mixed}))
    assert "give either trigger (an event-stream mapping) or model and schedule" in line
