"""Keys and values that try to drive the terminal or break the pull-request comment.

A settings key or value may hold C0/C1 controls (ESC sequences that clear the screen, set the
title or draw a fake summary above the confirmation prompt), a carriage return, bidi overrides
(U+202E) or a newline followed by a code fence and ``<!--`` (closing the ``diff`` fence and
hiding every later change in an HTML comment). Every view escapes them; a workspace file or
an API request that puts one in a KEY is refused (no key is ever legitimately one).
"""

from __future__ import annotations

import io
import json
import re
import sqlite3
import subprocess
from pathlib import Path

from markdown_it import MarkdownIt
from rich.console import Console

from seg.apply.executor import ApplyResult, StepResult
from seg.ci.check import CheckResult, Finding
from seg.engine.order import Step
from seg.model.paths import format_path
from seg.model.resource import Origin
from seg.render.apply_view import HumanApplyView, render_apply_summary
from seg.render.check_view import check_markdown, github_annotations, render_check_text
from seg.render.plan_json import plan_from_json
from seg.render.plan_markdown import render_plan_markdown
from seg.render.plan_text import render_plan_text
from tests.conftest import Api
from tests.e2e.cli_workspace import SEG, SEG_YAML, base_env, run

# What a terminal or a renderer acts on: C0 but newline, DEL, C1, bidi controls, separators.
RAW = re.compile("[\x00-\x09\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]")
TERMINAL = "\x1b]0;pwned\x07\x1b[2J\rPlan: 0 to add"
FENCE = "k\n```\n<!--"
VALUE = "safe\u202e\u009b2Jx" + TERMINAL
KEY = FENCE + TERMINAL


def assert_clean(text: str) -> None:
    found = RAW.search(text)
    assert found is None, f"raw {found.group(0)!r} in output:\n{text!r}"


def assert_comment_intact(markdown: str, hidden: str = "should be hidden") -> None:
    """The comment renders every change: its fences are balanced, no HTML comment opens, and
    the last change's block (``md2``) is still a block of its own."""
    assert_clean(markdown)
    tokens = MarkdownIt("commonmark").parse(markdown)
    fences = [t for t in tokens if t.type == "fence"]
    # one diff per change, and a small plan's picture (a mermaid block) before them
    assert [t.info for t in fences if t.info != "diff"] in ([], ["mermaid"]), fences
    assert any(hidden in t.content for t in fences), markdown
    blocks = [t.content for t in tokens if t.type in ("html_block", "html_inline")]
    assert not any("<!--" in b for b in blocks), blocks
    assert any("<code>md2</code>" in b for b in blocks), blocks
    diffs = [t for t in fences if t.info == "diff"]
    assert len(diffs) == markdown.count("<details><summary>")  # one fence per change
    assert sum(line.startswith("```") for line in markdown.splitlines()) == 2 * len(fences)


def workspace(tmp_path: Path, resources: str) -> Path:
    root = tmp_path / "ws"
    root.mkdir(exist_ok=True)
    (root / "seg.yaml").write_text(SEG_YAML)
    (root / "resources.yaml").write_text(resources)
    return root


def yaml_str(text: str) -> str:
    """``text`` as a double-quoted YAML scalar (JSON escapes are YAML escapes)."""
    return json.dumps(text)


MD2 = "kind: Source\nname: md2\nspec: {catalog: javascript, display_name: should be hidden}\n"


def test_hostile_values_are_escaped_in_plan_text_and_markdown(tmp_path: Path) -> None:
    resources = (
        f"kind: Source\nname: md1\nspec: {{catalog: javascript, display_name: {yaml_str(VALUE)},"
        f" settings: {{cookie_domain: {yaml_str(FENCE)},"
        f" consent_settings: {{b: {yaml_str(TERMINAL)}}}}}}}\n---\n{MD2}"
    )
    root = workspace(tmp_path, resources)
    env = base_env(tmp_path)
    text = run(["plan", "-w", str(root)], env)
    assert text.returncode == 0, text.stderr
    assert_clean(text.stdout + text.stderr)
    assert '+ display_name: "safe\\u202e\\u009b2Jx\\u001b]0;pwned\\u0007' in text.stdout
    assert text.stdout.rstrip().endswith("Plan: 2 to add, 0 to change, 0 to destroy.")
    markdown = run(["plan", "-w", str(root), "-o", "markdown"], env)
    assert markdown.returncode == 0, markdown.stderr
    assert_comment_intact(markdown.stdout)
    assert '+ settings.cookie_domain: "k\\n```\\n<!--"' in markdown.stdout


def test_a_key_with_control_characters_is_refused_at_load(tmp_path: Path) -> None:
    for key in (FENCE, "k" + TERMINAL, "k\u202e", "k\x9b2J", "k\tx"):
        resources = (f"kind: Source\nname: md1\n"
                     f"spec: {{catalog: javascript, settings: {{{yaml_str(key)}: 1}}}}\n---\n{MD2}")  # fmt: skip
        root = workspace(tmp_path, resources)
        for command in ("validate", "plan"):
            result = run([command, "-w", str(root)], base_env(tmp_path))
            assert result.returncode == 1, (key, result.stdout, result.stderr)
            assert_clean(result.stdout + result.stderr)
            first = result.stderr.splitlines()[0]
            assert re.search(r"resources\.yaml:3:\d+: error: key .* holds a control", first), first
            assert "Traceback" not in result.stderr


def test_the_api_refuses_a_key_with_control_characters(api: Api) -> None:
    for key in (FENCE, "k" + TERMINAL, "k\u202e", "k\x9b"):
        response = api.create_source("md1", settings={"consent_settings": {key: 1}})
        assert response.status_code == 400, response.text
        assert response.json()["code"] == 3 and "holds a control" in response.json()["error"]
        assert_clean(response.text)
    fine = {"consent_settings": {"naïve key.ok": 1}}
    assert api.create_source("md1", settings=fine).status_code == 200


def _store_hostile_key(root: Path) -> None:
    """Rename the stored (and managed) settings key ``user_cookie_days`` to ``KEY`` in the
    embedded database, as a key written before the API refused such keys would be."""
    db = sqlite3.connect(root / ".seg" / "control-plane.db")
    where = "WHERE name LIKE '%/sources/md1'"
    try:
        data, managed = db.execute(f"SELECT data, managed_paths FROM resources {where}").fetchone()
        fields, paths = json.loads(data), json.loads(managed)
        fields["settings"][KEY] = fields["settings"].pop("user_cookie_days")
        paths[paths.index("settings.user_cookie_days")] = format_path(("settings", KEY))
        db.execute(f"UPDATE resources SET data = ?, managed_paths = ? {where}",
                   (json.dumps(fields), json.dumps(paths)))  # fmt: skip
        db.commit()
    finally:
        db.close()


def test_a_stored_hostile_key_is_escaped_in_plan_and_apply(tmp_path: Path) -> None:
    declared = ("kind: Source\nname: md1\n"
                "spec: {catalog: javascript, settings: {user_cookie_days: 1}}\n")  # fmt: skip
    root = workspace(tmp_path, f"{declared}---\n{MD2.replace('should be hidden', 'v1')}")
    env = base_env(tmp_path)
    applied = run(["apply", "-w", str(root), "--auto-approve"], env)
    assert applied.returncode == 0, applied.stderr
    _store_hostile_key(root)
    # seg manages the key and no longer declares it: the plan shows it cleared (then md2)
    undeclared = declared.replace("user_cookie_days: 1", "cookie_domain: j")
    (root / "resources.yaml").write_text(f"{undeclared}---\n{MD2}")
    text = run(["plan", "-w", str(root)], env)
    assert text.returncode == 0, text.stderr
    assert_clean(text.stdout + text.stderr)
    assert 'settings."k\\n```\\n<!--\\u001b]0;pwned\\u0007' in text.stdout
    markdown = run(["plan", "-w", str(root), "-o", "markdown"], env)
    assert markdown.returncode == 0, markdown.stderr
    assert_comment_intact(markdown.stdout)
    # the interactive apply shows the plan above its prompt; answered "no", nothing is written
    refused = subprocess.run([*SEG, "apply", "-w", str(root)], env=env, input="no\n",
                             capture_output=True, text=True, timeout=120)  # fmt: skip
    assert_clean(refused.stdout + refused.stderr)
    assert 'settings."k\\n```' in refused.stdout


KEYS = {"catalog": "javascript", "settings": {KEY: 1, "ok": VALUE}}
CHANGES = [
    {"address": "md1", "kind": "Source", "action": "update", "before": KEYS, "after": KEYS,
     "update_mask": [f"source.settings.`{KEY.replace('`', '``')}`"], "reason": f"r {TERMINAL}",
     "etag": None, "included_by": [f"web{TERMINAL}"], "not_compared": [],
     "field_changes": [
         {"path": f"settings.`{KEY.replace('`', '``')}`", "before": VALUE, "after": 2,
          "sensitive": False},
         {"path": "settings.query", "before": f"select 1\n{TERMINAL}\n```\n<!--",
          "after": f"select 2\n{TERMINAL}\n```\n<!--", "sensitive": False}]},
    {"address": "admins", "kind": "Group", "action": "create", "before": None,
     "after": {"members": [f"a@example.com{TERMINAL}\n```"], "settings": KEYS["settings"]},
     "update_mask": [], "reason": None, "etag": None, "field_changes": []},
    {"address": "md2", "kind": "Source", "action": "create", "before": None,
     "after": {"catalog": "javascript", "display_name": "should be hidden"},
     "update_mask": [], "reason": None, "etag": None, "field_changes": []},
]  # fmt: skip
PLAN = {"format_version": "1.0", "workspace": "shop", "workspace_digest": "d",
        "changes": CHANGES, "not_compared": [{"address": "md1", "path": f"settings.{TERMINAL}"}],
        "missing_variables": []}  # fmt: skip


def _console(terminal: bool) -> tuple[Console, io.StringIO]:
    out = io.StringIO()
    color = "truecolor" if terminal else None
    return Console(file=out, force_terminal=terminal, color_system=color, width=200), out


def _without_styles(text: str) -> str:
    """The output of a colour console without rich's own SGR sequences (``ESC[…m``)."""
    return re.sub(r"\x1b\[[0-9;]*m", "", text)


def test_every_view_escapes_keys_values_reasons_and_paths() -> None:
    plan = plan_from_json(PLAN)
    for terminal in (False, True):
        console, out = _console(terminal)
        render_plan_text(plan, console)
        shown = _without_styles(out.getvalue())
        assert_clean(shown)
        assert 'settings."k\\n```\\n<!--\\u001b]0;pwned\\u0007' in shown
        assert "reason: r \\u001b]0;pwned" in shown and "update_mask: source.settings.\"k" in shown
    assert_comment_intact(render_plan_markdown(plan))
    console, out = _console(False)
    view = HumanApplyView(console)
    change = plan.changes[0]
    view.step_finished(StepResult(Step(0, "update", change), "failed", f"bad key {KEY}"))
    render_apply_summary(ApplyResult([], stopped=f"lost {TERMINAL}"), console)
    assert_clean(out.getvalue())
    assert "failed to update Source md1: bad key k\\n```" in out.getvalue()


def test_check_reports_escape_messages_and_files() -> None:
    finding = Finding(f"wh/m{TERMINAL}", "deleted", True, f"in use {FENCE}{TERMINAL}",
                      ("web/amp",), Origin(f"models{TERMINAL}.yaml", 3, 1))  # fmt: skip
    result = CheckResult("strict", (finding,))
    console, out = _console(False)
    render_check_text(result, console)
    assert_clean(out.getvalue())
    annotations = github_annotations(result)
    assert_clean(annotations)
    assert annotations.count("\n") == 1
    markdown = check_markdown(result)
    assert_clean(markdown)
    assert "<!--" not in markdown and "&lt;!--" in markdown
