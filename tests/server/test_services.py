"""The services answer without HTTP: they take a Principal and plain values, raise domain
errors (no status), name what a write is (the audit's action), assemble a user's access once
per call, and ``seg.server`` imports nothing from the CLI side (SQLite and PostgreSQL)."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from seg.kinds import KINDS
from seg.server import errors
from seg.server.core import Principal
from seg.server.service import ControlPlane

SERVER = Path(__file__).resolve().parents[2] / "cli" / "seg" / "server"
SOURCE, PLAN, GROUP = KINDS["Source"], KINDS["TrackingPlan"], KINDS["Group"]
RULE = {"type": "COMMON", "version": 1, "json_schema": {"type": "object"}}


class Workspace:
    """A workspace on ``cp`` with its owner, and tokens minted on demand."""

    def __init__(self, cp: ControlPlane, slug: str) -> None:
        self.cp, self.slug = cp, slug
        _, secret = cp.workspaces.init(slug)
        self.owner = cp.workspaces.authenticate(secret)

    def token(self, scope: str, user: str = "", **lease: Any) -> Principal:
        _, secret = self.cp.workspaces.create_token(self.slug, scope, "test", user)
        return self.cp.workspaces.authenticate(secret, **lease)

    def source(self, slug: str, **fields: Any) -> dict[str, Any]:
        body = {"name": f"workspaces/{self.slug}/sources/{slug}", "catalog": "javascript"}
        return self.cp.resources.create(self.owner, self.slug, SOURCE, None,
                                        {"source": {**body, **fields}})  # fmt: skip

    def methods(self) -> list[str]:
        page = self.cp.audit.events(self.owner, self.slug, None, None)
        return [e["method"] for e in page.items]


@pytest.fixture
def ws(cp: ControlPlane, slug: str) -> Workspace:
    return Workspace(cp, slug)


def test_the_services_raise_domain_errors_without_a_status(ws: Workspace) -> None:
    cp, slug = ws.cp, ws.slug
    assert ws.source("web")["name"] == f"workspaces/{slug}/sources/web"
    reader = ws.token("workspace:read")
    with pytest.raises(errors.InsufficientScope):
        cp.resources.delete(reader, slug, SOURCE, "web", None)
    with pytest.raises(errors.PermissionDenied, match="does not belong to workspace"):
        cp.resources.get(ws.owner, slug + "x", SOURCE, "web")
    with pytest.raises(errors.EtagMismatch, match="expected 0000, current"):
        cp.resources.delete(ws.owner, slug, SOURCE, "web", "0000")
    with pytest.raises(errors.AlreadyExists):
        ws.source("web")
    with pytest.raises(errors.Unauthenticated):
        cp.workspaces.authenticate("seg_0.nothing")
    with pytest.raises(errors.NotFound):
        cp.locks.status(ws.owner, slug)
    for error in (errors.InsufficientScope, errors.EtagMismatch, errors.NotFound):
        assert not hasattr(error(), "status") and not hasattr(error(), "code")


def test_a_write_under_anothers_lease_is_aborted_and_an_owner_override_audited(
    ws: Workspace,
) -> None:
    cp, slug = ws.cp, ws.slug
    holder = ws.token("workspace:write")
    lock = cp.locks.acquire(holder, slug, {"holder": "ci"})
    with pytest.raises(errors.Aborted, match="locked by ci"):
        ws.source("web")
    body = {"source": {"name": f"workspaces/{slug}/sources/web", "catalog": "javascript"}}
    writer = ws.token("workspace:write", lock_override=True)  # not an owner: not honoured
    with pytest.raises(errors.Aborted):
        cp.resources.create(writer, slug, SOURCE, None, body)
    cp.resources.create(ws.token("workspace:owner", lock_override=True), slug, SOURCE, None, body)
    events = cp.audit.events(ws.owner, slug, None, None).items
    assert events[1]["paths"] == ["lock override", lock["id"]] and events[1]["method"] == "POST"
    with pytest.raises(errors.PermissionDenied):  # breaking it needs the owner scope's role
        cp.locks.release(ws.token("workspace:owner", "nobody@x.io"), slug, None)
    cp.locks.release(holder, slug, lock["id"])
    assert cp.audit.events(ws.owner, slug, None, None).items[0]["paths"] == [lock["id"]]


def test_each_rule_write_is_audited_as_what_it_is(ws: Workspace) -> None:
    cp, slug = ws.cp, ws.slug
    made = cp.resources.create(ws.owner, slug, PLAN, None,
                               {"tracking_plan": {"external_id": "tp1", "rules": []}})  # fmt: skip
    plan_id = made["name"].rsplit("/", 1)[1]
    second = {**RULE, "version": 2}
    cp.rules.replace(ws.owner, slug, plan_id, {"rules": [RULE]})
    cp.rules.upsert(ws.owner, slug, plan_id, {"rules": [second]})
    left = cp.rules.delete(ws.owner, slug, plan_id, {"rules": [{"type": "COMMON", "version": 1}]})
    assert left == {"rules": [second]} == cp.rules.list_rules(ws.owner, slug, plan_id)
    assert ws.methods() == ["DELETE", "PATCH", "PUT", "POST"]
    with pytest.raises(errors.EtagMismatch):
        cp.rules.upsert(ws.owner, slug, plan_id, {"rules": [RULE]}, if_match=made["etag"])


@pytest.fixture
def role_reads(cp: ControlPlane) -> Iterator[list[str]]:
    """The statements that read the workspace's role bindings (one per access assembly)."""
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        if "RoleBinding" in repr(parameters):
            seen.append(statement)

    engine = cp.store.engine  # type: ignore[attr-defined]
    sa.event.listen(engine, "before_cursor_execute", record)
    yield seen
    sa.event.remove(engine, "before_cursor_execute", record)


def test_a_users_access_is_assembled_once_per_call(ws: Workspace, role_reads: list[str]) -> None:
    cp, slug = ws.cp, ws.slug
    binding = {"name": f"workspaces/{slug}/role-bindings/b0", "subject": {"user": "dana@x.io"},
               "role": "workspace_owner", "scope": "workspace"}  # fmt: skip
    cp.resources.create(ws.owner, slug, KINDS["RoleBinding"], None, {"role_binding": binding})
    cp.resources.create(ws.owner, slug, GROUP, None, {"group": {
        "name": f"workspaces/{slug}/groups/g", "members": ["a@x.io"]}})  # fmt: skip
    plan = cp.resources.create(ws.owner, slug, PLAN, None, {"tracking_plan": {"external_id": "tp", "rules": []}})
    ws.source("web")
    holder = ws.token("workspace:write")
    cp.locks.acquire(holder, slug, {"holder": "ci"})
    dana = ws.token("workspace:owner", "dana@x.io", lock_override=True)
    role_reads.clear()
    # owner-only kind: the scope's role check, the resource check and the lock override
    cp.resources.update(dana, slug, GROUP, "g", {"group": {"members": ["b@x.io"]},
                        "update_mask": {"paths": ["group.members"]}}, None)  # fmt: skip
    assert len(role_reads) == 1
    role_reads.clear()
    # a reference the user must be able to read, under the same override
    cp.resources.update(dana, slug, SOURCE, "web", {"source": {"tracking_plan": plan["name"]},
                        "update_mask": {"paths": ["source.tracking_plan"]}}, None)  # fmt: skip
    assert len(role_reads) == 1
    role_reads.clear()
    assert [s["name"] for s in cp.resources.list_resources(dana, slug, SOURCE, None, None, None)
            .items] == [f"workspaces/{slug}/sources/web"]  # fmt: skip
    assert len(role_reads) == 1


# -- the layer: no HTTP, no CLI, no wall clock ---------------------------------------------------

CLI_SIDE = ("seg.commands", "seg.errors", "seg.workspace", "seg.client", "seg.embedded")


def _imports(path: Path) -> set[str]:
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module:
            found |= {node.module} | {f"{node.module}.{a.name}" for a in node.names}
    return found


def test_the_server_imports_nothing_from_the_cli_side() -> None:
    modules = sorted(SERVER.glob("*.py"))
    assert len(modules) > 10
    for path in modules:
        wrong = {m for m in _imports(path) if m.startswith(CLI_SIDE)}
        assert not wrong, f"{path.name} imports {sorted(wrong)}"


def test_only_the_clock_reads_the_time_and_only_app_and_edge_speak_http() -> None:
    for path in sorted(SERVER.glob("*.py")):
        text = path.read_text()
        if path.name != "clock.py":
            assert "time.time(" not in text and "datetime.now(" not in text, path.name
        if path.name not in ("app.py", "edge.py", "http_errors.py", "inprocess.py", "lifecycle.py",
                             "observe.py", "openapi.py"):  # observe: the ASGI middleware
            imported = _imports(path)
            assert not {m for m in imported if m.split(".")[0] in ("fastapi", "starlette",
                                                                   "httpx")}, path.name  # fmt: skip
            assert "method ==" not in text, path.name
            if path.name != "core.py":  # where Action keeps the audit trail's historic names
                assert '"PUT"' not in text and '"PATCH"' not in text, path.name
