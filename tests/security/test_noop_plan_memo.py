"""The kept no-op plan (``.seg/cache/state/<name>.noop``) is input a pull request controls:
one sealed by another key — a plan saying "no changes" for a workspace that has some — is
never believed."""

from __future__ import annotations

from pathlib import Path

import pytest

from seg import localcache
from seg.client.http import ControlPlaneClient
from seg.commands.session import (
    NoopPlans,
    PlanOptions,
    Session,
    effective_policy,
    make_plan,
    state_cache,
)
from seg.engine.plan import Plan
from seg.workspace.loader import load_workspace
from tests.conftest import Api

SOURCE = "kind: Source\nname: web\nspec: {catalog: javascript}\n"


def _plan(api: Api, root: Path) -> list[str]:
    client = ControlPlaneClient(api.client(api.owner_token), api.workspace)
    session = Session(load_workspace(root, environ={}), client, "http://test")
    return [c.address for c in make_plan(session, PlanOptions()).changes]


def test_a_no_op_plan_sealed_by_another_key_is_not_believed(
        api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The attacker's seg keeps a no-op plan, then the attacker rewrites it for the tree with
    a new source (its key made for that tree, sealed with the attacker's key): the attacker's
    own seg now says "no changes", the victim's computes the plan and shows the source."""
    root = tmp_path / "ws"
    root.mkdir()
    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {api.workspace}\n")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "attacker-key"))
    localcache._key.cache_clear()
    try:
        assert _plan(api, root) == []
        (root / "sources.yaml").write_text(SOURCE)
        client = ControlPlaneClient(api.client(api.owner_token), api.workspace)
        session = Session(load_workspace(root, environ={}), client, "http://test")
        cache = state_cache(session)
        assert cache is not None
        state = cache.load()
        assert state is not None
        memo = NoopPlans.of(cache, session.workspace, effective_policy(session), PlanOptions())
        assert memo is not None
        memo.keep(state, Plan(api.workspace, ()))
        assert _plan(api, root) == []  # the forgery works for the seg that sealed it
        monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "victim-key"))
        localcache._key.cache_clear()
        assert _plan(api, root) == ["web"]
    finally:
        localcache._key.cache_clear()
