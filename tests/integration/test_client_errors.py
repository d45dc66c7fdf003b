"""The client raises one ``ApiError`` subclass per kind of refusal, chosen from the real
server's status and code (and the retried statuses from the last answer once retries end)."""

from __future__ import annotations

import httpx
import pytest

from seg.client import (
    Aborted,
    AlreadyExists,
    ApiError,
    ControlPlaneClient,
    FailedPrecondition,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    PreconditionFailed,
    RateLimited,
    Unauthenticated,
    Unavailable,
)
from seg.client.errors import api_error, error_class
from seg.kinds import KINDS
from tests.conftest import Api

SOURCE = KINDS["Source"]


def _client(api: Api, token: str | None) -> ControlPlaneClient:
    return ControlPlaneClient(api.client(token), api.workspace, retries=0)


def test_a_refused_value_is_invalid_argument(api: Api) -> None:
    with pytest.raises(InvalidArgument) as caught:
        api.seg_client().create(SOURCE, "web", {"catalog": 7}, [])
    assert (caught.value.status, caught.value.code) == (400, 3)


def test_a_bad_token_is_unauthenticated(api: Api) -> None:
    with pytest.raises(Unauthenticated) as caught:
        _client(api, "not-a-token").get_workspace()
    assert caught.value.status == 401


def test_a_read_only_token_writing_is_permission_denied(api: Api) -> None:
    reader = _client(api, api.token("workspace:read"))
    with pytest.raises(PermissionDenied) as caught:
        reader.create(SOURCE, "web", {"catalog": "javascript"}, [])
    assert caught.value.status == 403


def test_a_missing_resource_is_not_found_and_its_delete_is_done(api: Api) -> None:
    seg = api.seg_client()
    with pytest.raises(NotFound):
        seg._request("GET", f"workspaces/{api.workspace}/sources/nope")
    seg.delete(SOURCE, "nope", None)  # already gone: the delete's goal holds
    assert seg.lock_status() is None  # no lock: NotFound read as "none"


def test_a_create_over_another_resource_is_already_exists(api: Api) -> None:
    api.create_source("web", catalog="stripe", settings={"api_key": "theirs"})
    with pytest.raises(AlreadyExists) as caught:
        api.seg_client().create(SOURCE, "web", {"catalog": "stripe",
                                                "settings": {"api_key": "mine"}}, [])  # fmt: skip
    assert (caught.value.status, caught.value.code) == (409, 6)


def test_a_held_lock_is_failed_precondition_and_a_write_beside_it_aborted(api: Api) -> None:
    holder, other = api.seg_client(), api.seg_client()
    holder.acquire_lock({"holder": "holder"}, 60)
    with pytest.raises(FailedPrecondition) as caught:
        other.acquire_lock({"holder": "other"}, 60)
    assert (caught.value.status, caught.value.code) == (409, 9)
    with pytest.raises(Aborted) as aborted:
        other.create(SOURCE, "web", {"catalog": "javascript"}, [])
    assert (aborted.value.status, aborted.value.code) == (409, 10)


def test_a_stale_etag_is_precondition_failed(api: Api) -> None:
    api.create_source("web")
    with pytest.raises(PreconditionFailed) as caught:
        api.seg_client().update(SOURCE, "web", {"enabled": False}, ["source.enabled"], [],
                                etag="stale")  # fmt: skip
    assert caught.value.status == 412


class Answers(httpx.BaseTransport):
    """Always the same error answer (what a real 429 or 503 looks like on the wire)."""

    def __init__(self, status: int, code: int) -> None:
        self.status, self.code = status, code

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        body = {"error": "no", "code": self.code}
        return httpx.Response(self.status, json=body, headers={"Retry-After": "0"},
                              request=request)  # fmt: skip


@pytest.mark.parametrize(("status", "code", "kind"), [(429, 8, RateLimited), (503, 14, Unavailable)])
def test_the_last_retried_answer_keeps_its_type(status: int, code: int, kind: type) -> None:
    http = httpx.Client(transport=Answers(status, code), base_url="http://embedded")
    with pytest.raises(kind) as caught:
        ControlPlaneClient(http, "acme", retries=0).get_workspace()
    assert isinstance(caught.value, ApiError) and caught.value.status == status


def test_every_subclass_is_an_api_error_and_others_stay_the_base() -> None:
    assert error_class(409, 6) is AlreadyExists and error_class(409, 10) is Aborted
    assert error_class(412, 10) is PreconditionFailed and error_class(409, 9) is FailedPrecondition
    assert error_class(500, 13) is ApiError and error_class(409, 0) is ApiError
    error = api_error(404, 5, "gone", "GET", "x")
    assert isinstance(error, NotFound) and isinstance(error, ApiError)
    assert str(error) == "gone [HTTP 404, code 5] (GET x)"
