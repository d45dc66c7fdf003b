"""The manager is metadata beside the fields (issue 12, item 1): a resource of each kind
released on the control plane (manager "") plans as one adoption that changes nothing else,
and after the apply the next plan is empty. Uses the applied workspace of patch_workspace (the
``applied_base`` fixture)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from seg.embedded import open_embedded
from seg.kinds import KINDS
from tests.conftest import run_cli
from tests.integration.patch_workspace import WORKSPACE, apply, assert_plan_empty, live_state


@pytest.mark.parametrize("kind", sorted(KINDS))
def test_one_resource_released_alone_is_adopted_alone(
    kind: str, applied_base: Path, tmp_path: Path, clean_seg_env: None
) -> None:
    root = tmp_path / "ws"
    shutil.copytree(applied_base, root)
    before = live_state(root)
    key = next(k for k in sorted(before) if k[0] == kind
               and k[1] not in KINDS[kind].system_names)  # fmt: skip
    client = open_embedded(root, WORKSPACE)
    try:
        client.read_state([KINDS[kind]])  # learns the server's names of tracking plans
        name = client._name(KINDS[kind], key[1])
        released = client.http.patch(f"/v1beta/{name}", json={"manager": ""})
        assert released.status_code == 200 and released.json()["manager"] == "", released.text
    finally:
        client.close()
    plan = run_cli("plan", "-w", str(root))
    assert plan.exit_code == 0, plan.output
    assert f"{kind} {key[1]} (adopt)" in plan.output
    assert "Plan: 1 to adopt, 0 to add, 0 to change, 0 to destroy." in plan.output
    apply(root)
    assert_plan_empty(root)
    after = live_state(root)
    assert after.keys() == before.keys()
    assert all(after[k].manager == before[k].manager for k in after)
    assert all((after[k].fields, after[k].etag) == (before[k].fields, before[k].etag)
               for k in after)  # fmt: skip
