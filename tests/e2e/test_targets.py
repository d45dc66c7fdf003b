"""`seg plan/apply --target` as processes, on a copy of this repository's workspace/ against
its embedded control plane: unknown targets fail, a target brings what it depends on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.repo_workspace import clean_env, repo_workspace, seg

pytestmark = pytest.mark.e2e


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return repo_workspace(tmp_path)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return clean_env(tmp_path, AMPLITUDE_API_KEY="amp-key-for-targets")


def test_a_mistyped_target_is_an_error_with_a_did_you_mean(root: Path, env) -> None:
    for command in (("plan",), ("apply", "--auto-approve")):
        done = seg(root, *command, "--target", "wbe", env=env)
        assert done.returncode == 1, done.stdout + done.stderr
        (line,) = done.stderr.strip().splitlines()
        assert line == ("error: unknown target 'wbe': no resource in the workspace or on the "
                        "control plane has that address (did you mean 'web'?)")  # fmt: skip
        assert done.stdout == ""
    listed = seg(root, "plan", "-o", "json", env=env)
    assert len(json.loads(listed.stdout)["changes"]) == 6  # the apply wrote nothing


def test_a_target_brings_its_missing_source_and_applies_without_a_404(root: Path, env) -> None:
    text = seg(root, "plan", "--target", "web/amplitude", env=env)
    assert text.returncode == 0, text.stderr
    assert "+ Source web\n      (included: web/amplitude depends on it)\n" in text.stdout
    assert "+ Destination web/amplitude\n" in text.stdout
    assert "Plan (targeted: web/amplitude): 2 to add, 0 to change, 0 to destroy." in text.stdout
    assert "ios" not in text.stdout and "webhook" not in text.stdout

    data = json.loads(seg(root, "plan", "--target", "web/amplitude", "-o", "json",
                          env=env).stdout)  # fmt: skip
    assert data["targets"] == ["web/amplitude"]
    assert [(c["address"], c["action"], c["included_by"]) for c in data["changes"]] == [
        ("web", "create", ["web/amplitude"]),
        ("web/amplitude", "create", []),
    ]
    markdown = seg(root, "plan", "--target", "web/amplitude", "-o", "markdown", env=env).stdout
    assert "**Plan (targeted: web/amplitude): 2 to add" in markdown
    assert "<i>(included: web/amplitude depends on it)</i>" in markdown

    applied = seg(root, "apply", "--target", "web/amplitude", "--auto-approve", env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Plan (targeted: web/amplitude): 2 to add" in applied.stdout
    assert "Apply complete: 2 applied, 0 failed, 0 skipped." in applied.stdout

    again = seg(root, "plan", "--target", "web/amplitude", "--detailed-exitcode", env=env)
    assert again.returncode == 0, again.stdout
    assert again.stdout.strip() == (
        "No changes (targeted: web/amplitude). The targets match the configuration."
    )
    rest = json.loads(seg(root, "plan", "-o", "json", env=env).stdout)
    assert sorted(c["address"] for c in rest["changes"]) == [
        "backend", "ios", "ios/mixpanel", "web/webhook",
    ]  # fmt: skip


def test_a_saved_targeted_plan_applies_what_it_showed(root: Path, env, tmp_path: Path) -> None:
    planfile = tmp_path / "plan.json"
    saved = seg(root, "plan", "--target", "ios/mixpanel", "--out", str(planfile), env=env)
    assert saved.returncode == 0, saved.stderr
    data = json.loads(planfile.read_text())
    assert data["plan"]["targets"] == ["ios/mixpanel"]
    assert [c["address"] for c in data["plan"]["changes"]] == ["ios", "ios/mixpanel"]
    untargeted = seg(root, "apply", str(planfile), env=env)  # the file never chooses targets
    assert untargeted.returncode == 4 and "--target ios/mixpanel, not (none)" in untargeted.stderr
    applied = seg(root, "apply", "--target", "ios/mixpanel", str(planfile), env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert "Apply complete: 2 applied, 0 failed, 0 skipped." in applied.stdout
    rest = json.loads(seg(root, "plan", "-o", "json", env=env).stdout)
    assert sorted(c["address"] for c in rest["changes"]) == [
        "backend", "web", "web/amplitude", "web/webhook",
    ]  # fmt: skip


def test_a_live_only_address_is_a_valid_target(root: Path, env) -> None:
    assert seg(root, "apply", "--auto-approve", env=env).returncode == 0
    (root / "sources" / "backend.yaml").unlink()  # the source is now only on the control plane
    done = seg(root, "plan", "--target", "backend", env=env)
    assert done.returncode == 0, done.stderr
    assert "- Source backend" in done.stdout
    assert "Plan (targeted: backend): 0 to add, 0 to change, 1 to destroy." in done.stdout
