"""How each route is documented in ``/openapi.json``: parameters, request body, responses
(the error body on every status it can return) and the bearer security requirement.

Routes pass ``operation(...)`` as FastAPI's ``openapi_extra``, which FastAPI merges into the
operation object as it stands: the request body is a ``$ref`` to a model's schema in
``components``, never a parameter FastAPI would parse (no 422, no second validation). The
document itself is ``openapi_document``: FastAPI's paths plus the models of ``api_models``.
"""

from __future__ import annotations

import re
from typing import Any

from fastapi import FastAPI
from fastapi.openapi.utils import get_openapi
from pydantic import BaseModel

from seg.server.api_models import component_schemas, ref
from seg.server.http_errors import ERROR_STATUSES
from seg.server.locks import LOCK_HEADER, OVERRIDE_HEADER
from seg.server.pages import MAX_AUDIT_ID, MAX_PAGE_SIZE
from seg.server.versions import MAX_VERSION

__all__ = [
    "APPLY_HEADER",
    "BEARER",
    "READ_ERRORS",
    "WRITE_ERRORS",
    "apply_header",
    "if_match",
    "lock_headers",
    "openapi_document",
    "operation",
    "page_params",
    "query",
    "version_number",
]

BEARER = "bearerAuth"

# What any authenticated call can answer besides its success: a bad header, path or query
# value (400), no or a bad token (401), a token that may not (403), a missing resource or
# workspace (404), the rate limit (429), the database down (503).
READ_ERRORS = (400, 401, 403, 404, 429, 503)
# Writes add conflicts (409: exists, in use, locked, concurrent writer), a body too large
# (413) or not JSON (415).
WRITE_ERRORS = (*READ_ERRORS, 409, 413, 415)

APPLY_HEADER = "Seg-Apply"

_DESCRIPTIONS = {
    200: "Success",
    201: "Created",
    400: "Invalid argument (the message names the field path): code 3",
    401: "Missing, invalid, revoked or expired bearer token (\"token expired\"): code 16",
    403: "Permission denied or insufficient scope: code 7",
    404: "Not found: code 5",
    409: "Already exists (6), failed precondition (9) or aborted by a lock or a concurrent "
    "writer (10)",
    410: "The change log cannot answer from that revision (too old, newer than the "
    "workspace): read the whole state again: code 11",
    412: "If-Match names another version of the resource: code 10",
    413: "Request body larger than the server's limit: code 8",
    415: "Request body is not JSON: code 3",
    429: "Rate limit exhausted (see Retry-After): code 8",
    503: "Database unavailable: code 14",
}
_CODES = {status: code for _, status, code in ERROR_STATUSES}


def query(name: str, description: str, schema: dict[str, Any]) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "description": description,
            "schema": schema}  # fmt: skip


def page_params() -> list[dict[str, Any]]:
    return [
        query("page_size", f"Items per page (default 100, at most {MAX_PAGE_SIZE} are returned)",
              {"type": "integer", "minimum": 1}),
        query("page_token", "The next_page_token of the previous page", {"type": "string"}),
    ]  # fmt: skip


def if_match() -> dict[str, Any]:
    return {
        "name": "If-Match",
        "in": "header",
        "required": False,
        "description": "Write only if the resource's etag is this one (or *); else 412.",
        "schema": {"type": "string", "minLength": 1, "pattern": r"[^\s\"]"},
    }


def apply_header() -> dict[str, Any]:
    """``Seg-Apply``: the apply run a resource write belongs to (its audit event is tagged)."""
    return {
        "name": APPLY_HEADER,
        "in": "header",
        "required": False,
        "description": "The id of a running apply run this token started in the workspace: "
                       "the write's audit event belongs to it; any other value is 400",
        "schema": {"type": "string", "pattern": f"^[0-9]{{1,{len(str(MAX_AUDIT_ID))}}}$"},
    }  # fmt: skip


def lock_headers() -> list[dict[str, Any]]:
    """The headers every authenticated call may carry about the workspace lock."""
    return [
        {"name": LOCK_HEADER, "in": "header", "required": False,
         "description": "The id of the workspace lock this caller holds (writes while it is held)",
         "schema": {"type": "string"}},
        {"name": OVERRIDE_HEADER, "in": "header", "required": False,
         "description": "true: an owner writes despite another holder's lock",
         "schema": {"type": "string", "pattern": r"^[ \t]*[Tt][Rr][Uu][Ee][ \t]*$"}},
    ]  # fmt: skip


def _path_params(path: str) -> list[dict[str, Any]]:
    return [
        {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
        for name in re.findall(r"{(\w+)}", path)
    ]


def _json(schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}}


def operation(
    path: str,
    response: type[BaseModel],
    *,
    body: type[BaseModel] | None = None,
    errors: tuple[int, ...] = READ_ERRORS,
    params: list[dict[str, Any]] | None = None,
    secured: bool = True,
    success: int = 200,
) -> dict[str, Any]:
    """The ``openapi_extra`` of one operation (``success``: its status when it succeeds)."""
    responses = {str(success): _json(ref(response), _DESCRIPTIONS[success])}
    for status in sorted(errors):
        text = _DESCRIPTIONS[status]
        if status == 415:
            text = text.replace("code 3", f"code {_CODES[415]}")
        responses[str(status)] = _json({"$ref": "#/components/schemas/Error"}, text)
    extra: dict[str, Any] = {
        "parameters": _path_params(path) + (params or []),
        "responses": responses,
    }
    if secured:
        extra["security"] = [{BEARER: []}]
        extra["parameters"] += lock_headers()
    if body is not None:
        # An empty body reads as {}: required only where {} lacks a required field.
        required = any(f.is_required() for f in body.model_fields.values())
        extra["requestBody"] = {
            "required": required,
            "content": {"application/json": {"schema": ref(body)}},
        }
    return extra


def version_number(extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` with its ``version`` path parameter documented as a version number."""
    for param in extra["parameters"]:
        if (param["in"], param["name"]) == ("path", "version"):
            param["schema"] = {"type": "integer", "minimum": 1, "maximum": MAX_VERSION}
            param["description"] = "A version number (1 is the first)"
    return extra


def openapi_document(app: FastAPI) -> dict[str, Any]:
    """The OpenAPI document: FastAPI's paths, the models' schemas and the bearer scheme."""
    if app.openapi_schema:
        return app.openapi_schema
    doc = get_openapi(title=app.title, version=app.version, routes=app.routes,
                      description=app.description)  # fmt: skip
    doc["components"] = {
        "schemas": component_schemas(),
        "securitySchemes": {
            BEARER: {"type": "http", "scheme": "bearer",
                     "description": "A workspace token: Authorization: Bearer <token>"},
        },  # fmt: skip
    }
    app.openapi_schema = doc
    return doc
