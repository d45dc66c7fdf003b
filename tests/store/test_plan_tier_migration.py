"""Databases from before plan tiers: opening one adds ``workspaces.plan_tier`` with Business
for every existing workspace (so nothing existing changes), on a real old-shaped SQLite file
and on PostgreSQL (in a schema of its own)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from seg.server.service import ControlPlane
from tests.store.legacy import BACKENDS, WS, old_shaped_database, upgraded


@pytest.fixture(params=BACKENDS)
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """The tables as the previous release made them: no ``workspaces.plan_tier`` column."""
    yield from old_shaped_database(request, tmp_path, "workspaces", "plan_tier")


def test_old_workspaces_become_business_and_new_ones_take_their_tier(old_database: str) -> None:
    with upgraded(old_database) as store:
        with store.tx() as tx:
            old = tx.get_workspace(WS)
        assert old is not None and old.plan_tier == "business"
        cp = ControlPlane(store)
        made, _ = cp.workspaces.init("small", plan_tier="team")
        assert made.plan_tier == "team"
        store.create_schema()  # opening it again changes nothing
        with store.tx() as tx:
            tiers = {s: ws.plan_tier for s in (WS, "small") if (ws := tx.get_workspace(s))}
        assert tiers == {WS: "business", "small": "team"}
