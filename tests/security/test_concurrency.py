"""Races against two `seg serve` processes on one database (PostgreSQL, and one SQLite file):
`If-Match` lets exactly one of several writers win, rule changes are never lost, and deleting
a parent while children are created leaves no orphans — with no 5xx, ever, and exactly one
audit event per successful write."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import Server, database_for

pytestmark = pytest.mark.e2e

WRITERS = 8
ETAG_ROUNDS = 40
RULE_ROUNDS = 5
PARENT_ROUNDS = 20


class Pair:
    """Two servers on one database, and a client for each (requests alternate between them)."""

    def __init__(self, database: str, tmp: Path, slug: str) -> None:
        self.slug = slug
        self.servers = [Server(database, tmp, slug)]
        self.servers.append(Server(database, tmp, slug, init=False))
        headers = {"Authorization": f"Bearer {self.servers[0].token}"}
        limits = httpx.Limits(max_connections=WRITERS)
        self.clients = [httpx.Client(base_url=f"{s.url}/v1beta/workspaces/{slug}",
                                     headers=headers, limits=limits, timeout=60)
                        for s in self.servers]  # fmt: skip
        self.statuses: list[int] = []

    def call(self, i: int, method: str, path: str, **kw: object) -> httpx.Response:
        response = self.clients[i % 2].request(method, path, **kw)  # type: ignore[arg-type]
        self.statuses.append(response.status_code)
        return response

    def race(self, calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
        """Run ``calls`` at once (a barrier releases them together)."""
        barrier = threading.Barrier(len(calls))

        def go(call: Callable[[], httpx.Response]) -> httpx.Response:
            barrier.wait(timeout=30)
            return call()

        with ThreadPoolExecutor(len(calls)) as pool:
            return list(pool.map(go, calls))

    def audit(self) -> list[dict]:
        events = self.call(0, "GET", "/audit-events", params={"page_size": 1000}).json()
        assert not events["next_page_token"]
        return list(events["audit_events"])

    def logs(self) -> str:
        return "".join(Path(s.log.name).read_text() for s in self.servers)

    def close(self) -> None:
        for client in self.clients:
            client.close()
        for server in self.servers:
            server.stop()


@pytest.fixture(
    scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)]
)
def pair(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
         ) -> Iterator[Pair]:  # fmt: skip
    import secrets

    tmp = tmp_path_factory.mktemp(request.param)
    both = Pair(database_for(request, tmp), tmp, "c" + secrets.token_hex(5))
    yield both
    both.close()
    assert all(status < 500 for status in both.statuses), Counter(both.statuses)
    assert "Traceback" not in both.logs()


def error_code(response: httpx.Response) -> tuple[int, int]:
    return response.status_code, response.json().get("code", 0)


def test_if_match_lets_exactly_one_concurrent_patch_win(pair: Pair) -> None:
    made = pair.call(0, "POST", "/sources", json={"source": {"name": f"workspaces/{pair.slug}"
                     "/sources/race", "catalog": "javascript"}})  # fmt: skip
    assert made.status_code == 200, made.text
    etag = made.json()["etag"]
    for round_ in range(ETAG_ROUNDS):

        def patch(writer: int, etag: str = etag, round_: int = round_) -> httpx.Response:
            body = {"source": {"settings": {"cookie_domain": f"{round_}-{writer}"}},
                    "update_mask": {"paths": ["source.settings.cookie_domain"]}}  # fmt: skip
            return pair.call(writer, "PATCH", "/sources/race", json=body,
                             headers={"If-Match": f'"{etag}"'})  # fmt: skip

        results = pair.race([lambda w=w: patch(w) for w in range(WRITERS)])
        winners = [r for r in results if r.status_code == 200]
        losers = [error_code(r) for r in results if r.status_code != 200]
        assert len(winners) == 1, (round_, [r.status_code for r in results])
        assert losers == [(412, 10)] * (WRITERS - 1), losers
        now = pair.call(0, "GET", "/sources/race").json()
        assert now["etag"] == winners[0].json()["etag"] != etag
        assert now["settings"] == winners[0].json()["settings"]  # the winner's write stands
        etag = now["etag"]
    patches = [e for e in pair.audit() if e["method"] == "PATCH"
               and e["resource"].endswith("/sources/race")]  # fmt: skip
    assert len(patches) == ETAG_ROUNDS  # one audit event per successful write, no more


def test_concurrent_unconditional_patches_lose_no_update(pair: Pair) -> None:
    """Without If-Match every PATCH wins, one after the other: each writes its own key and
    none erases another's (the losers of the conditional write rerun on the fresh row)."""
    body = {"source": {"name": f"workspaces/{pair.slug}/sources/keys", "catalog": "javascript"}}
    assert pair.call(0, "POST", "/sources", json=body).status_code == 200

    def patch(writer: int) -> httpx.Response:
        # distinct keys of one object-typed setting
        body = {"source": {"settings": {"consent_settings": {f"k{writer}": writer}}},
                "update_mask": {"paths": [f"source.settings.consent_settings.k{writer}"]}}  # fmt: skip
        return pair.call(writer, "PATCH", "/sources/keys", json=body)

    results = pair.race([lambda w=w: patch(w) for w in range(WRITERS)])
    assert [r.status_code for r in results] == [200] * WRITERS, [r.text for r in results]
    settings = pair.call(1, "GET", "/sources/keys").json()["settings"]
    assert settings == {"consent_settings": {f"k{w}": w for w in range(WRITERS)}}


def test_concurrent_rule_changes_are_all_kept(pair: Pair) -> None:
    body = {"tracking_plan": {"external_id": "race", "rules": []}}
    made = pair.call(0, "POST", "/tracking-plans", json=body)
    assert made.status_code == 200, made.text
    rules_path = "/tracking-plans/" + made.json()["name"].rsplit("/", 1)[1] + "/rules"
    schema = {"type": "object"}
    expected: set[str] = set()
    for round_ in range(RULE_ROUNDS):

        def add(writer: int, round_: int = round_) -> httpx.Response:
            rule = {"type": "TRACK", "key": f"e{round_}-{writer}", "version": 1,
                    "json_schema": schema}  # fmt: skip
            return pair.call(writer, "PATCH", rules_path, json={"rules": [rule]})

        results = pair.race([lambda w=w: add(w) for w in range(WRITERS)])
        assert [r.status_code for r in results] == [200] * WRITERS, [r.text for r in results]
        expected |= {f"e{round_}-{w}" for w in range(WRITERS)}
        rules = pair.call(round_, "GET", rules_path).json()["rules"]
        assert {r["key"] for r in rules} == expected  # no rule update lost
        assert len(rules) == len(expected)
    events = [e for e in pair.audit() if e["resource"].endswith(rules_path.split("/", 2)[2])]
    assert len(events) == RULE_ROUNDS * WRITERS


def test_deleting_a_parent_while_children_are_created_leaves_no_orphans(pair: Pair) -> None:
    creates = deletes = 0
    for round_ in range(PARENT_ROUNDS):
        source = f"p{round_}"
        body = {"source": {"name": f"workspaces/{pair.slug}/sources/{source}",
                           "catalog": "javascript"}}  # fmt: skip
        assert pair.call(0, "POST", "/sources", json=body).status_code == 200

        def child(writer: int, source: str = source) -> httpx.Response:
            name = f"workspaces/{pair.slug}/sources/{source}/destinations/d{writer}"
            body = {"destination": {"name": name, "catalog": "amplitude"}}
            return pair.call(writer, "POST", f"/sources/{source}/destinations", json=body)

        def remove(source: str = source, server: int = round_) -> httpx.Response:
            return pair.call(server, "DELETE", f"/sources/{source}")

        results = pair.race([remove, *(lambda w=w: child(w) for w in range(1, 4))])
        deleted, made = results[0], results[1:]
        assert error_code(deleted) in ((200, 0), (409, 9)), deleted.text
        for response in made:  # never a false "already exists", never a 5xx
            assert error_code(response) in ((200, 0), (404, 5)), response.text
        live = pair.call(1, "GET", f"/sources/{source}")
        children = pair.call(0, "GET", "/sources/-/destinations", params={"page_size": 1000})
        mine = [d["name"] for d in children.json()["destinations"]
                if d["name"].split("/")[3] == source]  # fmt: skip
        if deleted.status_code == 200:
            assert live.status_code == 404 and mine == []
            assert all(r.status_code == 404 for r in made)
        else:
            assert live.status_code == 200 and mine  # refused because a child exists
            assert "in use" in deleted.json()["error"]
        assert len(mine) == sum(r.status_code == 200 for r in made)
        creates += len(mine)
        deletes += deleted.status_code == 200
    sources = {s["name"] for s in pair.call(0, "GET", "/sources").json()["sources"]}
    every = pair.call(1, "GET", "/sources/-/destinations", params={"page_size": 1000}).json()
    assert all(d["name"].rsplit("/destinations/", 1)[0] in sources
               for d in every["destinations"])  # no orphans  # fmt: skip
    events = [e for e in pair.audit() if "/sources/p" in e["resource"]]
    assert sum(e["method"] == "DELETE" for e in events) == deletes
    assert sum(e["method"] == "POST" and "/destinations/" in e["resource"]
               for e in events) == creates  # fmt: skip
