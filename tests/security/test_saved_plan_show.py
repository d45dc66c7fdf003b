"""Hostile saved plans given to ``seg show`` (a plan file may come from a CI artifact): each is
one error line and exit 1 — no traceback, no hang, and nothing that drives the terminal."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli_workspace import base_env, run

CHANGE = {
    "address": "web", "kind": "Source", "action": "create", "before": None,
    "after": {"catalog": "js"}, "update_mask": [], "reason": None, "etag": None,
    "unmanaged_fields": 0, "access_change": False, "field_changes": [],
}  # fmt: skip


def saved(changes: Any, **plan: Any) -> dict[str, Any]:
    body = {"format_version": "1.0", "workspace": "acme", "workspace_digest": "d",
            "summary": {}, "changes": changes, **plan}  # fmt: skip
    return {"type": "seg-saved-plan", "format_version": "1.0", "plan": body}


HOSTILE = {
    "escape in an address": saved([{**CHANGE, "address": "web\x1b[2J\x1b]0;owned\x07"}]),
    "C1 control in a reason": saved([{**CHANGE, "action": "blocked", "reason": "no\x9b31m"}]),
    "escape in a key": saved([{**CHANGE, "after": {"\x1b[31mcatalog": "js"}}]),
    "unknown kind": saved([{**CHANGE, "kind": "Sourcery"}]),
    "unknown action": saved([{**CHANGE, "action": "explode"}]),
    "changes not a list": saved("web"),
    "change not an object": saved([42]),
    "bad field path": saved([{**CHANGE, "action": "update", "field_changes": [
        {"path": "settings.`open", "before": 1, "after": 2, "sensitive": False}]}]),
    "list index in a path": saved([{**CHANGE, "action": "update", "field_changes": [
        {"path": "settings[0]", "before": 1, "after": 2, "sensitive": False}]}]),
    "no changes key": {"type": "seg-saved-plan", "plan": {"format_version": "1.0"}},
    "huge format version": {"type": "seg-saved-plan", "plan": {"format_version": "9" * 100_000}},
    "plan not an object": {"type": "seg-saved-plan", "plan": [1, 2]},
}  # fmt: skip


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_saved_plan_is_one_error_line(case: str, tmp_path: Path) -> None:
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(HOSTILE[case]))
    outputs = ("text", "json", "markdown") if case == "escape in an address" else ("text",)
    for output in outputs:  # every format checks the whole file first
        result = run(["show", str(path), "-o", output], base_env(tmp_path))
        assert result.returncode == 1, (case, result.stdout, result.stderr)
        assert result.stdout == "" and result.stderr.startswith("error: "), case
        assert result.stderr.count("\n") == 1 and len(result.stderr) <= 1_100, case
        assert "\x1b" not in result.stderr and "\x9b" not in result.stderr, case
        assert "Traceback" not in result.stderr and "internal error" not in result.stderr, case


def test_deeply_nested_or_not_json_is_refused(tmp_path: Path) -> None:
    deep = tmp_path / "deep.json"
    deep.write_text("[" * 200_000 + "]" * 200_000)
    text = tmp_path / "text.json"
    text.write_text("not json at all")
    for path in (deep, text, tmp_path / "missing.json", tmp_path):
        result = run(["show", str(path)], base_env(tmp_path))
        assert result.returncode == 1 and result.stdout == "", result.stderr
        assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1
        assert "internal error" not in result.stderr


def test_a_query_with_crlf_line_ends_is_still_shown(tmp_path: Path) -> None:
    """Carriage returns are not refused: a model's query file may have Windows line ends."""
    model = {**CHANGE, "kind": "Model", "address": "wh/users",
             "after": {"source": "wh", "query": "select 1\r\nfrom t\r\n"}}  # fmt: skip
    path = tmp_path / "plan.json"
    path.write_text(json.dumps(saved([model])))
    result = run(["show", str(path)], base_env(tmp_path))
    assert result.returncode == 0, result.stderr
    assert "+ Model wh/users" in result.stdout
