"""Fixtures of the integration tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from seg.server.service import ControlPlane
from seg.store.sql import open_store
from tests.integration.patch_workspace import (
    ENVIRONMENT,
    WORKSPACE,
    apply,
    assert_plan_empty,
    base_documents,
    write_documents,
)


@pytest.fixture(scope="module")
def applied_base(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """The workspace of every kind (patch_workspace), applied once per test module."""
    with pytest.MonkeyPatch.context() as mp:
        for var in ("SEG_API_URL", "SEG_TOKEN", "SEG_WORKSPACE", "SEG_ENV"):
            mp.delenv(var, raising=False)
        for var, value in ENVIRONMENT.items():
            mp.setenv(var, value)
        root = tmp_path_factory.mktemp("patch-alone") / "ws"
        root.mkdir()
        (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {WORKSPACE}\n")
        write_documents(root, base_documents())
        apply(root)
        assert_plan_empty(root)
        yield root


@pytest.fixture(scope="module")
def control_plane(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ControlPlane]:
    """A control plane on a SQLite store of its own, one per test module (the convergence
    property tests' workspaces share it: see convergence.py)."""
    store = open_store(f"sqlite:///{tmp_path_factory.mktemp('converge') / 'seg.db'}")
    yield ControlPlane(store)
    store.close()
