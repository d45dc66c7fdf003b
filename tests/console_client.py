"""The web console on a control plane's API app, in process, driven like a browser (cookies,
form posts with the console's own ``Origin``): shared by the console's page and attack tests."""

from __future__ import annotations

import re
from collections.abc import Callable

import httpx

from seg.server.app import create_app
from seg.server.inprocess import InProcessTransport
from seg.web import mount
from seg.web.session import Sessions
from tests.conftest import Api

ORIGIN = "http://127.0.0.1:8400"


class Console:
    """The console mounted on ``api``'s control plane, with its own session store (and
    clock)."""

    def __init__(self, api: Api, clock: Callable[[], float] | None = None) -> None:
        self.api = api
        app = create_app(api.cp, access_log=False)
        self.sessions = mount(app, api.cp, Sessions(clock) if clock else None)
        self.transport = InProcessTransport(app)

    def browser(self, base: str = ORIGIN) -> httpx.Client:
        return httpx.Client(transport=self.transport, base_url=base, follow_redirects=False)

    def signed_in(self, token: str) -> httpx.Client:
        client = self.browser()
        answer = client.post("/console/sign-in", data={"token": token},
                             headers={"Origin": ORIGIN})  # fmt: skip
        assert answer.status_code == 303, answer.text
        assert answer.headers["location"] == f"/console/w/{self.api.workspace}"
        return client

    def url(self, path: str = "") -> str:
        return f"/console/w/{self.api.workspace}{path}"

    def page(self, client: httpx.Client, path: str, status: int = 200) -> str:
        answer = client.get(self.url(path))
        assert answer.status_code == status, answer.text
        return answer.text

    def close(self) -> None:
        self.transport.close()


def csrf(html: str) -> str:
    """The CSRF token of a page's forms."""
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found, html
    return found.group(1)


def signed_out(answer: httpx.Response) -> bool:
    return answer.status_code == 303 and answer.headers["location"].startswith("/console/sign-in")
