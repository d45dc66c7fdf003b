"""A failed apply: independent work finishes, dependants are skipped, a re-run converges."""

from __future__ import annotations

from seg.apply import NullObserver, apply_plan
from seg.engine import compute_plan
from seg.kinds import KINDS
from seg.model.resource import DesiredResource
from tests.conftest import Api

SRC, DST = KINDS["Source"], KINDS["Destination"]


def desired() -> list[DesiredResource]:
    return [
        DesiredResource(SRC, "web", {"catalog": "javascript"}),
        DesiredResource(DST, "web/amp", {"catalog": "amplitude"}),
        DesiredResource(SRC, "ios", {"catalog": "ios", "display_name": "iOS"}),
        DesiredResource(DST, "ios/mix", {"catalog": "mixpanel"}),
    ]


def test_failure_skips_dependants_only_and_rerun_converges(api: Api) -> None:
    client = api.seg_client()
    plan = compute_plan(api.workspace, desired(), client.read_state())
    # Someone creates 'web' behind our back with another catalog: our create of it fails.
    assert api.create_source("web", catalog="android").status_code == 200
    result = apply_plan(plan, client, NullObserver())
    status = {(r.step.op, r.step.change.address): r.status for r in result.results}
    assert status == {
        ("create", "web"): "failed",
        ("create", "web/amp"): "skipped",
        ("create", "ios"): "applied",
        ("create", "ios/mix"): "applied",
    }
    failed = result.with_status("failed")[0]
    assert "already exists" in failed.error and "code 6" in failed.error
    # Re-plan against the live state: the drifted source is replaced, the rest is created once.
    replan = compute_plan(api.workspace, desired(), client.read_state())
    assert {(c.address, c.action.value) for c in replan.changes} == {
        ("web", "replace"), ("web/amp", "create")}  # fmt: skip
    assert apply_plan(replan, client, NullObserver()).ok
    final = compute_plan(api.workspace, desired(), client.read_state())
    assert final.changes == ()
    names = [s["name"] for s in api.http.get(api.url("/sources")).json()["sources"]]
    assert len(names) == len(set(names)) == 2


def test_etag_conflict_during_apply_fails_that_change(api: Api) -> None:
    client = api.seg_client()
    assert apply_plan(compute_plan(api.workspace, desired(), []), client, NullObserver()).ok
    changed = [DesiredResource(SRC, "ios", {"catalog": "ios", "display_name": "Apple"})]
    plan = compute_plan(api.workspace, changed + desired()[:2] + desired()[3:],
                        client.read_state())  # fmt: skip
    api.http.patch(api.url("/sources/ios"), json={"source": {"enabled": False},
                   "update_mask": {"paths": ["source.enabled"]}})  # fmt: skip
    result = apply_plan(plan, client, NullObserver())
    (failed,) = result.with_status("failed")
    assert "etag mismatch" in failed.error and "412" in failed.error
    assert api.http.get(api.url("/sources/ios")).json()["display_name"] == "iOS"
