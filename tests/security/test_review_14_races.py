"""Review of issue 14 (attack): rules that read other resources, raced.

A function with instances cannot be deleted (409/9); a Free workspace holds one warehouse.
Each check reads other rows in its own transaction, so without a lock two writes can both pass
(write skew): the function goes while an instance naming it is created, or two warehouses are
created at once on a Free plan. Two ``seg serve`` processes on one database race such writes;
afterwards no instance names a missing function and the Free workspace holds one warehouse.
(The fix: every write first takes its workspace's write lock, ``StoreTx.lock_workspace``.)"""

from __future__ import annotations

import secrets
import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest

from tests.e2e.processes import Server, database_for

pytestmark = pytest.mark.e2e

ROUNDS = 12
CREATORS = 3
DEST = "async function onTrack(event) {\n  return event\n}\n"
SOURCE_FN = "async function onRequest(request, settings) {\n}\n"


class Pair:
    def __init__(self, database: str, tmp: Path, slug: str) -> None:
        self.slug = slug
        self.servers = [Server(database, tmp, slug)]
        self.servers.append(Server(database, tmp, slug, init=False))
        headers = {"Authorization": f"Bearer {self.servers[0].token}"}
        self.clients = [httpx.Client(base_url=f"{s.url}/v1beta/workspaces/{slug}",
                                     headers=headers, timeout=60) for s in self.servers]  # fmt: skip

    def call(self, i: int, method: str, path: str, **kw: object) -> httpx.Response:
        return self.clients[i % 2].request(method, path, **kw)  # type: ignore[arg-type]

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
    tmp = tmp_path_factory.mktemp(request.param)
    both = Pair(database_for(request, tmp), tmp, "r" + secrets.token_hex(5))
    yield both
    both.close()


def race(calls: list[Callable[[], httpx.Response]]) -> list[httpx.Response]:
    barrier = threading.Barrier(len(calls))

    def go(call: Callable[[], httpx.Response]) -> httpx.Response:
        barrier.wait(timeout=30)
        return call()

    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(go, calls))


def test_a_function_is_never_deleted_under_an_instance_created_meanwhile(pair: Pair) -> None:
    ws = f"workspaces/{pair.slug}"
    source = {"source": {"name": f"{ws}/sources/web", "catalog": "javascript"}}
    assert pair.call(0, "POST", "/sources", json=source).status_code == 200
    for round_ in range(ROUNDS):
        kind = "destination" if round_ % 2 else "source"
        fn = f"f{round_}"
        body = {"function": {"name": f"{ws}/functions/{fn}", "type": kind,
                             "code": DEST if kind == "destination" else SOURCE_FN}}  # fmt: skip
        made = pair.call(0, "POST", "/functions", json=body)
        assert made.status_code == 200, made.text

        def instance(writer: int, fn: str = fn, kind: str = kind,
                     round_: int = round_) -> httpx.Response:  # fmt: skip
            if kind == "source":
                body = {"source": {"name": f"{ws}/sources/s{round_}x{writer}",
                                   "catalog": f"function:{fn}"}}  # fmt: skip
                return pair.call(writer, "POST", "/sources", json=body)
            name = f"{ws}/sources/web/destinations/d{round_}x{writer}"
            body = {"destination": {"name": name, "function": fn}}
            return pair.call(writer, "POST", "/sources/web/destinations", json=body)

        def remove(fn: str = fn, round_: int = round_) -> httpx.Response:
            return pair.call(round_, "DELETE", f"/functions/{fn}")

        results = race([remove, *(lambda w=w: instance(w) for w in range(1, CREATORS + 1))])
        assert all(r.status_code < 500 for r in results), [r.text for r in results]
        functions = {f["name"].rsplit("/", 1)[1]
                     for f in pair.call(0, "GET", "/functions").json()["functions"]}  # fmt: skip
        sources = pair.call(1, "GET", "/sources", params={"page_size": 1000}).json()["sources"]
        dests = pair.call(0, "GET", "/sources/-/destinations",
                          params={"page_size": 1000}).json()["destinations"]  # fmt: skip
        named = {s["catalog"].removeprefix("function:") for s in sources
                 if s["catalog"].startswith("function:")}  # fmt: skip
        named |= {d["function"] for d in dests if d.get("function")}
        assert named <= functions, (round_, [r.status_code for r in results], named - functions)


WAREHOUSE = {"catalog": "snowflake", "enabled": False}


def test_a_free_workspace_never_gets_two_warehouses_at_once(pair: Pair) -> None:
    ws = f"workspaces/{pair.slug}"
    free = {"workspace": {"plan_tier": "free"}, "update_mask": {"paths": ["plan_tier"]}}
    url = f"{pair.servers[0].url}/v1beta/{ws}"
    assert pair.call(0, "PATCH", url, json=free).status_code == 200
    for round_ in range(ROUNDS):

        def make(writer: int, round_: int = round_) -> httpx.Response:
            body = {"warehouse": {"name": f"{ws}/warehouses/w{round_}x{writer}", **WAREHOUSE}}
            return pair.call(writer, "POST", "/warehouses", json=body)

        results = race([lambda w=w: make(w) for w in range(4)])
        assert all(r.status_code in (200, 409) for r in results), [r.text for r in results]
        made = pair.call(0, "GET", "/warehouses").json()["warehouses"]
        assert len(made) == 1, (round_, [r.status_code for r in results])
