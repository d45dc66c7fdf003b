"""Review of issue 17: an operator migrates the database under running servers (the wrong
order of upgrade steps, or a second admin at once). The servers can then answer nothing
(503 on every request that reads a token), so ``/readyz`` must say so too, instead of 200
keeping them in a load balancer's rotation; it turns ready again once the schema is back."""

from __future__ import annotations

import logging

import pytest

from seg.server.service import ControlPlane
from seg.store.migrate import head_revision, migrate, revisions
from seg.store.sql import open_store
from tests.conftest import Api


def test_readyz_is_unready_while_the_schema_is_not_this_servers(
    empty_url: str, caplog: pytest.LogCaptureFixture  # noqa: F811
) -> None:
    store = open_store(empty_url)
    api = Api(ControlPlane(store), "acme")
    try:
        assert api.http.get("/readyz").status_code == 200
        migrate(store.engine, revisions()[0])
        with caplog.at_level(logging.ERROR):
            response = api.http.get("/readyz")
        assert (response.status_code, response.json()["code"]) == (503, 14), response.text
        assert f"revision {revisions()[0]}" in caplog.text and head_revision() in caplog.text
        assert api.http.get(api.url("/sources")).status_code == 503  # what it is telling
        migrate(store.engine)
        assert api.http.get("/readyz").status_code == 200
        assert api.http.get(api.url("/sources")).status_code == 200
    finally:
        api.close()
        store.close()
