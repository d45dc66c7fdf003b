"""Adding a kind is one module plus generated schema files (ARCHITECTURE.md's worked example).

A copy of the package gains ``kinds/quota.py`` — a root kind with one rule — and nothing else
is edited; the schema generator writes its files. Then, as separate processes on that copy:
validate reports the rule at file:line:col, the control plane refuses the same value with the
same message, and a valid Quota is planned, applied and planned again with no changes."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]

QUOTA = '''"""Quota: a limit someone is told about (the worked example of ARCHITECTURE.md)."""

from __future__ import annotations

from typing import Any

from seg.model.kinds import AccessScope, FieldSpec, Kind, Lookup, Subject, Violation

__all__ = ["KIND"]


def _threshold(subject: Subject, _lookup: Lookup) -> list[Violation]:
    threshold = subject.fields.get("threshold", 0)
    if isinstance(threshold, int) and threshold < 0:
        return [Violation(("threshold",), "threshold must not be negative", "quota/threshold")]
    return []


SPEC_SCHEMA: dict[str, Any] = {
    "title": "Quota spec",
    "type": "object",
    "required": ["threshold"],
    "additionalProperties": False,
    "properties": {"threshold": {"type": "integer"}, "enabled": {"type": "boolean"}},
}

KIND = Kind(
    name="Quota",
    key="quota",
    collection="quotas",
    order=80,
    fields=(FieldSpec("threshold", "integer"), FieldSpec("enabled", "boolean")),
    defaults={"enabled": True},
    access_scope=AccessScope.OWNER,
    rules=(_threshold,),
    spec_schema=SPEC_SCHEMA,
)
'''


@pytest.fixture(scope="module")
def copy(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The package and its schemas, with the new kind module and the generated files."""
    root = tmp_path_factory.mktemp("newkind")
    shutil.copytree(REPO / "cli" / "seg", root / "cli" / "seg",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    shutil.copytree(REPO / "schemas", root / "schemas")
    (root / "cli" / "seg" / "kinds" / "quota.py").write_text(QUOTA, encoding="utf-8")
    before = {p.relative_to(root) for p in root.rglob("*") if p.is_file()}
    generate = run(root, sys.executable, "-m", "seg.editor_schemas", str(root / "schemas"))
    assert generate.returncode == 0, generate.stderr
    after = {p.relative_to(root) for p in root.rglob("*") if p.is_file()}
    assert {str(p) for p in after - before} == {
        "schemas/quota.schema.json", "schemas/resolved/quota.schema.json",
    }  # fmt: skip
    return root


def run(root: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEG_")}
    env.update(PYTHONPATH=str(root / "cli"), NO_COLOR="1")
    return subprocess.run(args, capture_output=True, text=True, timeout=120, env=env,
                          cwd=cwd or root)  # fmt: skip


def seg(root: Path, workspace: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run(root, sys.executable, "-m", "seg", *args, cwd=workspace)


def workspace(root: Path, threshold: int) -> Path:
    ws = root / f"ws{threshold}"
    (ws / "quotas").mkdir(parents=True)
    (ws / "seg.yaml").write_text("version: seg/v1\nworkspace: acme\napi_url: embedded\n", encoding="utf-8")
    (ws / "quotas" / "cpu.yaml").write_text(
        f"kind: Quota\nname: cpu\nspec:\n  threshold: {threshold}\n", encoding="utf-8"
    )
    return ws


def test_validate_reports_the_new_rule_at_its_line(copy: Path) -> None:
    result = seg(copy, workspace(copy, -1), "validate")
    assert result.returncode == 1
    assert "quotas/cpu.yaml:4:14" in result.stderr + result.stdout
    assert "threshold must not be negative" in result.stderr + result.stdout


def test_the_new_kind_is_applied_and_converges(copy: Path) -> None:
    ws = workspace(copy, 5)
    first = seg(copy, ws, "apply", "--auto-approve")
    assert first.returncode == 0, first.stderr
    assert "Quota" in first.stdout or "quota" in first.stdout
    again = seg(copy, ws, "plan", "-o", "json", "--detailed-exitcode")
    assert again.returncode == 0, again.stdout + again.stderr
    assert json.loads(again.stdout)["changes"] == []


def test_the_control_plane_refuses_with_the_same_message(copy: Path) -> None:
    script = """
import json
from fastapi.testclient import TestClient
from seg.server.app import create_app
from seg.server.service import ControlPlane
from seg.store.sql import open_store
import tempfile, os
cp = ControlPlane(open_store("sqlite:///" + os.path.join(tempfile.mkdtemp(), "cp.db")))
_, token = cp.workspaces.init("acme")
http = TestClient(create_app(cp))
auth = {"Authorization": f"Bearer {token}"}
bad = http.post("/v1beta/workspaces/acme/quotas", headers=auth,
                json={"quota": {"name": "workspaces/acme/quotas/cpu", "threshold": -1}})
good = http.post("/v1beta/workspaces/acme/quotas", headers=auth,
                 json={"quota": {"name": "workspaces/acme/quotas/cpu", "threshold": 3}})
print(json.dumps([bad.status_code, bad.json(), good.status_code, good.json()]))
"""
    result = run(copy, sys.executable, "-c", script)
    assert result.returncode == 0, result.stderr
    bad_status, bad_body, good_status, created = json.loads(result.stdout)
    assert (bad_status, bad_body["code"]) == (400, 3)
    assert bad_body["error"] == "threshold must not be negative"  # the message validate prints
    assert (good_status, created.get("threshold")) == (200, 3), created
