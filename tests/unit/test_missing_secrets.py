"""A ``${env:…}`` whose variable is not set: validation runs every other check, the plan
leaves the value out ("not compared"), and nothing is ever sent for it. Pure loader/engine."""

from __future__ import annotations

import pytest

from seg.engine import Action, compute_plan
from seg.engine.secrets import secret_questions
from seg.errors import WorkspaceInvalid
from seg.kinds import KINDS
from seg.model.resource import CurrentResource
from seg.model.secrets import DIGEST_PREFIX
from seg.render.plan_json import plan_to_json
from seg.render.plan_markdown import render_plan_markdown
from seg.render.plan_text import plan_lines
from seg.workspace import load_workspace

DEST = """\
kind: Source
name: web
spec: {catalog: javascript}
---
kind: Destination
name: amp
spec:
  source: web
  catalog: amplitude
  connection_mode: ${env:MODE}
  display_name: ${env:TITLE}
  settings:
    api_key: ${env:AMP_KEY}
    traits_to_append: [plain, "${env:HOST}"]
    region: eu
"""


def errors_of(root, environ=None):
    with pytest.raises(WorkspaceInvalid) as info:
        load_workspace(root, None, environ or {})
    return [str(d) for d in info.value.diagnostics]


def test_unset_variables_are_not_errors_and_are_listed_where_used(write_workspace) -> None:
    root = write_workspace({"a.yaml": DEST})
    ws = load_workspace(root, None, {})
    assert ws.missing_variables == ("AMP_KEY", "HOST", "MODE", "TITLE")
    where = {m.name: m.where for m in ws.missing}
    assert where["AMP_KEY"].endswith("a.yaml:13:14")
    amp = ws.resources[1]
    assert amp.unknown_paths == {("connection_mode",), ("display_name",),
                                 ("settings", "api_key"), ("settings", "traits_to_append", 1)}  # fmt: skip
    assert amp.fields["settings"]["region"] == "eu"
    assert ws.secret_values == frozenset()  # nothing from the environment was read


def test_value_checks_wait_for_the_value_but_the_type_is_checked(write_workspace) -> None:
    # connection_mode has an enum and display_name a maxLength: neither can be judged without
    # the value. enabled must be a boolean: a value from the environment is a string anyway.
    text = DEST.replace("  catalog: amplitude\n", "  catalog: amplitude\n  enabled: ${env:ON}\n")
    (error,) = errors_of(write_workspace({"a.yaml": text}))
    assert "a.yaml:10:12: error: spec.enabled: the value from the environment fails the 'type'" in error


def test_a_misspelled_key_beside_an_unset_variable_is_reported(write_workspace) -> None:
    text = DEST.replace("  region: eu", "  region: eu\n  enabeld: true") + (
        "---\nkind: Source\nname: ios\nspec:\n  catalog: ios\n  settings: {k: '${env:K}'}\n"
        "  labels: {team: nope}\n"
    )
    errors = errors_of(write_workspace({"a.yaml": text}))
    assert any("unknown key 'enabeld' in spec (did you mean 'enabled'?)" in e for e in errors)
    assert any("refers to label 'team:nope'" in e for e in errors)  # the other document too
    assert not any("not set" in e for e in errors)


def test_every_problem_of_a_document_is_reported_with_its_interpolation_errors(
    write_workspace,
) -> None:
    text = "kind: Source\nname: web\nspec:\n  catalog: javascript\n  enabeld: true\n" \
           "  settings: {k: '${var:nope}', s: '${env:UNSET}'}\n"  # fmt: skip
    errors = errors_of(write_workspace({"a.yaml": text}))
    assert len(errors) == 2, errors
    assert "a.yaml:5:3: error: unknown key 'enabeld'" in errors[0]
    assert "a.yaml:6:17: error: variable 'nope' is not defined" in errors[1]


def test_references_fql_and_sql_from_an_unset_variable_are_not_judged(write_workspace) -> None:
    text = """\
kind: Source
name: wh
spec: {catalog: postgres, labels: {team: '${env:TEAM}'}, settings: {host: db, database: a}}
---
kind: Destination
name: braze
spec: {source: wh, catalog: braze}
---
kind: DestinationFilter
name: drop
spec: {destination: wh/braze, title: t, if: '${env:FQL}', actions: [{type: DROP}]}
---
kind: Model
name: users
spec: {source: wh, query: '${env:SQL}', identifier_column: '${env:IDCOL}'}
"""
    ws = load_workspace(write_workspace({"a.yaml": text}), None, {})
    assert ws.missing_variables == ("FQL", "IDCOL", "SQL", "TEAM")
    # Set, the same values are judged: a bad FQL and a label nobody declared are errors.
    environ = {"TEAM": "nobody-team", "FQL": "((", "SQL": "SELECT id FROM u", "IDCOL": "nope"}
    errors = errors_of(write_workspace({"a.yaml": text}), environ)
    assert len(errors) == 3, errors
    assert "a.yaml:3:42: error: Source 'wh' refers to label 'team:(the value from the " in errors[0]
    assert "a.yaml:11:45: error: filter.if: the value from the environment (a secret) is not valid FQL" in errors[1]
    assert "a.yaml:15:60: error: identifier column" in errors[2]


@pytest.mark.parametrize(
    ("spec", "where"),
    [
        ("  source: ${env:SRC}\n  catalog: amplitude\n", "a.yaml:8:11: error: source: the value from the environment"),
        ("  source: web\n  query_file: ${env:SQL_FILE}\n  identifier_column: id\n",
         "a.yaml:9:15: error: query_file: the value from the environment"),
    ],
)  # fmt: skip
def test_addresses_and_files_take_no_value_from_the_environment(
    write_workspace, spec: str, where: str
) -> None:
    kind = "Destination" if "catalog" in spec else "Model"
    text = f"kind: Source\nname: web\nspec: {{catalog: postgres, settings: {{host: db, database: a}}}}\n" \
           f"---\nkind: {kind}\nname: x\n" \
           f"spec:\n{spec}"  # fmt: skip
    root = write_workspace({"a.yaml": text})
    for environ in ({}, {"SRC": "web", "SQL_FILE": "q.sql"}):  # set or not, it is refused
        errors = errors_of(root, environ)
        assert any(where in e for e in errors), errors


def _plan(write_workspace, current, environ=None):
    ws = load_workspace(write_workspace({"a.yaml": DEST}), None, environ or {})
    return ws, compute_plan("acme", ws.resources, current)


def test_an_update_compares_everything_but_the_unknown_values(write_workspace) -> None:
    digest = DIGEST_PREFIX + "ab" * 32
    current = [
        CurrentResource(KINDS["Source"], "web", {"catalog": "javascript"}),
        CurrentResource(KINDS["Destination"], "web/amp", {
            "catalog": "amplitude", "connection_mode": "device", "display_name": "Old",
            "settings": {"api_key": digest, "traits_to_append": ["plain", digest], "region": "us"},
        }, "e1"),
    ]  # fmt: skip
    ws, plan = _plan(write_workspace, current)
    (change,) = plan.changes
    assert change.action is Action.UPDATE
    assert change.update_mask == ("destination.settings.region",)
    assert change.not_compared == (("connection_mode",), ("display_name",),
                                   ("settings", "api_key"), ("settings", "traits_to_append", 1))  # fmt: skip
    assert secret_questions(ws.resources, current) == []  # nothing to ask the server about
    assert plan.not_compared == (("web/amp", "connection_mode"), ("web/amp", "display_name"),
                                 ("web/amp", "settings.api_key"),
                                 ("web/amp", "settings.traits_to_append[1]"))  # fmt: skip


def test_a_create_shows_its_unknown_values_as_not_compared_in_every_view(write_workspace) -> None:
    from dataclasses import replace

    _, plan = _plan(write_workspace, [])
    plan = replace(plan, missing_variables=("AMP_KEY", "HOST", "MODE", "TITLE"))
    amp = plan.changes[1]
    assert amp.action is Action.CREATE and len(amp.not_compared) == 4
    text = "\n".join(line for _, line in plan_lines(plan))
    assert "+ settings.api_key: (not compared: variable not set)" in text
    assert "Not compared (--missing-secrets=skip; not set: AMP_KEY, HOST, MODE, TITLE):" in text
    assert "  web/amp: settings.traits_to_append[1]" in text
    assert text.endswith("4 values not compared (not set: AMP_KEY, HOST, MODE, TITLE); this plan "
                         "cannot be applied.")  # fmt: skip
    markdown = render_plan_markdown(plan)
    assert "- <code>web/amp</code> <code>settings.api_key</code>: not compared" in markdown
    assert "4 values not compared" in markdown
    data = plan_to_json(plan)
    assert data["missing_variables"] == ["AMP_KEY", "HOST", "MODE", "TITLE"]
    assert {"address": "web/amp", "path": "settings.api_key"} in data["not_compared"]
    assert data["changes"][1]["not_compared"] == ["connection_mode", "display_name",
                                                  "settings.api_key", "settings.traits_to_append[1]"]  # fmt: skip
    assert "${env:" not in str(data) and "${env:" not in text  # placeholders are never shown


def test_with_every_variable_set_nothing_is_unknown(write_workspace) -> None:
    environ = {"MODE": "cloud", "TITLE": "T", "AMP_KEY": "k" * 20, "HOST": "h"}
    ws, plan = _plan(write_workspace, [], environ)
    assert ws.missing == () and plan.not_compared == ()
    assert all(c.not_compared == () for c in plan.changes)


def test_a_hostile_settings_key_is_escaped_in_the_markdown_list(write_workspace) -> None:
    text = ("kind: Source\nname: web\nspec:\n  catalog: javascript\n"
            "  settings: {consent_settings: {'</code><img src=x onerror=alert(1)>`': '${env:K}'}}\n")  # fmt: skip
    ws = load_workspace(write_workspace({"a.yaml": text}), None, {})
    markdown = render_plan_markdown(compute_plan("acme", ws.resources, []))
    (line,) = [line for line in markdown.splitlines() if line.startswith("- <code>web</code>")]
    assert "<img" not in line  # the list is HTML: the key is escaped there
    assert "&lt;/code&gt;&lt;img src=x onerror=alert(1)&gt;" in line
