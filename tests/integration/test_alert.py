"""The Alert kind (issue 15, item 4): each rule in `seg validate` (file:line:col) and on the
control plane (the same refusal, SQLite and PostgreSQL), the Slack webhook URL as a secret
(refused as a literal, never printed, exported as a placeholder), channels without order,
immutable type and destination (replace), a watched destination that cannot be deleted and a
plan that lets go of it first, export round trip and `seg diff`."""

from __future__ import annotations

import json
import re
from functools import partial
from pathlib import Path
from typing import Any

import git
import pytest
import yaml

from tests.conftest import Api, embedded_call, live
from tests.conftest import run_cli as seg
from tests.helpers import error
from tests.integration import diagnostics

line_of, validate_errors = diagnostics.line_of, diagnostics.validate_errors
assert_at = partial(diagnostics.assert_at, or_next=True)  # at the key or where its value starts

WS = "acme"
REPO = Path(__file__).resolve().parents[2]
HOOK = "https://hooks.slack.com/services/T000/B000/hook-secret-1"
HOOK_2 = "https://hooks.slack.com/services/T000/B000/hook-secret-2"
BASE = """\
kind: Source
name: shop
spec: {catalog: javascript}
---
kind: Destination
name: amplitude
spec: {source: shop, catalog: amplitude, settings: {api_key: k}}
"""


def alert(name: str = "drop", **spec: Any) -> str:
    """An alert document on ``shop``; ``spec`` replaces the defaults key by key (None drops
    a key)."""
    body: dict[str, Any] = {"source": "shop", "type": "source_volume", "threshold_percent": 20}
    body.update(spec)
    body = {k: v for k, v in body.items() if v is not None}
    return yaml.safe_dump({"kind": "Alert", "name": name, "spec": body}, sort_keys=False)


RATE = {"type": "delivery_rate", "destination": "amplitude", "threshold_percent": 99,
        "channels": ["in_app", "slack"], "slack_webhook_url": "${env:SLACK_HOOK}"}  # fmt: skip


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, clean_seg_env: None) -> None:
    monkeypatch.setenv("SLACK_HOOK", HOOK)


def tree(root: Path, *docs: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {WS}\n")
    (root / "resources.yaml").write_text("---\n".join([BASE, *docs]))
    return root


def setup(api: Api) -> None:
    assert api.create_source("shop").status_code == 200
    made = api.create_destination("shop", "amplitude", settings={"api_key": "k"})
    assert made.status_code == 200, made.text


def post(api: Api, body: dict[str, Any], name: str = "drop") -> Any:
    full = {"name": f"workspaces/{api.workspace}/sources/shop/alerts/{name}",
            "type": "source_volume", "threshold_percent": 20, **body}  # fmt: skip
    full = {k: v for k, v in full.items() if v is not None}
    return api.http.post(api.url("/sources/shop/alerts"), json={"alert": full})


def dest(api: Api, slug: str = "amplitude", source: str = "shop") -> str:
    return f"workspaces/{api.workspace}/sources/{source}/destinations/{slug}"


# -- rules: seg validate and the control plane ------------------------------------------------


def test_a_source_volume_alert_takes_no_destination(tmp_path: Path, env: None, api: Api) -> None:
    root = tree(tmp_path / "ws", alert(destination="amplitude"))
    assert_at(validate_errors(root), root, "destination: amplitude",
              "a source_volume alert watches the whole source", "alert/destination")  # fmt: skip
    setup(api)
    refused = post(api, {"destination": dest(api)})
    assert "a source_volume alert watches the whole source" in error(refused, 400, 3)


def test_a_delivery_rate_alert_needs_a_destination(tmp_path: Path, env: None, api: Api) -> None:
    root = tree(tmp_path / "ws", alert(**{**RATE, "destination": None}))
    out = validate_errors(root)
    assert re.search(r"resources\.yaml:\d+:\d+: error: spec: 'destination' is a required "
                     r"property \[schema/required\]", out), out  # fmt: skip
    setup(api)
    refused = post(api, {"type": "delivery_rate", "threshold_percent": 99})
    assert "'destination' is a required property" in error(refused, 400, 3)


def test_the_destination_is_one_of_the_same_source(tmp_path: Path, env: None, api: Api) -> None:
    root = tree(tmp_path / "ws", alert(**{**RATE, "destination": "mixpanel"}))
    out = validate_errors(root)
    assert "refers to destination 'shop/mixpanel', which is not declared" in out, out
    assert f"resources.yaml:{line_of(root, 'destination: mixpanel')}:" in out
    setup(api)
    assert api.create_source("other").status_code == 200
    assert api.create_destination("other", "amp", settings={"api_key": "k"}).status_code == 200
    rate = {"type": "delivery_rate", "threshold_percent": 99}
    missing = post(api, {**rate, "destination": dest(api, "mixpanel")})
    assert "not found" in error(missing, 404, 5)
    elsewhere = post(api, {**rate, "destination": dest(api, "amp", "other")})
    assert "must be a destination of" in error(elsewhere, 400, 3)
    assert post(api, {**rate, "destination": dest(api)}).status_code == 200


@pytest.mark.parametrize(
    ("spec", "message", "rule"),
    [
        ({"threshold_percent": 0}, "threshold_percent: 0 is less than or equal to the minimum",
         "schema/exclusiveMinimum"),
        ({"threshold_percent": 1001}, "threshold_percent: 1001 is greater than the maximum",
         "schema/maximum"),
        ({**RATE, "threshold_percent": 101}, "it alerts below: at most 100", "alert/threshold"),
    ],
)  # fmt: skip
def test_thresholds_are_in_range(spec: dict[str, Any], message: str, rule: str, tmp_path: Path,
                                 env: None, api: Api) -> None:  # fmt: skip
    root = tree(tmp_path / "ws", alert(**spec))
    assert_at(validate_errors(root), root, "threshold_percent:", message, rule)
    setup(api)
    body = {k: v for k, v in spec.items() if k not in ("slack_webhook_url", "channels")}
    if "destination" in body:
        body["destination"] = dest(api)
    assert error(post(api, body), 400, 3)
    ok = {**body, "threshold_percent": 100 if "destination" in body else 1000}
    assert post(api, ok).status_code == 200


def test_slack_needs_the_webhook_and_the_webhook_needs_slack(tmp_path: Path, env: None,
                                                            api: Api) -> None:  # fmt: skip
    root = tree(tmp_path / "ws", alert(channels=["slack"]))
    assert_at(validate_errors(root), root, "channels:", "slack_webhook_url is required",
              "alert/slack")  # fmt: skip
    root = tree(tmp_path / "ws2", alert(slack_webhook_url="${env:SLACK_HOOK}"))
    assert_at(validate_errors(root), root, "slack_webhook_url:",
              "slack_webhook_url is set but channels do not include slack", "alert/slack")
    setup(api)
    assert "slack_webhook_url is required" in error(post(api, {"channels": ["slack"]}), 400, 3)
    stray = post(api, {"slack_webhook_url": HOOK})
    assert "channels do not include slack" in error(stray, 400, 3)
    assert HOOK not in stray.text


def test_a_literal_webhook_url_is_refused_in_validate(tmp_path: Path, env: None) -> None:
    root = tree(tmp_path / "ws", alert(channels=["slack"], slack_webhook_url=HOOK))
    out = validate_errors(root)
    assert_at(out, root, "slack_webhook_url:", "slack_webhook_url is a secret: its value must "
              "come from the environment (${env:NAME})", "secret/literal")  # fmt: skip
    assert "hook-secret-1" not in out


@pytest.mark.parametrize(
    "url",
    ["http://hooks.slack.com/services/x", "hooks.slack.com/services/x", "https://",
     "https://u:p@hooks.slack.com/x", "https://hooks.slack.com/a b", "https://[::1/x",
     "https://hooks.slack.com/" + "a" * 2100],
)  # fmt: skip
def test_the_webhook_must_be_an_https_url_never_echoed(url: str, tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch,
                                                      clean_seg_env: None, api: Api) -> None:  # fmt: skip
    monkeypatch.setenv("SLACK_HOOK", url)
    root = tree(tmp_path / "ws", alert(**RATE))
    out = validate_errors(root)
    assert re.search(r"resources\.yaml:\d+:\d+: error: (spec\.)?slack_webhook_url: the value "
                     r"from the environment (is|holds|fails) ", out), out  # fmt: skip
    assert url not in out and "hooks.slack.com/a" not in out
    setup(api)
    body = {**RATE, "destination": dest(api), "slack_webhook_url": url}
    refused = post(api, body)
    assert refused.status_code == 400, refused.text
    assert url not in refused.text and "hooks.slack" not in refused.text
    audit = api.http.get(api.url("/audit-events"), params={"page_size": 1000}).text
    assert url not in audit


# -- secrets never leak ---------------------------------------------------------------------


def test_the_webhook_url_is_sensitive_everywhere(tmp_path: Path, env: None,
                                                monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    root = tree(tmp_path / "ws", alert("rate", **RATE))
    outputs = [seg("plan", "-w", str(root), *fmt).output for fmt in ((), ("-o", "json"),
                                                                     ("-o", "markdown"))]
    assert "slack_webhook_url: (sensitive)" in outputs[0], outputs[0]
    applied = seg("apply", "-w", str(root), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    outputs.append(applied.output)
    got = live(root, "sources/shop/alerts/rate")
    assert got["slack_webhook_url"].startswith("secret:hmac:")
    outputs.append(json.dumps(got))
    outputs.append(embedded_call(root, "GET", "audit-events?page_size=1000").text)
    outputs.append(seg("plan", "-w", str(root), "--detailed-exitcode").output)
    monkeypatch.setenv("SLACK_HOOK", HOOK_2)
    rotated = seg("plan", "-w", str(root))
    assert "slack_webhook_url: (sensitive)" in rotated.output, rotated.output
    outputs.append(rotated.output)
    for text in outputs:
        assert "hook-secret" not in text, text
    db = b"".join(p.read_bytes() for p in (root / ".seg").rglob("*") if p.is_file())
    assert b"hook-secret" not in db  # sealed at rest


def test_export_writes_a_placeholder_and_round_trips(tmp_path: Path, env: None,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    root = tree(tmp_path / "ws", alert("rate", **RATE), alert())
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    (root / "resources.yaml").unlink()
    exported = seg("export", "-w", str(root), "--merge")
    assert exported.exit_code == 0, exported.output
    text = "\n".join(p.read_text() for p in root.rglob("*") if p.is_file()
                     and ".seg" not in p.parts)  # fmt: skip
    assert "hook-secret" not in text
    doc = yaml.safe_load((root / "alerts" / "shop.rate.yaml").read_text())
    url = doc["spec"]["slack_webhook_url"]
    assert re.fullmatch(r"\$\{env:SEG_SECRET_\w+\}", url), url
    assert doc["spec"]["destination"] == "amplitude"
    assert doc["spec"]["channels"] == ["in_app", "slack"]
    listed = (root / "secrets.env.example").read_text()
    assert url[6:-1] in listed
    for line in listed.splitlines():
        if line.startswith("SEG_SECRET_"):  # the destination's api_key too
            monkeypatch.setenv(line.split("=", 1)[0], "k")
    monkeypatch.setenv(url[6:-1], HOOK)
    again = seg("plan", "-w", str(root), "--detailed-exitcode")
    assert again.exit_code == 0, again.output


# -- channels, defaults, immutable fields -----------------------------------------------------


def test_channels_carry_no_order_or_repeats(tmp_path: Path, env: None, api: Api) -> None:
    root = tree(tmp_path / "ws", alert(channels=["in_app", "email"]))
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    assert live(root, "sources/shop/alerts/drop")["channels"] == ["email", "in_app"]
    tree(root, alert(channels=["email", "in_app", "email"]))
    assert seg("plan", "-w", str(root), "--detailed-exitcode").exit_code == 0
    setup(api)
    made = post(api, {"channels": ["in_app", "email", "in_app"]})
    assert made.json()["channels"] == ["email", "in_app"]
    assert error(post(api, {"channels": ["sms"]}, "x"), 400, 3)
    assert error(post(api, {"channels": []}, "y"), 400, 3)


def test_defaults(api: Api) -> None:
    setup(api)
    made = post(api, {}).json()
    assert made["enabled"] is True and made["channels"] == ["in_app"]
    assert made["creator"] == "token:" + made["creator"].split(":", 1)[1]


@pytest.mark.parametrize(("field", "value"), [("type", "delivery_rate"),
                                              ("destination", "braze")])  # fmt: skip
def test_type_and_destination_are_immutable_a_change_replaces(field: str, value: str,
                                                              tmp_path: Path, env: None) -> None:  # fmt: skip
    braze = "---\nkind: Destination\nname: braze\nspec: {source: shop, catalog: braze, " \
            "settings: {api_key: k}}\n"  # fmt: skip
    start = {**RATE} if field == "destination" else {}
    root = tree(tmp_path / "ws", alert(**start) + braze)
    applied = seg("apply", "-w", str(root), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    changed = {**RATE, field: value} if field == "destination" else {**RATE}
    tree(root, alert(**changed) + braze)
    plan = seg("plan", "-w", str(root))
    assert re.search(r"Alert shop/drop must be replaced", plan.output), plan.output
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    assert seg("plan", "-w", str(root), "--detailed-exitcode").exit_code == 0
    got = live(root, "sources/shop/alerts/drop")
    assert got[field] == (value if field == "type" else f"workspaces/{WS}/sources/shop/"
                          f"destinations/{value}")  # fmt: skip


# -- a watched destination ------------------------------------------------------------------


def test_a_watched_destination_is_not_deleted_and_a_plan_lets_go_first(tmp_path: Path,
                                                                      env: None) -> None:  # fmt: skip
    root = tree(tmp_path / "ws", alert("rate", **RATE))
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    refused = embedded_call(root, "DELETE", "sources/shop/destinations/amplitude")
    assert ("destination shop/amplitude is watched by delivery-rate alerts (rate); delete them "
            "first") in error(refused, 409, 9)
    # one plan: the alert goes, then the destination
    (root / "resources.yaml").write_text(BASE.split("---\n")[0])
    plan = seg("plan", "-w", str(root), "-o", "json")
    order = [(c["kind"], c["action"]) for c in json.loads(plan.stdout)["changes"]]
    assert ("Alert", "delete") in order and ("Destination", "delete") in order
    applied = seg("apply", "-w", str(root), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    lines = [line for line in applied.output.splitlines() if "deleted" in line]
    assert [line.split()[1] for line in lines] == ["Alert", "Destination"], applied.output
    assert seg("plan", "-w", str(root), "--detailed-exitcode").exit_code == 0


def test_the_destination_goes_once_its_alert_is_gone(api: Api) -> None:
    setup(api)
    rate = {"type": "delivery_rate", "threshold_percent": 99, "destination": dest(api)}
    assert post(api, rate, "watch").status_code == 200
    refused = api.http.delete(api.url("/sources/shop/destinations/amplitude"))
    assert "watched by delivery-rate alerts (watch)" in error(refused, 409, 9)
    assert api.http.delete(api.url("/sources/shop/alerts/watch")).status_code == 200
    assert api.http.delete(api.url("/sources/shop/destinations/amplitude")).status_code == 200


def test_a_plan_deleting_a_destination_a_kept_alert_watches_is_blocked(tmp_path: Path,
                                                                      env: None) -> None:  # fmt: skip
    root = tree(tmp_path / "ws", alert("rate", **RATE))
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    moved = embedded_call(root, "PATCH", "sources/shop/alerts/rate", body={"manager": "ui"})
    assert moved.status_code == 200, moved.text  # the alert is another manager's now: kept
    (root / "resources.yaml").write_text(BASE.split("---\n")[0])
    plan = seg("plan", "-w", str(root))
    assert plan.exit_code == 3, plan.output
    assert "Destination shop/amplitude" in plan.output and "blocked" in plan.output, plan.output


# -- diff and the example -------------------------------------------------------------------


def test_seg_diff_shows_alert_changes(tmp_path: Path, env: None) -> None:
    root = tree(tmp_path / "repo" / "ws", alert("rate", **RATE))
    repo = git.Repo.init(tmp_path / "repo", initial_branch="main")
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", "t")
        cfg.set_value("user", "email", "t@example.com")
    repo.git.add("-A")
    repo.index.commit("base")
    tree(root, alert("rate", **{**RATE, "threshold_percent": 95, "channels": ["slack", "email"]}))
    repo.git.add("-A")
    repo.index.commit("head")
    result = seg("diff", "-w", str(root), "--base", "HEAD~1", "-o", "json")
    assert result.exit_code == 2, result.output
    (change,) = [c for c in json.loads(result.stdout)["changes"] if c["kind"] == "Alert"]
    assert change["action"] == "update"
    assert set(change["update_mask"]) == {"alert.threshold_percent", "alert.channels"}
    assert "hook-secret" not in result.stdout

