"""Review of issue 13 (typed client errors, ``seg.client.errors``): a 404 that is not the
control plane's own ``{"error", "code": 5}`` answer is taken for "not found".

Before issue 13 the client treated a 404 as "already gone" / "not locked" only when the body
carried the API's code 5. ``api_error`` now types by status alone, so any 404 — a reverse
proxy's HTML page, a wrong ``--api-url`` path prefix — becomes ``NotFound``:
``ControlPlaneClient.delete`` reports a delete done that never reached the control plane, and
``lock_status`` reports "not locked". The transport below stands for such a foreign server;
the client code under test is the real one.
"""

from __future__ import annotations

import httpx
import pytest

from seg.client.http import ControlPlaneClient
from seg.errors import ApiError
from seg.kinds import KINDS


def _foreign_404(request: httpx.Request) -> httpx.Response:
    return httpx.Response(404, text="<html><body>404 Not Found (nginx)</body></html>",
                          headers={"content-type": "text/html"})  # fmt: skip


def _client() -> ControlPlaneClient:
    http = httpx.Client(transport=httpx.MockTransport(_foreign_404), base_url="http://proxy")
    return ControlPlaneClient(http, "acme", retries=0)


def test_a_foreign_404_on_delete_is_an_error_not_already_gone() -> None:
    """Attack/misroute: a proxy answering 404 for every DELETE makes ``seg apply`` report the
    deletes as applied while the resources stay live."""
    with pytest.raises(ApiError) as caught:
        _client().delete(KINDS["Source"], "web", None)
    assert caught.value.status == 404 and caught.value.code == 0


def test_a_foreign_404_on_lock_status_is_an_error_not_unlocked() -> None:
    """Misroute: a foreign 404 on ``GET …/lock`` reads as "the workspace is not locked"."""
    with pytest.raises(ApiError):
        _client().lock_status()
