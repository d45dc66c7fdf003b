"""`seg server backup` / `restore` against a real `seg serve` on SQLite: a backup taken while
the server takes writes is a consistent copy holding every write acknowledged before it
began; restored into a fresh path, a `seg serve` on it serves the same resources, tokens and
audit events; a restore under a running server is seen whole by it; PostgreSQL gets one
line of pg_dump / pg_restore guidance without its password."""

from __future__ import annotations

import json
import sqlite3
import stat
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import Server, run

pytestmark = pytest.mark.e2e


@pytest.fixture
def servers() -> Iterator[list[Server]]:
    started: list[Server] = []
    yield started
    for server in started:
        if server.proc.poll() is None:
            server.stop()


def create_source(server: Server, slug: str, source: str) -> httpx.Response:
    body = {"source": {"name": f"workspaces/{slug}/sources/{source}", "catalog": "javascript"}}
    return httpx.post(f"{server.url}/v1beta/workspaces/{slug}/sources", json=body,
                      headers={"Authorization": f"Bearer {server.token}"}, timeout=60)  # fmt: skip


def everything(server: Server, slug: str, token: str | None = None) -> dict[str, object]:
    """What the server serves of the workspace: the workspace, every source, every audit
    event (all pages)."""
    auth = {"Authorization": f"Bearer {token or server.token}"}
    served: dict[str, object] = {}
    for path, key in (("sources", "sources"), ("audit-events", "audit_events")):
        items: list[object] = []
        page = ""
        while True:
            r = httpx.get(f"{server.url}/v1beta/workspaces/{slug}/{path}", headers=auth,
                          params={"page_size": 100, "page_token": page} if page else
                          {"page_size": 100})  # fmt: skip
            assert r.status_code == 200, r.text
            items += r.json()[key]
            page = r.json()["next_page_token"]
            if not page:
                break
        served[key] = items
    served["workspace"] = httpx.get(f"{server.url}/v1beta/workspaces/{slug}", headers=auth).json()
    return served


def source_names(database: Path) -> set[str]:
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchall() == [("ok",)]
        return {row[0].rsplit("/", 1)[1] for row in
                conn.execute("SELECT name FROM resources WHERE kind = 'Source'")}  # fmt: skip
    finally:
        conn.close()


def test_backup_under_writes_then_restore_serves_the_same_workspace(
    servers: list[Server], tmp_path: Path, slug: str
) -> None:
    server = Server(f"sqlite:///{tmp_path / 'cp.db'}", tmp_path, slug)
    servers.append(server)
    reader = run("server", "token", "create", "--slug", slug, "--scope", "workspace:read",
                 "--description", "reader", env=server.env).stdout.strip()  # fmt: skip
    acked: list[str] = []
    stop = threading.Event()
    many = threading.Event()

    def write() -> None:
        n = 0
        while not stop.is_set():
            if create_source(server, slug, f"s{n}").status_code == 200:
                acked.append(f"s{n}")
            n += 1
            if n >= 8:
                many.set()

    writer = threading.Thread(target=write)
    writer.start()
    try:
        assert many.wait(timeout=120)
        before = set(acked)
        mid = run("server", "backup", str(tmp_path / "mid.db"), env=server.env)
        after = set(acked)
    finally:
        stop.set()
        writer.join(timeout=120)
    assert mid.returncode == 0, mid.stderr
    assert mid.stdout.startswith(f"Backed up {tmp_path / 'cp.db'} to {tmp_path / 'mid.db'} (")
    assert "the secret key that opens them is not in it" in mid.stdout
    assert stat.S_IMODE((tmp_path / "mid.db").stat().st_mode) == 0o600
    assert not list(tmp_path.glob("mid.db-*")) and not list(tmp_path.glob(".mid.db*"))
    in_copy = source_names(tmp_path / "mid.db")  # consistent (integrity_check), and…
    assert before <= in_copy <= after | {f"s{len(acked)}"}  # …every write acknowledged first

    final = run("server", "backup", str(tmp_path / "final.db"), "-o", "json", env=server.env)
    assert final.returncode == 0, final.stderr
    counts = json.loads(final.stdout)["counts"]
    assert source_names(tmp_path / "final.db") == set(acked)
    assert counts["tokens"] == 2 and counts["resources"] == len(acked) + 2  # + 2 env labels
    served = everything(server, slug)
    server.stop()

    fresh = tmp_path / "restored" / "cp.db"
    fresh.parent.mkdir()
    env = {**server.env, "SEG_DATABASE_URL": f"sqlite:///{fresh}"}
    restored = run("server", "restore", str(tmp_path / "final.db"), env=env)
    assert restored.returncode == 0, restored.stderr
    assert "Restart every seg serve using this database" in restored.stdout
    assert stat.S_IMODE(fresh.stat().st_mode) == 0o600
    again = Server(f"sqlite:///{fresh}", tmp_path, slug, init=False)  # the same secret key
    again.token = server.token
    servers.append(again)
    now = everything(again, slug)
    was_ws, now_ws = served.pop("workspace"), now.pop("workspace")
    assert now == served  # resources and audit events, by the owner token
    assert isinstance(was_ws, dict) and isinstance(now_ws, dict)
    assert now_ws["revision"] == was_ws["revision"]  # the backup's revision, and yet…
    assert now_ws["epoch"] != was_ws["epoch"]  # …a new history: a client's revision is void
    assert {**now_ws, "epoch": ""} == {**was_ws, "epoch": ""}
    assert everything(again, slug, token=reader)["sources"] == served["sources"]  # and the reader


def test_a_restore_under_a_running_server_is_seen_whole(
    servers: list[Server], tmp_path: Path, slug: str
) -> None:
    server = Server(f"sqlite:///{tmp_path / 'cp.db'}", tmp_path, slug)
    servers.append(server)
    assert create_source(server, slug, "kept").status_code == 200
    assert run("server", "backup", str(tmp_path / "b.db"), env=server.env).returncode == 0
    for name in ("later1", "later2"):
        assert create_source(server, slug, name).status_code == 200
    epoch = everything(server, slug)["workspace"]["epoch"]  # type: ignore[index]
    refused = run("server", "restore", str(tmp_path / "b.db"), env=server.env)
    assert refused.returncode != 0
    assert refused.stderr.strip().splitlines() == [
        f"error: database {tmp_path / 'cp.db'} is not empty (1 workspace, 1 token, 5 resources, "
        "3 audit events); pass --force to replace it"
    ]
    forced = run("server", "restore", str(tmp_path / "b.db"), "--force", env=server.env)
    assert forced.returncode == 0, forced.stderr
    names = [s["name"].rsplit("/", 1)[1] for s in everything(server, slug)["sources"]]
    assert names == ["kept"]  # the running server reads the restored database at once
    restored = everything(server, slug)["workspace"]
    assert restored["epoch"] != epoch  # type: ignore[index]  # seen with a new history
    assert create_source(server, slug, "after").status_code == 200  # and writes to it
    assert "Traceback" not in server.log_text()


def test_postgresql_gets_guidance_without_its_password() -> None:
    env = {"PATH": "/usr/bin:/bin", "NO_COLOR": "1",
           "PYTHONPATH": __import__("os").environ.get("PYTHONPATH", "")}  # fmt: skip
    url = "postgresql://seg:hunter2-pw@db.internal:5432/seg?sslmode=require&password=other-pw"
    for command, tool in (("backup", "pg_dump --format=custom --file FILE"),
                          ("restore", "pg_restore --clean --if-exists --no-owner --dbname")):  # fmt: skip
        done = run("server", command, "out.dump", "--database", url, env=env)
        assert done.returncode == 1
        lines = done.stderr.strip().splitlines()
        assert len(lines) == 1 and tool in lines[0], lines
        assert "'postgresql://seg@db.internal:5432/seg?sslmode=require'" in lines[0]
        assert "hunter2" not in done.stderr + done.stdout and "other-pw" not in done.stderr
