"""The live state kept between runs, against a real control plane in-process (SQLite and
PostgreSQL): a warm read asks one question when nothing changed, fetches only what another
client changed, lists a kind again when that is cheaper, reads everything again when the log
cannot answer or the history or the caller's access changed — and always returns exactly
what a full read returns (the same resources, in the same order, with the same ids of
id-prefixed kinds)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest

from seg.client import http
from seg.client.http import ControlPlaneClient
from seg.client.state_cache import StateCache, cache_disabled, read_live_state
from seg.model.resource import CurrentResource
from seg.store.sql import SqlStore, workspace_history
from tests.conftest import Api

pytestmark = pytest.mark.usefixtures("own_cache_key")


@pytest.fixture
def root(tmp_path: Path) -> Path:
    path = tmp_path / "ws"
    path.mkdir()
    return path


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    return dict(response.json()) if response.content else {}


def full(api: Api) -> tuple[list[CurrentResource], dict[tuple[str, str], str]]:
    client = api.seg_client()
    return client.read_state(), dict(client._names)


def warm(api: Api, root: Path, token: str | None = None
         ) -> tuple[list[CurrentResource], dict[tuple[str, str], str], int]:  # fmt: skip
    token = token or api.owner_token
    client = ControlPlaneClient(api.client(token), api.workspace)
    cache = StateCache(root, "http://embedded", api.workspace, token)
    state = read_live_state(client, cache)
    return state, dict(client._names), client.request_count


def same_as_full(api: Api, root: Path, token: str | None = None) -> int:
    """Read through the cache, check it equals a full read; the requests it took."""
    state, names, count = warm(api, root, token)
    assert (state, names) == full(api)
    return count


def populate(api: Api, sources: int = 3) -> None:
    for i in range(sources):
        ok(api.create_source(f"s{i:02}"))
        ok(api.create_destination(f"s{i:02}", "amp", settings={"api_key": f"k{i}"}))
    ok(api.http.post(api.url("/tracking-plans"),
                     json={"tracking_plan": {"external_id": "tp", "rules": []}}))  # fmt: skip


def test_a_warm_read_of_an_unchanged_workspace_is_one_request(api: Api, root: Path) -> None:
    populate(api)
    cold = same_as_full(api, root)
    assert cold > 2  # the revision, then every kind's list
    assert list((root / ".seg" / "cache" / "state").iterdir())
    assert same_as_full(api, root) == 1  # GET …/changes: nothing changed
    assert same_as_full(api, root) == 1


def test_what_another_client_changed_is_always_seen(api: Api, root: Path) -> None:
    populate(api)
    same_as_full(api, root)
    other = api.client(api.token("workspace:write", "another apply"))
    ok(other.post(api.url("/sources"), json={"source": {
        "name": f"workspaces/{api.workspace}/sources/a-first", "catalog": "javascript"}}))
    ok(other.post(api.url("/sources"), json={"source": {
        "name": f"workspaces/{api.workspace}/sources/s01a", "catalog": "javascript"}}))
    ok(other.patch(api.url("/sources/s00/destinations/amp"),
                   json={"destination": {"enabled": False},
                         "update_mask": {"paths": ["destination.enabled"]}}))  # fmt: skip
    ok(other.delete(api.url("/sources/s02/destinations/amp")))
    plan = ok(other.post(api.url("/tracking-plans"),
                         json={"tracking_plan": {"external_id": "tp2", "rules": []}}))  # fmt: skip
    assert same_as_full(api, root) <= 8  # the changes, and one GET per changed resource
    # a delete, and a change made while the cache is warm, are seen by the next read
    ok(other.delete(f"/v1beta/{plan['name']}"))
    ok(other.delete(api.url("/sources/s02")))
    assert same_as_full(api, root) == 1 + 0  # deletes need no GET
    ok(other.patch(api.url("/sources/s01"), json={"source": {"enabled": False},
                                                  "update_mask": {"paths": ["source.enabled"]}}))
    assert same_as_full(api, root) == 2


def test_many_changes_of_a_kind_list_it_again(api: Api, root: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    monkeypatch.setattr(http, "PAGE_SIZE", 5)
    for i in range(12):
        ok(api.create_source(f"s{i:02}"))
    same_as_full(api, root)
    for i in range(4):  # 4 GETs, or 3 pages of sources: the list
        ok(api.http.patch(api.url(f"/sources/s{i:02}"), json={
            "source": {"enabled": False}, "update_mask": {"paths": ["source.enabled"]}}))
    assert same_as_full(api, root) == 1 + 3


def test_a_warm_read_does_not_grow_with_the_workspace(api: Api, root: Path,
                                                      monkeypatch: pytest.MonkeyPatch
                                                      ) -> None:  # fmt: skip
    monkeypatch.setattr(http, "PAGE_SIZE", 5)
    populate(api, 4)
    small_cold, small_warm = same_as_full(api, root), same_as_full(api, root)
    for i in range(4, 24):
        ok(api.create_source(f"s{i:02}"))
        ok(api.create_destination(f"s{i:02}", "amp"))
    (root / "other").mkdir()  # another tree: a cold cache
    big_cold, big_warm = same_as_full(api, root / "other"), same_as_full(api, root / "other")
    assert big_cold > small_cold + 6  # a full read grows with the pages…
    assert small_warm == big_warm == 1  # …a warm one does not


def test_a_410_reads_everything_again(api: Api, root: Path, store: SqlStore) -> None:
    populate(api)
    cold = same_as_full(api, root)
    ok(api.create_source("later"))
    with store.tx() as tx:  # as if the log had been pruned past the cached revision
        revision = tx.history(api.workspace).revision  # type: ignore[union-attr]
        tx.conn.execute(workspace_history.update()
                        .where(workspace_history.c.workspace == api.workspace)
                        .values(floor=revision))  # fmt: skip
    assert same_as_full(api, root) == cold + 1  # the 410, then the whole read
    assert same_as_full(api, root) == 1


def test_another_epoch_reads_everything_again(api: Api, root: Path, store: SqlStore) -> None:
    """A restored backup: the revision may even be the same, the history is not."""
    populate(api)
    cold = same_as_full(api, root)
    with store.tx() as tx:
        tx.conn.execute(workspace_history.update()
                        .where(workspace_history.c.workspace == api.workspace)
                        .values(epoch="f" * 32))  # fmt: skip
    assert same_as_full(api, root) == cold + 1


def test_a_change_of_a_users_access_reads_everything_again(api: Api, root: Path) -> None:
    ok(api.http.post(api.url("/labels"),
                     json={"label": {"name": f"workspaces/{api.workspace}/labels/team:mine"}}))
    ok(api.create_source("mine", labels={"team": "mine"}))
    ok(api.create_source("theirs"))
    body = {"name": f"workspaces/{api.workspace}/role-bindings/sam", "subject": {"user": "sam@x.io"},
            "role": "source_read_only", "scope": {"labels": {"team": "mine"}}}  # fmt: skip
    ok(api.http.post(api.url("/role-bindings"), json={"role_binding": body}))
    sam = api.cp.workspaces.create_token(api.workspace, "workspace:read", "sam", "sam@x.io")[1]

    def sources() -> list[str]:
        state, _, _ = warm(api, root, sam)
        return sorted(r.address for r in state if r.kind.name == "Source")

    assert sources() == ["mine"]
    # the binding's change is hidden from sam, and the sources did not change: only the
    # access digest tells
    ok(api.http.patch(api.url("/role-bindings/sam"), json={
        "role_binding": {"scope": "workspace"}, "update_mask": {"paths": ["role_binding.scope"]}}))
    assert sources() == ["mine", "theirs"]


def test_seg_no_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    for value, off in (("1", True), ("yes", True), ("0", False), ("", False), ("false", False)):
        monkeypatch.setenv("SEG_NO_CACHE", value)
        assert cache_disabled() is off
