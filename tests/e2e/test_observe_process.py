"""``seg serve --log-format json`` as a process: every line it logs is one JSON object; each
request is one access line with its request id, token id (never the secret), method, route
template, status, latency and bytes; ``--no-access-log`` keeps the other lines; the text form
is one line per request too; ``/metrics`` is scraped from the process (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.processes import Server, database_for

pytestmark = pytest.mark.e2e

SOURCE = "/v1beta/workspaces/{workspace}/sources/{source}"


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def json_server(request: pytest.FixtureRequest, tmp_path: Path, slug: str) -> Iterator[Server]:
    server = Server(database_for(request, tmp_path), tmp_path, slug,
                    serve_args=("--log-format", "json"))  # fmt: skip
    yield server
    server.stop()


def access_lines(server: Server, count: int) -> list[dict]:
    """The server's JSON access lines but /healthz's, once there are ``count`` of them (the
    line is written as the answer ends, so wait a moment for the last)."""
    deadline = time.monotonic() + 10
    while True:
        lines = [json.loads(line) for line in server.log_text().splitlines() if line.strip()]
        access = [line for line in lines  # the start's /healthz polls are not counted
                  if line["logger"] == "seg.access" and line.get("route") != "/healthz"]
        if len(access) >= count or time.monotonic() > deadline:
            return access
        time.sleep(0.05)


def test_json_logs_are_one_object_per_line_with_the_access_fields(json_server: Server,
                                                                  slug: str) -> None:
    server, auth = json_server, {"Authorization": f"Bearer {json_server.token}"}
    base = f"{server.url}/v1beta/workspaces/{slug}"
    made = httpx.post(f"{base}/sources", headers=auth,
                      json={"source": {"name": f"workspaces/{slug}/sources/web",
                                       "catalog": "javascript"}})  # fmt: skip
    assert made.status_code == 200
    got = httpx.get(f"{base}/sources/web", headers={**auth, "X-Request-Id": "deploy-7"})
    assert got.headers["x-request-id"] == "deploy-7"
    missing = httpx.get(f"{base}/sources/nope", headers=auth)
    assert missing.json()["request_id"] == missing.headers["x-request-id"]
    access = access_lines(server, 3)
    lines = [json.loads(line) for line in server.log_text().splitlines() if line.strip()]
    assert any("seg control plane on" in line["message"] for line in lines)  # the banner too
    assert all({"time", "level", "logger", "request_id", "message"} <= set(line)
               for line in lines)  # fmt: skip
    create, get, not_found = access[-3:]
    assert (create["method"], create["route"], create["status"]) == (
        "POST", "/v1beta/workspaces/{workspace}/sources", 200)
    assert get["request_id"] == "deploy-7" and get["route"] == SOURCE
    assert (get["method"], get["status"]) == ("GET", 200)
    assert get["bytes"] == len(got.content) and get["latency_ms"] > 0
    assert get["time"].endswith("Z") and get["level"] == "info"
    assert (not_found["status"], not_found["request_id"]) == (404, missing.headers["x-request-id"])
    assert {create["token_id"], get["token_id"]} == {not_found["token_id"]}
    assert get["token_id"].startswith("tok_")
    assert server.token not in server.log_text()


def test_metrics_scraped_from_the_process(json_server: Server, slug: str) -> None:
    server = json_server
    httpx.get(f"{server.url}/v1beta/workspaces/{slug}",
              headers={"Authorization": f"Bearer {server.token}"})  # fmt: skip
    page = httpx.get(f"{server.url}/metrics")
    assert page.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(page.text)}
    requests = {tuple(sorted(s.labels.items())): s.value
                for s in families["seg_http_requests"].samples if s.name.endswith("_total")}
    workspace = (("method", "GET"), ("route", "/v1beta/workspaces/{workspace}"), ("status", "200"))
    assert requests[workspace] == 1
    held = {s.labels["workspace"]: s.value for s in families["seg_workspace_lock_held"].samples}
    assert held[slug] == 0
    assert families["seg_database_up"].samples[0].value == 1


def test_no_access_log_keeps_the_other_lines_and_text_is_one_line_each(
    tmp_path: Path, slug: str
) -> None:
    quiet = Server(f"sqlite:///{tmp_path / 'q.db'}", tmp_path, slug,
                   serve_args=("--log-format", "json", "--no-access-log"))  # fmt: skip
    try:
        httpx.get(f"{quiet.url}/v1beta/workspaces/{slug}")
        time.sleep(0.3)
        lines = [json.loads(line) for line in quiet.log_text().splitlines() if line.strip()]
        assert lines and not [line for line in lines if line["logger"] == "seg.access"]
    finally:
        quiet.stop()
    text = Server(f"sqlite:///{tmp_path / 't.db'}", tmp_path, slug + "t",
                  serve_args=("--log-level", "info"))  # fmt: skip
    try:
        hostile = {"X-Request-Id": "abc\u00e9".encode(), "Authorization": "Bearer x"}
        answer = httpx.get(f"{text.url}/v1beta/workspaces/{slug}t", headers=hostile)
        rid = answer.headers["x-request-id"]
        assert rid != "abc\u00e9" and len(rid) == 32  # not a safe id: replaced
        deadline = time.monotonic() + 10
        while rid not in text.log_text() and time.monotonic() < deadline:
            time.sleep(0.05)
        [line] = [line for line in text.log_text().splitlines() if rid in line]
        assert " INFO seg.access " in line and line.startswith("20") and line.endswith("token=-")
        assert f"[{rid}] GET /v1beta/workspaces/{{workspace}} 401 " in line
    finally:
        text.stop()
