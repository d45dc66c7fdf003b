"""The Warehouse kind (issue 14, part W): each rule in `seg validate` (file:line:col) and on the
control plane (the same refusal), the plan tier (seg.yaml offline, the workspace on the server),
connected sources (references, deleting, apply order), patching each field alone, export and
import round trips with credentials as `${env:…}`, and `seg diff`."""

from __future__ import annotations

import json
import os
import re
from functools import partial
from pathlib import Path
from typing import Any

import git
import pytest
import yaml

from seg.embedded import open_embedded
from seg.kinds import KINDS
from tests.conftest import Api, embedded_call, live
from tests.conftest import run_cli as seg
from tests.helpers import error
from tests.integration import diagnostics

line_of, validate_errors = diagnostics.line_of, diagnostics.validate_errors
assert_at = partial(diagnostics.assert_at, or_next=True)  # at the key or where its value starts

WS = "acme"
SOURCES = """\
kind: Source
name: web
spec: {catalog: javascript}
---
kind: Source
name: app
spec: {catalog: javascript}
"""


def warehouse(name: str = "analytics", **spec: Any) -> str:
    """A warehouse document; ``spec`` replaces the defaults key by key."""
    body: dict[str, Any] = {
        "catalog": "snowflake",
        "settings": {"account": "acme", "database": "DB", "warehouse": "WH", "user": "seg",
                     "password": "${env:WH_PASSWORD}"},  # fmt: skip
        "sources": ["web"],
    }
    body.update(spec)
    return yaml.safe_dump({"kind": "Warehouse", "name": name, "spec": body}, sort_keys=False)


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, clean_seg_env: None) -> None:
    monkeypatch.setenv("WH_PASSWORD", "pw-secret-1")


def tree(root: Path, *docs: str, tier: str | None = "business") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    line = f"plan_tier: {tier}\n" if tier else ""
    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {WS}\n{line}")
    (root / "resources.yaml").write_text("---\n".join([SOURCES, *docs]))
    return root


# -- rules: seg validate and the control plane ------------------------------------------------


def post(api: Api, body: dict[str, Any], name: str = "analytics") -> Any:
    full = {"name": f"workspaces/{api.workspace}/warehouses/{name}", "catalog": "snowflake",
            "settings": {"account": "a", "database": "d", "warehouse": "w", "user": "u",
                         "password": "p"}, **body}  # fmt: skip
    return api.http.post(api.url("/warehouses"), json={"warehouse": full})


def sources(api: Api, *names: str) -> None:
    for name in names:
        assert api.create_source(name).status_code == 200


RECEIVED_AT = {"web": {"collections": {"order_completed": {"properties": {"received_at": False}}}}}


def test_received_at_may_not_be_disabled(tmp_path: Path, env: None, api: Api) -> None:
    root = tree(tmp_path / "ws", warehouse(selective_sync=RECEIVED_AT))
    out = validate_errors(root)
    assert_at(out, root, "received_at: false", "must not disable received_at",
              "warehouse/received-at")  # fmt: skip
    sources(api, "web")
    refused = post(api, {"sources": ["web"], "selective_sync": RECEIVED_AT})
    assert "must not disable received_at" in error(refused, 400, 3)
    allowed = {"web": {"collections": {"order_completed": {"properties": {"email": False}}}}}
    assert post(api, {"sources": ["web"], "selective_sync": allowed}).status_code == 200


def test_selective_sync_names_only_connected_sources(tmp_path: Path, env: None,
                                                     api: Api) -> None:  # fmt: skip
    root = tree(tmp_path / "ws", warehouse(selective_sync={"app": {"enabled": False}}))
    out = validate_errors(root)
    assert_at(out, root, "app:", "selective sync names source 'app', which is not connected",
              "warehouse/selective-sync-source")  # fmt: skip
    sources(api, "web", "app")
    refused = post(api, {"sources": ["web"], "selective_sync": {"app": {"enabled": False}}})
    assert "which is not connected" in error(refused, 400, 3)


def test_disconnecting_keeps_an_unmanaged_selective_sync_inert(api: Api) -> None:
    sources(api, "web", "app")
    off = {"app": {"enabled": False}}
    assert post(api, {"sources": ["web", "app"], "selective_sync": off}).status_code == 200
    path = api.url("/warehouses/analytics")
    cut = {"warehouse": {"sources": ["web"]}, "update_mask": {"paths": ["warehouse.sources"]}}
    kept = api.http.patch(path, json=cut)
    assert kept.status_code == 200, kept.text
    assert kept.json()["selective_sync"] == off  # kept, inert, until removed or reconnected
    again = {"warehouse": {"selective_sync": {"app": {"enabled": True}}},
             "update_mask": {"paths": ["warehouse.selective_sync.app"]}}  # fmt: skip
    assert "not connected" in error(api.http.patch(path, json=again), 400, 3)
    gone = {"update_mask": {"paths": ["warehouse.selective_sync.app"]}}
    assert api.http.patch(path, json=gone).json()["selective_sync"] == {}


@pytest.mark.parametrize(
    ("schedule", "needle", "message"),
    [
        ({"every": "6h", "start_times": ["01:00"]}, "sync_schedule:", "not both"),
        ({"start_times": ["01:00", "01:30"]}, "start_times:", "at least an hour apart"),
        ({"start_times": ["23:30", "00:10"]}, "start_times:", "at least an hour apart"),
    ],
)
def test_sync_schedule_is_at_most_hourly(schedule: dict[str, Any], needle: str, message: str,
                                         tmp_path: Path, env: None, api: Api) -> None:  # fmt: skip
    root = tree(tmp_path / "ws", warehouse(sync_schedule=schedule))
    assert_at(validate_errors(root), root, needle, message, "warehouse/sync-schedule")
    sources(api, "web")
    assert message in error(post(api, {"sources": ["web"], "sync_schedule": schedule}), 400, 3)
    hourly = {"start_times": [f"{h:02d}:15" for h in range(24)], "timezone": "Europe/Berlin"}
    assert post(api, {"sources": ["web"], "sync_schedule": hourly}).status_code == 200


def test_sync_schedule_faster_than_hourly_is_a_schema_error(tmp_path: Path, env: None,
                                                           api: Api) -> None:  # fmt: skip
    root = tree(tmp_path / "ws", warehouse(sync_schedule={"every": "30m"}))
    out = validate_errors(root)
    assert f"resources.yaml:{line_of(root, 'every: 30m')}:" in out, out
    sources(api, "web")
    error(post(api, {"sources": ["web"], "sync_schedule": {"every": "30m"}}), 400, 3)


def _collections(n: int) -> dict[str, Any]:
    return {"web": {"collections": {f"e{i}": {"enabled": False} for i in range(n)}}}


def _properties(n: int) -> dict[str, Any]:
    props = {f"p{i}": False for i in range(n)}
    return {"web": {"collections": {"big": {"properties": props}}}}


@pytest.mark.parametrize(("build", "noun"), [(_collections, "collections"),
                                             (_properties, "properties")])  # fmt: skip
def test_selective_sync_limits_warn_at_80_percent_and_refuse_past_5000(
    build: Any, noun: str, tmp_path: Path, env: None, api: Api
) -> None:
    warned = tree(tmp_path / "warn", warehouse(selective_sync=build(4000)))
    result = seg("validate", "-w", str(warned))
    assert result.exit_code == 0, result.output
    assert re.search(rf"resources\.yaml:\d+:\d+: warning: .*has 4000 {noun} in selective "
                     r"sync, 80 % of the limit of 5,000 \[warehouse/selective-sync-limit\]",
                     result.output), result.output  # fmt: skip
    as_json = seg("validate", "-w", str(warned), "-o", "json")
    data = json.loads(as_json.stdout)
    assert data["valid"] is True
    assert [d["severity"] for d in data["diagnostics"]] == ["warning"]
    quiet = tree(tmp_path / "quiet", warehouse(selective_sync=build(3999)))
    assert "warning" not in seg("validate", "-w", str(quiet)).output

    over = tree(tmp_path / "over", warehouse(selective_sync=build(5001)))
    out = validate_errors(over)
    assert f"has 5001 {noun} in selective sync; the limit is 5,000" in out
    sources(api, "web")
    assert post(api, {"sources": ["web"], "selective_sync": build(4000)}).status_code == 200
    refused = post(api, {"sources": ["web"], "selective_sync": build(5001)}, "second")
    assert "the limit is 5,000" in error(refused, 400, 3)


def test_unknown_catalog_and_settings_are_refused(tmp_path: Path, env: None, api: Api) -> None:
    root = tree(tmp_path / "ws", warehouse(catalog="snowflak"))
    out = validate_errors(root)
    assert_at(out, root, "catalog: snowflak", "did you mean 'snowflake'", "catalog/unknown")
    sources(api, "web")
    refused = api.http.post(api.url("/warehouses"), json={"warehouse": {
        "name": f"workspaces/{api.workspace}/warehouses/x", "catalog": "snowflak"}})  # fmt: skip
    assert "snowflake" in error(refused, 400, 3)
    extra = post(api, {"sources": ["web"], "settings": {"account": "a", "database": "d",
                 "warehouse": "w", "user": "u", "password": "p", "acount": "x"}})  # fmt: skip
    assert "acount" in error(extra, 400, 3)


def test_connected_sources_must_exist(tmp_path: Path, env: None, api: Api) -> None:
    root = tree(tmp_path / "ws", warehouse(sources=["web", "mobile"]))
    out = validate_errors(root)
    assert "refers to source 'mobile', which is not declared" in out
    assert f"resources.yaml:{line_of(root, 'sources:') + 1}:3:" in out  # the list
    sources(api, "web")
    assert "source 'mobile' does not exist" in error(post(api, {"sources": ["web", "mobile"]}),
                                                     400, 3)  # fmt: skip
    other = post(api, {"sources": [f"workspaces/{api.workspace}/sources/web"]})
    error(other, 400, 3)  # a full name is not a source name


# -- the plan tier ------------------------------------------------------------------------


def test_small_tiers_allow_one_warehouse_and_no_custom_schedule_or_selective_sync(
    tmp_path: Path, env: None
) -> None:
    two = [warehouse("one", sources=[]), warehouse("two", sources=[])]
    for tier in ("free", "team"):
        root = tree(tmp_path / tier, *two, tier=tier)
        out = validate_errors(root)
        assert f"a {tier} workspace has at most 1 warehouse; it would have 2" in out
        custom = tree(tmp_path / f"{tier}-custom", warehouse(
            sync_schedule={"every": "2h"}, selective_sync={"web": {"enabled": False}}), tier=tier)
        out = validate_errors(custom)
        assert_at(out, custom, "sync_schedule:", "a custom sync schedule needs the Business tier",
                  "warehouse/tier-schedule")  # fmt: skip
        assert_at(out, custom, "enabled: false", "selective sync needs the Business tier",
                  "warehouse/tier-selective-sync")  # fmt: skip
    for tier in ("business", None):  # None: the tree does not say, the control plane judges
        root = tree(tmp_path / f"ok-{tier}", *two, warehouse(
            sync_schedule={"every": "2h"}, selective_sync={"web": {"enabled": False}}), tier=tier)
        assert seg("validate", "-w", str(root)).exit_code == 0


def _tier(api: Api, tier: str, token: str | None = None) -> Any:
    client = api.client(token) if token else api.http
    body = {"workspace": {"plan_tier": tier}, "update_mask": {"paths": ["workspace.plan_tier"]}}
    return client.patch(api.url(), json=body)


def test_the_workspace_plan_tier_is_read_and_set_by_owners(api: Api) -> None:
    assert api.http.get(api.url()).json()["plan_tier"] == "business"
    assert _tier(api, "team").json()["plan_tier"] == "team"
    assert api.http.get(api.url()).json()["plan_tier"] == "team"
    error(_tier(api, "enterprise"), 400, 3)
    error(_tier(api, 3), 400, 3)  # type: ignore[arg-type]
    writer = api.token("workspace:write")
    error(_tier(api, "business", writer), 403, 7)
    other = {"workspace": {"display_name": "X"}, "update_mask": {"paths": ["display_name"]}}
    assert api.http.patch(api.url(), json=other).json()["plan_tier"] == "team"  # kept


def test_the_control_plane_enforces_the_tier(api: Api) -> None:
    sources(api, "web")
    assert post(api, {"sources": ["web"], "sync_schedule": {"every": "2h"}}).status_code == 200
    assert _tier(api, "team").status_code == 200
    refused = post(api, {"sources": []}, "second")
    assert "a team workspace has at most 1 warehouse; it would have 2" in error(refused, 409, 9)
    path = api.url("/warehouses/analytics")
    edit = {"warehouse": {"display_name": "A"}, "update_mask": {"paths": ["warehouse.display_name"]}}
    assert "custom sync schedule" in error(api.http.patch(path, json=edit), 409, 9)
    clear = {"update_mask": {"paths": ["warehouse.sync_schedule"]}}
    assert api.http.patch(path, json=clear).status_code == 200
    selective = {"warehouse": {"selective_sync": {"web": {"enabled": False}}},
                 "update_mask": {"paths": ["warehouse.selective_sync.web"]}}  # fmt: skip
    assert "selective sync needs the Business tier" in error(
        api.http.patch(path, json=selective), 409, 9)  # fmt: skip
    assert _tier(api, "business").status_code == 200
    assert api.http.patch(path, json=selective).status_code == 200
    assert post(api, {"sources": []}, "second").status_code == 200


def test_server_init_sets_the_plan_tier(tmp_path: Path) -> None:
    db = f"sqlite:///{tmp_path / 'cp.db'}"
    made = seg("server", "init", "--slug", "small", "--plan-tier", "free", "--database", db)
    assert made.exit_code == 0, made.output
    bad = seg("server", "init", "--slug", "other", "--plan-tier", "gold", "--database", db)
    assert bad.exit_code != 0 and "plan_tier must be one of free, team, business" in bad.output
    from seg.store.sql import open_store

    store = open_store(db)
    try:
        with store.tx() as tx:
            found = tx.get_workspace("small")
            assert found is not None and found.plan_tier == "free"
    finally:
        store.close()


# -- connected sources ----------------------------------------------------------------------


def test_a_connected_source_is_not_deleted_and_a_plan_disconnects_it_first(
    tmp_path: Path, env: None
) -> None:
    root = tree(tmp_path / "ws", warehouse(sources=["web", "app"],
                                           selective_sync={"app": {"enabled": False}}))  # fmt: skip
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    refused = embedded_call(root, "DELETE", "sources/app")
    assert "connected to warehouses analytics" in error(refused, 409, 9)
    # one plan: the warehouse lets go of app, then app is deleted
    (root / "resources.yaml").write_text("---\n".join([SOURCES.split("---\n")[0],
                                                       warehouse(sources=["web"])]))  # fmt: skip
    applied = seg("apply", "-w", str(root), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert seg("plan", "-w", str(root), "--detailed-exitcode").exit_code == 0
    assert live(root, "warehouses/analytics")["sources"] == ["web"]
    # deleting the warehouse disconnects its sources: web stays, and can go afterwards
    (root / "resources.yaml").write_text(SOURCES.split("---\n")[0])
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    assert embedded_call(root, "DELETE", "sources/web").status_code == 200


def test_a_plan_deleting_a_source_the_warehouse_keeps_is_blocked(tmp_path: Path,
                                                                 env: None) -> None:  # fmt: skip
    root = tree(tmp_path / "ws", warehouse(sources=["web", "app"]))
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    client = open_embedded(root, WS)  # the warehouse is another manager's now: not ours
    client.http.patch(f"/v1beta/workspaces/{WS}/warehouses/analytics",
                      json={"manager": "ui"}).raise_for_status()  # fmt: skip
    client.close()
    (root / "resources.yaml").write_text(SOURCES.split("---\n")[0])
    plan = seg("plan", "-w", str(root))
    assert plan.exit_code == 3, plan.output
    assert "Warehouse analytics" in plan.output and "blocked" in plan.output


def test_source_order_carries_no_meaning(tmp_path: Path, env: None) -> None:
    root = tree(tmp_path / "ws", warehouse(sources=["web", "app"]))
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    tree(root, warehouse(sources=["app", "web"]))
    assert seg("plan", "-w", str(root), "--detailed-exitcode").exit_code == 0


# -- each field alone -----------------------------------------------------------------------

BASE: dict[str, Any] = {
    "display_name": "Analytics",
    "enabled": True,
    "settings": {"account": "acme", "database": "DB", "warehouse": "WH", "user": "seg",
                 "password": "${env:WH_PASSWORD}"},  # fmt: skip
    "sync_schedule": {"every": "6h"},
    "sources": ["web"],
    "selective_sync": {"web": {"collections": {"page": {"enabled": False}}}},
}
FIELD_EDITS: dict[str, Any] = {
    "display_name": "Analytics, renamed",
    "enabled": False,
    "settings": {**BASE["settings"], "database": "OTHER"},
    "sync_schedule": {"start_times": ["02:00", "14:00"], "timezone": "UTC"},
    "sources": ["web", "app"],
    "selective_sync": {"web": {"collections": {"page": {"properties": {"url": False}}}}},
}


def test_every_mutable_warehouse_field_has_an_edit() -> None:
    mutable = {f.name for f in KINDS["Warehouse"].fields if not f.immutable}
    assert set(FIELD_EDITS) == mutable


@pytest.mark.parametrize("field", sorted(FIELD_EDITS))
def test_each_field_is_patched_alone(field: str, tmp_path: Path, env: None) -> None:
    root = tree(tmp_path / "ws", warehouse(**BASE))
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    before = live(root, "warehouses/analytics")
    tree(root, warehouse(**{**BASE, field: FIELD_EDITS[field]}))
    plan = seg("plan", "-w", str(root))
    assert plan.exit_code == 0 and "1 to change" in plan.output, plan.output
    applied = seg("apply", "-w", str(root), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert seg("plan", "-w", str(root), "--detailed-exitcode").exit_code == 0
    after = live(root, "warehouses/analytics")
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed <= {field, "etag", "update_time", "managed_paths"}, changed
    assert field in changed


# -- export, import, diff -------------------------------------------------------------------


def test_export_round_trips_with_credentials_as_placeholders(tmp_path: Path, env: None) -> None:
    root = tree(tmp_path / "ws", warehouse(**BASE))
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    (root / "resources.yaml").unlink()  # the tree forgets; the control plane remembers
    exported = seg("export", "-w", str(root), "--merge")
    assert exported.exit_code == 0, exported.output
    text = "\n".join(p.read_text() for p in root.rglob("*") if p.is_file()
                     and ".seg" not in p.parts)  # fmt: skip
    assert "pw-secret-1" not in text
    doc = yaml.safe_load((root / "warehouses" / "analytics.yaml").read_text())
    password = doc["spec"]["settings"]["password"]
    assert re.fullmatch(r"\$\{env:SEG_SECRET_\w+\}", password), password
    assert doc["spec"]["selective_sync"] == BASE["selective_sync"]
    assert doc["spec"]["sync_schedule"] == BASE["sync_schedule"]
    assert doc["spec"]["sources"] == ["web"]
    variable = password[6:-1]
    assert variable in (root / "secrets.env.example").read_text()
    unset = seg("plan", "-w", str(root), "--detailed-exitcode")
    assert unset.exit_code != 0  # the secret is not set
    os.environ[variable] = "pw-secret-1"
    try:
        again = seg("plan", "-w", str(root), "--detailed-exitcode")
        assert again.exit_code == 0, again.output
        os.environ[variable] = "pw-rotated"
        rotated = seg("plan", "-w", str(root))
        assert "settings.password: (sensitive)" in rotated.output, rotated.output
    finally:
        del os.environ[variable]


def test_seg_diff_shows_warehouse_changes(tmp_path: Path, env: None) -> None:
    root = tree(tmp_path / "repo" / "ws", warehouse(**BASE))
    repo = git.Repo.init(tmp_path / "repo", initial_branch="main")
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", "t")
        cfg.set_value("user", "email", "t@example.com")
    repo.git.add("-A")
    repo.index.commit("base")
    tree(root, warehouse(**{**BASE, "sources": ["app", "web"],
                            "sync_schedule": {"every": "12h"},
                            "selective_sync": {}}))  # fmt: skip
    repo.git.add("-A")
    repo.index.commit("head")
    result = seg("diff", "-w", str(root), "--base", "HEAD~1", "-o", "json")
    assert result.exit_code == 2, result.output
    (change,) = [c for c in json.loads(result.stdout)["changes"] if c["kind"] == "Warehouse"]
    assert change["action"] == "update"
    assert "warehouse.sync_schedule" in change["update_mask"]
    assert "warehouse.sources" in change["update_mask"]
    assert any(p.startswith("warehouse.selective_sync") for p in change["update_mask"])
    assert "pw-secret-1" not in result.stdout
    reordered = tree(root, warehouse(**{**BASE, "sources": list(reversed(BASE["sources"]))}))
    repo.git.add("-A")
    repo.index.commit("reordered")
    assert seg("diff", "-w", str(reordered), "--base", "HEAD~2").exit_code == 0
