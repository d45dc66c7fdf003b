"""``seg trace`` as a process on the protocols example: each sample event's fate per
destination (schema controls, consent, the integrations object, transformations), as text,
JSON and markdown; bad input is one readable line."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.e2e.cli_workspace import base_env, run

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).parents[2] / "examples" / "protocols"
SECRETS = {"AMPLITUDE_API_KEY": "demo-amplitude-key", "BRAZE_API_KEY": "demo-braze-key",
           "SLACK_ALERTS_WEBHOOK": "https://hooks.slack.com/services/T000/B000/demo"}  # fmt: skip


def _trace(tmp_path: Path, *args: str) -> tuple[int, str, str]:
    env = base_env(tmp_path, **SECRETS)
    done = run(["trace", "--source", "shop", str(EXAMPLE / "events.jsonl"), "-w", str(EXAMPLE),
                "--no-cache", *args], env)  # fmt: skip
    return done.returncode, done.stdout, done.stderr


def test_the_example_events_as_json(tmp_path: Path) -> None:
    code, out, err = _trace(tmp_path, "-o", "json")
    assert code == 0 and err == "", err
    data = json.loads(out)
    assert data["format_version"] == "1.0" and data["source"] == "shop"
    events = data["events"]
    fate = [{d["destination"]: (d["stopped"] or {}).get("step", "delivered")
             for d in e["deliveries"]} for e in events]  # fmt: skip
    # 1: an unplanned property omitted everywhere, recorded in context.protocols
    assert fate[0] == dict.fromkeys(["shop/amplitude", "shop/braze", "shop/google-ads"],
                                    "delivered")  # fmt: skip
    first = events[0]["deliveries"][0]
    assert first["removed"] == ["properties.color"]
    assert first["payload"]["context"]["protocols"] == {"omitted": ["color"]}
    # 2: an unplanned event blocked at the source, forwarded to quarantine
    assert events[1]["stopped"]["step"] == "tracking plan" and events[1]["deliveries"] == []
    assert events[1]["notes"] == ["blocked events are forwarded to source quarantine"]
    # 3: Analytics refused: Amplitude stopped; Braze needs Functional too
    assert fate[2] == {"shop/amplitude": "consent", "shop/braze": "consent",
                       "shop/google-ads": "delivered"}  # fmt: skip
    # 4: integrations {All: false, Amplitude: true}
    assert fate[3] == {"shop/amplitude": "delivered", "shop/braze": "integrations",
                       "shop/google-ads": "integrations"}  # fmt: skip
    assert data["summary"] == {"events": 4, "delivered": 5, "stopped": 5}
    # each Actions destination's mapping fires with its payload (event paths)
    braze = events[0]["deliveries"][1]
    assert braze["mappings"] == [{"mapping": "shop/braze/track-events", "action": "trackEvent",
                                  "payload": {"name": "Product Viewed", "external_id": "u1",
                                              "properties": {"product_id": "p1", "price": 30}}}]
    assert data["not_simulated"] == []


def test_the_example_events_as_text_and_markdown(tmp_path: Path) -> None:
    code, out, err = _trace(tmp_path)
    assert code == 0 and err == "", err
    assert "line 2 (Coupon Tried) → source shop: stopped at tracking plan: unplanned event" in out
    assert "shop/amplitude   stopped at consent: filtered by end user consent: no consent " \
           "for Analytics" in out
    assert "shop/braze       delivered (removed properties.color; mappings track-events " \
           "(trackEvent))" in out
    assert out.rstrip().endswith("4 events: 5 delivered, 5 stopped.")
    code, markdown, err = _trace(tmp_path, "-o", "markdown")
    assert code == 0 and markdown.startswith("| line | event | destination | result |\n")
    assert ("| 3 | Product Viewed | shop/google-ads | delivered (mappings conversions "
            "(uploadClickConversion)) |") in markdown


def test_bad_input_is_one_readable_line(tmp_path: Path) -> None:
    env = base_env(tmp_path, **SECRETS)
    unknown = run(["trace", "--source", "nope", str(EXAMPLE / "events.jsonl"), "-w",
                   str(EXAMPLE), "--no-cache"], env)  # fmt: skip
    assert unknown.returncode != 0 and "source 'nope' is not declared" in unknown.stderr
    assert len(unknown.stderr.strip().splitlines()) == 1 and "Traceback" not in unknown.stderr
    events = tmp_path / "bad.jsonl"
    events.write_text('{"type": "track", "event": "A"}\n[1, 2]\n')
    bad = run(["trace", "--source", "shop", str(events), "-w", str(EXAMPLE), "--no-cache"], env)
    assert bad.returncode != 0 and f"{events}:2: an event is a JSON object" in bad.stderr
    events.write_text('{"type": "track"\n')
    bad = run(["trace", "--source", "shop", str(events), "-w", str(EXAMPLE), "--no-cache"], env)
    assert bad.returncode != 0 and f"{events}:1: not a JSON event" in bad.stderr
    assert "Traceback" not in bad.stderr


WAREHOUSE = Path(__file__).parents[2] / "examples" / "warehouse"


def test_the_warehouse_example_traces_its_seg_yaml_samples(tmp_path: Path) -> None:
    """No file given: the samples seg.yaml's ``events:`` sends to the source; the warehouse
    gets what its selective sync leaves."""
    env = base_env(tmp_path, WAREHOUSE_PASSWORD="demo-password")
    done = run(["trace", "--source", "web", "-w", str(WAREHOUSE), "--no-cache", "-o", "json"], env)
    assert done.returncode == 0, done.stderr
    events = json.loads(done.stdout)["events"]
    fate = [(d["destination"], d["kind"], (d["stopped"] or {}).get("reason", "delivered"),
             d["removed"]) for e in events for d in e["deliveries"]]  # fmt: skip
    assert fate == [
        ("analytics", "warehouse", "delivered", ["properties.card_last4"]),
        ("analytics", "warehouse", "selective sync turns collection page_viewed off", []),
        ("analytics", "warehouse", "delivered", []),
    ]


def test_a_plan_of_the_warehouse_example_reports_its_impact_from_seg_yaml(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(WAREHOUSE, ws, ignore=shutil.ignore_patterns(".seg"))
    env = base_env(tmp_path, WAREHOUSE_PASSWORD="demo-password")
    assert run(["apply", "-w", str(ws), "--auto-approve"], env).returncode == 0
    spec = (ws / "warehouse.yaml").read_text()
    (ws / "warehouse.yaml").write_text(spec.replace("card_last4: false", "total: false"))
    planned = run(["plan", "-w", str(ws), "-o", "json"], env)
    assert planned.returncode == 0, planned.stderr
    impact = json.loads(planned.stdout)["delivery_impact"]
    assert impact["events"] == 3
    assert [(d["destination"], d["kind"], d["properties_removed"], d["properties_added"])
            for d in impact["destinations"]] == [
        ("analytics", "warehouse", {"properties.total": 1}, {"properties.card_last4": 1})]
