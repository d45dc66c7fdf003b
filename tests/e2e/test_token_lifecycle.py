"""``seg server token create|list|revoke|rotate`` as processes against a real ``seg serve``,
and revocation seen at once by a second server on the same PostgreSQL."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.conftest import POSTGRES_URL
from tests.e2e.processes import Server, run
from tests.helpers import error_body

pytestmark = pytest.mark.e2e


def _get(server: Server, secret: str, path: str = "/sources") -> httpx.Response:
    return httpx.get(f"{server.url}/v1beta/workspaces/{server_slug(server)}{path}",
                     headers={"Authorization": f"Bearer {secret}"}, timeout=30)  # fmt: skip


def server_slug(server: Server) -> str:
    """The workspace the test's server was made for (kept in its environment)."""
    return str(server.env["SEG_TEST_SLUG"])


def _seg(server: Server, *args: str) -> tuple[int, str, str]:
    done = run("server", "token", *args, "--slug", server_slug(server), env=server.env)
    assert "Traceback" not in done.stdout + done.stderr, done.stderr
    return done.returncode, done.stdout, done.stderr


@pytest.fixture
def live(tmp_path: Path, slug: str) -> Iterator[Server]:
    srv = Server(f"sqlite:///{tmp_path / 'cp.db'}", tmp_path, slug)
    srv.env["SEG_TEST_SLUG"] = slug
    yield srv
    srv.stop()


def test_the_cli_lists_creates_rotates_and_revokes_on_a_live_server(live: Server) -> None:
    code, out, err = _seg(live, "create", "--scope", "workspace:write", "--description",
                          "deploy bot", "--expires-in", "30d", "-o", "json")  # fmt: skip
    assert code == 0, err
    made = json.loads(out)
    assert set(made) == {"format_version", "workspace", "id", "scope", "expire_time", "token"}
    assert _get(live, made["token"]).status_code == 200  # the server sees it at once

    code, out, _ = _seg(live, "list")
    lines = out.splitlines()
    assert lines[0].split() == ["ID", "SCOPE", "USER", "CREATED", "LAST", "USED", "EXPIRES",
                                "DESCRIPTION"]  # fmt: skip
    row = next(line for line in lines if made["id"] in line)
    assert "workspace:write" in row and made["expire_time"] in row and "deploy bot" in row
    assert made["token"] not in out and live.token not in out

    code, out, _ = _seg(live, "list", "-o", "json")
    listed = {t["id"]: t for t in json.loads(out)["tokens"]}
    assert listed[made["id"]]["last_used_time"]  # the request above was recorded
    assert listed[made["id"]]["expire_time"] == made["expire_time"]

    code, out, err = _seg(live, "rotate", made["id"])
    new_secret = out.strip()
    assert code == 0 and new_secret.startswith(f"seg_{made['id'][4:]}.") and "\n" not in new_secret
    assert _get(live, made["token"]).status_code == 401
    assert _get(live, new_secret).status_code == 200

    code, out, err = _seg(live, "revoke", made["id"])
    assert code == 0 and f"Revoked token {made['id']}" in out, err
    refused = _get(live, new_secret)
    assert refused.status_code == 401 and refused.json()["code"] == 16

    events = _get(live, live.token, "/audit-events").json()["audit_events"]
    mine = [(e["method"], e["actor"]["description"]) for e in events
            if e["resource"].endswith(made["id"])]  # fmt: skip
    assert mine == [("DELETE", "seg server (database access)"),
                    ("PATCH", "seg server (database access)"),
                    ("POST", "seg server (database access)")]  # fmt: skip


def test_the_cli_refuses_bad_input_in_one_line(live: Server) -> None:
    for args, expected in (
        (("create", "--scope", "workspace:read", "--description", "x", "--expires-in", "30y"),
         "--expires-in must be a whole number and a unit s, m, h or d"),
        (("create", "--scope", "workspace:read", "--description", "x", "--expires-in", "3000d"),
         "--expires-in must be between 1s and 1825d"),
        (("revoke", "tok_0123456789abcdef"), "token 'tok_0123456789abcdef' not found"),
        (("rotate", "tok_0123456789abcdef"), "token 'tok_0123456789abcdef' not found"),
    ):  # fmt: skip
        code, out, err = _seg(live, *args)
        assert code != 0 and expected in err, (args, err)
        assert len(err.strip().splitlines()) == 1, err


def test_the_last_owner_token_needs_force(live: Server) -> None:
    owner_id = json.loads(_seg(live, "list", "-o", "json")[1])["tokens"][0]["id"]
    code, _, err = _seg(live, "revoke", owner_id)
    assert code != 0 and "last owner token" in err and "--force" in err
    assert _get(live, live.token).status_code == 200
    code, _, err = _seg(live, "revoke", owner_id, "--force")
    assert code == 0, err
    assert _get(live, live.token).status_code == 401


def test_an_expired_token_is_told_so_by_the_server(live: Server) -> None:
    code, out, err = _seg(live, "create", "--scope", "workspace:read", "--description", "brief",
                          "--expires-in", "1s")  # fmt: skip
    assert code == 0, err
    secret = out.strip()
    time.sleep(1.2)  # a real server reads the real clock; the service tests move a test clock
    refused = _get(live, secret)
    assert refused.status_code == 401
    assert error_body(refused) == {"error": "token expired", "code": 16}
    listed = json.loads(_seg(live, "list", "-o", "json")[1])["tokens"]
    assert [t["expired"] for t in listed if t["description"] == "brief"] == [True]


@pytest.mark.postgres
def test_a_revocation_through_one_server_is_refused_by_the_other(
    tmp_path: Path, slug: str, request: pytest.FixtureRequest
) -> None:
    if not POSTGRES_URL:
        request.getfixturevalue("pg_store")
    first = Server(POSTGRES_URL, tmp_path, slug)
    second = Server(POSTGRES_URL, tmp_path, slug, init=False)
    first.env["SEG_TEST_SLUG"] = second.env["SEG_TEST_SLUG"] = slug
    try:
        owner = {"Authorization": f"Bearer {first.token}"}
        tokens = f"/v1beta/workspaces/{slug}/tokens"
        body = {"token": {"description": "ci", "scope": "workspace:write"}}
        made = httpx.post(first.url + tokens, json=body, headers=owner, timeout=30).json()
        assert _get(second, made["secret"]).status_code == 200  # warm: it was seen there
        rotated = httpx.post(f"{second.url}{tokens}/{made['id']}:rotate", headers=owner,
                             timeout=30).json()  # fmt: skip
        assert _get(first, made["secret"]).status_code == 401
        assert _get(first, rotated["secret"]).status_code == 200
        gone = httpx.delete(f"{first.url}{tokens}/{made['id']}", headers=owner, timeout=30)
        assert gone.status_code == 200, gone.text
        refused = _get(second, rotated["secret"])  # the very next request, on the other server
        assert refused.status_code == 401 and refused.json()["code"] == 16
        listed = httpx.get(second.url + tokens, headers=owner, timeout=30).json()["tokens"]
        assert made["id"] not in {t["id"] for t in listed}
    finally:
        first.stop()
        second.stop()
