"""Bootstrapping dev and prod from one tree on one `seg serve` (SQLite and PostgreSQL), and
comparing them: the destinations, and the tracking plan promoted with its schema settings,
transformations and consent mappings."""

from __future__ import annotations

import json
import secrets
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.e2e.processes import Server, database_for, run
from tests.repo_files import copy_repo_dir

pytestmark = pytest.mark.e2e

AMP = "sources/web/destinations/amplitude"
ORDER_PLACED = "sources/web/transformations/order-placed"
FORWARD_BLOCKED = "forwarding_blocked_events_to"
# dev's live state onto prod's: what `seg diff --env dev --env prod` lists, by (kind, address)
DEV_ONTO_PROD = {
    ("Source", "web"): {
        "source.labels.environment",
        "source.schema_settings.track.allow_unplanned_events",
        "source.schema_settings.track.common_event_on_violations",
        "source.schema_settings.forwarding_blocked_events_to",
    },
    ("Source", "quarantine"): {"source.labels.environment"},
    ("Destination", "web/amplitude"): {
        "destination.enabled",
        "destination.settings.region",
        "destination.settings.batch_size",
    },
    ("Destination", "web/webhook"): {"destination.settings.url"},
    ("Transformation", "web/order-placed"): {"transformation.enabled"},
    ("ConsentCategory", "Analytics"): {"consent_category.destinations"},
}

COLLECTIONS = (
    ("sources", "sources"),
    ("sources/-/destinations", "destinations"),
    ("sources/-/transformations", "transformations"),
    ("tracking-plans", "tracking_plans"),
    ("consent-categories", "consent_categories"),
)


class Pair:
    """The example copied with its two workspaces renamed apart (PostgreSQL is shared), both
    made on one `seg serve`, and the client environment holding a token for each."""

    def __init__(self, database: str, tmp: Path) -> None:
        tag = secrets.token_hex(4)
        self.dev, self.prod = f"acme-dev-{tag}", f"acme-prod-{tag}"
        self.root = copy_repo_dir("examples/dev-prod", tmp / "dev-prod")
        config = self.root / "seg.yaml"
        text = config.read_text()
        assert "workspace: acme-dev\n" in text and "workspace: acme-prod\n" in text
        text = text.replace("workspace: acme-dev\n", f"workspace: {self.dev}\n")
        config.write_text(text.replace("workspace: acme-prod\n", f"workspace: {self.prod}\n"))
        self.server = Server(database, tmp, self.dev)
        made = run("server", "init", "--slug", self.prod, "-o", "json", env=self.server.env)
        assert made.returncode == 0, made.stderr
        self.prod_token = json.loads(made.stdout)["token"]
        self.env = {**self.server.client_env(AMPLITUDE_API_KEY="amp-key"),
                    "SEG_TOKEN_DEV": self.server.token, "SEG_TOKEN_PROD": self.prod_token}  # fmt: skip
        self.env.pop("SEG_TOKEN")

    def seg(self, *args: str) -> subprocess.CompletedProcess[str]:
        return run(*args[:1], "-w", str(self.root), *args[1:], env=self.env)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def pair(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Pair]:
    both = Pair(database_for(request, tmp_path), tmp_path)
    yield both
    both.server.stop()


def _live(server: Server, ws: str, token: str) -> dict[str, dict[str, Any]]:
    """Every resource of the workspace by its resource name without the workspace prefix (a
    tracking plan's id is the server's: by its external id)."""
    headers = {"Authorization": f"Bearer {token}"}
    base = f"{server.url}/v1beta/workspaces/{ws}"
    items: list[dict[str, Any]] = []
    for path, key in COLLECTIONS:
        got = httpx.get(f"{base}/{path}", headers=headers)
        assert got.status_code == 200, got.text
        items += got.json()[key]
    out = {i["name"].split("/", 2)[2]: i for i in items}
    for item in items:
        if "external_id" in item:
            out[f"tracking-plans/{item['external_id']}"] = out.pop(item["name"].split("/", 2)[2])
    return out


def _diff(pair: Pair, first: str, second: str, *fmt: str) -> str:
    out = pair.seg("diff", "--env", first, "--env", second, *fmt)
    assert out.returncode == 2, out.stdout + out.stderr
    assert "amp-key" not in out.stdout  # secrets never compared nor shown
    return out.stdout


def test_one_tree_bootstraps_dev_and_prod(pair: Pair) -> None:
    for name in ("dev", "prod"):
        applied = pair.seg("apply", "--env", name, "--auto-approve")
        assert applied.returncode == 0, applied.stdout + applied.stderr
        again = pair.seg("plan", "--env", name, "--detailed-exitcode")
        assert again.returncode == 0, again.stdout

    dev = _live(pair.server, pair.dev, pair.server.token)
    prod = _live(pair.server, pair.prod, pair.prod_token)
    assert sorted(dev) == sorted(prod)  # the same structure
    assert (dev[AMP]["enabled"], prod[AMP]["enabled"]) == (False, True)  # the prod overlay
    assert (dev[AMP]["settings"]["region"], prod[AMP]["settings"]["region"]) == ("us", "eu")
    assert (dev[AMP]["settings"]["batch_size"], prod[AMP]["settings"]["batch_size"]) == (
        10,
        100,
    )
    assert dev["sources/web"]["labels"] == {"environment": "dev"}
    assert prod["sources/web"]["labels"] == {"environment": "prod"}

    # The tracking plan, connected in both; prod's schema settings are stricter.
    for live in (dev, prod):
        plan = live["tracking-plans/web-events"]
        assert live["sources/web"]["tracking_plan"] == plan["name"]
        assert [r.get("key") for r in plan["rules"]] == [None, "Signed Up", "Order Completed"]
    dev_ss, prod_ss = (e["sources/web"]["schema_settings"] for e in (dev, prod))
    dev_track, prod_track = dev_ss["track"], prod_ss["track"]
    assert dev_track["allow_unplanned_events"] is True
    assert prod_track["allow_unplanned_events"] is False
    assert dev_track["common_event_on_violations"] == "ALLOW"
    assert prod_track["common_event_on_violations"] == "OMIT_PROPERTIES"
    assert dev_ss["forwarding_violations_to"] == "quarantine"
    assert prod_ss["forwarding_violations_to"] == "quarantine"
    assert "forwarding_blocked_events_to" not in dev_ss
    assert prod_ss["forwarding_blocked_events_to"] == "quarantine"
    # what the overlay does not name stays as the base declares it
    assert {k: v for k, v in dev_ss.items() if k not in ("track", FORWARD_BLOCKED)} == {
        k: v for k, v in prod_ss.items() if k not in ("track", FORWARD_BLOCKED)
    }

    # Transformations: the rename is enabled only in prod; the source-scope one in both.
    assert (dev[ORDER_PLACED]["enabled"], prod[ORDER_PLACED]["enabled"]) == (False, True)
    lower = "sources/web/transformations/plan-lowercase"
    assert dev[lower]["enabled"] is prod[lower]["enabled"] is True

    # Consent mappings: prod's Analytics also maps the webhook.
    assert dev["consent-categories/Analytics"]["destinations"] == ["web/amplitude"]
    assert sorted(prod["consent-categories/Analytics"]["destinations"]) == [
        "web/amplitude",
        "web/webhook",
    ]
    for live in (dev, prod):
        assert live["consent-categories/Functional"]["destinations"] == ["web/webhook"]

    # The promotion preview lists exactly those differences, leaf by leaf.
    changes = json.loads(_diff(pair, "dev", "prod", "-o", "json"))["changes"]
    got = {(c["kind"], c["address"]): set(c["update_mask"]) for c in changes}
    assert got == DEV_ONTO_PROD
    assert {c["action"] for c in changes} == {"update"}
    # dev blocks nothing: dropping prod's forwarding of blocked events discards nothing
    assert [c["notices"] for c in changes if c["notices"]] == []
    text = _diff(pair, "dev", "prod")
    assert "Changes that drop data" not in text
    assert "schema_settings.track.allow_unplanned_events: false → true" in text
    assert 'destinations: ["web/amplitude", "web/webhook"] → ["web/amplitude"]' in text

    # The other direction: prod's stricter settings and wider mapping drop data.
    back = _diff(pair, "prod", "dev")
    dropping, _, _ = back.partition("Differences (prod → dev)")
    assert "Changes that drop data (2)" in dropping
    assert ("Source web: schema settings now drop data: track.allow_unplanned_events: "
            "false, track.common_event_on_violations: OMIT_PROPERTIES") in dropping  # fmt: skip
    assert ("ConsentCategory Analytics: events that do not consent to this category stop "
            "reaching web/webhook") in dropping  # fmt: skip
