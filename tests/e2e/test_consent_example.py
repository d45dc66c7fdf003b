"""Issue 15's done-when for consent categories, as processes on SQLite and PostgreSQL: the
protocols example (three categories on the shop's destinations) applied against `seg serve`,
planned again to no changes, exported, and the export planned back to no changes."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.e2e.processes import Server, run
from tests.repo_files import copy_repo_dir

pytestmark = pytest.mark.e2e

SECRETS = {"AMPLITUDE_API_KEY": "ex15-amp-k3y", "BRAZE_API_KEY": "ex15-braze-k3y"}
OWNERS = {"shop/amplitude": "AMPLITUDE_API_KEY", "shop/braze": "BRAZE_API_KEY"}


def test_consent_categories_apply_and_export_back(server: Server, tmp_path: Path,
                                                  slug: str) -> None:  # fmt: skip
    root = copy_repo_dir("examples/protocols", tmp_path / "protocols")
    config = (root / "seg.yaml").read_text()
    (root / "seg.yaml").write_text(config.replace("workspace: protocols", f"workspace: {slug}"))
    env = server.client_env(**SECRETS)
    applied = run("apply", "-w", str(root), "--auto-approve", env=env)
    assert applied.returncode == 0, applied.stdout + applied.stderr
    assert run("plan", "-w", str(root), "--detailed-exitcode", env=env).returncode == 0
    live = server.get(f"workspaces/{slug}/consent-categories/Advertising")
    assert sorted(live["destinations"]) == ["shop/braze", "shop/google-ads"]
    assert live["enabled"] is True

    out = tmp_path / "exported"
    done = run("export", "-w", str(out), "--slug", slug, env=env)
    assert done.returncode == 0, done.stderr
    names = {}
    for line in (out / "secrets.env.example").read_text().splitlines()[1:]:
        var, where = line.split("=  # ")
        names[var] = SECRETS[OWNERS[where.split()[0]]]
    exported = {p.name: yaml.safe_load(p.read_text())
                for p in (out / "consent-categories").iterdir()}  # fmt: skip
    assert sorted(exported) == ["Advertising.yaml", "Analytics.yaml", "Functional.yaml"]
    assert exported["Functional.yaml"]["spec"]["destinations"] == ["shop/braze"]
    plan = run("plan", "-w", str(out), "--detailed-exitcode", env={**env, **names})
    assert plan.returncode == 0, plan.stdout + plan.stderr
