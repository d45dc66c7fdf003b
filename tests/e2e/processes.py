"""``seg serve`` and ``seg`` as processes: the helpers the end-to-end tests share."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import POSTGRES_URL

SEG = [sys.executable, "-m", "seg"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def run(
    *args: str, env: dict[str, str], cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SEG, *args], env=env, cwd=cwd, capture_output=True, text=True,
                          timeout=120)  # fmt: skip


def database_for(request: pytest.FixtureRequest, tmp: Path) -> str:
    """The database URL for a ``sqlite``/``postgresql`` fixture parameter."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp / 'cp.db'}"
    if not POSTGRES_URL:
        request.getfixturevalue("pg_store")  # fails in CI, skips locally
    return POSTGRES_URL


class Server:
    """``seg serve`` as a process (extra ``serve_args`` on its command line), on 127.0.0.1."""

    def __init__(self, database: str, tmp: Path, workspace: str, init: bool = True,
                 serve_args: tuple[str, ...] = ()) -> None:  # fmt: skip
        self.serve_args = serve_args
        self.env = {**os.environ, "SEG_DATABASE_URL": database, "NO_COLOR": "1",
                    "SEG_SECRET_KEY_FILE": str(tmp / "secret.key")}  # fmt: skip
        for var in ("SEG_API_URL", "SEG_TOKEN", "SEG_WORKSPACE", "SEG_ENV"):
            self.env.pop(var, None)
        self.token = ""
        if init:
            made = run("server", "init", "--slug", workspace, "-o", "json", env=self.env)
            assert made.returncode == 0, made.stderr
            self.token = json.loads(made.stdout)["token"]
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = open(tmp / f"server-{self.port}.log", "w")  # noqa: SIM115
        self.tmp = tmp
        self.start()

    def start(self) -> None:
        self.proc = subprocess.Popen(
            [*SEG, "serve", "--port", str(self.port), *self.serve_args],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 180  # a loaded machine starts slowly; ready ends the wait
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/healthz", timeout=1).status_code == 200:
                    return
            except httpx.HTTPError:
                time.sleep(0.1)
        raise AssertionError("seg serve did not start: " + Path(self.log.name).read_text())

    def restart(self) -> None:
        self.start()

    def database_bytes(self) -> bytes:
        url = self.env["SEG_DATABASE_URL"]
        if url.startswith("sqlite:///"):
            path = Path(url[len("sqlite:///") :])
            return b"".join(p.read_bytes() for p in path.parent.glob(path.name + "*"))
        import sqlalchemy as sa

        from seg.store.sql import normalise_url

        engine = sa.create_engine(normalise_url(url))
        with engine.connect() as conn:
            rows = conn.execute(sa.text("SELECT data, secret_values FROM resources")).all()
        engine.dispose()
        return json.dumps([list(r) for r in rows]).encode()

    def log_text(self) -> str:
        self.log.flush()
        return Path(self.log.name).read_text()

    def client_env(self, **extra: str) -> dict[str, str]:
        return {**self.env, "SEG_API_URL": self.url, "SEG_TOKEN": self.token, **extra}

    def get(self, path: str) -> dict:
        r = httpx.get(
            f"{self.url}/v1beta/{path}", headers={"Authorization": f"Bearer {self.token}"}
        )
        return r.json()

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(timeout=15)
        self.log.close()
