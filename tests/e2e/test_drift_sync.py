"""Two-way sync (issue 20) on real git repositories against `seg serve`, with `seg` as a
process: a second token edits the workspace through the API as the web app would; `seg drift`
names each change with its author, `seg sync` writes it back — only the affected lines, comments
kept byte for byte —, conflicts are left alone (exit 3), variables and overlays are respected,
`--branch --commit` makes a commit listing each change, and sync → apply → drift is empty."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import git
import httpx
import pytest

from tests.e2e.processes import Server, run
from tests.git_repos import commit_all, new_repo

pytestmark = pytest.mark.e2e

SEG_YAML = """\
version: seg/v1
workspace: {slug}
vars: {{region: us}}
environments:
  prod:
    workspace: {slug}
    vars: {{region: eu}}
"""

WEB = """\
# The web site's source: owned by the web team.
kind: Source
name: web
spec:
  catalog: javascript   # analytics.js
  enabled: true
"""

DESTINATIONS = """\
# Where the web events go.
kind: Destination
name: amplitude
spec:
  source: web
  catalog: amplitude
  enabled: true   # keep on: the growth team reads it
  settings:
    # the key comes from CI
    api_key: ${env:AMPLITUDE_API_KEY}
    region: ${var:region}
---
# The warehouse hook.
kind: Destination
name: webhook
spec:
  source: web
  catalog: webhook
  connection_mode: cloud
  settings:
    url: https://hooks.example.com/segment   # the old endpoint
"""


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Server]:
    tmp = tmp_path_factory.mktemp("drift")
    srv = Server(f"sqlite:///{tmp / 'cp.db'}", tmp, "first")
    yield srv
    srv.stop()


class Setup:
    """A repository holding a workspace in `ws/`, applied once from a clean commit, and a
    second token ("ui-admin") for edits made outside seg."""

    def __init__(self, server: Server, tmp: Path, slug: str) -> None:
        made = run("server", "init", "--slug", slug, "-o", "json", env=server.env)
        assert made.returncode == 0, made.stderr
        self.slug = slug
        self.env = {**server.client_env(), "SEG_TOKEN": json.loads(made.stdout)["token"],
                    "AMPLITUDE_API_KEY": "amp-key-1", "XDG_CACHE_HOME": str(tmp / "cache")}
        other = run("server", "token", "create", "--slug", slug, "--scope", "workspace:write",
                    "--description", "ui-admin", env=server.env).stdout.strip()  # fmt: skip
        self.api = httpx.Client(base_url=f"{server.url}/v1beta/workspaces/{slug}",
                                headers={"Authorization": f"Bearer {other}"})  # fmt: skip
        self.repo_dir = tmp / "repo"
        self.root = self.repo_dir / "ws"
        (self.root / "sources").mkdir(parents=True)
        (self.root / "destinations").mkdir()
        (self.root / "seg.yaml").write_text(SEG_YAML.format(slug=slug))
        (self.root / "sources" / "web.yaml").write_text(WEB)
        (self.root / "destinations" / "web.yaml").write_text(DESTINATIONS)
        self.repo = new_repo(self.repo_dir, "the workspace")
        self.seg("apply", "--auto-approve")

    def seg(self, *args: str, code: int = 0, env: str | None = None
            ) -> subprocess.CompletedProcess[str]:  # fmt: skip
        extra = ("--env", env) if env else ()
        done = run(*args, "-w", str(self.root), *extra, env=self.env)
        assert done.returncode == code, done.stdout + done.stderr
        assert "Traceback" not in done.stderr
        return done

    def patch(self, path: str, kind: str, fields: dict, mask: list[str]) -> None:
        r = self.api.patch(path, json={kind: fields, "update_mask": {"paths": mask}})
        assert r.status_code == 200, r.text

    def name(self, rel: str) -> str:
        return f"workspaces/{self.slug}/{rel}"

    def drift(self, code: int = 2, env: str | None = None) -> dict:
        return json.loads(self.seg("drift", "-o", "json", code=code, env=env).stdout)


@pytest.fixture
def ws(server: Server, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Setup]:
    slug = "d-" + request.node.name.removeprefix("test_").replace("_", "-")[:40]
    setup = Setup(server, tmp_path, slug)
    yield setup
    setup.api.close()


def unchanged_lines(before: str, after: str, changed: set[int]) -> None:
    """Every line of ``before`` except those numbered in ``changed`` (1-based) is in
    ``after`` byte for byte, in order."""
    a, b = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(a) == len(b), (before, after)
    for n, (x, y) in enumerate(zip(a, b, strict=True), 1):
        if n not in changed:
            assert x == y, (n, x, y)


def test_each_kind_of_change_is_found_synced_and_the_round_trip_is_empty(ws: Setup) -> None:
    assert ws.drift(code=0)["drift"] == []  # just applied: nothing drifted
    ws.patch("/sources/web/destinations/webhook", "destination",
             {"settings": {"url": "https://hooks.example.com/v2"}}, ["destination.settings.url"])
    ws.patch("/sources/web", "source", {"enabled": False}, ["source.enabled"])
    r = ws.api.post("/sources", json={"source": {"name": ws.name("sources/ios"), "catalog": "ios"}})
    assert r.status_code == 200, r.text
    report = ws.drift()
    found = {(d["kind"], d["address"], d["change"]): d for d in report["drift"]}
    assert set(found) == {("destination", "web/webhook", "changed"),
                          ("source", "web", "changed"), ("source", "ios", "created")}
    (url,) = found["destination", "web/webhook", "changed"]["fields"]
    assert url["path"] == "settings.url" and url["live"] == "https://hooks.example.com/v2"
    assert url["declared"] == "https://hooks.example.com/segment" and url["who"] == "ui-admin"
    assert url["when"] and report["since"]["git_revision"] == ws.repo.head.commit.hexsha
    assert found["source", "ios", "created"]["who"] == "ui-admin"
    text = ws.seg("drift", code=2).stdout
    assert "settings.url: \"https://hooks.example.com/v2\" on the control plane" in text
    assert "by ui-admin" in text

    web_before = (ws.root / "sources" / "web.yaml").read_text()
    dst_before = (ws.root / "destinations" / "web.yaml").read_text()
    synced = ws.seg("sync")
    assert "wrote sources/ios.yaml" in synced.stdout
    web_after = (ws.root / "sources" / "web.yaml").read_text()
    dst_after = (ws.root / "destinations" / "web.yaml").read_text()
    unchanged_lines(web_before, web_after, {6})
    assert web_after.splitlines()[5] == "  enabled: false"
    unchanged_lines(dst_before, dst_after, {21})
    assert dst_after.splitlines()[20] == ("    url: https://hooks.example.com/v2   # the old "
                                          "endpoint")  # fmt: skip
    assert "kind: Source\nname: ios\n" in (ws.root / "sources" / "ios.yaml").read_text()

    # the round trip: the tree now declares what the control plane holds
    plan = ws.seg("plan", "--detailed-exitcode", code=2)  # the new source is adopted, no more
    assert "Plan: 1 to adopt, 0 to add, 0 to change, 0 to destroy." in plan.stdout
    commit_all(ws.repo, "adopt the drift")
    ws.seg("apply", "--auto-approve")
    assert ws.drift(code=0)["drift"] == []
    ws.seg("plan", "--detailed-exitcode")


def test_a_deleted_resource_loses_its_document_and_nothing_else(ws: Setup) -> None:
    assert ws.api.delete("/sources/web/destinations/webhook").status_code == 200
    report = ws.drift()
    assert [(d["address"], d["change"], d["who"]) for d in report["drift"]] == [
        ("web/webhook", "deleted", "ui-admin")]
    ws.seg("sync")
    text = (ws.root / "destinations" / "web.yaml").read_text()
    assert "webhook" not in text
    assert text == DESTINATIONS.split("---\n")[0]
    ws.seg("plan", "--detailed-exitcode")
    commit_all(ws.repo, "adopt")
    ws.seg("apply", "--auto-approve")
    ws.drift(code=0)


def test_a_field_changed_in_git_and_on_the_control_plane_is_a_conflict(ws: Setup) -> None:
    path = ws.root / "destinations" / "web.yaml"
    path.write_text(path.read_text().replace("segment   # the old", "git-side   # the old"))
    commit_all(ws.repo, "a new endpoint in git")  # not applied yet
    ws.patch("/sources/web/destinations/webhook", "destination",
             {"settings": {"url": "https://hooks.example.com/ui-side"}},
             ["destination.settings.url"])
    ws.patch("/sources/web", "source", {"enabled": False}, ["source.enabled"])
    before = path.read_text()
    report = ws.drift()
    assert report["summary"]["conflicts"] == 1
    synced = ws.seg("sync", code=3)
    assert path.read_text() == before  # nothing written for the conflicting field
    assert "enabled: false" in (ws.root / "sources" / "web.yaml").read_text()  # the rest is
    line = next(x for x in synced.stderr.splitlines() if "settings.url" in x)
    assert '"https://hooks.example.com/git-side"' in line and "by seg tests" in line
    assert '"https://hooks.example.com/ui-side"' in line and "by ui-admin" in line


def test_a_value_from_a_variable_is_a_conflict_not_a_literal(ws: Setup) -> None:
    ws.patch("/sources/web/destinations/amplitude", "destination",
             {"settings": {"region": "eu"}}, ["destination.settings.region"])
    before = (ws.root / "destinations" / "web.yaml").read_text()
    synced = ws.seg("sync", code=3)
    assert "${var:" in synced.stderr and "settings.region" in synced.stderr
    assert (ws.root / "destinations" / "web.yaml").read_text() == before


def test_a_secret_changed_outside_is_reported_never_written(ws: Setup) -> None:
    ws.patch("/sources/web/destinations/amplitude", "destination",
             {"settings": {"api_key": "rotated-in-the-ui"}}, ["destination.settings.api_key"])
    report = ws.drift()
    (res,) = report["drift"]
    (field,) = res["fields"]
    assert field["path"] == "settings.api_key" and field["live"] == "(sensitive)"
    synced = ws.seg("sync", code=3)
    assert "rotated-in-the-ui" not in synced.stdout + synced.stderr
    assert "${env:AMPLITUDE_API_KEY}" in (ws.root / "destinations" / "web.yaml").read_text()


def test_an_overlay_is_edited_where_the_value_comes_from(ws: Setup) -> None:
    overlay = ws.root / "envs" / "prod" / "web.yaml"
    overlay.parent.mkdir(parents=True)
    overlay.write_text("# prod runs the v1 hook\nkind: Destination\nname: webhook\nspec:\n"
                       "  source: web\n  settings:\n    url: https://prod.example.com/v1\n")
    commit_all(ws.repo, "a prod overlay")
    ws.seg("apply", "--auto-approve", env="prod")
    ws.patch("/sources/web/destinations/webhook", "destination",
             {"settings": {"url": "https://prod.example.com/v2"}}, ["destination.settings.url"])
    base_before = (ws.root / "destinations" / "web.yaml").read_text()
    ws.seg("sync", env="prod")
    assert (ws.root / "destinations" / "web.yaml").read_text() == base_before
    assert overlay.read_text().endswith("    url: https://prod.example.com/v2\n")
    assert overlay.read_text().startswith("# prod runs the v1 hook\n")
    ws.seg("plan", "--detailed-exitcode", env="prod")


def test_branch_and_commit_list_each_change_with_its_author(ws: Setup) -> None:
    ws.patch("/sources/web", "source", {"enabled": False}, ["source.enabled"])
    main = ws.repo.head.commit.hexsha
    synced = ws.seg("sync", "--branch", "seg/drift", "--commit")
    assert "committed" in synced.stdout
    repo = git.Repo(ws.repo_dir)
    assert repo.active_branch.name == "seg/drift"
    commit = repo.head.commit
    assert commit.parents[0].hexsha == main and repo.heads.main.commit.hexsha == main
    assert "source web: enabled = false (by ui-admin at " in commit.message
    assert commit.message.startswith("seg sync: adopt 1 change made outside git")
    assert sorted(commit.stats.files) == ["ws/sources/web.yaml"]
    assert not repo.is_dirty(untracked_files=True)
    # a second run recreates the branch from where it is asked to start
    repo.heads.main.checkout()
    ws.seg("sync", "--branch", "seg/drift", "--commit")
    assert repo.head.commit.parents[0].hexsha == main


def test_sync_with_uncommitted_changes_refuses_to_commit(ws: Setup) -> None:
    (ws.root / "sources" / "web.yaml").write_text(WEB + "# local note\n")
    done = ws.seg("sync", "--commit", code=1)
    assert "uncommitted changes" in done.stderr
