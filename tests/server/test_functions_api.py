"""Functions and their instances through the control plane's API, on SQLite and PostgreSQL:
the same rules `seg validate` runs refuse bad writes (400/409 with the API's error shape),
instances are checked against their function's settings schema and its encrypted settings
are sealed, insert functions attach to cloud-mode destinations, a function with instances
stays, and who may write what (function admins write functions; source admins deploy them)."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from seg.kinds.function import MAX_FUNCTIONS
from tests.conftest import Api

SOURCE_CODE = "async function onRequest(request, settings) {\n  return 1\n}\n"
DEST_CODE = "async function onTrack(event, settings) {\n  return event\n}\n"
SECRET = "tok-5f1d-very-secret"


def create_function(api: Api, name: str, kind: str = "destination", code: str = DEST_CODE,
                    client: httpx.Client | None = None, **fields: Any) -> httpx.Response:  # fmt: skip
    body = {"name": f"workspaces/{api.workspace}/functions/{name}", "type": kind, "code": code,
            **fields}  # fmt: skip
    return (client or api.http).post(api.url("/functions"), json={"function": body})


def refused(response: httpx.Response, status: int, code: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "code", "request_id"} and body["code"] == code
    return str(body["error"])


@pytest.mark.parametrize(
    ("kind", "code", "message"),
    [
        ("destination", "async function onTrack(event) {\n  return event +\n}\n",
         "the code is not valid JavaScript: line 3, column 1: Unexpected token }"),
        ("source", DEST_CODE, "a source function defines onRequest(request, settings) at the top "
         "level"),
        ("source", SOURCE_CODE + "fetch('https://fn.segmentapis.com/')",
         "a source function may not call https://fn.segmentapis.com (loop protection)"),
        ("insert", "exports.onBatch = async (events) => events",
         "an insert function defines at least one of onIdentify, onTrack, onPage, onScreen, "
         "onGroup, onAlias, onDelete at the top level (onBatch needs one too)"),
    ],
)
def test_the_server_refuses_code_that_validate_refuses(api: Api, kind: str, code: str,
                                                       message: str) -> None:  # fmt: skip
    assert refused(create_function(api, "f", kind, code), 400, 3) == message


def test_display_name_settings_and_the_workspace_limit(api: Api) -> None:
    long_name = create_function(api, "f", "insert", display_name="x" * 121)
    assert refused(long_name, 400, 3).startswith("an insert function's display name has at most")
    settings = [{"name": "token"}, {"name": "token", "encrypted": True}]
    assert refused(create_function(api, "f", settings=settings), 400, 3) == (
        "setting 'token' is declared 2 times; names are unique")
    for i in range(MAX_FUNCTIONS):
        assert create_function(api, f"f{i}").status_code == 200
    assert refused(create_function(api, "one-more"), 409, 9) == (
        "the workspace has 26 functions; the limit is 25")


def function_destination(api: Api, slug: str, **fields: Any) -> httpx.Response:
    """A destination of source web deploying destination function crm."""
    body = {"name": f"workspaces/{api.workspace}/sources/web/destinations/{slug}",
            "function": f"workspaces/{api.workspace}/functions/crm", **fields}  # fmt: skip
    return api.http.post(api.url("/sources/web/destinations"), json={"destination": body})


def deploy(api: Api) -> None:
    encrypted = [{"name": "token", "required": True, "encrypted": True},
                 {"name": "region", "type": "string"}]  # fmt: skip
    assert create_function(api, "hook", "source", SOURCE_CODE, settings=encrypted
                           ).status_code == 200  # fmt: skip
    assert create_function(api, "crm", settings=encrypted).status_code == 200
    assert create_function(api, "scrub", "insert").status_code == 200


def test_instances_deploy_functions_of_their_type_with_sealed_encrypted_settings(
    api: Api,
) -> None:
    deploy(api)
    made = api.create_source("partner", catalog="function:hook", settings={"token": SECRET})
    assert made.status_code == 200 and SECRET not in made.text
    assert made.json()["settings"]["token"].startswith("secret:")
    assert api.create_source("web").status_code == 200
    crm = function_destination(api, "crm", enabled=True, settings={"token": SECRET,
                                                                   "region": "eu"})
    assert crm.status_code == 200 and SECRET not in crm.text
    listed = api.http.get(api.url("/sources/web/destinations/crm"))
    assert SECRET not in listed.text and listed.json()["settings"]["region"] == "eu"

    missing = api.create_source("x1", catalog="function:nope")
    assert refused(missing, 400, 3) == "source.catalog: function 'nope' does not exist"
    wrong = api.create_source("x2", catalog="function:crm")
    assert refused(wrong, 400, 3) == ("function 'crm' is a destination function; a source "
                                      "deploys only a source function")  # fmt: skip
    unknown = api.create_source("x3", catalog="function:hook", settings={"tokn": SECRET})
    message = refused(unknown, 400, 3)
    assert "tokn" in message and "token" in message and SECRET not in message
    both = api.create_destination("web", "both", function=f"workspaces/{api.workspace}/"
                                  "functions/crm", settings={"token": "t"})  # fmt: skip
    assert refused(both, 400, 3)


def test_insert_functions_attach_to_cloud_mode_destinations(api: Api) -> None:
    deploy(api)
    assert api.create_source("web").status_code == 200
    scrub = f"workspaces/{api.workspace}/functions/scrub"
    made = api.create_destination("web", "amp", insert_function=scrub,
                                  settings={"api_key": SECRET})  # fmt: skip
    assert made.status_code == 200 and made.json()["insert_function"] == scrub
    also = api.create_destination("web", "amp2", insert_function=scrub,
                                  settings={"api_key": SECRET})  # fmt: skip
    assert also.status_code == 200  # one insert function serves many destinations
    device = api.create_destination("web", "dev", insert_function=scrub, connection_mode="device",
                                    settings={"api_key": SECRET})  # fmt: skip
    assert refused(device, 400, 3) == ("insert functions run on cloud-mode destinations only; "
                                       "this one is device-mode")  # fmt: skip
    wrong = api.create_destination("web", "w", settings={"api_key": SECRET},
                                   insert_function=f"workspaces/{api.workspace}/functions/crm")
    assert refused(wrong, 400, 3) == ("function 'crm' is a destination function; "
                                      "insert_function names an insert function")  # fmt: skip
    gone = api.create_destination("web", "g", settings={"api_key": SECRET},
                                  insert_function=f"workspaces/{api.workspace}/functions/gone")
    assert gone.status_code == 404


def test_a_function_with_instances_cannot_be_deleted(api: Api) -> None:
    deploy(api)
    assert api.create_source("web").status_code == 200
    assert api.create_source("partner", catalog="function:hook",
                             settings={"token": SECRET}).status_code == 200  # fmt: skip
    scrub = f"workspaces/{api.workspace}/functions/scrub"
    assert api.create_destination("web", "amp", insert_function=scrub,
                                  settings={"api_key": SECRET}).status_code == 200  # fmt: skip
    assert refused(api.http.delete(api.url("/functions/hook")), 409, 9) == (
        "function hook is in use by source partner (deploys it); remove them first")
    assert refused(api.http.delete(api.url("/functions/scrub")), 409, 9) == (
        "function scrub is in use by destination web/amp (uses it as insert function); remove "
        "them first")
    detach = api.http.patch(api.url("/sources/web/destinations/amp"), json={
        "destination": {}, "update_mask": {"paths": ["destination.insert_function"]}})
    assert detach.status_code == 200, detach.text
    assert "insert_function" not in detach.json()
    assert api.http.delete(api.url("/functions/scrub")).status_code == 200
    assert api.http.delete(api.url("/functions/crm")).status_code == 200


def bind(api: Api, user: str, role: str, scope: Any) -> httpx.Client:
    body = {"name": f"workspaces/{api.workspace}/role-bindings/{role.replace('_', '-')}",
            "subject": {"user": user}, "role": role, "scope": scope}  # fmt: skip
    made = api.http.post(api.url("/role-bindings"), json={"role_binding": body})
    assert made.status_code == 200, made.text
    token = api.cp.workspaces.create_token(api.workspace, "workspace:owner", role, user)[1]
    return api.client(token)


def test_function_admins_write_functions_and_source_admins_deploy_them(api: Api) -> None:
    fn_admin = bind(api, "fay@x.io", "function_admin", "workspace")
    src_admin = bind(api, "sam@x.io", "source_admin", "workspace")
    assert create_function(api, "hook", "source", SOURCE_CODE, client=fn_admin).status_code == 200
    denied = create_function(api, "other", "source", SOURCE_CODE, client=src_admin)
    assert denied.status_code == 403
    # The function admin may not deploy it as a source; the source admin may.
    body = {"name": f"workspaces/{api.workspace}/sources/hook", "catalog": "function:hook"}
    assert fn_admin.post(api.url("/sources"), json={"source": body}).status_code == 403
    made = src_admin.post(api.url("/sources"), json={"source": body})
    assert made.status_code == 200, made.text
    # Deleting the function names the instance only to whom may read it.
    other = api.create_source("hidden", catalog="function:hook")
    assert other.status_code == 200
    message = refused(fn_admin.delete(api.url("/functions/hook")), 409, 9)
    assert message == ("function hook is in use by 2 instances you may not read; remove them "
                       "first")
    owner_view = refused(api.http.delete(api.url("/functions/hook")), 409, 9)
    assert "source hidden (deploys it)" in owner_view and "source hook" in owner_view


def test_a_source_admin_connects_destination_and_insert_functions(api: Api) -> None:
    deploy(api)
    src_admin = bind(api, "sam@x.io", "source_admin", "workspace")
    assert api.create_source("web").status_code == 200
    body = {"name": f"workspaces/{api.workspace}/sources/web/destinations/crm",
            "function": f"workspaces/{api.workspace}/functions/crm",
            "insert_function": f"workspaces/{api.workspace}/functions/scrub",
            "settings": {"token": SECRET}}  # fmt: skip
    made = src_admin.post(api.url("/sources/web/destinations"), json={"destination": body})
    assert made.status_code == 200, made.text
    assert src_admin.get(api.url("/functions/crm")).status_code == 403  # still not readable
    nobody = bind(api, "nora@x.io", "source_read_only", "workspace")
    body["name"] = body["name"].replace("/crm", "/crm2")
    denied = nobody.post(api.url("/sources/web/destinations"), json={"destination": body})
    assert denied.status_code == 403
