"""Attacks on the server's observability (issue 17, item 3).

- A hostile ``X-Request-Id`` (line breaks, escape sequences, JSON quotes, non-ASCII, too long)
  never reaches a response header, a log line or a metric: it is replaced by a generated id,
  and every log line stays one line in both formats.
- An attacker's paths, methods and ids never add a metric series: labels come only from route
  templates, seven method names, statuses and error codes.
- ``/metrics`` behind ``SEG_METRICS_TOKEN`` answers 401 to anything but that bearer token (not
  to an API token, not to another scheme); an empty one refuses to start the server.
- A hostile server's request id is not printed in the CLI's error line.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import secrets
import subprocess
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from seg.client.errors import NotFound
from seg.client.http import ControlPlaneClient
from seg.server.app import create_app
from seg.server.inprocess import InProcessTransport
from seg.server.logs import JsonFormatter, RequestIdFilter, TextFormatter
from seg.server.service import ControlPlane
from tests.conftest import Api
from tests.e2e.processes import SEG, Server, free_port
from tests.helpers import error

HOSTILE_IDS = [
    b"abc\r\nX-Injected: 1",
    b"id\n{\"level\": \"error\", \"message\": \"forged\"}",
    b"\x1b[31mred\x1b[0m",
    b'quote"and\\backslash',
    "caf\u00e9".encode(),
    b"x" * 65,
    b"",
    b"has space",
    b"%0d%0aencoded",
]


def asgi_get(app, path: str, headers: list[tuple[bytes, bytes]]) -> tuple[int, dict, bytes]:
    """One request straight through the ASGI app, with header bytes no HTTP client would
    send (a proxy or an HTTP/2 front end might)."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET",
             "scheme": "http", "path": path, "raw_path": path.encode(), "query_string": b"",
             "root_path": "", "headers": [(b"host", b"test"), *headers],
             "client": ("127.0.0.1", 1), "server": ("127.0.0.1", 80)}  # fmt: skip
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    start = next(m for m in sent if m["type"] == "http.response.start")
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return start["status"], {k.decode(): v.decode("latin-1") for k, v in start["headers"]}, body


@pytest.mark.parametrize("hostile", HOSTILE_IDS, ids=range(len(HOSTILE_IDS)))
def test_a_hostile_request_id_is_replaced_everywhere(
    api: Api, hostile: bytes, caplog: pytest.LogCaptureFixture
) -> None:
    app = create_app(api.cp)
    caplog.set_level(logging.INFO, logger="seg")
    status, headers, body = asgi_get(app, api.url("/sources/nope"),
                                     [(b"x-request-id", hostile),
                                      (b"authorization", f"Bearer {api.owner_token}".encode())])  # fmt: skip
    assert status == 404
    rid = headers["x-request-id"]
    assert len(rid) == 32 and int(rid, 16) >= 0
    assert json.loads(body)["request_id"] == rid
    [record] = [r for r in caplog.records if r.name == "seg.access"]
    assert record.access["request_id"] == rid  # type: ignore[attr-defined]
    RequestIdFilter().filter(record)
    for formatter in (JsonFormatter(), TextFormatter()):
        line = formatter.format(record)
        assert "\n" not in line and "\r" not in line and "\x1b" not in line
        if hostile:
            assert hostile.decode("latin-1") not in line


def test_a_log_message_with_line_breaks_stays_one_line() -> None:
    """A path a client sent (``%0a`` decodes to a line break) logged by a warning cannot forge
    a second log line in the text form; the JSON form escapes it by construction."""
    record = logging.LogRecord("seg.server", logging.WARNING, __file__, 1,
                               "client disconnected: %s", ("/x\n2026 INFO seg.access forged\x1b[2J",),
                               None)  # fmt: skip
    RequestIdFilter().filter(record)
    text = TextFormatter().format(record)
    assert text.count("\n") == 0 and "\x1b" not in text and "\\n2026" in text, text
    assert json.loads(JsonFormatter().format(record))["message"].endswith("forged\x1b[2J")


def test_attacker_paths_methods_and_ids_add_no_series(api: Api) -> None:
    noise = [secrets.token_hex(6) for _ in range(60)]
    for i, word in enumerate(noise):
        headers = {"X-Request-Id": word}
        api.http.get(f"/{word}/{word}", headers=headers)
        api.http.get(api.url(f"/sources/{word}"), headers=headers)
        api.http.request(f"M{word.upper()}"[:12], api.url(f"/{word}"), headers=headers)
        api.http.get(f"/v1beta/workspaces/{word}", headers=headers)
        if i % 10 == 0:
            api.http.post(f"/v1beta/workspaces/{word}/sources", content=b"{", headers=headers)
    page = api.http.get("/metrics").text
    assert not [word for word in noise if word in page or word.upper() in page]
    series = {(s.name, tuple(sorted(s.labels.items())))
              for family in text_string_to_metric_families(page)
              for s in family.samples if s.name == "seg_http_requests_total"}  # fmt: skip
    methods = {dict(labels)["method"] for _, labels in series}
    routes = {dict(labels)["route"] for _, labels in series}
    assert methods <= {"GET", "POST", "OTHER"}
    assert routes <= {"unmatched", "/v1beta/workspaces/{workspace}",
                      "/v1beta/workspaces/{workspace}/sources",
                      "/v1beta/workspaces/{workspace}/sources/{source}"}  # fmt: skip
    assert len(series) <= 10, series


def test_metrics_behind_a_token_refuse_anything_else(cp: ControlPlane, slug: str) -> None:
    owner = cp.workspaces.init(slug)[1]
    token = "metrics-" + secrets.token_hex(8)
    transport = InProcessTransport(create_app(cp, metrics_token=token))
    with httpx.Client(transport=transport, base_url="http://embedded") as http:
        for header in (None, "Bearer wrong", f"Bearer {owner}", f"Basic {token}",
                       f"Bearer {token}x", f"Bearer {token[:-1]}", "Bearer"):  # fmt: skip
            refused = http.get("/metrics", headers={"Authorization": header} if header else {})
            error(refused, 401, 16)
            assert "seg_http" not in refused.text
        allowed = http.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert allowed.status_code == 200 and "seg_http_requests_total" in allowed.text
        assert token not in allowed.text


def test_the_metrics_token_from_the_environment(tmp_path: Path, slug: str) -> None:
    token = "m-" + secrets.token_hex(8)
    os.environ["SEG_METRICS_TOKEN"] = token
    try:
        server = Server(f"sqlite:///{tmp_path / 'cp.db'}", tmp_path, slug)
    finally:
        del os.environ["SEG_METRICS_TOKEN"]
    try:
        assert httpx.get(f"{server.url}/metrics").status_code == 401
        scraped = httpx.get(f"{server.url}/metrics", headers={"Authorization": f"Bearer {token}"})
        assert scraped.status_code == 200
        assert token not in server.log_text()
    finally:
        server.stop()
    env = {**server.env, "SEG_METRICS_TOKEN": " "}
    refused = subprocess.run([*SEG, "serve", "--port", str(free_port())], env=env,
                             capture_output=True, text=True, timeout=60)  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.strip().splitlines() == [
        "error: SEG_METRICS_TOKEN is set but empty or holds whitespace; unset it to leave "
        "/metrics open, or give it a token"
    ]


@pytest.mark.parametrize("hostile", ["\x1b[2Jgone", "a" * 65, "id with space", "\u202eevil"])
def test_a_hostile_servers_request_id_is_not_printed(hostile: str) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        body = {"error": "missing", "code": 5, "request_id": hostile}
        return httpx.Response(404, json=body, headers={"X-Request-Id": "fine-1"})

    http = httpx.Client(transport=httpx.MockTransport(answer), base_url="http://server")
    with pytest.raises(NotFound) as caught:
        ControlPlaneClient(http, "acme", retries=0).get_workspace()
    assert caught.value.request_id == "fine-1"  # the header's safe id, not the body's
    assert hostile not in str(caught.value) and str(caught.value).endswith("request id fine-1)")


def test_the_request_id_header_without_a_body_is_quoted() -> None:
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="bad gateway", headers={"X-Request-Id": "edge-9"})

    http = httpx.Client(transport=httpx.MockTransport(answer), base_url="http://server")
    client = ControlPlaneClient(http, "acme", retries=0)
    with pytest.raises(Exception) as caught:
        client.get_workspace()
    assert "request id edge-9" in str(caught.value)
