"""Locks are not for the taking: a lock id read by any token does not release or renew it,
writes from anyone but the holder are refused while it is held (an owner may override, and it
is audited), and an apply whose lease is lost stops before its next write."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest

from seg.client.http import ControlPlaneClient
from seg.client.lease import Lease
from seg.errors import LockLost
from seg.kinds import KINDS
from tests.conftest import Api, embedded_call
from tests.conftest import run_cli as seg
from tests.e2e.processes import Server, database_for, run
from tests.helpers import error_body

HOLDER = {"holder": "seg apply by ci", "host": "runner-1", "plan": "abc", "ci_run": "42"}


def wait_for(condition: Callable[[], bool], what: str, timeout: float = 60) -> None:
    """Poll ``condition`` until it holds; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.02)


def error(response: httpx.Response, status: int, code: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    return str(body["error"])


class Locked:
    """A workspace whose lock a write token (the "apply") holds."""

    def __init__(self, api: Api) -> None:
        self.api = api
        self.url = api.url("/lock")
        assert api.create_source("web").status_code == 200
        self.holder = api.client(api.token("workspace:write", "ci apply"))
        response = self.holder.post(self.url, json={**HOLDER, "ttl_seconds": 600})
        assert response.status_code == 200, response.text
        self.id = str(response.json()["id"])
        self.with_lock = {"Seg-Lock": self.id}

    def status(self) -> dict[str, Any]:
        result: dict[str, Any] = self.api.http.get(self.url).json()
        return result

    def audit(self) -> list[dict[str, Any]]:
        events: list[dict[str, Any]] = self.api.http.get(self.api.url("/audit-events")).json()[
            "audit_events"
        ]
        return events


@pytest.fixture
def locked(api: Api) -> Locked:
    return Locked(api)


def patch_web(enabled: bool) -> dict[str, Any]:
    return {"source": {"enabled": enabled}, "update_mask": {"paths": ["source.enabled"]}}


# -- releasing and renewing -------------------------------------------------------------------


def test_read_and_write_tokens_cannot_release_or_renew_anothers_lock(locked: Locked) -> None:
    api = locked.api
    reader = api.client(api.token("workspace:read", "reader"))
    thief = api.client(api.token("workspace:write", "another writer"))
    lock_id = reader.get(locked.url).json()["id"]  # any token may read the id...
    assert lock_id == locked.id
    assert error_body(reader.delete(locked.url, params={"id": lock_id})) == {
        "error": "insufficient scope",
        "code": 7,
    }
    assert error_body(thief.delete(locked.url, params={"id": lock_id})) == {  # ...it proves nothing
        "error": "insufficient scope",
        "code": 7,
    }
    error(thief.delete(locked.url), 403, 7)
    error(thief.patch(locked.url, params={"id": lock_id}, json={"ttl_seconds": 3600}), 409, 9)
    status = locked.status()
    assert status["id"] == locked.id and status["expires_in"] <= 600  # neither gone nor extended
    assert not [
        e for e in locked.audit() if e["resource"].endswith("/lock") and e["method"] == "DELETE"
    ]
    own = locked.holder.patch(locked.url, params={"id": lock_id}, json={"ttl_seconds": 900})
    assert own.status_code == 200 and own.json()["expires_in"] > 600  # the holder renews
    assert locked.holder.delete(locked.url, params={"id": lock_id}).status_code == 200


def test_owner_breaks_a_lock_and_it_is_audited_as_forced(locked: Locked) -> None:
    api = locked.api
    _, not_owner = api.cp.workspaces.create_token(api.workspace, "workspace:owner", "laptop", "eve@x.io")
    denied = api.client(not_owner).delete(locked.url)
    assert "workspace_owner" in error(denied, 403, 7)  # owner scope, but not an owner
    assert api.http.delete(locked.url, params={"id": locked.id}).status_code == 200
    error(api.http.get(locked.url), 404, 5)
    (event,) = [e for e in locked.audit() if e["method"] == "DELETE"]
    assert event["resource"].endswith("/lock") and event["paths"] == [locked.id, "forced"]
    assert event["actor"]["description"] == "initial owner token"


# -- writes while the lock is held --------------------------------------------------------------


def test_foreign_writes_while_locked_are_aborted_naming_the_holder(locked: Locked) -> None:
    api = locked.api
    other = api.client(api.token("workspace:write", "another writer"))
    web = api.url("/sources/web")
    attempts = [
        other.post(
            api.url("/sources"),
            json={"source": {"name": f"workspaces/{api.workspace}/sources/ios", "catalog": "ios"}},
        ),
        other.patch(web, json=patch_web(False)),
        other.delete(web),
        api.http.patch(web, json=patch_web(False)),  # the owner too, without the override
        api.http.patch(
            api.url(),
            json={
                "workspace": {"display_name": "x"},
                "update_mask": {"paths": ["workspace.display_name"]},
            },
        ),
        locked.holder.patch(web, json=patch_web(False)),  # the holder's token, lease not named
    ]
    for response in attempts:
        message = error(response, 409, 10)
        assert "locked by seg apply by ci on runner-1 (plan abc, CI run 42)" in message
        assert "Seg-Lock-Override" in message
    plan = api.http.post(
        api.url("/tracking-plans"),
        json={"tracking_plan": {"external_id": "p", "rules": []}},
        headers={"Seg-Lock-Override": "true"},
    ).json()
    rules = plan["name"].replace(f"workspaces/{api.workspace}", api.url()) + "/rules"
    error(other.put(rules, json={"rules": []}), 409, 10)
    assert api.http.get(web).json()["enabled"] is True  # nothing changed
    assert {
        s["name"].rsplit("/", 1)[1] for s in api.http.get(api.url("/sources")).json()["sources"]
    } == {"web"}
    done = locked.holder.patch(web, json=patch_web(False), headers=locked.with_lock)
    assert done.status_code == 200 and done.json()["enabled"] is False  # the holder writes


def test_owner_override_works_and_is_audited(locked: Locked) -> None:
    api = locked.api
    web = api.url("/sources/web")
    override = {"Seg-Lock-Override": "true"}
    writer = api.client(api.token("workspace:write", "another writer"))
    error(writer.patch(web, json=patch_web(False), headers=override), 409, 10)  # owners only
    error(api.http.patch(web, json=patch_web(False), headers={"Seg-Lock-Override": "yes"}), 400, 3)
    done = api.http.patch(web, json=patch_web(False), headers=override)
    assert done.status_code == 200 and done.json()["enabled"] is False
    events = [e for e in locked.audit() if e["resource"].endswith("/sources/web")]
    assert events[0]["paths"] == ["source.enabled"]
    assert events[1]["paths"] == ["lock override", locked.id]
    assert events[1]["actor"]["description"] == "initial owner token"
    assert locked.status()["id"] == locked.id  # the override does not break the lock


def test_a_lease_that_is_gone_refuses_its_holder(locked: Locked) -> None:
    api = locked.api
    web = api.url("/sources/web")
    assert api.http.delete(locked.url).status_code == 200  # broken by an owner
    message = error(
        locked.holder.patch(web, json=patch_web(False), headers=locked.with_lock), 409, 10
    )
    assert f"lock {locked.id} is no longer held" in message
    newcomer = api.client(api.token("workspace:write", "newcomer"))
    assert newcomer.post(locked.url, json={"holder": "the next apply"}).status_code == 200
    message = error(
        locked.holder.patch(web, json=patch_web(False), headers=locked.with_lock), 409, 10
    )
    assert "locked by the next apply" in message  # taken over: who holds it now
    assert api.http.get(web).json()["enabled"] is True


def test_a_user_without_roles_cannot_take_the_lock(api: Api) -> None:
    _, secret = api.cp.workspaces.create_token(api.workspace, "workspace:owner", "laptop", "nobody@x.io")
    denied = api.client(secret).post(api.url("/lock"), json={"holder": "x"})
    assert error(denied, 403, 7).endswith("may not write anything, so may not lock")
    error(api.http.get(api.url("/lock")), 404, 5)


# -- the client learns that its lease is lost --------------------------------------------------


def test_a_failed_renewal_stops_the_clients_writes_before_they_are_sent(api: Api) -> None:
    client = ControlPlaneClient(api.client(api.token("workspace:write", "apply")), api.workspace)
    source = KINDS["Source"]
    with Lease(client, {"holder": "apply"}, ttl=1.5, timeout=0) as lease:
        client.create(source, "web", {"catalog": "javascript"}, [])  # under the lease
        assert api.http.delete(api.url("/lock")).status_code == 200  # broken by an owner
        wait_for(lambda: lease.lost, "the renewal to find the lease gone")
        sent = client.request_count
        with pytest.raises(LockLost, match="the workspace lock was lost .renewal failed: lock"):
            client.create(source, "ios", {"catalog": "ios"}, [])
        assert client.request_count == sent  # refused before anything was sent
    error(api.http.get(api.url("/sources/ios")), 404, 5)
    assert api.http.get(api.url("/sources/web")).status_code == 200


# -- seg lock status / release --------------------------------------------------------------------


def test_lock_status_says_writes_are_refused(write_workspace, clean_seg_env: None) -> None:
    root = write_workspace({})
    assert embedded_call(root, "POST", "lock", body=HOLDER).status_code == 200
    text = seg("lock", "status", "-w", str(root))
    assert text.exit_code == 0, text.output
    assert "is locked by seg apply by ci on runner-1" in text.output
    assert "Writes from anyone but the holder are refused while it is held" in text.output
    data = json.loads(seg("lock", "status", "-w", str(root), "-o", "json").stdout)
    assert data["lock"]["blocks_writes"] is True
    assert seg("lock", "release", "-w", str(root)).exit_code == 0
    assert "is not locked" in seg("lock", "status", "-w", str(root)).output


# -- seg apply as a process, its lease broken in the middle ---------------------------------------


class GatedProxy:
    """An HTTP proxy in front of ``seg serve`` that holds the ``hold_at``-th source create
    until released, and records every request it forwards."""

    def __init__(self, upstream: str, hold_at: int) -> None:
        self.upstream, self.hold_at = upstream, hold_at
        self.seen: list[tuple[str, str, int]] = []  # (method, path, status)
        self.reached, self.release = threading.Event(), threading.Event()
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: Any) -> None:
                pass

            def forward(self) -> None:
                proxy.handle(self)

            do_GET = do_POST = do_PATCH = do_DELETE = do_PUT = forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def creates(self) -> list[tuple[str, str, int]]:
        return [s for s in self.seen if s[0] == "POST" and s[1].endswith("/sources")]

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("Content-Length") or 0))
        if handler.command == "POST" and handler.path.endswith("/sources"):
            if len(self.creates()) + 1 == self.hold_at:
                self.reached.set()
                assert self.release.wait(60), "the test never released the held request"
        skip = {"host", "content-length", "connection", "accept-encoding"}
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in skip}
        response = httpx.request(
            handler.command, self.upstream + handler.path, headers=headers, content=body, timeout=30
        )
        self.seen.append((handler.command, handler.path.split("?")[0], response.status_code))
        handler.send_response(response.status_code)
        handler.send_header("Content-Type", response.headers.get("content-type", "text/plain"))
        handler.send_header("Content-Length", str(len(response.content)))
        handler.end_headers()
        handler.wfile.write(response.content)

    def close(self) -> None:
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path: Path, slug: str) -> Iterator[Server]:
    srv = Server(database_for(request, tmp_path), tmp_path, slug)
    yield srv
    srv.stop()


THREE_SOURCES = "".join(
    f"---\nkind: Source\nname: {name}\nspec:\n  catalog: javascript\n" for name in "abc"
)


@pytest.mark.e2e
def test_an_apply_whose_lease_is_broken_stops_before_its_next_write(
    served: Server, write_workspace: Callable[..., Path], slug: str
) -> None:
    """One write at a time (the parallel case: tests/e2e/test_parallel_apply_process.py).
    The second create is held at a proxy; meanwhile an owner breaks the lease and the
    apply's renewal (SEG_LOCK_TTL=6: every 2 s) finds it gone. Released, the held create is
    refused (it names a lease that is gone) and the third is never sent."""
    root = write_workspace({"sources.yaml": THREE_SOURCES}, workspace=slug)
    proxy = GatedProxy(served.url, hold_at=2)
    env = served.client_env(SEG_API_URL=proxy.url, SEG_LOCK_TTL="6")
    try:
        result: dict[str, Any] = {}
        apply = threading.Thread(
            target=lambda: result.update(
                done=run("apply", "-w", str(root), "--auto-approve", "--parallelism", "1",
                         env=env)
            )
        )
        apply.start()
        assert proxy.reached.wait(90), "the apply never reached its second create"
        owner = {"Authorization": f"Bearer {served.token}"}
        lock_url = f"{served.url}/v1beta/workspaces/{slug}/lock"
        assert httpx.delete(lock_url, headers=owner).status_code == 200
        wait_for(
            lambda: any(s[0] == "PATCH" and s[2] == 409 for s in proxy.seen),
            "the apply's renewal to be refused",
        )
        proxy.release.set()
        apply.join(120)
        done = result["done"]
    finally:
        proxy.close()
    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: the workspace lock was lost")
    assert line.endswith("stopped before the next write: 1 applied, 2 not applied (listed above)")
    assert "Traceback" not in done.stdout + done.stderr
    assert "created Source a" in done.stdout
    assert "failed to create Source b: the workspace lock was lost" in done.stdout
    assert "not attempted: create Source c" in done.stdout
    assert "1 applied, 1 failed, 0 skipped, 1 not attempted." in done.stdout
    assert [s[2] for s in proxy.creates()] == [200, 409]  # c was never sent
    names = [
        s["name"].rsplit("/", 1)[1] for s in served.get(f"workspaces/{slug}/sources")["sources"]
    ]
    assert names == ["a"]
