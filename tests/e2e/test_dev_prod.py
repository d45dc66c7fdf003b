"""Bootstrapping dev and prod from one tree on one `seg serve`, and comparing them."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import Server, run

pytestmark = pytest.mark.e2e

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "dev-prod"


def test_one_tree_bootstraps_dev_and_prod(tmp_path: Path) -> None:
    server = Server(f"sqlite:///{tmp_path / 'cp.db'}", tmp_path, "acme-dev")
    try:
        made = run("server", "init", "--slug", "acme-prod", "-o", "json", env=server.env)
        prod_token = json.loads(made.stdout)["token"]
        env = {**server.client_env(AMPLITUDE_API_KEY="amp-key"), "SEG_TOKEN_DEV": server.token,
               "SEG_TOKEN_PROD": prod_token}  # fmt: skip
        env.pop("SEG_TOKEN")
        for name in ("dev", "prod"):
            applied = run("apply", "-w", str(EXAMPLE), "--env", name, "--auto-approve", env=env)
            assert applied.returncode == 0, applied.stdout + applied.stderr
            again = run("plan", "-w", str(EXAMPLE), "--env", name, "--detailed-exitcode", env=env)
            assert again.returncode == 0, again.stdout

        def live(ws: str, token: str) -> dict[str, dict]:
            headers = {"Authorization": f"Bearer {token}"}
            base = f"{server.url}/v1beta/workspaces/{ws}"
            items = httpx.get(f"{base}/sources", headers=headers).json()["sources"]
            items += httpx.get(f"{base}/sources/-/destinations", headers=headers).json()[
                "destinations"
            ]
            return {i["name"].split("/", 2)[2]: i for i in items}

        dev, prod = live("acme-dev", server.token), live("acme-prod", prod_token)
        assert sorted(dev) == sorted(prod)  # the same structure
        amp = "sources/web/destinations/amplitude"
        assert (dev[amp]["enabled"], prod[amp]["enabled"]) == (False, True)  # the prod overlay
        assert (dev[amp]["settings"]["region"], prod[amp]["settings"]["region"]) == ("us", "eu")
        assert (dev[amp]["settings"]["batch_size"], prod[amp]["settings"]["batch_size"]) == (
            10,
            100,
        )
        assert dev["sources/web"]["labels"] == {"environment": "dev"}
        assert prod["sources/web"]["labels"] == {"environment": "prod"}

        preview = run(
            "diff", "-w", str(EXAMPLE), "--env", "dev", "--env", "prod", "-o", "json", env=env
        )
        assert preview.returncode == 2, preview.stderr
        changes = {c["address"]: c for c in json.loads(preview.stdout)["changes"]}
        assert set(changes) == {"web", "web/amplitude", "web/webhook"}
        assert set(changes["web/amplitude"]["update_mask"]) == {
            "destination.enabled",
            "destination.settings.region",
            "destination.settings.batch_size",
        }
        assert "amp-key" not in preview.stdout  # secrets never compared nor shown
    finally:
        server.stop()
