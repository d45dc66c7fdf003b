"""`seg plan --missing-secrets=skip` as a process (for pull requests that get no secrets):
everything else is planned, the values without a variable are marked not compared, and such
a plan is never applied."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.repo_workspace import clean_env, seg
from tests.e2e.secret_workspace import DESTINATIONS, SECRETS, SOURCES, write

pytestmark = pytest.mark.e2e


@pytest.fixture
def root(tmp_path: Path) -> Path:
    return write(tmp_path / "ws", {"sources.yaml": SOURCES, "destinations.yaml": DESTINATIONS})


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return clean_env(tmp_path)  # no AMP_KEY, no HOOK_TOKEN


def test_skip_plans_everything_else_and_marks_the_values_not_compared(root: Path, env) -> None:
    assert seg(root, "apply", "--auto-approve", env={**env, **SECRETS}).returncode == 0
    dest = root / "destinations.yaml"
    dest.write_text(dest.read_text().replace("region: eu", "region: us"))
    (root / "more.yaml").write_text("kind: Destination\nname: new\nspec:\n  source: web\n"
                                    "  catalog: klaviyo\n  settings: {api_key: '${env:NEW_PW}'}\n")  # fmt: skip

    text = seg(root, "plan", "--missing-secrets=skip", env=env)
    assert text.returncode == 0, text.stderr
    out = text.stdout
    assert "~ Destination web/amplitude" in out
    assert "settings.region: \"eu\" → \"us\"" in out
    assert "update_mask: destination.settings.region\n" in out  # the secret is not sent
    assert "not compared (variable not set): settings.api_key" in out
    assert "+ Destination web/new" in out
    assert "+ settings.api_key: (not compared: variable not set)" in out
    assert "Not compared (--missing-secrets=skip; not set: AMP_KEY, HOOK_TOKEN, NEW_PW):" in out
    assert "  web/hook: settings.shared_secret" in out
    assert out.rstrip().endswith(
        "Plan: 1 to add, 1 to change, 0 to destroy. 3 values not compared (not set: AMP_KEY, "
        "HOOK_TOKEN, NEW_PW); this plan cannot be applied."
    )
    assert "${env:" not in out

    data = json.loads(seg(root, "plan", "--missing-secrets=skip", "-o", "json", env=env).stdout)
    assert data["missing_variables"] == ["AMP_KEY", "HOOK_TOKEN", "NEW_PW"]
    assert data["not_compared"] == [
        {"address": "web/amplitude", "path": "settings.api_key"},
        {"address": "web/hook", "path": "settings.shared_secret"},
        {"address": "web/new", "path": "settings.api_key"},
    ]
    changes = {c["address"]: c for c in data["changes"]}
    assert changes["web/amplitude"]["update_mask"] == ["destination.settings.region"]
    assert changes["web/amplitude"]["not_compared"] == ["settings.api_key"]
    assert changes["web/new"]["action"] == "create"

    markdown = seg(root, "plan", "--missing-secrets=skip", "-o", "markdown", env=env).stdout
    assert "- <code>web/hook</code> <code>settings.shared_secret</code>: not compared" in markdown
    assert "# not compared (variable not set): settings.api_key" in markdown
    detailed = seg(root, "plan", "--missing-secrets=skip", "--detailed-exitcode", env=env)
    assert detailed.returncode == 2


def test_a_plan_saved_with_skip_is_never_applied(root: Path, env, tmp_path: Path) -> None:
    assert seg(root, "apply", "--auto-approve", env={**env, **SECRETS}).returncode == 0
    dest = root / "destinations.yaml"
    dest.write_text(dest.read_text().replace("region: eu", "region: us"))
    planfile = tmp_path / "plan.json"
    saved = seg(root, "plan", "--missing-secrets=skip", "--out", str(planfile), env=env)
    assert saved.returncode == 0, saved.stderr
    assert json.loads(planfile.read_text())["options"]["missing_secrets"] == "skip"
    applied = seg(root, "apply", str(planfile), env={**env, **SECRETS})
    assert applied.returncode == 4  # stale: it needs a fresh plan and review
    (line,) = applied.stderr.strip().splitlines()
    assert line == (
        "error: this saved plan was made with --missing-secrets=skip (not set: AMP_KEY, "
        "HOOK_TOKEN) and did not compare those values; it cannot be applied: run seg plan again "
        "and have the new plan reviewed, with them set"
    )
    fresh = json.loads(seg(root, "plan", "-o", "json", env={**env, **SECRETS}).stdout)
    assert [c["address"] for c in fresh["changes"]] == ["web/amplitude"]  # nothing was applied
