"""Source schema settings (issue 15, item 1): each rule in `seg validate` (file:line:col) and on
the control plane (the same refusal, SQLite and PostgreSQL), the docs' spellings stored
canonically on both sides, a closed map that converges (a forwarding target removed from the
YAML is cleared, also on a source adopted from nobody), forwarding targets as references
(apply and delete order, deleting a source others forward to), plan notices, and the
protocols example applied, planned again and exported back to no changes."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from seg.apply.executor import NullObserver, apply_plan
from seg.commands.session import Session, make_plan
from seg.engine import Action, Plan, plan_steps
from seg.render.plan_markdown import render_plan_markdown
from seg.render.plan_text import plan_lines
from seg.workspace.export import render_export
from seg.workspace.loader import load_workspace
from tests.conftest import Api
from tests.conftest import run_cli as seg
from tests.helpers import error

REPO = Path(__file__).resolve().parents[2]
PLAN = {"kind": "TrackingPlan", "name": "tp", "spec": {"display_name": "TP", "rules": []}}
QUARANTINE = {"kind": "Source", "name": "quarantine", "spec": {"catalog": "http-api"}}


def shop(plan: str | None = "tp", **settings: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {"catalog": "javascript"}
    if plan:
        spec["tracking_plan"] = plan
    if settings:
        spec["schema_settings"] = settings
    return {"kind": "Source", "name": "shop", "spec": spec}


def tree(root: Path, *docs: dict[str, Any], workspace: str = "acme") -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {workspace}\n")
    (root / "resources.yaml").write_text(yaml.safe_dump_all(list(docs), sort_keys=False))
    return root


def assert_at(root: Path, needle: str, message: str, rule: str) -> None:
    """`seg validate` fails with one error holding ``message`` from ``rule``, on the line of
    the key holding ``needle`` (or the next, where a map's value starts)."""
    result = seg("validate", "-w", str(root))
    assert result.exit_code == 1, result.output
    lines = (root / "resources.yaml").read_text().splitlines()
    at = next(i for i, text in enumerate(lines, 1) if needle in text)
    pattern = re.compile(rf"resources\.yaml:({at}|{at + 1}):\d+: error: (.*) \[{rule}\]")
    found = [m.group(2) for m in pattern.finditer(result.output)]
    assert any(message in text for text in found), result.output


def valid(root: Path) -> None:
    result = seg("validate", "-w", str(root))
    assert result.exit_code == 0, result.output


# -- the control plane, through its HTTP API --------------------------------------------------


def tracking_plan(api: Api, external_id: str = "tp") -> str:
    made = api.http.post(
        api.url("/tracking-plans"),
        json={"tracking_plan": {"external_id": external_id, "rules": []}},
    )
    assert made.status_code == 200, made.text
    return str(made.json()["name"])


def create(api: Api, slug: str, catalog: str = "javascript", **fields: Any) -> Any:
    body = {"name": f"workspaces/{api.workspace}/sources/{slug}", "catalog": catalog, **fields}
    return api.http.post(api.url("/sources"), json={"source": body})


def patch(api: Api, slug: str, values: dict[str, Any], *paths: str) -> Any:
    body = {"source": values, "update_mask": {"paths": list(paths)}}
    return api.http.patch(api.url(f"/sources/{slug}"), json=body)


def settings_of(api: Api, slug: str) -> dict[str, Any]:
    response = api.http.get(api.url(f"/sources/{slug}"))
    assert response.status_code == 200, response.text
    return dict(response.json()["schema_settings"])


# -- rule: enforcing settings need a tracking plan ---------------------------------------------


@pytest.mark.parametrize(
    ("settings", "needle", "shown"),
    [
        ({"track": {"allow_unplanned_events": False}}, "allow_unplanned_events",
         "track.allow_unplanned_events: false"),
        ({"group": {"common_event_on_violations": "Omit"}}, "common_event_on_violations",
         "group.common_event_on_violations: OMIT_TRAITS"),
        ({"forwarding_violations_to": "quarantine"}, "forwarding_violations_to",
         "forwarding_violations_to: quarantine"),
    ],
)  # fmt: skip
def test_enforcing_settings_need_a_tracking_plan(settings: dict[str, Any], needle: str,
                                                 shown: str, tmp_path: Path, api: Api) -> None:  # fmt: skip
    root = tree(tmp_path / "ws", QUARANTINE, shop(None, **settings))
    assert_at(root, needle, f"is connected to no tracking plan, so its schema settings cannot "
              f"enforce one ({shown})", "source/schema-settings-plan")  # fmt: skip
    valid(tree(tmp_path / "ok", PLAN, QUARANTINE, shop("tp", **settings)))

    assert create(api, "quarantine", "http-api").status_code == 200
    refused = create(api, "shop", schema_settings=settings)
    assert f"cannot enforce one ({shown})" in error(refused, 400, 3)
    assert create(api, "shop").status_code == 200
    refused = patch(api, "shop", {"schema_settings": settings}, "source.schema_settings")
    assert f"cannot enforce one ({shown})" in error(refused, 400, 3)
    allowed = {"track": {"allow_unplanned_events": True}, "blocked_events": ["x"]}
    assert patch(api, "shop", {"schema_settings": allowed}, "source.schema_settings").is_success


def test_disconnecting_the_plan_keeps_the_settings(api: Api) -> None:
    """The docs only say archived events stay archived but are allowed: nothing is cleared."""
    plan = tracking_plan(api)
    settings = {"track": {"allow_unplanned_events": False}}
    assert create(api, "shop", tracking_plan=plan, schema_settings=settings).status_code == 200
    cut = patch(api, "shop", {}, "source.tracking_plan")
    assert cut.status_code == 200, cut.text
    assert "tracking_plan" not in cut.json()
    assert cut.json()["schema_settings"]["track"]["allow_unplanned_events"] is False
    # the settings are stored, not enforced; changing them now needs a plan again
    again = patch(api, "shop", {"schema_settings": {"track": {"allow_unplanned_events": False},
                                                    "group": {"allow_unplanned_traits": False}}},
                  "source.schema_settings.group.allow_unplanned_traits")  # fmt: skip
    assert "connected to no tracking plan" in error(again, 400, 3)


# -- rule: the event block list only without a tracking plan -----------------------------------


def test_blocked_events_only_without_a_tracking_plan(tmp_path: Path, api: Api) -> None:
    root = tree(tmp_path / "ws", PLAN, shop("tp", blocked_events=["Test Event"]))
    assert_at(root, "blocked_events", "schema_settings.blocked_events applies only to a source "
              "connected to none", "source/blocked-events-plan")  # fmt: skip
    valid(tree(tmp_path / "ok", PLAN, shop(None, blocked_events=["Test Event"])))

    plan = tracking_plan(api)
    refused = create(api, "shop", tracking_plan=plan,
                     schema_settings={"blocked_events": ["Test Event"]})  # fmt: skip
    assert "applies only to a source connected to none" in error(refused, 400, 3)
    made = create(api, "shop", schema_settings={"blocked_events": ["b", "a", "b"]})
    assert made.status_code == 200, made.text
    assert made.json()["schema_settings"]["blocked_events"] == ["a", "b"]  # canonical
    connect = patch(api, "shop", {"tracking_plan": plan}, "source.tracking_plan")
    assert "applies only to a source connected to none" in error(connect, 400, 3)
    emptied = patch(api, "shop", {"tracking_plan": plan, "schema_settings": {"blocked_events": []}},
                    "source.tracking_plan", "source.schema_settings.blocked_events")  # fmt: skip
    assert emptied.status_code == 200, emptied.text


# -- rule: forwarding targets ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("target", "extra", "message", "rule"),
    [
        ("shop", [], "a source cannot forward to itself (shop)", "source/forwarding-self"),
        ("web", [{"kind": "Source", "name": "web", "spec": {"catalog": "javascript"}}],
         "web is not: its type 'javascript' is a website source", "source/forwarding-server"),
        ("nowhere", [], "'nowhere'", "reference"),
    ],
)  # fmt: skip
def test_forwarding_targets_are_other_existing_server_side_sources(
    target: str, extra: list[dict[str, Any]], message: str, rule: str, tmp_path: Path, api: Api
) -> None:
    root = tree(tmp_path / "ws", PLAN, *extra, shop(forwarding_violations_to=target))
    result = seg("validate", "-w", str(root))
    assert result.exit_code == 1 and message in result.output, result.output
    if rule != "reference":
        assert_at(root, "forwarding_violations_to", message, rule)
    valid(tree(tmp_path / "ok", PLAN, QUARANTINE, shop(forwarding_violations_to="quarantine")))

    plan = tracking_plan(api)
    for source in extra:
        assert create(api, source["name"], source["spec"]["catalog"]).status_code == 200
    assert create(api, "shop", tracking_plan=plan).status_code == 200
    body = {"schema_settings": {"forwarding_violations_to": target}}
    refused = patch(api, "shop", body, "source.schema_settings.forwarding_violations_to")
    text = error(refused, 400, 3)
    assert (message if rule != "reference" else "source 'nowhere' does not exist") in text
    assert create(api, "quarantine", "http-api").status_code == 200
    body = {"schema_settings": {"forwarding_violations_to": "quarantine"}}
    assert patch(api, "shop", body, "source.schema_settings.forwarding_violations_to").is_success


def test_a_private_source_type_without_a_category_is_not_a_forwarding_target(
    tmp_path: Path, api: Api
) -> None:  # fmt: skip
    entry = {"id": "edge-collector", "section": "source", "display_name": "Edge collector",
             "settings": None}  # fmt: skip
    made = api.http.post("/v1beta/catalog:import", json={"format_version": 1, "entries": [entry]})
    assert made.status_code == 200, made.text
    plan = tracking_plan(api)
    assert create(api, "edge", "edge-collector").status_code == 200
    refused = create(api, "shop", tracking_plan=plan,
                     schema_settings={"forwarding_blocked_events_to": "edge"})  # fmt: skip
    assert ("its type 'edge-collector' has no category in the catalog"
            in error(refused, 400, 3))  # fmt: skip


def test_a_source_others_forward_to_is_not_deleted(api: Api) -> None:
    plan = tracking_plan(api)
    assert create(api, "quarantine", "http-api").status_code == 200
    settings = {"forwarding_blocked_events_to": "quarantine"}
    assert create(api, "shop", tracking_plan=plan, schema_settings=settings).status_code == 200
    refused = api.http.delete(api.url("/sources/quarantine"))
    assert ("receives the blocked events or violations forwarded by shop; remove those "
            "forwarding settings" in error(refused, 409, 9))  # fmt: skip
    # a caller who may not read shop is not told its name
    assert (
        api.http.post(
            api.url("/labels"),
            json={"label": {"name": f"workspaces/{api.workspace}/labels/team:ops"}},
        ).status_code
        == 200
    )
    labelled = patch(api, "quarantine", {"labels": {"team": "ops"}}, "source.labels")
    assert labelled.status_code == 200, labelled.text
    binding = {
        "name": f"workspaces/{api.workspace}/role-bindings/sam",
        "role": "source_admin",
        "subject": {"user": "sam@x.io"},
        "scope": {"labels": {"team": "ops"}},
    }
    made = api.http.post(api.url("/role-bindings"), json={"role_binding": binding})
    assert made.status_code == 200, made.text
    token = api.cp.workspaces.create_token(api.workspace, "workspace:owner", "sam", "sam@x.io")
    hidden = api.client(token[1]).delete(api.url("/sources/quarantine"))
    text = error(hidden, 409, 9)
    assert "forwarded by 1 source you may not read" in text and "shop" not in text
    assert patch(api, "shop", {}, "source.schema_settings.forwarding_blocked_events_to").is_success
    assert api.http.delete(api.url("/sources/quarantine")).status_code == 200


# -- canonical spellings on both sides ---------------------------------------------------------


def test_the_api_stores_docs_spellings_canonically_with_every_default(api: Api) -> None:
    plan = tracking_plan(api)
    written = {"track": {"common_event_on_violations": "Block Event"},
               "identify": {"common_event_on_violations": "omit-properties"}}  # fmt: skip
    made = create(api, "shop", tracking_plan=plan, schema_settings=written)
    assert made.status_code == 200, made.text
    stored = made.json()["schema_settings"]
    assert stored == {
        "track": {"allow_unplanned_events": True, "allow_unplanned_event_properties": True,
                  "allow_event_on_violations": True, "allow_properties_on_violations": True,
                  "common_event_on_violations": "BLOCK"},
        "identify": {"allow_unplanned_traits": True, "allow_traits_on_violations": True,
                     "common_event_on_violations": "OMIT_TRAITS"},
        "group": {"allow_unplanned_traits": True, "allow_traits_on_violations": True,
                  "common_event_on_violations": "ALLOW"},
        "blocked_events": [],
    }  # fmt: skip
    masked = patch(api, "shop", {"schema_settings": {"group": {"common_event_on_violations":
                                                               "OMIT"}}},
                   "source.schema_settings.group.common_event_on_violations")  # fmt: skip
    assert masked.json()["schema_settings"]["group"]["common_event_on_violations"] == "OMIT_TRAITS"
    reset = patch(api, "shop", {}, "source.schema_settings.track")  # a whole call cleared
    assert reset.json()["schema_settings"]["track"]["common_event_on_violations"] == "ALLOW"
    plain = create(api, "web")
    assert plain.json()["schema_settings"]["track"]["allow_unplanned_events"] is True


def converge(root: Path, api: Api) -> Plan:
    """Plan and apply ``root`` against ``api``'s control plane; the plan it applied."""
    client = api.seg_client()
    session = Session(load_workspace(root, environ={}), client, "embedded")
    plan = make_plan(session)
    result = apply_plan(plan, client, NullObserver())
    assert result.ok, [(r.step.change.address, r.error) for r in result.results if r.error]
    again = make_plan(session)
    assert not again.has_changes, [(c.address, c.field_changes) for c in again.changes]
    return plan


def test_yaml_spellings_apply_canonically_and_plan_no_changes(tmp_path: Path, api: Api) -> None:
    root = tree(tmp_path / "ws", PLAN, QUARANTINE,
                shop(track={"common_event_on_violations": "block event",
                            "allow_unplanned_events": False},
                     identify={"common_event_on_violations": "Omit Properties"},
                     blocked_events=[]),
                workspace=api.workspace)  # fmt: skip
    converge(root, api)
    stored = settings_of(api, "shop")
    assert stored["track"]["common_event_on_violations"] == "BLOCK"
    assert stored["identify"]["common_event_on_violations"] == "OMIT_TRAITS"


def test_removing_a_forwarding_key_clears_it_and_the_next_plan_is_empty(tmp_path: Path,
                                                                        api: Api) -> None:  # fmt: skip
    both = {"forwarding_blocked_events_to": "quarantine", "forwarding_violations_to": "quarantine"}
    root = tree(tmp_path / "ws", PLAN, QUARANTINE, shop(**both), workspace=api.workspace)
    converge(root, api)
    assert settings_of(api, "shop")["forwarding_violations_to"] == "quarantine"
    tree(root, PLAN, QUARANTINE, shop(forwarding_blocked_events_to="quarantine"),
         workspace=api.workspace)  # fmt: skip
    plan = converge(root, api)
    (change,) = plan.changes
    assert change.update_mask == ("source.schema_settings.forwarding_violations_to",)
    stored = settings_of(api, "shop")
    assert "forwarding_violations_to" not in stored
    assert stored["forwarding_blocked_events_to"] == "quarantine"
    tree(root, PLAN, QUARANTINE, shop(), workspace=api.workspace)  # no schema_settings at all
    converge(root, api)
    assert "forwarding_blocked_events_to" not in settings_of(api, "shop")


def test_a_source_adopted_from_nobody_loses_the_settings_the_yaml_does_not_declare(
    tmp_path: Path, api: Api
) -> None:  # fmt: skip
    plan = tracking_plan(api, "tp")
    assert create(api, "quarantine", "http-api").status_code == 200
    drift = {
        "forwarding_violations_to": "quarantine",
        "blocked_events": [],
        "track": {"allow_unplanned_events": False, "common_event_on_violations": "BLOCK"},
    }
    assert create(api, "shop", tracking_plan=plan, schema_settings=drift).status_code == 200
    root = tree(tmp_path / "ws", PLAN, QUARANTINE,
                shop(track={"allow_unplanned_event_properties": False}),
                workspace=api.workspace)  # fmt: skip
    # the tracking plan made through the API has the external id tp: the YAML adopts it too
    plan_made = converge(root, api)
    (change,) = [c for c in plan_made.changes if c.address == "shop"]
    assert change.adopt
    assert set(change.update_mask) == {
        "source.schema_settings.forwarding_violations_to",
        "source.schema_settings.track.allow_unplanned_events",
        "source.schema_settings.track.allow_unplanned_event_properties",
        "source.schema_settings.track.common_event_on_violations",
    }
    stored = settings_of(api, "shop")
    assert "forwarding_violations_to" not in stored
    assert stored["track"]["allow_unplanned_events"] is True
    assert stored["track"]["common_event_on_violations"] == "ALLOW"


# -- references: apply order and deletes -------------------------------------------------------


def test_a_forwarding_target_is_created_first_and_deleted_after_the_update(
    tmp_path: Path, api: Api
) -> None:  # fmt: skip
    target = {"kind": "Source", "name": "a-sink", "spec": {"catalog": "http-api"}}
    root = tree(tmp_path / "ws", PLAN, target, shop(forwarding_violations_to="a-sink"),
                workspace=api.workspace)  # fmt: skip
    session = Session(load_workspace(root, environ={}), api.seg_client(), "embedded")
    steps = plan_steps(make_plan(session))
    order = [s.change.address for s in steps]
    assert order.index("a-sink") < order.index("shop")
    converge(root, api)
    tree(root, PLAN, shop(), workspace=api.workspace)  # stop forwarding, delete the target
    session = Session(load_workspace(root, environ={}), api.seg_client(), "embedded")
    plan = make_plan(session)
    steps = plan_steps(plan)
    (delete,) = [s for s in steps if s.op == "delete"]
    (update,) = [s for s in steps if s.op == "update"]
    assert update.index in delete.depends_on
    converge(root, api)


def test_a_plan_blocks_deleting_a_source_kept_forwarding_to_it(tmp_path: Path,
                                                               api: Api) -> None:  # fmt: skip
    root = tree(tmp_path / "ws", PLAN, QUARANTINE, shop(forwarding_violations_to="quarantine"),
                workspace=api.workspace)  # fmt: skip
    converge(root, api)
    live = api.seg_client().read_state()
    desired = [r for r in load_workspace(root, environ={}).resources if r.address != "quarantine"]
    from seg.engine import compute_plan
    from seg.engine.ownership import Ownership

    plan = compute_plan(api.workspace, desired, live, ownership=Ownership("default"))
    (blocked,) = [c for c in plan.changes if c.address == "quarantine"]
    assert blocked.action is Action.BLOCKED and "shop" in blocked.reason


# -- plans show what drops data ----------------------------------------------------------------


def test_plans_list_changes_that_drop_data_first(tmp_path: Path, api: Api) -> None:
    both = {"forwarding_blocked_events_to": "quarantine", "forwarding_violations_to": "quarantine"}
    root = tree(tmp_path / "ws", PLAN, QUARANTINE, shop(**both), workspace=api.workspace)
    converge(root, api)
    tree(root, PLAN, QUARANTINE,
         shop(track={"allow_unplanned_events": False, "common_event_on_violations": "Omit"},
              forwarding_violations_to="quarantine"),
         workspace=api.workspace)  # fmt: skip
    session = Session(load_workspace(root, environ={}), api.seg_client(), "embedded")
    plan = make_plan(session)
    text = [line for _style, line in plan_lines(plan)]
    assert text[:4] == [
        "Changes that drop data (2) — review these:",
        "  Source shop: schema settings now drop data: track.allow_unplanned_events: false, "
        "track.common_event_on_violations: OMIT_PROPERTIES",
        "  Source shop: stops forwarding blocked events to quarantine: they are discarded from "
        "now on",
        "",
    ]
    markdown = render_plan_markdown(plan)
    assert ("#### ⚠️ Changes that drop data (2)\n\n"
            "- <code>Source shop: schema settings now drop data: track.allow_unplanned_events: "
            "false, track.common_event_on_violations: OMIT_PROPERTIES</code>\n"
            "- <code>Source shop: stops forwarding blocked events to quarantine: they are "
            "discarded from now on</code>\n") in markdown  # fmt: skip
    assert markdown.index("Changes that drop data") < markdown.index("Source shop")  # first


# -- the protocols example ---------------------------------------------------------------------


def test_the_protocols_example_applies_plans_empty_and_exports_back(
    tmp_path: Path, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:  # fmt: skip
    root = tmp_path / "protocols"
    shutil.copytree(REPO / "examples" / "protocols", root,
                    ignore=shutil.ignore_patterns(".seg"))  # fmt: skip
    config = (root / "seg.yaml").read_text()
    (root / "seg.yaml").write_text(re.sub(r"(?m)^workspace: .*$", f"workspace: {api.workspace}",
                                          config))  # fmt: skip
    for name in ("AMPLITUDE_API_KEY", "BRAZE_API_KEY"):
        monkeypatch.setenv(name, "demo")
    monkeypatch.setenv("SLACK_ALERTS_WEBHOOK", "https://hooks.slack.com/services/T0/B0/demo")
    workspace = load_workspace(root)
    client = api.seg_client()
    session = Session(workspace, client, "embedded")
    plan = make_plan(session)
    assert any("Source shop: created with schema settings that drop data" in line
               for _style, line in plan_lines(plan))  # fmt: skip
    assert apply_plan(plan, client, NullObserver()).ok
    assert not make_plan(session).has_changes
    shop_settings = settings_of(api, "shop")
    assert shop_settings["track"]["allow_unplanned_events"] is False
    assert shop_settings["track"]["common_event_on_violations"] == "OMIT_PROPERTIES"
    assert shop_settings["forwarding_blocked_events_to"] == "quarantine"

    exported = render_export(api.workspace, client.read_state()).files
    back = tmp_path / "exported"
    for rel, text in exported.items():
        (back / rel).parent.mkdir(parents=True, exist_ok=True)
        (back / rel).write_text(text)
    doc = yaml.safe_load((back / "sources" / "shop.yaml").read_text())
    assert doc["spec"]["schema_settings"] == {
        "track": {"allow_unplanned_events": False, "allow_unplanned_event_properties": False,
                  "common_event_on_violations": "OMIT_PROPERTIES"},
        "forwarding_blocked_events_to": "quarantine", "forwarding_violations_to": "quarantine",
    }  # fmt: skip
    assert "schema_settings" not in (back / "sources" / "quarantine.yaml").read_text()
    placeholders = re.findall(r"\$\{env:(\w+)\}", "".join(exported.values()))
    environ = dict.fromkeys(placeholders, "https://hooks.example.com/demo")  # a URL fits all
    session = Session(load_workspace(back, environ=environ), client, "embedded")
    plan = make_plan(session)
    # secrets exported as placeholders differ from the values; nothing else does
    assert [c.address for c in plan.changes if c.kind.name not in ("Destination", "Alert")] == []


def test_seg_diff_shows_schema_settings_changes_between_revisions(tmp_path: Path) -> None:
    import git

    root = tree(tmp_path / "repo" / "ws", PLAN, QUARANTINE, shop())
    repo = git.Repo.init(tmp_path / "repo", initial_branch="main")
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", "t")
        cfg.set_value("user", "email", "t@example.com")
    repo.git.add("-A")
    repo.index.commit("base: all defaults (no schema_settings)")
    head = shop(track={"allow_unplanned_events": False}, forwarding_violations_to="quarantine")
    tree(root, PLAN, QUARANTINE, head)
    repo.git.add("-A")
    repo.index.commit("head")
    result = seg("diff", "-w", str(root), "--base", "HEAD~1", "-o", "json")
    assert result.exit_code == 2, result.output
    (change,) = yaml.safe_load(result.stdout)["changes"]
    assert sorted(change["update_mask"]) == [
        "source.schema_settings.forwarding_violations_to",
        "source.schema_settings.track.allow_unplanned_events",
    ]
    assert change["notices"] == [
        "Source shop: schema settings now drop data: track.allow_unplanned_events: false"
    ]
    tree(root, PLAN, QUARANTINE, shop(track={"common_event_on_violations": "allow"}))
    repo.git.add("-A")
    repo.index.commit("back to the defaults, in another spelling")
    assert seg("diff", "-w", str(root), "--base", "HEAD~2").exit_code == 0
