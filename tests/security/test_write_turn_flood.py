"""Resource writes take turns on SQLite (``Store.write_turn``), the caller found inside the
turn: a flood of writes that are refused — no token, a bad token, a read token — takes turns
too, but each is refused in its turn at once, so a real write among them still lands, and
every refused one gets its 4xx (never a 5xx from the turn's bound)."""

from __future__ import annotations

import threading
import time

import httpx

from tests.conftest import Api


def test_refused_writes_flooding_the_turn_do_not_keep_a_real_write_out(api: Api) -> None:
    reader = api.client(api.token("workspace:read"))
    flooders = {"none": api.client(None), "bad": api.client("seg_not_a_token"),
                "read": reader}  # fmt: skip
    statuses: dict[str, set[int]] = {name: set() for name in flooders}
    stop = threading.Event()

    def flood(name: str, http: httpx.Client) -> None:
        body = {"source": {"name": f"workspaces/{api.workspace}/sources/x", "catalog": "javascript"}}
        while not stop.is_set():
            statuses[name].add(http.post(api.url("/sources"), json=body).status_code)

    threads = [threading.Thread(target=flood, args=item) for item in flooders.items() for _ in range(3)]
    for thread in threads:
        thread.start()
    try:
        time.sleep(0.2)  # the flood under way
        started = time.monotonic()
        answers = [api.create_source(f"real-{i}").status_code for i in range(5)]
        took = time.monotonic() - started
    finally:
        stop.set()
        for thread in threads:
            thread.join(30)
    assert answers == [200] * 5
    assert took < 5, took  # far inside the turn's 10 s bound
    assert statuses == {"none": {401}, "bad": {401}, "read": {403}}
