"""The token routes (owners only): list, create, revoke, rotate — ``TokenService`` over HTTP."""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from enum import Enum
from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import Response
from starlette.concurrency import run_in_threadpool

from seg.server.api_models import Empty, TokenCreate, TokenList, TokenWithSecret
from seg.server.core import Principal
from seg.server.openapi import WRITE_ERRORS, operation
from seg.server.service import ControlPlane

__all__ = ["add_token_routes"]

CREATE_KEYS = frozenset({"token"})

Principals = Callable[[Request], Awaitable[Principal]]
Bodies = Callable[[Request, frozenset[str]], Awaitable[dict[str, Any]]]


def _json(data: Any) -> Response:
    return Response(json.dumps(data), media_type="application/json")


def add_token_routes(app: FastAPI, cp: ControlPlane, principal: Principals, body: Bodies,
                     prefix: str) -> None:  # fmt: skip
    """``prefix``/workspaces/{workspace}/tokens[/{token}[:rotate]]; the token id is routed with
    the colon-free ``segment`` convertor (registered by ``server.app``), so ``tok_1:rotate``
    never matches the revoke route."""
    tokens = prefix + "/workspaces/{workspace}/tokens"
    one, rotate_path = tokens + "/{token}", tokens + "/{token}:rotate"
    routed = {one: tokens + "/{token:segment}", rotate_path: tokens + "/{token:segment}:rotate"}

    async def list_tokens(request: Request) -> Response:
        who = await principal(request)
        workspace = request.path_params["workspace"]
        return _json(await run_in_threadpool(cp.tokens.list_tokens, who, workspace))

    async def create_token(request: Request) -> Response:
        who = await principal(request)
        workspace = request.path_params["workspace"]
        created = await body(request, CREATE_KEYS)
        return _json(await run_in_threadpool(cp.tokens.create, who, workspace, created))

    async def revoke_token(request: Request) -> Response:
        who = await principal(request)
        params = request.path_params
        await run_in_threadpool(cp.tokens.revoke, who, params["workspace"], params["token"])
        return _json({})

    async def rotate_token(request: Request) -> Response:
        who = await principal(request)
        params = request.path_params
        await body(request, frozenset())
        return _json(await run_in_threadpool(cp.tokens.rotate, who, params["workspace"],
                                             params["token"]))  # fmt: skip

    routes = (
        (tokens, list_tokens, "GET", operation(tokens, TokenList)),
        (tokens, create_token, "POST",
         operation(tokens, TokenWithSecret, body=TokenCreate, errors=WRITE_ERRORS)),
        (one, revoke_token, "DELETE", operation(one, Empty, errors=WRITE_ERRORS)),
        (rotate_path, rotate_token, "POST",
         operation(rotate_path, TokenWithSecret, body=Empty, errors=WRITE_ERRORS)),
    )  # fmt: skip
    tags: list[str | Enum] = ["Token"]
    for path, handler, method, doc in routes:
        app.add_api_route(routed.get(path, path), handler, methods=[method], tags=tags,
                          name=handler.__name__, openapi_extra=doc)  # fmt: skip
