"""Function rules (INV-FN-1..6) as `seg validate` reports them: one line per problem at
file:line:col, a code problem at its line and column of the .js file; and instances and
insert functions (a Source deploying a source function, a Destination a destination function,
an insert function on a cloud-mode, non-storage destination)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seg.kinds import KINDS
from seg.kinds.lookup import IndexLookup
from seg.model.kinds import Code, Subject
from seg.policy.javascript import read_javascript
from tests.conftest import WriteWorkspace, run_cli

SOURCE_CODE = "async function onRequest(request, settings) {\n  Segment.track({event: 'x'})\n}\n"
DEST_CODE = "async function onTrack(event, settings) {\n  return event\n}\n"


def function_doc(name: str, kind: str, code: str | None = None, code_file: str | None = None,
                 extra: str = "") -> str:  # fmt: skip
    body = f"  code_file: {code_file}\n" if code_file else f"  code: {json.dumps(code)}\n"
    return f"kind: Function\nname: {name}\nspec:\n  type: {kind}\n{body}{extra}"


def validate(root: Path) -> tuple[int, list[str]]:
    """Exit status and the problem lines (``file:line:col: message``, rule tag dropped)."""
    result = run_cli("validate", "-w", str(root))
    lines = [line.replace(f"{root}/", "").replace(": error: ", ": ").rsplit(" [", 1)[0]
             for line in result.output.splitlines() if line.strip()]  # fmt: skip
    return result.exit_code, lines


def test_code_that_does_not_parse_is_reported_at_its_line_and_column_of_the_js_file(
    write_workspace: WriteWorkspace,
) -> None:
    code = "async function onTrack(event) {\n  return event +\n}\n"
    root = write_workspace({"functions.yaml": function_doc("f", "destination", code_file="f/x.js"),
                            "f/x.js": code})  # fmt: skip
    status, lines = validate(root)
    assert status == 1
    assert lines[0] == ("f/x.js:3:1: the code is not valid JavaScript: line 3, column 1: "
                        "Unexpected token }")  # fmt: skip


def test_inline_code_that_does_not_parse_points_at_the_code_key_and_names_line_and_column(
    write_workspace: WriteWorkspace,
) -> None:
    root = write_workspace({"functions.yaml": function_doc("f", "insert", code="var = 1")})
    status, lines = validate(root)
    assert status == 1
    assert lines[0].startswith("functions.yaml:5:9: the code is not valid JavaScript: line 1, ")


@pytest.mark.parametrize(
    ("kind", "code", "expected"),
    [
        ("source", DEST_CODE, "a source function defines onRequest(request, settings)"),
        ("source", SOURCE_CODE + "async function onBatch(e) {}\n",
         "onBatch is for destination and insert functions only"),
        ("source", SOURCE_CODE + "fetch('HTTPS://fn.segmentapis.com/x')\n",
         "a source function may not call https://fn.segmentapis.com (loop protection)"),
        ("destination", SOURCE_CODE, "a destination function defines at least one of onIdentify"),
        ("insert", "async function onBatch(events) { return events }\n",
         "an insert function defines at least one of onIdentify, onTrack, onPage, onScreen, "
         "onGroup, onAlias, onDelete at the top level (onBatch needs one too)"),
    ],
)
def test_the_handlers_a_function_type_needs(write_workspace: WriteWorkspace, kind: str,
                                            code: str, expected: str) -> None:  # fmt: skip
    root = write_workspace({"functions.yaml": function_doc("f", kind, code_file="f.js"),
                            "f.js": code})  # fmt: skip
    status, lines = validate(root)
    assert status == 1
    assert lines[0].startswith("functions.yaml:5:14: ") and expected in lines[0], lines


@pytest.mark.parametrize(
    "code",
    [
        "async function onTrack(event) { return event }",
        "exports.onTrack = async (event) => event",
        "module.exports.onIdentify = function (event) { return event }",
        "const onPage = async (event) => event?.properties ?? {}",
        "function onGroup(e) { return e }\nasync function onBatch(events) { return events }",
    ],
)
def test_handlers_the_editor_accepts(code: str) -> None:
    facts = read_javascript(code)
    assert facts.error is None and facts.handlers - {"onBatch"}, facts


def test_modern_operators_parse_and_keep_their_columns() -> None:
    code = "const a = x?.y ?? z\nb ||= c; d &&= e; f ??= g; h?.[0]; i?.(1)\nconst bad = ]"
    facts = read_javascript(code)
    assert facts.error is not None and (facts.error.line, facts.error.col) == (3, 13)


def test_display_name_of_insert_functions_and_unique_settings(
    write_workspace: WriteWorkspace,
) -> None:
    settings = ("  display_name: " + "x" * 121 + "\n  settings:\n    - name: token\n"
                "    - name: region\n    - name: token\n")  # fmt: skip
    root = write_workspace({"functions.yaml": function_doc("f", "insert", code=DEST_CODE,
                                                           extra=settings)})  # fmt: skip
    status, lines = validate(root)
    assert status == 1
    assert lines[:2] == [
        "functions.yaml:6:17: an insert function's display name has at most 120 characters "
        "(this one has 121)",
        "functions.yaml:8:13: setting 'token' is declared 2 times; names are unique",
    ]
    root = write_workspace({"functions.yaml": function_doc(
        "f", "destination", code=DEST_CODE, extra="  display_name: " + "x" * 121 + "\n")})
    assert validate(root)[0] == 0  # 120 is the insert functions' limit


def test_at_most_25_functions_per_workspace(write_workspace: WriteWorkspace) -> None:
    docs = [function_doc(f"f{i}", "insert", code=DEST_CODE) for i in range(26)]
    root = write_workspace({"functions.yaml": "---\n".join(docs)})
    status, lines = validate(root)
    assert status == 1
    assert [line.split(": ", 1)[1] for line in lines[:-1]] == [
        "the workspace has 26 functions; the limit is 25"]
    root = write_workspace({"functions.yaml": "---\n".join(docs[:25])})
    assert validate(root)[0] == 0


INSTANCES = """\
kind: Source
name: hook
spec:
  catalog: function:{source_fn}
  settings: {{token: abc}}
---
kind: Source
name: web
spec:
  catalog: javascript
---
kind: Destination
name: crm
spec:
  source: web
  function: {dest_fn}
  enabled: true
  settings: {{apiKey: k}}
"""
SCHEMA = "  settings:\n    - name: {0}\n      required: true\n      encrypted: true\n"


def instances_workspace(write_workspace: WriteWorkspace, source_fn: str = "src",
                        dest_fn: str = "dst") -> Path:  # fmt: skip
    functions = "---\n".join([
        function_doc("src", "source", code=SOURCE_CODE, extra=SCHEMA.format("token")),
        function_doc("dst", "destination", code=DEST_CODE, extra=SCHEMA.format("apiKey")),
        function_doc("ins", "insert", code=DEST_CODE),
    ])
    return write_workspace({"functions.yaml": functions,
                            "sources.yaml": INSTANCES.format(source_fn=source_fn,
                                                             dest_fn=dest_fn)})  # fmt: skip


def test_instances_are_checked_against_their_function(write_workspace: WriteWorkspace) -> None:
    assert validate(instances_workspace(write_workspace))[0] == 0
    status, lines = validate(instances_workspace(write_workspace, "nope", "dst"))
    assert status == 1
    assert lines[0] == ("sources.yaml:4:12: Source 'hook' refers to function 'nope', which is "
                        "not declared")  # fmt: skip
    status, lines = validate(instances_workspace(write_workspace, "dst", "ins"))
    assert lines[:2] == [
        "sources.yaml:4:12: function 'dst' is a destination function; a source deploys only "
        "a source function",
        "sources.yaml:16:13: function 'ins' is an insert function; a destination deploys only a "
        "destination function",
    ]


def test_instance_settings_follow_the_function_schema(write_workspace: WriteWorkspace) -> None:
    root = instances_workspace(write_workspace)
    text = (root / "sources.yaml").read_text().replace("settings: {apiKey: k}",
                                                       "settings: {apiKy: k}")  # fmt: skip
    (root / "sources.yaml").write_text(text)
    status, lines = validate(root)
    assert status == 1
    assert any("apiKy" in line and "apiKey" in line for line in lines), lines


def test_a_destination_names_exactly_one_of_catalog_and_function(
    write_workspace: WriteWorkspace,
) -> None:
    root = instances_workspace(write_workspace)
    text = (root / "sources.yaml").read_text().replace("  function: dst\n",
                                                       "  function: dst\n  catalog: braze\n")
    (root / "sources.yaml").write_text(text)
    status, lines = validate(root)
    assert status == 1 and "give exactly one of catalog or function" in lines[0], lines


def insert_workspace(write_workspace: WriteWorkspace, destination: str) -> Path:
    functions = "---\n".join([function_doc("ins", "insert", code=DEST_CODE),
                              function_doc("dst", "destination", code=DEST_CODE)])
    sources = "kind: Source\nname: web\nspec:\n  catalog: javascript\n---\n" + destination
    return write_workspace({"functions.yaml": functions, "sources.yaml": sources})


def test_insert_functions_go_on_cloud_mode_destinations_and_name_insert_functions(
    write_workspace: WriteWorkspace,
) -> None:
    dest = ("kind: Destination\nname: a\nspec:\n  source: web\n  catalog: amplitude\n"
            "  insert_function: {fn}\n{extra}")  # fmt: skip
    assert validate(insert_workspace(write_workspace, dest.format(fn="ins", extra="")))[0] == 0
    status, lines = validate(insert_workspace(
        write_workspace, dest.format(fn="ins", extra="  connection_mode: device\n")))
    assert lines[0] == ("sources.yaml:11:20: insert functions run on cloud-mode destinations "
                        "only; this one is device-mode")  # fmt: skip
    status, lines = validate(insert_workspace(write_workspace, dest.format(fn="dst", extra="")))
    assert lines[0] == ("sources.yaml:11:20: function 'dst' is a destination function; "
                        "insert_function names an insert function")  # fmt: skip
    status, lines = validate(insert_workspace(write_workspace, dest.format(fn="gone", extra="")))
    assert lines[0] == ("sources.yaml:11:20: Destination 'web/a' refers to function 'gone', "
                        "which is not declared")  # fmt: skip


def test_insert_functions_do_not_go_on_storage_destinations() -> None:
    from seg.catalog import builtin, parse_entries

    private = parse_entries({"format_version": 1, "entries": [
        {"id": "lake", "section": "destination", "display_name": "Lake", "storage": True,
         "settings": {}}]}, private=True)  # fmt: skip
    catalog = builtin().with_entries(private)
    fields = {"catalog": "lake", "insert_function": "ins", "connection_mode": "cloud"}
    index = {("Function", "ins"): {"type": "insert"}, ("Destination", "web/a"): fields}
    subject = Subject(KINDS["Destination"], "web/a", fields)
    found = [v for rule in KINDS["Destination"].rules
             for v in rule(subject, IndexLookup(index, catalog))]  # fmt: skip
    assert [v.message for v in found] == [
        "Lake is a storage destination; insert functions cannot connect to it"]


def test_a_function_with_instances_cannot_be_deleted_and_hidden_ones_are_only_counted() -> None:
    index = {
        ("Function", "f"): {"type": "destination"},
        ("Source", "hook"): {"catalog": "function:f"},
        ("Destination", "web/a"): {"function": "f"},
        ("Destination", "web/b"): {"catalog": "braze", "insert_function": "f"},
        ("Destination", "web/c"): {"catalog": "braze"},
    }
    kind = KINDS["Function"]
    subject = Subject(kind, "f", index[("Function", "f")], index[("Function", "f")],
                      visible=lambda k, a: a != "web/b")  # fmt: skip
    (found,) = [v for rule in kind.delete_rules for v in rule(subject, IndexLookup(index))]
    assert found.code is Code.FAILED_PRECONDITION and found.rule == "function/in-use"
    assert found.message == (
        "function f is in use by source hook (deploys it), destination web/a (deploys it), "
        "1 instance you may not read; remove them first"
    )
    unused = Subject(kind, "g", {"type": "insert"}, {"type": "insert"})
    assert [v for rule in kind.delete_rules for v in rule(unused, IndexLookup(index))] == []
