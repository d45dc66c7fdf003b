"""``seg plan --events`` as a process on the protocols example applied to the embedded
control plane: a new drop filter and a consent mapping lose deliveries, said in text, JSON
and markdown (first when anything is lost); ``--fail-on-loss`` exits 3; a plan without
changes has no impact."""

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
FILTER = """---
kind: DestinationFilter
name: priced-only
spec:
  destination: shop/amplitude
  title: Drop product views without a price
  if: "event = 'Product Viewed' and length(properties.price) < 1"
  actions:
    - type: DROP
"""


def test_a_plan_that_loses_deliveries_says_so(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(EXAMPLE, ws, ignore=shutil.ignore_patterns(".seg"))
    env = base_env(tmp_path, **SECRETS)
    events = str(ws / "events.jsonl")
    assert run(["apply", "-w", str(ws), "--auto-approve"], env).returncode == 0
    unchanged = run(["plan", "-w", str(ws), "--events", f"shop={events}", "-o", "json"], env)
    assert unchanged.returncode == 0, unchanged.stderr
    assert json.loads(unchanged.stdout)["delivery_impact"]["destinations"] == []
    (ws / "sources.yaml").write_text((ws / "sources.yaml").read_text() + FILTER)
    consent = (ws / "consent.yaml").read_text()
    (ws / "consent.yaml").write_text(consent.replace("destinations: [shop/amplitude]",
                                                     "destinations: [shop/amplitude, shop/google-ads]"))  # fmt: skip
    planned = run(["plan", "-w", str(ws), "--events", f"shop={events}", "-o", "json"], env)
    assert planned.returncode == 0, planned.stderr
    impact = json.loads(planned.stdout)["delivery_impact"]
    assert impact["events"] == 4
    by = {d["destination"]: d for d in impact["destinations"]}
    assert set(by) == {"shop/amplitude", "shop/google-ads"}
    assert by["shop/amplitude"]["lost"] == 1 and by["shop/amplitude"]["lost_example"]["line"] == 4
    assert "shop/amplitude/priced-only" in by["shop/amplitude"]["lost_example"]["detail"]
    assert by["shop/google-ads"]["lost"] == 1
    assert "no consent for Analytics" in by["shop/google-ads"]["lost_example"]["detail"]
    markdown = run(["plan", "-w", str(ws), "--events", events, "-o", "markdown"], env)
    assert markdown.stdout.startswith("#### ⚠️ Delivery impact: 2 deliveries lost")
    text = run(["plan", "-w", str(ws), "--events", f"shop={events}"], env)
    assert "Delivery impact (4 sample events):" in text.stdout
    assert "loses 1 event (e.g. line 3, Product Viewed: stopped at consent" in text.stdout
    failing = run(["plan", "-w", str(ws), "--events", f"shop={events}", "--fail-on-loss"], env)
    assert failing.returncode == 3
    assert "the plan loses 2 deliveries of the sample (--fail-on-loss)" in failing.stderr


def test_a_bad_sample_fails_before_any_request(tmp_path: Path) -> None:
    ws = tmp_path / "ws"
    shutil.copytree(EXAMPLE, ws, ignore=shutil.ignore_patterns(".seg"))
    env = base_env(tmp_path, **SECRETS)
    bad = tmp_path / "bad.jsonl"
    bad.write_text("[1]\n")
    found = run(["plan", "-w", str(ws), "--events", f"shop={bad}"], env)
    assert found.returncode != 0 and f"{bad}:1: an event is a JSON object" in found.stderr
    assert "Traceback" not in found.stderr
    unknown = run(["plan", "-w", str(ws), "--events", f"nope={ws / 'events.jsonl'}"], env)
    assert unknown.returncode != 0 and "names a source" in unknown.stderr
