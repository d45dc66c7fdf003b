"""Shared fixtures: control planes on SQLite and PostgreSQL, API clients, workspace builders."""

from __future__ import annotations

import os
import secrets
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
import sqlalchemy as sa
from click.testing import Result
from typer.testing import CliRunner

from seg.client.http import ControlPlaneClient
from seg.server.app import create_app
from seg.server.inprocess import InProcessTransport
from seg.server.service import ControlPlane
from seg.store.sql import SqlStore, normalise_url, open_store

if TYPE_CHECKING:
    from tests.e2e.processes import Server

POSTGRES_URL = os.environ.get("SEG_TEST_POSTGRES_URL", "")
SEG_VARS = ("SEG_API_URL", "SEG_TOKEN", "SEG_WORKSPACE", "SEG_ENV")


@pytest.fixture
def clean_seg_env(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SEG_* settings leak in from the developer's shell: tests use the embedded plane."""
    for var in SEG_VARS:
        monkeypatch.delenv(var, raising=False)


@pytest.fixture
def allow_file_repositories(monkeypatch: pytest.MonkeyPatch) -> None:
    """dbt projects in ``file://`` repositories are read (the tests' remotes are local)."""
    monkeypatch.setenv("SEG_DBT_FILE_REPOSITORIES", "allow")


@pytest.fixture
def check_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """What the seg check tests run in: the Reverse ETL examples' secrets set, no SEG_*
    setting and no GitHub Actions variable from the shell, the working directory a temporary
    one."""
    monkeypatch.setenv("WAREHOUSE_PASSWORD", "pw")
    monkeypatch.setenv("BRAZE_API_KEY", "braze-key")
    for var in (*SEG_VARS, "GITHUB_ACTIONS", "GITHUB_STEP_SUMMARY"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.chdir(tmp_path)


def embedded_call(root: Path, method: str, path: str, workspace: str = "acme",
                  body: object = None) -> httpx.Response:  # fmt: skip
    """One request to the embedded control plane of the workspace at ``root``."""
    from seg.embedded import open_embedded

    client = open_embedded(root, workspace)
    try:
        return client.http.request(method, f"/v1beta/workspaces/{workspace}/{path}", json=body)
    finally:
        client.close()


def live(root: Path, path: str, workspace: str = "acme") -> dict:
    """A resource (or list) as the embedded control plane holds it."""
    result: dict = embedded_call(root, "GET", path, workspace).json()
    return result


def run_cli(*args: str) -> Result:
    """Run `seg` in-process; a traceback in the output fails the test."""
    from seg.commands.app import app

    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output, result.output
    return result


def _postgres_url() -> str:
    if not POSTGRES_URL:
        if os.environ.get("CI"):
            pytest.fail("SEG_TEST_POSTGRES_URL is not set; .ci/run must start PostgreSQL")
        pytest.skip("PostgreSQL not configured (set SEG_TEST_POSTGRES_URL; .ci/run does)")
    return POSTGRES_URL


@pytest.fixture(scope="session")
def pg_store() -> Iterator[SqlStore]:
    store = open_store(_postgres_url())
    yield store
    store.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[SqlStore]:
    """A store on each backend. Tests isolate themselves by workspace slug (see ``slug``)."""
    if request.param == "sqlite":
        sqlite = open_store(f"sqlite:///{tmp_path / 'seg.db'}")
        yield sqlite
        sqlite.close()
    else:
        yield request.getfixturevalue("pg_store")


@pytest.fixture
def slug() -> str:
    return "t" + secrets.token_hex(5)


@pytest.fixture
def cp(store: SqlStore) -> ControlPlane:
    return ControlPlane(store)


class Api:
    """An in-process HTTP client for one workspace of a control plane."""

    def __init__(self, cp: ControlPlane, workspace: str) -> None:
        self.cp = cp
        self.workspace = workspace
        _, self.owner_token = cp.workspaces.init(workspace)
        self.transport = InProcessTransport(create_app(cp))
        self.http = self.client(self.owner_token)

    def client(self, token: str | None) -> httpx.Client:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(transport=self.transport, base_url="http://embedded", headers=headers)

    def token(self, scope: str, description: str = "test token") -> str:
        return self.cp.workspaces.create_token(self.workspace, scope, description)[1]

    def url(self, path: str = "") -> str:
        return f"/v1beta/workspaces/{self.workspace}{path}"

    def seg_client(self) -> ControlPlaneClient:
        return ControlPlaneClient(self.client(self.owner_token), self.workspace)

    def create_source(self, slug: str, **fields: object) -> httpx.Response:
        body = {"name": f"workspaces/{self.workspace}/sources/{slug}", "catalog": "javascript"}
        return self.http.post(self.url("/sources"), json={"source": {**body, **fields}})

    def create_destination(self, source: str, slug: str, **fields: object) -> httpx.Response:
        name = f"workspaces/{self.workspace}/sources/{source}/destinations/{slug}"
        body = {"name": name, "catalog": "amplitude", **fields}
        return self.http.post(
            self.url(f"/sources/{source}/destinations"), json={"destination": body}
        )

    def close(self) -> None:
        self.http.close()
        self.transport.close()


@pytest.fixture
def api(cp: ControlPlane, slug: str) -> Iterator[Api]:
    client = Api(cp, slug)
    yield client
    client.close()


WriteWorkspace = Callable[..., Path]


@pytest.fixture
def write_workspace(tmp_path: Path) -> WriteWorkspace:
    """Write a workspace: ``write_workspace({"sources.yaml": "..."}, workspace="acme")``."""

    def write(files: dict[str, str], workspace: str = "acme", root: Path | None = None,
              seg_yaml: str | None = None) -> Path:  # fmt: skip
        base = root or tmp_path / "ws"
        base.mkdir(parents=True, exist_ok=True)
        (base / "seg.yaml").write_text(
            seg_yaml if seg_yaml is not None else f"version: seg/v1\nworkspace: {workspace}\n"
        )
        for name, text in files.items():
            path = base / name
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(textwrap.dedent(text))
        return base

    return write


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def server(request: pytest.FixtureRequest, tmp_path: Path, slug: str) -> Iterator[Server]:
    """``seg serve`` as a process with a fresh workspace ``slug``, on SQLite and PostgreSQL."""
    from tests.e2e.processes import Server, database_for  # it imports this module

    srv = Server(database_for(request, tmp_path), tmp_path, slug)
    yield srv
    srv.stop()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def empty_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database: a new SQLite file, or a PostgreSQL schema of its own."""
    from tests.store.legacy import empty_database  # it imports this module

    yield from empty_database(request, tmp_path)


@pytest.fixture
def engine(empty_url: str) -> Iterator[sa.Engine]:
    """An engine on the ``empty_url`` database."""
    engine = sa.create_engine(normalise_url(empty_url))
    yield engine
    engine.dispose()


@pytest.fixture
def own_cache_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """seg's local-cache key in this test's own home (``<tmp>/home-cache/seg/cache.key``), as
    if this were another user: no cache file of another test verifies under it."""
    from seg import localcache

    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "home-cache"))
    localcache._key.cache_clear()
    yield
    localcache._key.cache_clear()
