"""A resource write finds its caller before it reads anything else the request says.

The create, update and delete routes read the body and find the caller in one thread hop
(issue 18: an apply's writes pay one hop each). The order of the checks is the order the
other routes keep: the token first (401, whatever else the request carries), then the
``Seg-Apply`` run the write claims (400 naming the header), then the body (400 or 415), then
what the write itself is allowed to do. So a caller without a token learns nothing from
how its body would have been judged."""

from __future__ import annotations

import httpx

from tests.conftest import Api
from tests.helpers import error

BAD_BODIES = [
    ({"content": b"{not json"}, "application/json"),
    ({"content": b'{"source": {"name": 1}}'}, "text/plain"),
    ({"content": b'{"surprise": true}'}, "application/json"),
    ({"content": b"[1, 2]"}, "application/json"),
]


def _writes(client: httpx.Client, api: Api, kwargs: dict[str, bytes], media: str,
            headers: dict[str, str] | None = None) -> list[httpx.Response]:  # fmt: skip
    sent = {"Content-Type": media, **(headers or {})}
    return [
        client.post(api.url("/sources"), headers=sent, **kwargs),
        client.patch(api.url("/sources/web"), headers=sent, **kwargs),
        client.delete(api.url("/sources/web"), headers=sent),
    ]


def test_no_token_or_an_unknown_one_is_401_whatever_the_body(api: Api) -> None:
    api.create_source("web")
    for client in (api.client(None), api.client("seg_nope.nope")):
        for kwargs, media in BAD_BODIES:
            for answer in _writes(client, api, kwargs, media):
                error(answer, 401, 16)
    assert api.http.get(api.url("/sources/web")).status_code == 200


def test_a_claimed_apply_run_is_checked_before_the_body(api: Api) -> None:
    api.create_source("web")
    for kwargs, media in BAD_BODIES:
        for answer in _writes(api.http, api, kwargs, media, {"Seg-Apply": "4242"}):
            assert "Seg-Apply" in error(answer, 400, 3), answer.text
        for answer in _writes(api.http, api, kwargs, media, {"Seg-Apply": "not-a-run"}):
            assert "Seg-Apply" in error(answer, 400, 3), answer.text


def test_the_body_is_judged_before_the_scope(api: Api) -> None:
    """A reader's bad body is a 400 (or 415): the body is read as any caller's; what the
    token may do is the write's own check, after it."""
    api.create_source("web")
    reader = api.client(api.token("workspace:read"))
    for kwargs, media in BAD_BODIES:
        post, patch, delete = _writes(reader, api, kwargs, media)
        for answer in (post, patch):
            assert answer.status_code in (400, 415), answer.text
        error(delete, 403, 7)  # no body to judge: refused for the scope
