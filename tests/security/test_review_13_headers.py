"""Review of issue 13 (header parsing moved into ``server/app.py``): headers are read before
the token is checked, so an unauthenticated caller learns how the server judges them.

Before issue 13 ``ControlPlane.authenticate`` looked the token up first and only then read
``Seg-Lock-Override``: any request with a missing or unknown token was 401/16, whatever its
other headers said. Now ``app.principal`` validates the override header before
``WorkspaceService.authenticate`` runs, so a forged or revoked token with a malformed
override gets 400/3 and the header's rule echoed back — an unauthenticated caller is
answered on its input before it is authenticated (SQLite and PostgreSQL).
"""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import Api


def _error(response: httpx.Response) -> tuple[int, int]:
    body = response.json()
    assert set(body) == {"error", "code", "request_id"}, body
    return response.status_code, int(body["code"])


@pytest.mark.parametrize("override", ["yes", "1", "false", ""])
def test_an_unknown_token_is_401_whatever_its_lock_override_says(api: Api, override: str) -> None:
    """Attack: an outsider with a guessed (unknown) bearer token sends a malformed
    ``Seg-Lock-Override`` and is told about the header instead of being refused as
    unauthenticated (the check ran before authentication)."""
    outsider = api.client("seg_not_a_real_token")
    headers = {"Seg-Lock-Override": override}
    assert _error(outsider.get(api.url(), headers=headers)) == (401, 16)
    patch = {"workspace": {"display_name": "x"}, "update_mask": {"paths": ["display_name"]}}
    assert _error(outsider.patch(api.url(), json=patch, headers=headers)) == (401, 16)


def test_an_unknown_token_on_a_write_route_is_401_before_header_checks(api: Api) -> None:
    """Attack: the same probe against a write route (create a source) with an unknown token:
    401, never 400 — the override header is judged only for an authenticated caller."""
    outsider = api.client("seg_unknown")
    body = {"source": {"name": f"workspaces/{api.workspace}/sources/web", "catalog": "javascript"}}
    response = outsider.post(api.url("/sources"), json=body, headers={"Seg-Lock-Override": "no"})
    assert _error(response) == (401, 16)
