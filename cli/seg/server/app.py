"""The HTTP layer: routes for every kind in the registry, error rendering, health and OpenAPI."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException

from seg import __version__
from seg.model.kinds import Kind, kinds_in_order
from seg.server import errors
from seg.server.errors import ApiException
from seg.server.service import ControlPlane, Principal

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/v1beta"
log = logging.getLogger("seg.server")

Handler = Callable[[Request], Awaitable[Response]]


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status_code=status, media_type="application/json")


async def _body(request: Request) -> dict[str, Any]:
    raw = await request.body()
    try:
        body = json.loads(raw) if raw else {}
    except ValueError:
        raise errors.invalid_argument("request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise errors.invalid_argument("request body must be a JSON object")
    return body


def _install_error_handlers(app: FastAPI) -> None:
    async def api_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiException)
        return JSONResponse(exc.body(), status_code=exc.status, headers=exc.headers)

    async def http_error(_: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 405:
            return JSONResponse({"error": "method not allowed", "code": 12}, status_code=405)
        return JSONResponse({"error": "not found", "code": 5}, status_code=exc.status_code)

    async def invalid(_: Request, exc: Exception) -> Response:
        return JSONResponse({"error": f"invalid request: {exc}", "code": 3}, status_code=400)

    async def unexpected(_: Request, exc: Exception) -> Response:
        log.exception("internal error", exc_info=exc)
        return JSONResponse(errors.internal().body(), status_code=500)

    app.add_exception_handler(ApiException, api_error)
    app.add_exception_handler(StarletteHTTPException, http_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(Exception, unexpected)


def create_app(cp: ControlPlane) -> FastAPI:
    """The ASGI application serving ``cp``."""
    app = FastAPI(
        title="seg control plane",
        version=__version__,
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
    )
    _install_error_handlers(app)

    async def principal(request: Request) -> Principal:
        return await run_in_threadpool(cp.authenticate, request.headers.get("authorization"))

    @app.get("/healthz")
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}

    @app.get(API_PREFIX + "/workspaces/{workspace}")
    async def get_workspace(request: Request, workspace: str) -> Response:
        who = await principal(request)
        return _json(await run_in_threadpool(cp.get_workspace, who, workspace))

    @app.patch(API_PREFIX + "/workspaces/{workspace}")
    async def update_workspace(request: Request, workspace: str) -> Response:
        who = await principal(request)
        body = await _body(request)
        return _json(await run_in_threadpool(cp.update_workspace, who, workspace, body))

    @app.get(API_PREFIX + "/workspaces/{workspace}/access/{email}")
    async def explain_access(request: Request, workspace: str, email: str) -> Response:
        who = await principal(request)
        return _json(await run_in_threadpool(cp.explain_access, who, workspace, email))

    @app.post(API_PREFIX + "/workspaces/{workspace}/secrets:compare")
    async def compare_secrets(request: Request, workspace: str) -> Response:
        who = await principal(request)
        body = await _body(request)
        return _json(await run_in_threadpool(cp.compare_secrets, who, workspace, body))

    rules_path = API_PREFIX + "/workspaces/{workspace}/tracking-plans/{tracking_plan}/rules"

    @app.get(rules_path)
    async def list_rules(request: Request, workspace: str, tracking_plan: str) -> Response:
        who = await principal(request)
        return _json(await run_in_threadpool(cp.list_rules, who, workspace, tracking_plan))

    async def change_rules(request: Request) -> Response:
        who = await principal(request)
        body = await _body(request)
        params = request.path_params
        result = await run_in_threadpool(
            cp.change_rules, who, params["workspace"], params["tracking_plan"],
            request.method, body,
        )  # fmt: skip
        return _json(result)

    for method, verb in (("PUT", "replace"), ("PATCH", "upsert"), ("DELETE", "delete")):
        app.add_api_route(rules_path, change_rules, methods=[method], tags=["TrackingPlan"],
                          name=f"{verb}_rules", operation_id=f"{verb}_rules")  # fmt: skip

    lock_path = API_PREFIX + "/workspaces/{workspace}/lock"

    @app.get(lock_path)
    async def lock_status(request: Request, workspace: str) -> Response:
        who = await principal(request)
        return _json(await run_in_threadpool(cp.lock_status, who, workspace))

    @app.post(lock_path)
    async def acquire_lock(request: Request, workspace: str) -> Response:
        who = await principal(request)
        body = await _body(request)
        return _json(await run_in_threadpool(cp.acquire_lock, who, workspace, body))

    @app.patch(lock_path)
    async def renew_lock(request: Request, workspace: str) -> Response:
        who = await principal(request)
        body = await _body(request)
        lock_id = str(request.query_params.get("id", ""))
        return _json(await run_in_threadpool(cp.renew_lock, who, workspace, lock_id, body))

    @app.delete(lock_path)
    async def release_lock(request: Request, workspace: str) -> Response:
        who = await principal(request)
        lock_id = request.query_params.get("id")
        await run_in_threadpool(cp.release_lock, who, workspace, lock_id)
        return _json({})

    @app.get(API_PREFIX + "/workspaces/{workspace}/audit-events")
    async def audit_events(request: Request, workspace: str) -> Response:
        who = await principal(request)
        q = request.query_params
        page = await run_in_threadpool(
            cp.audit_events, who, workspace, q.get("page_size"), q.get("page_token")
        )
        return _json({"audit_events": page.items, "next_page_token": page.next_page_token})

    for kind in kinds_in_order():
        _add_kind_routes(app, cp, kind, principal)
    return app


def _templates(kind: Kind) -> tuple[str, str]:
    path = API_PREFIX + "/workspaces/{workspace}"
    chain = kind.chain()
    for ancestor in chain[:-1]:
        path += f"/{ancestor.collection}/{{{ancestor.key}}}"
    collection = f"{path}/{kind.collection}"
    return collection, f"{collection}/{{{kind.key}}}"


def _parent_address(kind: Kind, params: dict[str, str]) -> str | None:
    """The parent address from path parameters; None for the ``-`` wildcard or a root kind."""
    slugs = [params[k.key] for k in kind.chain()[:-1]]
    if not slugs or "-" in slugs:
        return None
    return "/".join(slugs)


def _address(kind: Kind, params: dict[str, str]) -> str:
    return "/".join(params[k.key] for k in kind.chain())


def _add_kind_routes(
    app: FastAPI,
    cp: ControlPlane,
    kind: Kind,
    principal: Callable[[Request], Awaitable[Principal]],
) -> None:
    collection, item = _templates(kind)
    plural = kind.collection.replace("-", "_")

    async def list_(request: Request) -> Response:
        who = await principal(request)
        params, q = request.path_params, request.query_params
        page = await run_in_threadpool(
            cp.list_resources, who, params["workspace"], kind, _parent_address(kind, params),
            q.get("page_size"), q.get("page_token"),
        )  # fmt: skip
        return _json({plural: page.items, "next_page_token": page.next_page_token})

    async def create(request: Request) -> Response:
        who = await principal(request)
        params = request.path_params
        parent = _parent_address(kind, params)
        if kind.parent and parent is None:
            raise errors.invalid_argument("cannot create under the '-' wildcard")
        body = await _body(request)
        created = await run_in_threadpool(cp.create, who, params["workspace"], kind, parent, body)
        return _json(created)

    async def get(request: Request) -> Response:
        who = await principal(request)
        params = request.path_params
        return _json(
            await run_in_threadpool(cp.get, who, params["workspace"], kind, _address(kind, params))
        )

    async def update(request: Request) -> Response:
        who = await principal(request)
        params = request.path_params
        body = await _body(request)
        updated = await run_in_threadpool(
            cp.update, who, params["workspace"], kind, _address(kind, params), body,
            request.headers.get("if-match"),
        )  # fmt: skip
        return _json(updated)

    async def delete(request: Request) -> Response:
        who = await principal(request)
        params = request.path_params
        await run_in_threadpool(
            cp.delete, who, params["workspace"], kind, _address(kind, params),
            request.headers.get("if-match"),
        )  # fmt: skip
        return _json({})

    tag: list[str | Enum] = [kind.name]
    app.add_api_route(collection, list_, methods=["GET"], tags=tag, name=f"list_{plural}")
    app.add_api_route(collection, create, methods=["POST"], tags=tag, name=f"create_{kind.key}")
    app.add_api_route(item, get, methods=["GET"], tags=tag, name=f"get_{kind.key}")
    app.add_api_route(item, update, methods=["PATCH"], tags=tag, name=f"update_{kind.key}")
    app.add_api_route(item, delete, methods=["DELETE"], tags=tag, name=f"delete_{kind.key}")
