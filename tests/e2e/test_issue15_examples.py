"""Issue 15's done-when, as processes on SQLite and PostgreSQL: the protocols example (schema
settings that block and forward, two transformations, three consent categories, two alerts)
applied against `seg serve`, planned again to no changes, held by the control plane as
declared, exported without a secret, and the export planned back to no changes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.e2e.processes import Server, run
from tests.repo_files import copy_repo_dir

pytestmark = pytest.mark.e2e

HOOK = "https://hooks.slack.com/services/T000/B000/ex15-s3cret"
SECRETS = {"AMPLITUDE_API_KEY": "ex15-amp-k3y", "BRAZE_API_KEY": "ex15-braze-k3y",
           "SLACK_ALERTS_WEBHOOK": HOOK}  # fmt: skip
# The resource each secret lives in, as the export's listing names it.
OWNERS = {"shop/amplitude": "AMPLITUDE_API_KEY", "shop/braze": "BRAZE_API_KEY",
          "shop/amplitude-delivery": "SLACK_ALERTS_WEBHOOK"}  # fmt: skip


def declared(root: Path) -> dict[tuple[str, str], dict[str, Any]]:
    """(kind, name) → spec of every document of the example."""
    docs = [d for path in root.glob("*.yaml") if path.name != "seg.yaml"
            for d in yaml.safe_load_all(path.read_text()) if d]  # fmt: skip
    return {(d["kind"], d["name"]): d["spec"] for d in docs}


def test_the_protocols_example_applies_holds_and_exports_back(server: Server, tmp_path: Path,
                                                              slug: str) -> None:  # fmt: skip
    root = copy_repo_dir("examples/protocols", tmp_path / "protocols")
    config = (root / "seg.yaml").read_text()
    (root / "seg.yaml").write_text(config.replace("workspace: protocols", f"workspace: {slug}"))
    env = server.client_env(**SECRETS)
    plan = run("plan", "-w", str(root), env=env)
    assert plan.stdout.startswith("Changes that drop data (4)"), plan.stdout
    applied = run("apply", "-w", str(root), "--auto-approve", env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert run("plan", "-w", str(root), "--detailed-exitcode", env=env).returncode == 0

    ws = f"workspaces/{slug}"
    shop = server.get(f"{ws}/sources/shop")["schema_settings"]
    assert shop["track"] == {"allow_unplanned_events": False,
                             "allow_unplanned_event_properties": False,
                             "allow_event_on_violations": True,
                             "allow_properties_on_violations": True,
                             "common_event_on_violations": "OMIT_PROPERTIES"}  # fmt: skip
    assert shop["forwarding_blocked_events_to"] == shop["forwarding_violations_to"] == "quarantine"
    renames = server.get(f"{ws}/sources/shop/transformations")["transformations"]
    assert sorted(t["name"].rsplit("/", 1)[1] for t in renames) == [
        "product-id-lowercase", "rename-order"]  # fmt: skip
    ads = server.get(f"{ws}/consent-categories/Advertising")
    assert sorted(ads["destinations"]) == ["shop/braze", "shop/google-ads"]
    alerts = server.get(f"{ws}/sources/shop/alerts")
    assert sorted(a["name"].rsplit("/", 1)[1] for a in alerts["alerts"]) == [
        "amplitude-delivery", "volume-drop"]  # fmt: skip
    assert HOOK not in str(alerts)

    out = tmp_path / "exported"
    done = run("export", "-w", str(out), "--slug", slug, env=env)
    assert done.returncode == 0, done.stderr
    names = {}
    for line in (out / "secrets.env.example").read_text().splitlines()[1:]:
        var, where = line.split("=  # ")
        names[var] = SECRETS[OWNERS[where.split()[0]]]
    assert set(names.values()) == set(SECRETS.values())
    files = [p for p in out.rglob("*") if p.is_file()]
    assert not any(v in p.read_text() for p in files for v in SECRETS.values())
    want = declared(root)
    for kind, folder in (("Transformation", "transformations"),
                         ("ConsentCategory", "consent-categories"), ("Alert", "alerts")):  # fmt: skip
        for path in (out / folder).iterdir():
            doc = yaml.safe_load(path.read_text())
            spec = want[(kind, doc["name"])]
            got = {k: v for k, v in doc["spec"].items() if not str(v).startswith("${env:")}
            expected = {k: v for k, v in spec.items() if not str(v).startswith("${env:")}
            assert {**expected, "enabled": True} == {**got, "enabled": got.get("enabled", True)}
    plan = run("plan", "-w", str(out), "--detailed-exitcode", env={**env, **names})
    assert plan.returncode == 0, plan.stdout + plan.stderr
