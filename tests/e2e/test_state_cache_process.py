"""`seg plan` against a `seg serve` process with the live state kept under .seg/cache: a warm
no-op plan costs the same few requests whatever the workspace's size (counted in the
server's access log), a change another client makes (through the API, with another token,
while the cache is warm) is in the next plan, and --no-cache / SEG_NO_CACHE=1 read
everything."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import Server, database_for, run
from tests.e2e.repo_workspace import clean_env, seg
from tests.e2e.secret_workspace import SECRETS, write

pytestmark = pytest.mark.e2e

SOURCE = "kind: Source\nname: web\nspec: {catalog: javascript}\n"
DESTINATION = """\
kind: Destination
name: d{n:03}
spec:
  source: web
  catalog: amplitude
  enabled: true
  settings:
    api_key: ${{env:AMP_KEY}}
    region: eu
"""
API_LINE = re.compile(r" seg\.access \[\w+\] (GET|POST|PATCH|PUT|DELETE) (/v1beta/\S+) (\d{3}) ")


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path: Path, slug: str) -> Iterator[Server]:
    srv = Server(database_for(request, tmp_path), tmp_path, slug)
    yield srv
    srv.stop()


def workspace(root: Path, slug: str, n: int) -> Path:
    destinations = "---\n".join(DESTINATION.format(n=i) for i in range(n))
    return write(root, {"sources.yaml": SOURCE, "destinations.yaml": destinations},
                 f"version: seg/v1\nworkspace: {slug}\n")  # fmt: skip


def requests_of(server: Server, root: Path, *args: str, env: dict[str, str]) -> list[str]:
    """The API requests (method and route) the server logged while ``seg plan`` ran."""
    before = len(server.log_text())
    done = seg(root, "plan", "--detailed-exitcode", *args, env=env)
    assert done.returncode == 0, done.stdout + done.stderr  # a no-op plan
    return [f"{m} {r}" for m, r, _ in API_LINE.findall(server.log_text()[before:])]


def test_a_warm_no_op_plan_costs_a_few_requests_whatever_the_size(server: Server,
                                                                  tmp_path: Path, slug: str
                                                                  ) -> None:  # fmt: skip
    env = {**clean_env(tmp_path / "home"), **SECRETS, "SEG_API_URL": server.url,
           "SEG_TOKEN": server.token}  # fmt: skip
    counts = {}
    for n in (2, 40):
        root = workspace(tmp_path / f"ws{n}", slug, n)
        assert seg(root, "apply", "--auto-approve", env=env).returncode == 0
        shutil.rmtree(root / ".seg" / "cache")  # what the apply kept: a cold start
        cold = requests_of(server, root, env=env)
        warm = requests_of(server, root, env=env)
        again = requests_of(server, root, env=env)
        assert any("secrets:compare" in r for r in cold)
        assert warm == again == ["GET /v1beta/workspaces/{workspace}",  # the policy
                                 "GET /v1beta/workspaces/{workspace}/changes"]  # fmt: skip
        assert not any("secrets:compare" in r for r in warm)  # the kept answers
        counts[n] = (len(cold), len(warm))
        no_cache = requests_of(server, root, "--no-cache", env=env)
        by_env = requests_of(server, root, env={**env, "SEG_NO_CACHE": "1"})
        assert len(no_cache) == len(by_env) > len(warm)
        assert not any(r.endswith("/changes") for r in no_cache)
    assert counts[2][1] == counts[40][1] == 2  # nothing per resource, page or secret
    assert counts[40][0] > counts[40][1]


def test_another_clients_changes_are_in_the_next_plan(server: Server, tmp_path: Path,
                                                      slug: str) -> None:  # fmt: skip
    env = {**clean_env(tmp_path / "home"), **SECRETS, "SEG_API_URL": server.url,
           "SEG_TOKEN": server.token}  # fmt: skip
    root = workspace(tmp_path / "ws", slug, 3)
    assert seg(root, "apply", "--auto-approve", env=env).returncode == 0
    assert seg(root, "plan", "--detailed-exitcode", env=env).returncode == 0  # warm, no-op
    other = run("server", "token", "create", "--slug", slug, "--scope", "workspace:write",
                "--description", "someone else", env=server.env).stdout.strip()  # fmt: skip
    api = httpx.Client(base_url=f"{server.url}/v1beta/workspaces/{slug}",
                       headers={"Authorization": f"Bearer {other}"})  # fmt: skip
    with api:
        changed = api.patch("/sources/web/destinations/d001", json={
            "destination": {"settings": {"region": "us"}},
            "update_mask": {"paths": ["destination.settings.region"]}})  # fmt: skip
        assert changed.status_code == 200, changed.text
        assert api.delete("/sources/web/destinations/d002").status_code == 200
        secret = api.patch("/sources/web/destinations/d000", json={
            "destination": {"settings": {"api_key": "rotated"}},
            "update_mask": {"paths": ["destination.settings.api_key"]}})  # fmt: skip
        assert secret.status_code == 200, secret.text
    plan = seg(root, "plan", "--detailed-exitcode", env=env)
    assert plan.returncode == 2, plan.stderr
    assert "~ Destination web/d001" in plan.stdout and '"us" → "eu"' in plan.stdout
    assert "+ Destination web/d002" in plan.stdout
    assert "~ Destination web/d000" in plan.stdout  # the changed secret: asked again
    assert seg(root, "apply", "--auto-approve", env=env).returncode == 0
    assert seg(root, "plan", "--detailed-exitcode", env=env).returncode == 0
