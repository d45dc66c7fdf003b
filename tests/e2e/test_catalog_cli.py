"""``seg server catalog import``, ``seg catalog list`` and ``seg catalog show`` as processes
against ``seg serve`` (SQLite and PostgreSQL): a read token is enough to read the catalog,
private entries show beside the built-in ones, and plan/apply use an imported entry."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.processes import Server, run

pytestmark = pytest.mark.e2e

CATALOG_YAML = """\
format_version: 1
entries:
  - id: acme-crm
    section: destination
    display_name: Acme CRM
    connection_modes: [cloud]
    settings:
      api_token: {type: string, required: true, secret: true, description: The CRM token.}
      region: {type: string, enum: [us, eu], default: us}
    actions:
      upsertContact:
        name: Upsert Contact
        default_trigger: type = "identify"
        fields:
          email: {required: true}
          name: {}
"""

WORKSPACE = """\
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


def _reader(server: Server, slug: str) -> str:
    made = run("server", "token", "create", "--slug", slug, "--scope", "workspace:read",
               "--description", "catalog reader", env=server.env)  # fmt: skip
    assert made.returncode == 0, made.stderr
    return made.stdout.strip()


def test_import_then_list_and_show_with_a_read_token(server: Server, write_workspace, slug: str,
                                                     tmp_path: Path) -> None:  # fmt: skip
    catalog = tmp_path / "private.yaml"
    catalog.write_text(CATALOG_YAML)
    made = run("server", "catalog", "import", str(catalog), "--slug", slug, "-o", "json",
               env=server.env)  # fmt: skip
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout) == {"format_version": "1.0", "workspace": slug,
                                       "imported": [{"section": "destination", "id": "acme-crm"}]}

    root = write_workspace({"workspace.yaml": WORKSPACE}, workspace=slug)
    env = server.client_env(SEG_TOKEN=_reader(server, slug))
    listed = run("catalog", "list", "-w", str(root), "-o", "json", env=env)
    assert listed.returncode == 0, listed.stderr
    document = json.loads(listed.stdout)
    assert document["format_version"] == "1.0" and document["workspace"] == slug
    by_id = {(e["section"], e["id"]): e for e in document["entries"]}
    assert by_id[("destination", "acme-crm")] == {
        "id": "acme-crm", "section": "destination", "display_name": "Acme CRM",
        "connection_modes": ["cloud"], "private": True}  # fmt: skip
    assert by_id[("source", "javascript")]["private"] is False
    assert ("warehouse", "snowflake") in by_id

    text = run("catalog", "list", "--section", "destination", "-w", str(root), env=env)
    assert text.returncode == 0, text.stderr
    lines = text.stdout.splitlines()
    assert lines[0].split() == ["ID", "SECTION", "NAME", "MODES", "PRIVATE"]
    assert ["acme-crm", "destination", "Acme", "CRM", "cloud", "yes"] in [r.split() for r in lines]
    assert all("source" not in r.split()[1:2] for r in lines[1:-1])

    shown = run("catalog", "show", "acme-crm", "-w", str(root), env=env)
    assert shown.returncode == 0, shown.stderr
    assert shown.stdout.splitlines() == [
        "acme-crm (destination): Acme CRM  [private]",
        "  connection modes: cloud",
        "  settings:",
        "    api_token: string; required; secret — The CRM token.",
        '    region: string; default "us"; one of "us", "eu"',
        "  actions:",
        "    upsertContact (Upsert Contact)",
        '      default trigger: type = "identify"',
        "      email (required)",
        "      name",
    ]
    as_json = run("catalog", "show", "amplitude", "--section", "destination", "-o", "json",
                  "-w", str(root), env=env)  # fmt: skip
    entry = json.loads(as_json.stdout)
    assert entry["format_version"] == "1.0" and entry["entry"]["id"] == "amplitude"
    assert entry["entry"]["settings"]["api_key"]["secret"] is True


@pytest.fixture
def sqlite_server(tmp_path: Path, slug: str) -> Iterator[Server]:
    """``seg serve`` on SQLite only: the CLI's errors do not depend on the database."""
    srv = Server(f"sqlite:///{tmp_path / 'cp.db'}", tmp_path, slug)
    yield srv
    srv.stop()


def test_show_errors_are_one_line(sqlite_server: Server, write_workspace, slug: str,
                                  tmp_path: Path) -> None:  # fmt: skip
    server = sqlite_server
    root = write_workspace({}, workspace=slug)
    dual = tmp_path / "dual.json"  # one id in two sections
    dual.write_text(json.dumps({"entries": [{"id": "acme-db", "section": "source"},
                                            {"id": "acme-db", "section": "warehouse"}]}))
    made = run("server", "catalog", "import", str(dual), "--slug", slug, env=server.env)
    assert made.returncode == 0, made.stderr
    env = server.client_env(SEG_TOKEN=_reader(server, slug))
    typo = run("catalog", "show", "amplitud", "-w", str(root), env=env)
    assert typo.returncode == 1 and typo.stdout == ""
    assert typo.stderr.strip().splitlines() == [
        "error: no catalog entry 'amplitud' (did you mean 'amplitude'?)"]
    both = run("catalog", "show", "acme-db", "-w", str(root), env=env)
    assert both.returncode == 1
    assert "is in several sections (source, warehouse); pass --section" in both.stderr
    ok = run("catalog", "show", "acme-db", "--section", "warehouse", "-w", str(root), env=env)
    assert ok.returncode == 0 and ok.stdout.startswith("acme-db (warehouse)")
    bad = run("catalog", "list", "--section", "sink", "-w", str(root), env=env)
    assert bad.returncode == 2 and "sink" in bad.stderr
    denied = run("catalog", "list", "-w", str(root), env={**env, "SEG_TOKEN": "nope"})
    assert denied.returncode == 1 and "[HTTP 401, code 16]" in denied.stderr
    assert "Traceback" not in typo.stderr + both.stderr + bad.stderr + denied.stderr


def test_plan_and_apply_use_an_imported_entry(server: Server, write_workspace, slug: str,
                                              tmp_path: Path) -> None:  # fmt: skip
    root = write_workspace({"workspace.yaml": WORKSPACE, "catalog/private.yaml": CATALOG_YAML},
                           workspace=slug)  # fmt: skip
    env = server.client_env(CRM_TOKEN="crm-SECRET-4711")
    # offline, validate knows the tree's catalog file only when seg.yaml lists it
    unknown = run("validate", "-w", str(root), env=env)
    assert unknown.returncode == 1 and "unknown destination catalog id 'acme-crm'" in (
        unknown.stderr + unknown.stdout)  # fmt: skip
    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {slug}\n"
                                   "catalog: [catalog/private.yaml]\n")  # fmt: skip
    assert run("validate", "-w", str(root), env=env).returncode == 0
    # the control plane enforces its own catalog: refused until the entry is imported
    refused = run("apply", "-w", str(root), "--auto-approve", env=env)
    assert refused.returncode == 1 and "unknown destination catalog id 'acme-crm'" in (
        refused.stdout + refused.stderr)  # fmt: skip
    imported = run("server", "catalog", "import", str(root / "catalog/private.yaml"),
                   "--slug", slug, env=server.env)  # fmt: skip
    assert imported.returncode == 0, imported.stderr
    assert imported.stdout.strip() == (f"Imported 1 private catalog entry into workspace {slug}: "
                                       "destination/acme-crm")  # fmt: skip
    applied = run("apply", "-w", str(root), "--auto-approve", env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    again = run("plan", "-w", str(root), "--detailed-exitcode", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    crm = server.get(f"workspaces/{slug}/sources/web/destinations/crm")
    assert crm["settings"]["api_token"].startswith("secret:hmac:")
    assert b"crm-SECRET-4711" not in server.database_bytes()
