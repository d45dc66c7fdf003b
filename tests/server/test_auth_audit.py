"""Tokens and scopes, the audit trail and secrets (SPEC §5); rate limits are in test_clock.py."""

from __future__ import annotations

import json

from seg.model.secrets import is_digest
from tests.conftest import Api
from tests.helpers import error, error_body


def test_missing_or_invalid_token_is_unauthenticated(api: Api) -> None:
    error(api.client(None).get(api.url("/sources")), 401, 16)
    error(api.client("seg_nope.nope").get(api.url("/sources")), 401, 16)


def test_read_scope_reads_but_cannot_write(api: Api) -> None:
    api.create_source("web")
    reader = api.client(api.token("workspace:read"))
    assert reader.get(api.url("/sources/web")).status_code == 200
    src = {"source": {"name": api.url("/sources/ios")[8:], "catalog": "ios"}}
    for response in (
        reader.post(api.url("/sources"), json=src),
        reader.patch(api.url("/sources/web"), json={"update_mask": {"paths": ["source.enabled"]}}),
        reader.delete(api.url("/sources/web")),
    ):
        assert response.status_code == 403
        assert error_body(response) == {"error": "insufficient scope", "code": 7}
    assert api.http.get(api.url("/sources/web")).json()["enabled"] is True


def test_write_scope_can_manage_resources(api: Api) -> None:
    writer = api.client(api.token("workspace:write"))
    body = {"source": {"name": f"workspaces/{api.workspace}/sources/web", "catalog": "ios"}}
    assert writer.post(api.url("/sources"), json=body).status_code == 200


def test_token_of_another_workspace_is_denied(api: Api) -> None:
    _, other = api.cp.workspaces.init(api.workspace + "x")
    error(api.client(other).get(api.url("/sources")), 403, 7)


def test_tokens_are_stored_hashed(api: Api) -> None:
    import sqlalchemy as sa

    with api.cp.store.engine.connect() as conn:  # type: ignore[attr-defined]
        hashes = [row[0] for row in conn.execute(sa.text("SELECT secret_hash FROM tokens"))]
    assert api.owner_token not in hashes and all(len(h) == 64 for h in hashes)


def test_every_mutation_is_audited_newest_first(api: Api) -> None:
    api.create_source("web")
    api.http.patch(api.url("/sources/web"), json={"source": {"display_name": "W"},
                                                  "update_mask": {"paths": ["source.display_name"]}})  # fmt: skip
    api.http.delete(api.url("/sources/web"))
    events = api.http.get(api.url("/audit-events")).json()["audit_events"]
    assert [e["method"] for e in events] == ["DELETE", "PATCH", "POST"]
    assert events[1]["paths"] == ["source.display_name"]
    assert {e["resource"] for e in events} == {f"workspaces/{api.workspace}/sources/web"}
    actor = events[0]["actor"]
    assert actor["description"] == "initial owner token" and actor["token_id"].startswith("tok_")
    page = api.http.get(api.url("/audit-events"), params={"page_size": 2}).json()
    assert len(page["audit_events"]) == 2 and page["next_page_token"]
    rest = api.http.get(api.url("/audit-events"),
                        params={"page_token": page["next_page_token"]}).json()  # fmt: skip
    assert [e["method"] for e in rest["audit_events"]] == ["POST"]


def test_secrets_are_never_returned_in_clear(api: Api) -> None:
    body = {
        "source": {
            "name": f"workspaces/{api.workspace}/sources/web",
            "catalog": "zendesk",
            "settings": {"api_token": "CATALOG-SECRET-1", "email": "ENV-SECRET-2", "subdomain": "p"},
        },
        "secret_paths": ["source.settings.email"],
    }
    created = api.http.post(api.url("/sources"), json=body)
    api.http.patch(api.url("/sources/web"), json={"source": {"settings": {"api_token": "NEW-SECRET-3"}},
                   "update_mask": {"paths": ["source.settings.api_token"]}})  # fmt: skip
    responses = [
        created.text,
        api.http.get(api.url("/sources/web")).text,
        api.http.get(api.url("/sources")).text,
        api.http.get(api.url("/audit-events")).text,
    ]
    for text in responses:
        for secret in ("CATALOG-SECRET-1", "ENV-SECRET-2", "NEW-SECRET-3"):
            assert secret not in text
    settings = json.loads(responses[1])["settings"]
    assert settings["subdomain"] == "p"
    assert is_digest(settings["api_token"]) and is_digest(settings["email"])
    name = f"workspaces/{api.workspace}/sources/web"
    asks = [{"resource": name, "path": "settings.api_token", "value": "NEW-SECRET-3"},
            {"resource": name, "path": "settings.email", "value": "ENV-SECRET-2"}]  # fmt: skip
    answer = api.http.post(api.url("/secrets:compare"), json={"secrets": asks})
    assert answer.json()["matches"] == [True, True]
    wrong = [{"resource": name, "path": "settings.email", "value": "other"}]
    answer = api.http.post(api.url("/secrets:compare"), json={"secrets": wrong})
    assert answer.json()["matches"] == [False]


def test_workspace_get(api: Api) -> None:
    body = api.http.get(api.url()).json()
    assert body["name"] == f"workspaces/{api.workspace}" and body["create_time"]


def test_validation_errors_never_echo_secret_values(api: Api) -> None:
    secret = "LEAKY" * 60
    body = {"source": {"name": f"workspaces/{api.workspace}/sources/web", "catalog": "javascript",
                       "display_name": secret}, "secret_paths": ["source.display_name"]}  # fmt: skip
    message = error(api.http.post(api.url("/sources"), json=body), 400, 3)
    assert "source.display_name" in message and "LEAKY" not in message
    body["secret_paths"] = []
    assert "LEAKY" in error(api.http.post(api.url("/sources"), json=body), 400, 3)
