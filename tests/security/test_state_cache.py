"""Attacks on the live state seg keeps under .seg/cache/state: the tree is the attacker's (a
pull request can commit a cache file, or make the folder a symlink), and so is a server's
answer. A forged or foreign file is ignored, a symlink is never followed, one token's cache
never serves another, the files hold neither the token nor a secret value, and an answer of
/changes naming another workspace's resource or an unknown kind reads everything again."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import httpx
import pytest

from seg import localcache
from seg.client import http
from seg.client.http import ControlPlaneClient
from seg.client.state_cache import (
    FOLDER,
    STATE_PURPOSE,
    SecretAnswers,
    StateCache,
    read_live_state,
)
from seg.model.resource import CurrentResource
from tests.conftest import Api

SECRET = "amp-SECRET-value-5150"


pytestmark = pytest.mark.usefixtures("own_cache_key")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return dict(response.json())


def world(api: Api) -> None:
    ok(api.create_source("web"))
    ok(api.create_destination("web", "amp", settings={"api_key": SECRET}))


def cached_read(api: Api, root: Path, token: str | None = None,
                http: httpx.Client | None = None) -> list[CurrentResource]:  # fmt: skip
    token = token or api.owner_token
    client = ControlPlaneClient(http or api.client(token), api.workspace)
    return read_live_state(client, StateCache(root, "http://embedded", api.workspace, token))


def forged_state(api: Api) -> bytes:
    """A state claiming a source that does not exist, at the workspace's real revision."""
    head = ok(api.http.get(api.url("/changes")))
    items: dict[str, list[dict[str, Any]]] = {}
    client = api.seg_client()
    from seg.kinds import kinds_in_order

    for kind in kinds_in_order():
        items[kind.name] = client.list_items(kind)
    items["Source"].append({"name": f"workspaces/{api.workspace}/sources/planted",
                            "catalog": "javascript"})  # fmt: skip
    return json.dumps({"epoch": head["epoch"], "revision": head["revision"],
                       "access": head["access"], "items": items}).encode()  # fmt: skip


def test_a_forged_or_foreign_state_file_is_ignored(api: Api, root: Path, tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    world(api)
    name = StateCache(root, "http://embedded", api.workspace, api.owner_token).name
    # sealed by the attacker's own seg (another key), then committed into the tree
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "attacker-cache"))
    localcache._key.cache_clear()
    assert localcache.write(root, STATE_PURPOSE, forged_state(api), FOLDER, name)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "victim-cache"))
    localcache._key.cache_clear()
    state = cached_read(api, root)
    assert "planted" not in {r.address for r in state}
    assert state == api.seg_client().read_state()
    # a file that is not even sealed, and one cut short
    path = root / ".seg" / "cache" / FOLDER / name
    for blob in (forged_state(api), path.read_bytes()[:40]):
        path.write_bytes(blob)
        assert "planted" not in {r.address for r in cached_read(api, root)}


def test_a_symlinked_state_folder_is_never_followed(api: Api, root: Path,
                                                    tmp_path: Path) -> None:  # fmt: skip
    world(api)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / ".seg" / "cache").mkdir(parents=True)
    os.symlink(outside, root / ".seg" / "cache" / FOLDER)
    assert cached_read(api, root) == api.seg_client().read_state()
    assert list(outside.iterdir()) == []  # nothing written through the link


def test_one_tokens_cache_never_serves_another(api: Api, root: Path) -> None:
    ok(api.http.post(api.url("/labels"),
                     json={"label": {"name": f"workspaces/{api.workspace}/labels/team:mine"}}))
    ok(api.create_source("mine", labels={"team": "mine"}))
    ok(api.create_source("secret-project"))
    body = {"name": f"workspaces/{api.workspace}/role-bindings/sam", "subject": {"user": "sam@x.io"},
            "role": "source_read_only", "scope": {"labels": {"team": "mine"}}}  # fmt: skip
    ok(api.http.post(api.url("/role-bindings"), json={"role_binding": body}))
    sam = api.cp.workspaces.create_token(api.workspace, "workspace:read", "sam", "sam@x.io")[1]
    owner_view = cached_read(api, root)  # the owner's cache, in the same tree
    assert "secret-project" in {r.address for r in owner_view}
    sams = cached_read(api, root, sam)
    assert "secret-project" not in {r.address for r in sams}
    assert len(list((root / ".seg" / "cache" / FOLDER).iterdir())) == 2


def test_the_files_hold_neither_the_token_nor_a_secret_value(api: Api, root: Path) -> None:
    world(api)
    cache = StateCache(root, "http://embedded", api.workspace, api.owner_token)
    state = read_live_state(api.seg_client(), cache)
    (amp,) = [r for r in state if r.address == "web/amp"]
    live = amp.fields["settings"]["api_key"]
    answers = cache.answers()
    key = answers.key([("Destination", "web/amp", ("settings", "api_key"), SECRET, live)])
    assert key is not None and SECRET not in key
    answers.put(key, [True], ["server-digest"])
    assert answers.get(key) == ([True], ["server-digest"])
    other = answers.key([("Destination", "web/amp", ("settings", "api_key"), "guess", live)])
    assert other != key and answers.get(str(other)) is None  # another value: ask again
    files = list((root / ".seg" / "cache" / FOLDER).iterdir())
    assert len(files) == 2
    for path in files:
        blob = path.read_bytes()
        assert SECRET.encode() not in blob and api.owner_token.encode() not in blob
        assert path.stat().st_mode & 0o077 == 0


def test_a_forged_answers_file_is_ignored(api: Api, root: Path, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Answers claiming every secret matches, sealed elsewhere, are not believed."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "attacker-cache"))
    localcache._key.cache_clear()
    planted = SecretAnswers(root, "x.secrets")
    key = planted.key([("Destination", "web/amp", ("settings", "api_key"), "guess", "d")])
    assert key is not None
    planted.put(key, [True], ["d"])
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "victim-cache"))
    localcache._key.cache_clear()
    victim = SecretAnswers(root, "x.secrets")
    assert victim.get(key) is None
    mine = victim.key([("Destination", "web/amp", ("settings", "api_key"), "guess", "d")])
    assert mine != key and victim.get(str(mine)) is None


def _rewriting(api: Api, rewrite: dict[str, Any]) -> httpx.Client:
    """A client whose server answers /changes with ``rewrite``'s changes (a hostile or broken
    control plane), everything else as the real one does."""
    inner = api.transport

    def handle(request: httpx.Request) -> httpx.Response:
        response = inner.handle_request(request)
        if request.url.path.endswith("/changes") and "since" in request.url.params:
            response.read()
            body = {**response.json(), **rewrite}
            return httpx.Response(200, json=body)
        return response

    return httpx.Client(transport=httpx.MockTransport(handle), base_url="http://embedded",
                        headers={"Authorization": f"Bearer {api.owner_token}"})  # fmt: skip


@pytest.mark.parametrize("change", [
    {"name": "workspaces/elsewhere/sources/x", "kind": "Source", "operation": "update"},
    {"name": "workspaces/{ws}/sources/web", "kind": "NoSuchKind", "operation": "update"},
    {"name": "workspaces/{ws}/sources/web", "kind": "Source", "operation": "explode"},
    "not an object",
])  # fmt: skip
def test_an_odd_answer_of_changes_reads_everything_again(api: Api, root: Path,
                                                         change: Any) -> None:  # fmt: skip
    world(api)
    cached_read(api, root)
    ok(api.create_source("later"))
    if isinstance(change, dict):
        change = {**change, "name": change["name"].replace("{ws}", api.workspace)}
    state = cached_read(api, root, http=_rewriting(api, {"changes": [change]}))
    assert state == api.seg_client().read_state()
    assert "later" in {r.address for r in state}


def test_an_item_answered_under_another_name_is_not_cached_as_asked(
    api: Api, root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    world(api)
    for slug in ("a1", "a2"):
        ok(api.create_source(slug))
    monkeypatch.setattr(http, "PAGE_SIZE", 1)  # 3 pages of sources: one GET is cheaper
    cached_read(api, root)
    asked: list[str] = []
    ok(api.http.patch(api.url("/sources/web"), json={
        "source": {"enabled": False}, "update_mask": {"paths": ["source.enabled"]}}))
    inner = api.transport

    def handle(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/sources/web") and request.method == "GET":
            asked.append(request.url.path)
            lie = httpx.Request("GET", request.url.copy_with(path=request.url.path + "x"),
                                headers=request.headers)  # fmt: skip
            response = inner.handle_request(lie)
            response.read()
            if response.status_code == 404:  # answer as if it were another resource
                return httpx.Response(200, json={"name": f"workspaces/{api.workspace}/"
                                                         "sources/webx", "catalog": "javascript"})
            return response
        return inner.handle_request(request)

    client = httpx.Client(transport=httpx.MockTransport(handle), base_url="http://embedded",
                          headers={"Authorization": f"Bearer {api.owner_token}"})  # fmt: skip
    state = cached_read(api, root, http=client)
    assert asked  # the GET was made, and its answer not believed
    assert "webx" not in {r.address for r in state}
    assert state == api.seg_client().read_state()
