"""`seg diff --base/--head` between git revisions (no server), and environment overlays."""

from __future__ import annotations

import json
from pathlib import Path

import git
import pytest
from typer.testing import CliRunner

from seg.commands.app import app
from seg.errors import WorkspaceInvalid
from seg.workspace import load_workspace


def seg(*args: str):
    result = CliRunner().invoke(app, list(args))
    assert "Traceback" not in result.output
    return result


def _repo(path: Path) -> git.Repo:
    repo = git.Repo.init(path, initial_branch="main")
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", "t")
        cfg.set_value("user", "email", "t@example.com")
    return repo


def test_diff_between_revisions(tmp_path: Path, write_workspace, monkeypatch) -> None:
    monkeypatch.setenv("KEY", "s3cret")
    root = write_workspace({"a.yaml": "kind: Source\nname: web\nspec:\n  catalog: postgres\n"
                            "  settings: {host: eu, password: '${env:KEY}', database: a, port: 1}\n"},
                           root=tmp_path / "repo" / "ws")  # fmt: skip
    repo = _repo(tmp_path / "repo")
    repo.git.add("-A")
    repo.index.commit("base")
    assert seg("diff", "-w", str(root), "--base", "HEAD").exit_code == 0
    (root / "a.yaml").write_text("kind: Source\nname: web\nspec:\n  catalog: postgres\n"
                                 "  settings: {host: us, password: '${env:KEY}', database: a}\n---\n"
                                 "kind: Source\nname: ios\nspec: {catalog: ios}\n")  # fmt: skip
    repo.git.add("-A")
    repo.index.commit("head")
    result = seg("diff", "-w", str(root), "--base", "HEAD~1", "-o", "json")
    assert result.exit_code == 2, result.output
    changes = {c["address"]: c for c in json.loads(result.stdout)["changes"]}
    assert changes["ios"]["action"] == "create"
    assert changes["web"]["update_mask"] == ["source.settings.host", "source.settings.port"]
    assert "s3cret" not in result.stdout
    text = seg("diff", "-w", str(root), "--base", "HEAD~1").output
    assert "settings.port: 1 → (cleared)" in text
    assert seg("diff", "-w", str(root), "--base", "HEAD~1", "--head", "HEAD~1").exit_code == 0


def test_diff_between_revisions_with_a_secret_in_a_list(
    tmp_path: Path, write_workspace, monkeypatch
) -> None:
    monkeypatch.setenv("HOST", "h0st-s3cret")
    doc = ("kind: Source\nname: web\nspec:\n  catalog: javascript\n---\nkind: Destination\n"
           "name: amp\nspec:\n  source: web\n  catalog: amplitude\n"
           "  settings: {{traits_to_append: {hosts}, batch_size: {r}}}\n")
    root = write_workspace({"a.yaml": doc.format(hosts="[a, '${env:HOST}']", r=1)},
                           root=tmp_path / "repo" / "ws")  # fmt: skip
    repo = _repo(tmp_path / "repo")
    repo.git.add("-A")
    repo.index.commit("base")
    (root / "a.yaml").write_text(doc.format(hosts="[a, '${env:HOST}']", r=2))
    repo.git.add("-A")
    repo.index.commit("r")
    unchanged = seg("diff", "-w", str(root), "--base", "HEAD~1", "-o", "json")
    (change,) = json.loads(unchanged.stdout)["changes"]
    # the list secret is no change
    assert change["update_mask"] == ["destination.settings.batch_size"]
    (root / "a.yaml").write_text(doc.format(hosts="[a, '${env:OTHER}']", r=2))
    repo.git.add("-A")
    repo.index.commit("hosts")
    monkeypatch.setenv("OTHER", "other-s3cret")
    changed = seg("diff", "-w", str(root), "--base", "HEAD~1", "-o", "json")
    (change,) = json.loads(changed.stdout)["changes"]
    (fc,) = change["field_changes"]
    assert fc["path"] == "settings.traits_to_append" and fc["sensitive"]
    assert fc["after"] == "(sensitive)"
    assert "s3cret" not in unchanged.output + changed.output


def test_overlays_merge_by_address(write_workspace) -> None:
    seg_yaml = "version: seg/v1\nworkspace: a\nenvironments:\n  prod: {workspace: a-prod}\n"
    root = write_workspace({
        "s.yaml": "kind: Source\nname: web\nspec: {catalog: javascript, settings: {user_cookie_days: 1, cookie_domain: a}}\n",
        "envs/prod/s.yaml": "kind: Source\nname: web\nspec: {enabled: false, settings: {cookie_domain: b}}\n",
    }, seg_yaml=seg_yaml)  # fmt: skip
    (base,) = load_workspace(root, None, {}).resources
    assert dict(base.fields) == {"catalog": "javascript",
                                 "settings": {"user_cookie_days": 1, "cookie_domain": "a"}}
    (prod,) = load_workspace(root, "prod", {}).resources
    assert dict(prod.fields) == {"catalog": "javascript", "enabled": False,
                                 "settings": {"user_cookie_days": 1, "cookie_domain": "b"}}
    (root / "envs/prod/x.yaml").write_text("kind: Source\nname: nope\nspec: {}\n")
    with pytest.raises(WorkspaceInvalid) as info:
        load_workspace(root, "prod", {})
    assert "overlay for Source 'nope' matches no resource" in str(info.value.diagnostics[0])
