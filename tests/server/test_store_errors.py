"""Store errors at the API edge, on SQLite and PostgreSQL: readiness, values the database
refuses (400/3, never 500), and a database that goes away under the server (503/14)."""

from __future__ import annotations

import os
from pathlib import Path

from seg.server.service import ControlPlane
from seg.store.sql import open_store
from tests.conftest import Api
from tests.helpers import error_body


def test_readyz_is_ok_on_a_live_database(api: Api) -> None:
    assert api.http.get("/readyz").json() == {"status": "ok"}
    assert api.http.get("/healthz").json() == {"status": "ok"}


def test_a_value_the_database_refuses_is_a_400_not_a_500(api: Api) -> None:
    # PostgreSQL text cannot hold NUL: the input guard refuses it before the store (which
    # would map the DataError to 400/3 too: see the store contract), on both databases.
    response = api.http.get(api.url("/sources/web%00"))
    assert (response.status_code, response.json()["code"]) == (400, 3), response.text


def test_a_corrupted_database_answers_503_unavailable(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'cp.db'}")
    api = Api(ControlPlane(store), "acme")
    try:
        assert api.create_source("web").status_code == 200
        for path in tmp_path.glob("cp.db*"):
            path.write_bytes(os.urandom(max(path.stat().st_size, 4096)))
        for response in (api.http.get(api.url("/sources/web")), api.http.get("/readyz"),
                         api.create_source("app")):  # fmt: skip
            assert response.status_code == 503
            assert error_body(response) == {"error": "database unavailable", "code": 14}
        assert api.http.get("/healthz").status_code == 200
    finally:
        api.close()
        store.close()
