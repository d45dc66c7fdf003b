"""A user's access is assembled once per call — and only for that call. A role revoked (or
a group left) between two calls of the same token binds the next call; a lock override is
honoured only while the user still holds workspace_owner (SQLite and PostgreSQL)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.conftest import Api


def _error(response: httpx.Response, status: int, code: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code and set(body) == {"error", "code", "request_id"}, body
    return str(body["error"])


def _bind(api: Api, slug: str, subject: dict[str, str], role: str, scope: Any) -> str:
    name = f"workspaces/{api.workspace}/role-bindings/{slug}"
    body = {"name": name, "subject": subject, "role": role, "scope": scope}
    response = api.http.post(api.url("/role-bindings"), json={"role_binding": body})
    assert response.status_code == 200, response.text
    return name


def test_a_revoked_role_binds_the_very_next_call(api: Api) -> None:
    assert api.create_source("web").status_code == 200
    _bind(api, "sam", {"user": "sam@x.io"}, "source_admin", "workspace")
    _, secret = api.cp.workspaces.create_token(api.workspace, "workspace:write", "l", "sam@x.io")
    sam = api.client(secret)
    patch = {"source": {"display_name": "Web"}, "update_mask": {"paths": ["source.display_name"]}}
    assert sam.patch(api.url("/sources/web"), json=patch).status_code == 200
    assert api.http.delete(api.url("/role-bindings/sam")).status_code == 200
    message = _error(sam.patch(api.url("/sources/web"), json=patch), 403, 7)
    assert message == "permission denied: sam@x.io may not PATCH Source web"
    _error(sam.get(api.url("/sources/web")), 403, 7)
    assert sam.get(api.url("/sources")).json()["sources"] == []  # hidden, not an error


def test_leaving_a_group_takes_its_role_away_at_once(api: Api) -> None:
    assert api.create_source("web").status_code == 200
    group = {"name": f"workspaces/{api.workspace}/groups/ops", "members": ["sam@x.io"]}
    assert api.http.post(api.url("/groups"), json={"group": group}).status_code == 200
    _bind(api, "ops", {"group": "ops"}, "source_read_only", "workspace")
    _, secret = api.cp.workspaces.create_token(api.workspace, "workspace:read", "l", "sam@x.io")
    sam = api.client(secret)
    assert sam.get(api.url("/sources/web")).status_code == 200
    left = {"group": {"members": ["someone@x.io"]}, "update_mask": {"paths": ["group.members"]}}
    assert api.http.patch(api.url("/groups/ops"), json=left).status_code == 200
    _error(sam.get(api.url("/sources/web")), 403, 7)


def test_an_override_needs_the_owner_role_at_the_time_of_the_write(api: Api) -> None:
    _bind(api, "dana", {"user": "dana@x.io"}, "workspace_owner", "workspace")
    _bind(api, "dana-sources", {"user": "dana@x.io"}, "source_admin", "workspace")
    _, secret = api.cp.workspaces.create_token(api.workspace, "workspace:owner", "l", "dana@x.io")
    dana = api.client(secret)
    holder = api.client(api.token("workspace:write", "ci apply"))
    assert holder.post(api.url("/lock"), json={"holder": "ci", "ttl_seconds": 600}).is_success
    override = {"Seg-Lock-Override": "true"}
    body = {"source": {"name": f"workspaces/{api.workspace}/sources/web", "catalog": "javascript"}}
    made = dana.post(api.url("/sources"), json=body, headers=override)
    assert made.status_code == 200, made.text
    assert api.http.delete(api.url("/role-bindings/dana"), headers=override).status_code == 200
    body["source"]["name"] += "2"
    refused = dana.post(api.url("/sources"), json=body, headers=override)
    assert "locked by ci" in _error(refused, 409, 10)  # may create sources, may not override
    assert api.http.get(api.url("/sources/web2")).status_code == 404
