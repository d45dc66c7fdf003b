"""Destination filters end to end: validate, plan/apply with masks, the server's rules, and the
offline tools `seg fql eval` and `seg filter test`."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import Api
from tests.conftest import run_cli as seg
from tests.helpers import error
from tests.repo_files import copy_repo_dir
from tests.unit.fql_cases import EVENT, TRUTH_TABLE

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "filters"


@pytest.fixture
def root(tmp_path: Path, clean_seg_env: None, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("AMPLITUDE_API_KEY", "amp-key")  # the example's destination key
    target = tmp_path / "filters"
    copy_repo_dir(EXAMPLE, target)
    return target


def edit(path: Path, old: str, new: str) -> None:
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))


def test_filters_plan_apply_and_mask_one_field(root: Path) -> None:
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    assert seg("plan", "-w", str(root), "--detailed-exitcode").exit_code == 0
    edit(root / "workspace.yaml", "if: length( userId ) < 1", "if: length( userId ) < 2")
    plan = json.loads(seg("plan", "-w", str(root), "-o", "json").stdout)
    (change,) = plan["changes"]
    assert change["address"] == "web/amplitude/drop-anonymous"
    assert change["update_mask"] == ["filter.if"]
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    assert seg("plan", "-w", str(root), "--detailed-exitcode").exit_code == 0


def test_invalid_fql_points_at_the_if(root: Path) -> None:
    edit(root / "workspace.yaml", "if: length( userId ) < 1", "if: length( userId ) <")
    result = seg("validate", "-w", str(root))
    assert result.exit_code == 1
    assert (
        "workspace.yaml:20:7: error: filter.if: invalid FQL: unexpected end of expression" in result.output
    )
    assert "(column 19)" in result.output


def test_more_than_ten_filters_is_refused_by_validate(root: Path) -> None:
    extra = "".join(
        f"---\nkind: DestinationFilter\nname: f{i}\nspec:\n  destination: web/amplitude\n"
        f"  title: t\n  if: all\n  actions: [{{type: DROP}}]\n"
        for i in range(7)
    )
    (root / "more.yaml").write_text(extra)
    result = seg("validate", "-w", str(root))
    assert result.exit_code == 1 and "has 11 filters; the limit is 10" in result.output


def test_bad_actions_are_schema_errors(root: Path) -> None:
    edit(
        root / "workspace.yaml",
        "    - type: DROP\n---\nkind: DestinationFilter\nname: strip-pii",
        "    - type: SAMPLE\n      percent: 1.5\n---\nkind: DestinationFilter\nname: strip-pii",
    )
    result = seg("validate", "-w", str(root))
    assert result.exit_code == 1 and "1.5 is greater than the maximum of 1" in result.output


def test_mapping_triggers_are_fql_too(root: Path) -> None:
    (root / "mapping.yaml").write_text(
        "kind: Mapping\nname: track\nspec:\n  destination: web/amplitude\n  action: trackEvent\n"
        "  trigger: \"type = 'track' and\"\n"
    )
    result = seg("validate", "-w", str(root))
    assert (
        result.exit_code == 1 and "mapping.yaml:6:12: error: mapping.trigger: invalid FQL" in result.output
    )


def test_filter_test_reports_each_event(root: Path) -> None:
    result = seg("filter", "test", "-w", str(root), "--destination", "web/amplitude",
                 "--events", str(root / "events.jsonl"))  # fmt: skip
    assert result.exit_code == 0, result.output
    lines = result.output.splitlines()
    assert lines[0] == "line 1: delivered; removed properties.email"
    assert lines[1] == "line 2: dropped by web/amplitude/drop-anonymous"
    assert lines[2] == "line 3: delivered; removed properties.phone, properties.coupon"
    assert lines[4] == "line 5: dropped by web/amplitude/internal-only"
    assert lines[-1] == "6 events: 3 delivered, 3 dropped (4 enabled filters)."
    data = json.loads(seg("filter", "test", "-w", str(root), "--destination", "web/amplitude",
                          "--events", str(root / "events.jsonl"), "-o", "json").stdout)  # fmt: skip
    assert data["format_version"] == "1.0" and data["summary"]["dropped"] == 3
    events = data["events"]
    assert events[2]["event"]["properties"] == {"order_id": "o1", "total": 30, "currency": "EUR"}
    assert events[5]["event"]["context"]["traits"] == {"plan": "pro"}
    missing = seg("filter", "test", "-w", str(root), "--destination", "web/nope",
                  "--events", str(root / "events.jsonl"))  # fmt: skip
    assert missing.exit_code == 1 and "'web/nope' is not declared" in missing.output


def test_fql_eval(tmp_path: Path) -> None:
    event = tmp_path / "e.json"
    event.write_text(json.dumps({"context": {"library": {"version": "1.0"}}, "userId": "ア"}))
    assert (
        seg("fql", "eval", "match( context.library.version, '1.*' )", "--event", str(event)).stdout
        == "true\n"
    )
    assert seg("fql", "eval", "length(userId)", "--event", str(event)).stdout == "3\n"
    assert seg("fql", "eval", "lowercase(missing)").stdout == "null\n"
    bad = seg("fql", "eval", "type = ")
    assert (
        bad.exit_code == 1
        and "FQL: unexpected end of expression" in bad.output
        and "(column 8)" in bad.output
    )


def test_server_checks_filters(api: Api) -> None:
    api.create_source("web")
    api.create_destination("web", "amp")
    url = api.url("/sources/web/destinations/amp/filters")

    def create(slug: str, expr: str = "all"):
        name = f"workspaces/{api.workspace}/sources/web/destinations/amp/filters/{slug}"
        body = {"name": name, "title": "t", "if": expr, "actions": [{"type": "DROP"}]}
        return api.http.post(url, json={"filter": body})

    message = error(create("bad", 'userId = oops"'), 400, 3)
    assert "filter.if: invalid FQL" in message and "column 14" in message
    for i in range(10):
        assert create(f"f{i}").status_code == 200
    assert "has 11 filters; the limit is 10" in error(create("f10"), 409, 9)
    patch = {"filter": {"if": "a ="}, "update_mask": {"paths": ["filter.if"]}}
    error(api.http.patch(f"{url}/f0", json=patch), 400, 3)
    trigger = {"name": f"workspaces/{api.workspace}/sources/web/destinations/amp/mappings/m",
               "action": "track", "trigger": "type = = 'x'"}  # fmt: skip
    r = api.http.post(api.url("/sources/web/destinations/amp/mappings"), json={"mapping": trigger})
    assert "mapping.trigger: invalid FQL" in error(r, 400, 3)


def test_documented_truth_table_through_seg_fql_eval(tmp_path: Path) -> None:
    event = tmp_path / "event.json"
    event.write_text(json.dumps(EVENT))
    for expr, expected in TRUTH_TABLE:
        result = seg("fql", "eval", expr, "--event", str(event))
        assert result.exit_code == 0 and json.loads(result.stdout) is expected, (
            expr,
            result.output,
        )
