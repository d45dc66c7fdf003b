"""A plan that found nothing to do is kept (``NoopPlans``) and given again after one
request while nothing it depends on changed: the YAML, the values from the environment, the
options and the live revision. Anything else — another client's change, a rotated variable,
another target, another token — computes the plan again, and a plan with changes is never
kept."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from seg.apply.executor import NullObserver, apply_plan
from seg.client.http import ControlPlaneClient
from seg.commands import session as session_module
from seg.commands.session import NoopPlans, PlanOptions, Session, make_plan
from seg.engine.plan import Plan
from seg.workspace.loader import load_workspace
from tests.conftest import Api

pytestmark = pytest.mark.usefixtures("own_cache_key")

YAML = ("kind: Source\nname: web\nspec: {catalog: javascript}\n---\n"
        "kind: Destination\nname: amp\nspec:\n  source: web\n  catalog: amplitude\n"
        "  enabled: true\n  settings: {api_key: '${env:AMP_KEY}', region: eu}\n")  # fmt: skip


@pytest.fixture
def root(tmp_path: Path, api: Api) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    (path / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {api.workspace}\n")
    (path / "sources.yaml").write_text(YAML)
    return path


class Counted:
    """``make_plan`` over a non-embedded session (so the live-state cache is used), with the
    requests it sent and whether the kept plan answered."""

    def __init__(self, api: Api, root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        self.api, self.root = api, root
        self.answered = 0
        still = NoopPlans.still

        def counted(memo: NoopPlans, client: ControlPlaneClient) -> Plan | None:
            found = still(memo, client)
            self.answered += found is not None
            return found

        monkeypatch.setattr(NoopPlans, "still", counted)

    def plan(self, environ: dict[str, str], token: str | None = None, **options: Any
             ) -> tuple[Plan, int]:  # fmt: skip
        client = ControlPlaneClient(self.api.client(token or self.api.owner_token),
                                    self.api.workspace)  # fmt: skip
        session = Session(load_workspace(self.root, environ=environ), client, "http://test")
        plan = make_plan(session, PlanOptions(**options))
        return plan, client.request_count

    def apply(self, environ: dict[str, str]) -> None:
        client = ControlPlaneClient(self.api.client(self.api.owner_token), self.api.workspace)
        session = Session(load_workspace(self.root, environ=environ), client, "http://test")
        assert apply_plan(make_plan(session), client, NullObserver()).ok


def test_a_no_op_plan_is_given_again_after_one_request(api: Api, root: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    counted = Counted(api, root, monkeypatch)
    environ = {"AMP_KEY": "key-one-123"}
    counted.apply(environ)
    first, cold = counted.plan(environ)  # computed (and kept: it is a no-op)
    assert not first.changes and counted.answered == 0
    again, warm = counted.plan(environ)
    assert counted.answered == 1 and again == first
    assert warm == 2  # the workspace (its policy), then …/changes: nothing since
    assert cold > warm


def test_anything_that_changes_the_plan_computes_it_again(api: Api, root: Path,
                                                          monkeypatch: pytest.MonkeyPatch
                                                          ) -> None:  # fmt: skip
    counted = Counted(api, root, monkeypatch)
    environ = {"AMP_KEY": "key-one-123"}

    def computed(env: dict[str, str] = environ, **options: Any) -> Plan:
        before = counted.answered
        plan, _ = counted.plan(env, **options)
        assert counted.answered == before, "the kept plan answered"
        return plan

    def kept() -> Plan:
        before = counted.answered
        plan, _ = counted.plan(environ)
        assert counted.answered == before + 1, "the plan was computed"
        return plan

    counted.apply(environ)
    computed()
    kept()
    # a rotated variable: the destination's key differs from the live one
    assert [c.address for c in computed({"AMP_KEY": "key-two-456"}).changes] == ["web/amp"]
    kept()
    # another client's change at the control plane
    other = api.client(api.token("workspace:write", "another client"))
    response = other.patch(api.url("/sources/web/destinations/amp"), json={
        "destination": {"enabled": False}, "update_mask": {"paths": ["destination.enabled"]}})
    assert response.status_code == 200, response.text
    changed = computed()
    assert [c.address for c in changed.changes] == ["web/amp"]
    # a plan with changes is never kept: the next one is computed (and finds them again)
    assert computed().changes == changed.changes
    counted.apply(environ)
    computed()
    kept()
    # other options, another token: computed again
    assert computed(targets=("web",)).targets == ("web",)
    before = counted.answered
    counted.plan(environ, token=api.token("workspace:read", "a reader"))
    assert counted.answered == before
    # the YAML edited, and back
    (root / "sources.yaml").write_text(YAML.replace("region: eu", "region: us"))
    assert [c.address for c in computed().changes] == ["web/amp"]
    (root / "sources.yaml").write_text(YAML)
    computed()  # one plan is kept per control plane, workspace and token: the targeted one
    kept()


def test_the_kept_plan_holds_no_value(api: Api, root: Path,
                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    counted = Counted(api, root, monkeypatch)
    environ = {"AMP_KEY": "very-secret-amp-key-0123"}
    counted.apply(environ)
    counted.plan(environ)
    kept = list((root / ".seg" / "cache" / "state").glob("*.noop"))
    assert len(kept) == 1
    assert b"very-secret-amp-key-0123" not in kept[0].read_bytes()
    assert session_module.NoopPlans.PURPOSE  # sealed like every cache (tests/security)
