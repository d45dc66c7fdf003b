"""The review of issue 12, finding F7, through `seg` as a process: a plan never promises a
delete the control plane will refuse. A replace that would delete a child the tree does not
manage, and deleting what another manager's resource still uses, are blocked (`!`, exit 3)
with the reason, and apply changes nothing — before, the plan showed `-/+` or `-` and the
apply failed half-way with 409."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import embedded_call, live

pytestmark = pytest.mark.usefixtures("clean_seg_env")

SEG_YAML = "version: seg/v1\nworkspace: acme\nmanager: growth\n"


def seg(root: Path, *args: str, code: int) -> str:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEG_")} | {"NO_COLOR": "1"}
    done = subprocess.run([sys.executable, "-m", "seg", *args, "-w", str(root)], env=env,
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    return done.stdout + done.stderr


def post(root: Path, path: str, body: dict[str, object]) -> None:
    made = embedded_call(root, "POST", path, body=body)
    assert made.status_code == 200, made.text


def test_replacing_a_source_that_keeps_a_child_is_blocked(tmp_path: Path) -> None:
    root = tmp_path / "t1"
    (root / "sources").mkdir(parents=True)
    (root / "seg.yaml").write_text(SEG_YAML)
    post(root, "sources", {"source": {"name": "workspaces/acme/sources/uimade",
                                      "catalog": "javascript"}})  # fmt: skip
    post(root, "sources/uimade/destinations", {"destination": {
        "name": "workspaces/acme/sources/uimade/destinations/amp", "catalog": "amplitude"}})
    (root / "sources" / "uimade.yaml").write_text(
        "kind: Source\nname: uimade\nspec:\n  catalog: ios\n")  # the catalog forces a replace
    plan = seg(root, "plan", code=3)
    assert "! Source uimade" in plan and "-/+" not in plan
    assert "uimade/amp stays beneath it (not deleted by this plan)" in plan
    applied = seg(root, "apply", "--auto-approve", code=3)
    assert "nothing was applied" in applied
    source = live(root, "sources/uimade")
    assert (source["catalog"], source["manager"]) == ("javascript", "")
    assert live(root, "sources/uimade/destinations/amp")["manager"] == ""


def test_deleting_what_another_managers_source_uses_is_blocked(tmp_path: Path) -> None:
    root = tmp_path / "t1"
    root.mkdir()
    (root / "seg.yaml").write_text(SEG_YAML)
    (root / "shared.yaml").write_text(
        "kind: Label\nname: team:growth\nspec: {}\n---\n"
        "kind: TrackingPlan\nname: tp1\nspec:\n  rules: []\n")
    seg(root, "apply", "--auto-approve", code=0)
    (plan_name,) = [p["name"] for p in live(root, "tracking-plans")["tracking_plans"]]
    post(root, "sources", {"manager": "other", "source": {
        "name": "workspaces/acme/sources/othersrc", "catalog": "javascript",
        "labels": {"team": "growth"}, "tracking_plan": plan_name}})
    (root / "shared.yaml").unlink()
    plan = seg(root, "plan", code=3)
    assert "! Label team:growth" in plan and "! TrackingPlan tp1" in plan
    assert plan.count("it is in use by Source othersrc, which this plan keeps") == 2
    assert "0 to destroy" in plan
    seg(root, "apply", "--auto-approve", code=3)
    assert live(root, "labels/team:growth")["manager"] == "growth"
    assert [p["external_id"] for p in live(root, "tracking-plans")["tracking_plans"]] == ["tp1"]
