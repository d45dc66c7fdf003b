"""The embedded control plane is the tree's own: it imports seg.yaml's ``catalog:`` files
before a plan, an apply or ``seg catalog``, only the entries it does not hold as written."""

from __future__ import annotations

import json

import pytest

from seg.model.secrets import is_digest
from tests.conftest import live, run_cli

pytestmark = pytest.mark.usefixtures("clean_seg_env")

SEG_YAML = "version: seg/v1\nworkspace: acme\ncatalog: [catalog/private.json]\n"
CATALOG = {"format_version": 1, "entries": [{
    "id": "acme-crm", "section": "destination", "display_name": "Acme CRM",
    "settings": {"api_token": {"type": "string", "required": True, "secret": True},
                 "region": {"type": "string", "enum": ["us", "eu"]}}}]}  # fmt: skip
RESOURCES = """\
kind: Source
name: web
spec:
  catalog: javascript
---
kind: Destination
name: crm
spec:
  source: web
  catalog: acme-crm
  enabled: true
  settings:
    api_token: ${env:CRM_TOKEN}
    region: eu
"""


def _imports(root) -> list[dict]:
    events = live(root, "audit-events")["audit_events"]
    return [e for e in events if e["resource"] == "workspaces/acme/catalog"]


def test_apply_imports_the_tree_catalog_once(write_workspace, monkeypatch) -> None:
    monkeypatch.setenv("CRM_TOKEN", "embedded-CRM-secret")
    root = write_workspace({"catalog/private.json": json.dumps(CATALOG),
                            "resources.yaml": RESOURCES}, seg_yaml=SEG_YAML)  # fmt: skip
    applied = run_cli("apply", "-w", str(root), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    crm = live(root, "sources/web/destinations/crm")
    assert is_digest(crm["settings"]["api_token"]) and crm["settings"]["region"] == "eu"
    assert [e["paths"] for e in _imports(root)] == [["destination/acme-crm"]]

    again = run_cli("plan", "-w", str(root), "--detailed-exitcode")
    assert again.exit_code == 0, again.output
    listed = run_cli("catalog", "list", "-w", str(root), "-o", "json")
    assert {"id": "acme-crm", "section": "destination", "display_name": "Acme CRM",
            "connection_modes": ["cloud"], "private": True} in json.loads(listed.stdout)["entries"]
    assert len(_imports(root)) == 1  # unchanged entries are not imported again

    renamed = {**CATALOG, "entries": [{**CATALOG["entries"][0], "display_name": "Acme CRM 2"}]}
    (root / "catalog/private.json").write_text(json.dumps(renamed))
    shown = run_cli("catalog", "show", "acme-crm", "-w", str(root))
    assert shown.exit_code == 0 and shown.stdout.startswith("acme-crm (destination): Acme CRM 2")
    assert len(_imports(root)) == 2


def test_a_bad_catalog_file_fails_the_command_not_the_embedded_plane(write_workspace) -> None:
    root = write_workspace({"catalog/private.json": "{"}, seg_yaml=SEG_YAML)
    listed = run_cli("catalog", "list", "-w", str(root))
    assert listed.exit_code == 1
    assert "seg.yaml:3:11: error: cannot use catalog file 'catalog/private.json'" in listed.output
    # commands that read seg.yaml alone do not read the catalog files
    status = run_cli("lock", "status", "-w", str(root))
    assert status.exit_code == 0 and "is not locked" in status.output
