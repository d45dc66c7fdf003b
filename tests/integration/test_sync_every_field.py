"""Every mutable field of every kind, changed on the control plane outside seg, is found by
`seg drift` and written back by `seg sync` so that the next plan is empty (issue 20): the
same edits as the patch-alone tests (test_patch_alone.EDITS), made through the API instead of
the YAML — by a plan executed without an apply run, as a script or the web app would write."""

from __future__ import annotations

import copy
import json
import shutil
from pathlib import Path

import pytest

from seg.model.paths import format_path
from tests.conftest import run_cli
from tests.integration.patch_workspace import (
    EDITS,
    ENVIRONMENT,
    MUTABLE,
    WORKSPACE,
    assert_plan_empty,
    base_documents,
    documents_text,
)
from tests.outside_edits import edit_outside

# Fields whose new value holds a secret: sync refuses to write it (exit 3), names the path.
SECRET_EDITS = {("Alert", "slack_webhook_url"): ("slack_webhook_url",)}


def _edit_outside(root: Path, kind: str, field: str, tmp: Path) -> None:
    """Make the edit on the control plane of ``root`` without recording an apply run."""
    key, value = EDITS[(kind, field)]
    docs = copy.deepcopy(base_documents())
    docs[key]["spec"][field] = value
    edit_outside(root, WORKSPACE, {"resources.yaml": documents_text(docs)}, tmp, ENVIRONMENT)


@pytest.mark.parametrize(("kind", "field"), MUTABLE, ids=[f"{k}.{f}" for k, f in MUTABLE])
def test_a_field_changed_outside_is_synced_back_and_the_plan_is_empty(
    kind: str, field: str, applied_base: Path, tmp_path: Path, clean_seg_env: None,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    for var, value in ENVIRONMENT.items():
        monkeypatch.setenv(var, value)
    root = tmp_path / "ws"
    shutil.copytree(applied_base, root)
    before = (root / "resources.yaml").read_text()
    _edit_outside(root, kind, field, tmp_path)

    drift = run_cli("drift", "-w", str(root), "-o", "json")
    assert drift.exit_code == 2, drift.output
    report = json.loads(drift.output)
    paths = {f["path"] for d in report["drift"] for f in d["fields"]}
    assert any(p == field or p.startswith(field + ".") for p in paths), paths
    assert all(d["change"] == "changed" for d in report["drift"]), report["drift"]

    synced = run_cli("sync", "-w", str(root))
    if (kind, field) in SECRET_EDITS:
        assert synced.exit_code == 3, synced.output
        assert format_path(SECRET_EDITS[kind, field]) in synced.output
        assert "hooks.slack.com/services/T000/B000/edited" not in synced.output
        return
    assert synced.exit_code == 0, synced.output
    assert (root / "resources.yaml").read_text() != before or field == "code"
    assert_plan_empty(root)
    again = run_cli("drift", "-w", str(root), "-o", "json")
    assert again.exit_code == 0 and json.loads(again.output)["drift"] == [], again.output
