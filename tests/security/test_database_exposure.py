"""What the database exposes: its password never shows in output or errors, and SQLite files
(the server's and the embedded control plane's, with their WAL and SHM) are private (0600)."""

from __future__ import annotations

import json
import stat
from pathlib import Path

import httpx
import pytest

from seg.embedded import open_embedded
from seg.model.urls import redact_text, redact_url
from tests.conftest import run_cli
from tests.e2e.processes import Server, free_port, run

PASSWORD = "s3cret-Pa55"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"postgresql://seg:{PASSWORD}@db.internal:5432/cp",
         "postgresql://seg:***@db.internal:5432/cp"),
        (f"postgres://seg:{PASSWORD}@db/cp?sslmode=require",
         "postgres://seg:***@db/cp?sslmode=require"),
        (f"postgresql+psycopg://seg:p@ss:{PASSWORD}@db/cp", "postgresql+psycopg://seg:***@db/cp"),
        # found by review: a password in the query, and one holding "?" before the "@"
        (f"postgresql://seg@db/cp?password={PASSWORD}", "postgresql://seg@db/cp?password=***"),
        (f"postgresql://seg@db/cp?sslmode=require&sslpassword={PASSWORD}&x=1",
         "postgresql://seg@db/cp?sslmode=require&sslpassword=***&x=1"),
        (f"postgresql://seg:pa?{PASSWORD}@db/cp", "postgresql://seg:***@db/cp"),
        (f"postgresql://seg:a/b@{PASSWORD}@db/cp", "postgresql://seg:***@db/cp"),
        ("postgresql://db:5432/cp", "postgresql://db:5432/cp"),  # a port is not a password
        ("postgresql://seg@db/cp", "postgresql://seg@db/cp"),  # no password: nothing to hide
        ("sqlite:////var/lib/seg/seg.db", "sqlite:////var/lib/seg/seg.db"),
        ("not a url", "not a url"),
    ],
)  # fmt: skip
def test_database_urls_are_shown_without_their_password(url: str, shown: str) -> None:
    assert redact_url(url) == shown
    assert PASSWORD not in redact_text(f"cannot parse {url!r}", url)


@pytest.mark.e2e
def test_seg_serve_errors_never_print_the_password(tmp_path: Path) -> None:
    env = {"SEG_SECRET_KEY": "unused-here", "SEG_DATABASE_URL": ""}
    down = f"postgresql://seg:{PASSWORD}@127.0.0.1:{free_port()}/cp"
    unparsable = f"postgresql://seg:{PASSWORD}@127.0.0.1:port/cp"
    in_query = f"postgresql://seg@127.0.0.1:{free_port()}/cp?password={PASSWORD}"
    with_question_mark = f"postgresql://seg:pa?{PASSWORD}@127.0.0.1:{free_port()}/cp"
    for url in (down, unparsable, in_query, with_question_mark):
        made = run("server", "init", "--slug", "acme", "--database", url,
                   env={**_env(), **env})  # fmt: skip
        assert made.returncode == 1 and "Traceback" not in made.stderr
        (line,) = made.stderr.strip().splitlines()  # one line
        assert line.startswith("error: cannot open database: ")
        assert PASSWORD not in made.stdout + made.stderr


def test_api_urls_in_errors_are_shown_without_their_password(
    write_workspace, clean_seg_env: None
) -> None:
    root = write_workspace({})
    for url, shown in (
        (f"https://ci:{PASSWORD}@seg.example", "https://ci:***@seg.example"),
        (f"ftp://ci:{PASSWORD}@seg.example", "'ftp://ci:***@seg.example'"),
    ):
        result = run_cli("plan", "-w", str(root), "--api-url", url)
        assert result.exit_code == 1 and shown in result.output
        assert PASSWORD not in result.output


def _env() -> dict[str, str]:
    import os

    return {k: v for k, v in os.environ.items() if not k.startswith("SEG_")} | {"NO_COLOR": "1"}


def _private(path: Path) -> bool:
    return stat.S_IMODE(path.stat().st_mode) == 0o600


@pytest.mark.e2e
def test_sqlite_files_of_seg_serve_are_private(tmp_path: Path, slug: str) -> None:
    server = Server(f"sqlite:///{tmp_path / 'seg.db'}", tmp_path, slug)
    try:
        made = httpx.post(f"{server.url}/v1beta/workspaces/{slug}/sources",
                          headers={"Authorization": f"Bearer {server.token}"},
                          json={"source": {"name": f"workspaces/{slug}/sources/web",
                                           "catalog": "javascript"}})  # fmt: skip
        assert made.status_code == 200
        files = sorted(p.name for p in tmp_path.glob("seg.db*"))
        assert files == ["seg.db", "seg.db-shm", "seg.db-wal"]  # while the server runs
        assert all(_private(tmp_path / name) for name in files)
    finally:
        server.stop()


def test_the_embedded_control_plane_files_are_private(tmp_path: Path) -> None:
    client = open_embedded(tmp_path, "acme")
    try:
        client.http.post("/v1beta/workspaces/acme/sources",
                         json={"source": {"name": "workspaces/acme/sources/web",
                                          "catalog": "javascript"}}).raise_for_status()  # fmt: skip
        state = tmp_path / ".seg"
        files = sorted(p.name for p in state.glob("control-plane.db*"))
        assert files == ["control-plane.db", "control-plane.db-shm", "control-plane.db-wal"]
        for name in [*files, "secret.key", "tokens.json"]:
            assert _private(state / name), name
        assert json.loads((state / "tokens.json").read_text())["acme"]
    finally:
        client.close()
