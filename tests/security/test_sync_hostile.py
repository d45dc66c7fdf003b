"""`seg sync` writes values someone else chose into the tree CI plans with (issue 20): a
value set through the API must come back as that literal value — never as a reference that
makes the next plan read CI's environment, never as YAML that means something else — and
nothing is written through a symlink or outside the tree."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from seg.apply.executor import NullObserver, apply_plan
from seg.embedded import open_embedded
from seg.workspace.loader import load_workspace
from tests.conftest import run_cli
from tests.outside_edits import edit_outside

SLUG = "hostile"
HOOK = ("kind: Destination\nname: hook\nspec:\n  source: web\n  catalog: webhook\n"
        "  connection_mode: cloud\n  settings:\n    url: https://hooks.example.com/a  # hook\n")
WEB = "kind: Source\nname: web\nspec:\n  catalog: javascript\n  display_name: Web\n"


@pytest.fixture
def tree(tmp_path: Path, clean_seg_env: None) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {SLUG}\n")
    (root / "web.yaml").write_text(WEB)
    (root / "hook.yaml").write_text(HOOK)
    applied = run_cli("apply", "-w", str(root), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    return root


def outside_edit(root: Path, files: dict[str, str], tmp: Path) -> None:
    edit_outside(root, SLUG, files, tmp)


def synced_plan_is_empty(root: Path) -> None:
    synced = run_cli("sync", "-w", str(root))
    assert synced.exit_code == 0, synced.output
    plan = run_cli("plan", "-w", str(root), "--detailed-exitcode")
    assert plan.exit_code == 0 and "No changes." in plan.output, plan.output


def test_a_reference_set_through_the_api_comes_back_a_literal(tree: Path, tmp_path: Path,
                                                              monkeypatch) -> None:  # fmt: skip
    monkeypatch.setenv("CI_DEPLOY_KEY", "very-secret-deploy-key")
    # someone writes the text ${env:CI_DEPLOY_KEY} as a display name (as $$ in YAML: a literal)
    outside_edit(tree, {"web.yaml": WEB.replace("Web", "$${env:CI_DEPLOY_KEY}")}, tmp_path)
    synced_plan_is_empty(tree)
    text = (tree / "web.yaml").read_text()
    assert "$${env:CI_DEPLOY_KEY}" in text
    ws = load_workspace(tree, environ=dict(os.environ))
    (web,) = [r for r in ws.resources if r.address == "web"]
    assert web.fields["display_name"] == "${env:CI_DEPLOY_KEY}"  # the text, not the secret
    assert not web.secret_paths


@pytest.mark.parametrize("value", [
    "https://x.example/#frag: yes\n- item",  # YAML syntax inside a value
    "true", "123", "null", "", " padded ", "'quoted'", '"dq"', "a\u202eb", "tab\there",
    "line one\nline two", "&anchor", "*alias", "!tag", "% directive", "@at", "`tick`",
    "---", "...", "key: value", "# a comment",
])
def test_values_that_look_like_yaml_come_back_exactly(tree: Path, tmp_path: Path,
                                                      value: str) -> None:  # fmt: skip
    import json

    hostile = HOOK.replace("https://hooks.example.com/a  # hook", json.dumps(value))
    outside_edit(tree, {"hook.yaml": hostile}, tmp_path)
    synced_plan_is_empty(tree)
    ws = load_workspace(tree, environ={})
    (hook,) = [r for r in ws.resources if r.address == "web/hook"]
    assert hook.fields["settings"]["url"] == value
    lines = (tree / "hook.yaml").read_text().splitlines()
    assert lines[:7] == HOOK.splitlines()[:7]  # nothing above the edited line moved


def test_sync_never_writes_through_a_symlinked_directory(tree: Path, tmp_path: Path) -> None:
    outside_edit(tree, {"web.yaml": WEB.replace("Web", "Web site")}, tmp_path)
    elsewhere = tmp_path / "outside"
    elsewhere.mkdir()
    (tree / "sources").symlink_to(elsewhere)  # where a new resource's file would go
    outside_new = {"ios.yaml": "kind: Source\nname: ios\nspec:\n  catalog: ios\n"}
    # a source made through the API: sync wants sources/ios.yaml
    other = tmp_path / "made"
    shutil.copytree(tree, other, ignore=shutil.ignore_patterns(".seg", "sources"))
    (other / "ios.yaml").write_text(outside_new["ios.yaml"])
    client = open_embedded(tree, SLUG)
    try:
        ws = load_workspace(other, environ={})
        from seg.engine import compute_plan
        from seg.engine.ownership import Ownership

        plan = compute_plan(SLUG, ws.resources, client.read_state(), ownership=Ownership("x"))
        creates = [c for c in plan.changes if c.address == "ios"]
        assert apply_plan(type(plan)(SLUG, tuple(creates)), client, NullObserver()).ok
    finally:
        client.close()
    done = run_cli("sync", "-w", str(tree))
    assert done.exit_code == 1 and "symlink" in done.output, done.output
    assert list(elsewhere.iterdir()) == []
    assert "Web site" not in (tree / "web.yaml").read_text()  # all or none
