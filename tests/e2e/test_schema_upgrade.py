"""Upgrading a database made by the previous release (the fixtures in
``tests/fixtures/previous_release``: a SQLite file and a PostgreSQL dump, made by that
release's ``make.py``) keeps every resource, token, audit event and lock; ``seg serve`` refuses
a database that needs migrating, or is newer than it, in one line, and ``--migrate`` migrates
once even when two servers start at once on one PostgreSQL."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa

from seg.store.migrate import head_revision
from seg.store.sql import normalise_url
from tests.conftest import POSTGRES_URL, run_cli
from tests.e2e.processes import Server, run

pytestmark = pytest.mark.e2e

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "previous_release"
# The key the fixture's secrets are sealed with (test data, written by make.py).
KEY = next(line.split('"')[1] for line in (FIXTURES / "make.py").read_text().splitlines()
           if line.startswith("KEY = "))  # fmt: skip


@pytest.fixture
def postgres_database(request: pytest.FixtureRequest) -> Iterator[str]:
    """A new, empty PostgreSQL database (dropped afterwards)."""
    if not POSTGRES_URL:
        request.getfixturevalue("pg_store")  # fails in CI, skips locally
    name = "up_" + secrets.token_hex(4)
    admin = sa.create_engine(normalise_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f"CREATE DATABASE {name}"))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f"DROP DATABASE {name} WITH (FORCE)"))
        admin.dispose()


def _psql() -> str:
    """psql from PATH, else beside the PostgreSQL server .ci/postgres.sh runs."""
    found = shutil.which("psql") or next(
        (str(p) for p in sorted(Path("/usr/lib/postgresql").glob("*/bin/psql"))), None)
    assert found, "psql is needed to restore the previous release's dump"
    return found


def _previous_release(dialect: str, tmp: Path, request: pytest.FixtureRequest) -> str:
    """The URL of a copy of the previous release's database."""
    if dialect == "sqlite":
        shutil.copy(FIXTURES / "control-plane.db", tmp / "old.db")
        return f"sqlite:///{tmp / 'old.db'}"
    url: str = request.getfixturevalue("postgres_database")
    restored = subprocess.run([_psql(), "-q", "-v", "ON_ERROR_STOP=1", "-d", url, "-f",
                               str(FIXTURES / "control-plane.sql")],
                              capture_output=True, text=True, timeout=120)  # fmt: skip
    assert restored.returncode == 0, restored.stderr
    return url


def _env(url: str) -> dict[str, str]:
    env = {**os.environ, "SEG_DATABASE_URL": url, "SEG_SECRET_KEY": KEY, "NO_COLOR": "1"}
    for var in ("SEG_API_URL", "SEG_TOKEN", "SEG_WORKSPACE", "SEG_ENV", "SEG_SECRET_KEY_FILE"):
        env.pop(var, None)
    return env


def _serve(url: str, tmp: Path, *args: str) -> Server:
    """``seg serve`` on ``url`` (no init), with the fixture's key."""
    server = Server.__new__(Server)
    server.env = _env(url)
    server.serve_args = args
    server.token = ""
    from tests.e2e.processes import free_port

    server.port = free_port()
    server.url = f"http://127.0.0.1:{server.port}"
    server.log = open(tmp / f"server-{server.port}.log", "w")  # noqa: SIM115
    server.tmp = tmp
    server.start()
    return server


def _all_audit_events(base: str, token: str, slug: str) -> list[dict]:
    events: list[dict] = []
    page = ""
    while True:
        got = httpx.get(f"{base}/v1beta/workspaces/{slug}/audit-events",
                        params={"page_size": 100, "page_token": page},
                        headers={"Authorization": f"Bearer {token}"}, timeout=30)  # fmt: skip
        assert got.status_code == 200, got.text
        events += got.json()["audit_events"]
        page = got.json()["next_page_token"]
        if not page:
            return events


@pytest.mark.parametrize("dialect", ["sqlite", pytest.param("postgresql",
                                                            marks=pytest.mark.postgres)])
def test_the_previous_release_database_upgrades_and_keeps_everything(
    dialect: str, tmp_path: Path, request: pytest.FixtureRequest, clean_seg_env: None
) -> None:
    manifest = json.loads((FIXTURES / f"manifest-{dialect}.json").read_text())
    url = _previous_release(dialect, tmp_path, request)
    env = _env(url)
    refused = run("serve", "--port", "1", env=env)
    assert refused.returncode == 1
    assert refused.stderr.count("\n") == 1 and "seg server migrate" in refused.stderr, refused
    migrated = run("server", "migrate", env=env)
    assert migrated.returncode == 0, migrated.stderr
    assert f"to revision {head_revision()}" in migrated.stdout
    server = _serve(url, tmp_path)
    try:
        for slug, tokens in manifest["tokens"].items():
            for secret in tokens.values():  # every token still authenticates
                got = httpx.get(f"{server.url}/v1beta/workspaces/{slug}",
                                headers={"Authorization": f"Bearer {secret}"}, timeout=30)
                assert got.status_code == 200, (slug, got.text)
            owner = tokens["owner"]
            kept = manifest["workspaces"][slug]
            events = _all_audit_events(server.url, owner, slug)
            assert all(event.pop("apply") is None for event in events)  # from before runs
            assert all(event.pop("changes") == [] for event in events)  # and before values
            assert events == kept["audit_events"]
            exported = tmp_path / f"export-{slug}"
            exported.mkdir()
            done = run_cli("export", "--api-url", server.url, "--token", owner, "--slug", slug,
                           "-w", str(exported))  # in-process: eight exports, one interpreter
            assert done.exit_code == 0, done.output
            files = {str(p.relative_to(exported)): p.read_text()
                     for p in sorted(exported.rglob("*"))
                     if p.is_file() and ".seg-schema" not in p.parts}  # fmt: skip
            assert files == kept["export"], slug  # every resource, field for field
    finally:
        server.stop()
    engine = sa.create_engine(normalise_url(url))
    try:
        with engine.connect() as conn:
            lock = conn.execute(sa.text("SELECT id, holder, host, plan, ci_run FROM locks "
                                        "WHERE workspace = 'basic'")).one()  # fmt: skip
            version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    finally:
        engine.dispose()
    held = manifest["lock"]
    assert tuple(lock) == (held["id"], held["holder"], held["host"], held["plan"],
                           held["ci_run"])  # fmt: skip
    assert [tuple(v) for v in version] == [(head_revision(),)]


def test_serve_refuses_an_empty_or_newer_database_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    url = f"sqlite:///{tmp_path / 'cp.db'}"
    empty = run("serve", "--port", "1", env=_env(url))  # the real process, once
    assert empty.returncode == 1
    assert empty.stderr == ("error: the database has no seg schema yet: run `seg server "
                            "migrate` (back it up first), or start with --migrate\n")  # fmt: skip
    for name, value in _env(url).items():
        if name.startswith("SEG_"):
            monkeypatch.setenv(name, value)
    assert run_cli("server", "migrate").exit_code == 0
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = 'f00d'"))
    engine.dispose()
    newer = run("serve", "--port", "1", "--migrate", env=_env(url))  # serve configures logging:
    assert newer.returncode == 1  # a process of its own, not in this one
    assert newer.stderr.count("\n") == 1 and "revision f00d, newer than this seg" in newer.stderr
    for args in (("server", "migrate"), ("server", "init", "--slug", "x"),
                 ("server", "token", "create", "--slug", "x", "--scope", "workspace:read",
                  "--description", "d")):  # fmt: skip
        newer = run_cli(*args)
        assert newer.exit_code == 1, args
        assert newer.output.count("\n") == 1, newer.output
        assert "revision f00d, newer than this seg" in newer.output, newer.output


def test_serve_with_migrate_migrates_at_start(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'cp.db'}"
    server = _serve(url, tmp_path, "--migrate")
    try:
        assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200
        assert f"to revision {head_revision()}" in server.log_text()
    finally:
        server.stop()


@pytest.mark.postgres
def test_two_servers_starting_at_once_migrate_once(
    tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = _previous_release("postgresql", tmp_path, request)
    servers: list[Server] = []
    failures: list[BaseException] = []

    def start() -> None:
        try:
            servers.append(_serve(url, tmp_path, "--migrate"))
        except BaseException as exc:  # reported below
            failures.append(exc)

    threads = [threading.Thread(target=start) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(240)
    try:
        assert not failures, failures
        assert len(servers) == 2
        logs = [s.log_text() for s in servers]
        migrated = [log for log in logs if "Migrated the database schema" in log]
        assert len(migrated) == 1, logs  # one migrated; the other waited and found it done
        for server in servers:
            assert httpx.get(f"{server.url}/readyz", timeout=10).status_code == 200
    finally:
        for server in servers:
            server.stop()
    engine = sa.create_engine(normalise_url(url))
    with engine.connect() as conn:
        version = conn.execute(sa.text("SELECT version_num FROM alembic_version")).all()
    engine.dispose()
    assert [tuple(v) for v in version] == [(head_revision(),)]
