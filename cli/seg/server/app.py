"""The HTTP layer: routes for every kind in the registry, error rendering, health and OpenAPI."""

from __future__ import annotations

import json
import logging
from collections.abc import Awaitable, Callable
from dataclasses import replace
from enum import Enum
from typing import TYPE_CHECKING, Any, Protocol

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from starlette.concurrency import run_in_threadpool
from starlette.convertors import StringConvertor, register_url_convertor
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.requests import ClientDisconnect
from starlette.routing import Match

from seg.about import build_version
from seg.kinds import kinds_in_order
from seg.kinds.names import MANAGER_RE
from seg.kinds.tracking_plan import KIND as TRACKING_PLAN
from seg.model.kinds import Kind
from seg.model.urls import redact_text
from seg.server import errors, pages, strict_json
from seg.server.api_models import (
    AccessExplanation,
    ApplyFinish,
    ApplyRun,
    ApplyRunDetail,
    ApplyRunList,
    ApplyStart,
    AuditEventList,
    CatalogEntry,
    CatalogImport,
    CatalogImportResult,
    ChangeList,
    Empty,
    Lock,
    LockRenewal,
    LockRequest,
    SecretsCompareRequest,
    SecretsCompareResponse,
    Status,
    TokenCreate,
    TokenList,
    TokenWithSecret,
    Workspace,
    WorkspaceUpdate,
    kind_models,
    model,
)
from seg.server.apply_service import FINISH_KEYS, START_KEYS
from seg.server.audit import AUDIT_FILTERS, MAX_RESOURCE_NAME, TOKEN_ID_RE
from seg.server.catalog_service import COLLECTIONS
from seg.server.change_service import MAX_REVISION
from seg.server.edge import DEFAULT_MAX_BODY_BYTES, InputGuard
from seg.server.errors import DomainError
from seg.server.http_errors import http_error
from seg.server.locks import LOCK_HEADER, OVERRIDE_HEADER
from seg.server.metrics import Metrics, metrics_token_ok
from seg.server.observe import Observe, error_body
from seg.server.openapi import (
    APPLY_HEADER,
    READ_ERRORS,
    WRITE_ERRORS,
    apply_header,
    if_match,
    openapi_document,
    operation,
    page_params,
    query,
    version_number,
)
from seg.server.service import ControlPlane, Principal
from seg.store.base import (
    APPLY_STATUSES,
    AlreadyExistsError,
    InvalidValueError,
    MissingReferenceError,
    StillReferencedError,
    StoreError,
    UnavailableError,
)

if TYPE_CHECKING:
    from seg.server.lifecycle import DrainState

__all__ = ["API_PREFIX", "create_app"]

API_PREFIX = "/v1beta"
log = logging.getLogger("seg.server")

Handler = Callable[[Request], Awaitable[Response]]


def _json(data: Any, status: int = 200) -> Response:
    return Response(json.dumps(data), status_code=status, media_type="application/json")


# The top-level keys each body may carry; anything else is refused (400).
WORKSPACE_KEYS = frozenset({"workspace", "update_mask"})
RULES_KEYS = frozenset({"rules"})
COMPARE_KEYS = frozenset({"secrets"})
LOCK_KEYS = frozenset({"holder", "host", "plan", "ci_run", "ttl_seconds"})
RENEW_KEYS = frozenset({"ttl_seconds"})
OWNERSHIP_KEYS = frozenset({"secret_paths", "managed_paths", "protect", "manager"})
CATALOG_KEYS = frozenset({"format_version", "entries"})
TOKEN_KEYS = frozenset({"token"})


async def _body(request: Request, allowed: frozenset[str]) -> dict[str, Any]:
    """The request body: a strict JSON object (see ``strict_json``) with only ``allowed`` keys."""
    return _parsed(request, await request.body(), allowed)


def _parsed(request: Request, raw: bytes, allowed: frozenset[str]) -> dict[str, Any]:
    """``_body`` of the bytes already read (``raw``)."""
    if not raw:
        return {}
    if not _is_json(request.headers.get("content-type", "")):
        raise errors.UnsupportedMediaType()
    try:
        body = strict_json.loads(raw)
    except strict_json.JsonInputError as exc:
        raise errors.InvalidArgument(str(exc)) from None
    if not isinstance(body, dict):
        raise errors.InvalidArgument("request body must be a JSON object")
    unknown = sorted(set(body) - allowed)
    if unknown:
        shown = ", ".join(repr(k[:40]) for k in unknown[:5])
        raise errors.InvalidArgument(
            f"unknown top-level field(s) {shown}; expected {', '.join(sorted(allowed))}"
        )
    return body


def _is_json(content_type: str) -> bool:
    media = content_type.split(";", 1)[0].strip().lower()
    return media == "application/json" or (
        media.startswith("application/") and media.endswith("+json")
    )


def _if_match(request: Request) -> str | None:
    """The etag (or ``*``) of the ``If-Match`` header, quotes removed; present but empty is a
    mistake, not "unconditional"."""
    value = request.headers.get("if-match")
    if value is None:
        return None
    etag = value.strip().strip('"').strip()
    if not etag:
        raise errors.InvalidArgument("If-Match must be an etag or *")
    return etag


def _bearer(authorization: str | None) -> str:
    """The credential of ``Authorization: Bearer <token>`` (the scheme in any case)."""
    scheme, _, credentials = (authorization or "").strip().partition(" ")
    if scheme.lower() != "bearer" or not credentials.strip():
        raise errors.Unauthenticated()
    return credentials.strip()


def _lock_override(value: str | None) -> bool:
    """``Seg-Lock-Override``: absent or ``true`` (any case); anything else is an error."""
    if value is None:
        return False
    if value.strip().lower() != "true":
        raise errors.InvalidArgument("the Seg-Lock-Override header must be 'true' when sent")
    return True


def _apply_run(value: str | None) -> int | None:
    """``Seg-Apply``: absent, or an apply run's id (whose run ``AuditLog.check_tag`` checks)."""
    if value is None:
        return None
    raw = value.strip()
    if raw.isascii() and raw.isdigit() and len(raw) <= 10 and 0 < int(raw) <= pages.MAX_AUDIT_ID:
        return int(raw)
    raise errors.InvalidArgument(
        f"the {APPLY_HEADER} header must be the id of an apply run (a positive integer)"
    )


def _allowed_methods(request: Request) -> str:
    """Every method some route serves at this path (the ``Allow`` header of a 405)."""
    methods: set[str] = set()
    for route in request.app.router.routes:
        match, _ = route.matches({**request.scope, "method": "__none__"})
        if match is not Match.NONE:
            methods |= set(getattr(route, "methods", None) or ())
    return ", ".join(sorted(methods))


def _store_error(exc: StoreError, database_url: str) -> DomainError:
    """The API error for a store error the service did not map with more context."""
    if isinstance(exc, UnavailableError):
        # One line, no traceback: the operator needs the cause, the caller only the status.
        log.error("database unavailable: %s", redact_text(str(exc), database_url))
        return errors.Unavailable()
    if isinstance(exc, AlreadyExistsError):
        return errors.AlreadyExists("the resource already exists")
    if isinstance(exc, MissingReferenceError):
        return errors.NotFound("a resource it refers to does not exist (any more)")
    if isinstance(exc, StillReferencedError):
        return errors.FailedPrecondition("the resource is still in use; delete its users first")
    assert isinstance(exc, InvalidValueError)
    return errors.InvalidArgument(f"invalid value: {exc}")


def _install_error_handlers(app: FastAPI, database_url: str) -> None:
    async def api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, DomainError)
        error = http_error(exc)
        return JSONResponse(error_body(request.scope, error.body()), status_code=error.status,
                            headers=error.headers)  # fmt: skip

    async def routing_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        if exc.status_code == 405:
            body = error_body(request.scope, {"error": "method not allowed", "code": 12})
            return JSONResponse(body, status_code=405, headers={"Allow": _allowed_methods(request)})
        body = error_body(request.scope, {"error": "not found", "code": 5})
        return JSONResponse(body, status_code=exc.status_code)

    async def disconnected(request: Request, _: Exception) -> Response:
        log.warning("client disconnected before its request body was complete: %s %s",
                    request.method, request.url.path)  # fmt: skip
        return Response(status_code=400)  # nobody is left to read it

    async def invalid(request: Request, exc: Exception) -> Response:
        body = error_body(request.scope, {"error": f"invalid request: {exc}", "code": 3})
        return JSONResponse(body, status_code=400)

    async def store_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StoreError)
        return await api_error(request, _store_error(exc, database_url))

    async def unexpected(request: Request, exc: Exception) -> Response:
        log.exception("internal error", exc_info=exc)
        return JSONResponse(error_body(request.scope, http_error(errors.Internal()).body()),
                            status_code=500)  # fmt: skip

    app.add_exception_handler(DomainError, api_error)
    app.add_exception_handler(StarletteHTTPException, routing_error)
    app.add_exception_handler(RequestValidationError, invalid)
    app.add_exception_handler(StoreError, store_error)
    app.add_exception_handler(ClientDisconnect, disconnected)
    app.add_exception_handler(Exception, unexpected)


def create_app(cp: ControlPlane, max_body_bytes: int = DEFAULT_MAX_BODY_BYTES, *,
               access_log: bool = True, metrics_token: str | None = None,
               drain: DrainState | None = None) -> FastAPI:  # fmt: skip
    """The ASGI application serving ``cp``; bodies above ``max_body_bytes`` get 413. Each
    request is logged to ``seg.access`` unless ``access_log`` is off; ``/metrics`` needs
    ``metrics_token`` as a bearer token when one is given. With ``drain`` (``seg serve``),
    ``/readyz`` turns 503 once shutdown begins (``server/lifecycle.py``), inside the request
    id, the access log and the metrics like every other answer."""
    app = FastAPI(
        title="seg control plane",
        version=build_version(),
        openapi_url="/openapi.json",
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=lambda route: route.name,  # list_sources, create_source…
    )
    _install_error_handlers(app, cp.store.url)
    app.add_middleware(InputGuard, max_body_bytes=max_body_bytes)
    if drain is not None:
        from seg.server.lifecycle import DrainGuard  # uvicorn: only a served app needs it

        app.add_middleware(DrainGuard, state=drain)
    metrics = Metrics(cp.store, cp.clock)
    app.add_middleware(Observe, metrics=metrics, access=access_log)  # outside InputGuard

    def caller(request: Request, tagged: bool) -> Principal:
        """The request's caller (run off the event loop, in one hop: each hop costs)."""
        headers = request.headers
        token = _bearer(headers.get("authorization"))
        lock_id = (headers.get(LOCK_HEADER) or "").strip()
        who = cp.workspaces.authenticate(token, lock_id)
        request.state.token_id = who.token_id  # the access log's actor
        # the token first: an unknown one is 401 whatever else the request carries
        who = replace(who, lock_override=_lock_override(headers.get(OVERRIDE_HEADER)))
        if not tagged:
            return who
        # a resource write may belong to an apply run: checked here, and again in its write
        who = replace(who, apply_run=_apply_run(headers.get(APPLY_HEADER)))
        if who.apply_run is not None and request.path_params.get("workspace") == who.workspace:
            cp.audit.check_header(who)
        return who

    async def principal(request: Request, *, tagged: bool = False) -> Principal:
        return await run_in_threadpool(caller, request, tagged)

    async def as_caller(request: Request, work: Callable[[Principal], Any], *,
                        tagged: bool = False) -> Any:  # fmt: skip
        """``work`` done for the request's caller, in the same thread hop as finding it; a
        resource write (``tagged``), caller included, in its turn (``Store.write_turn``):
        finding the caller reads the database too, and measured slower outside the turn."""
        if not tagged:
            return await run_in_threadpool(lambda: work(caller(request, tagged)))

        def in_turn() -> Any:
            with cp.store.write_turn():
                return work(caller(request, tagged))

        return await run_in_threadpool(in_turn)

    health_doc = operation("/healthz", Status, errors=(), secured=False)

    @app.get("/healthz", response_model=None, openapi_extra=health_doc)
    async def healthz() -> dict[str, str]:
        return {"status": "ok"}  # liveness: the process answers; see /readyz for the database

    @app.get("/readyz", openapi_extra=operation("/readyz", Status, errors=(503,), secured=False))
    async def readyz(request: Request) -> Response:
        """Readiness: 200 when the database answers a read, else 503/14."""
        try:
            await run_in_threadpool(cp.store.ping)
        except StoreError as exc:
            error = http_error(_store_error(exc, cp.store.url))
            return JSONResponse(error_body(request.scope, error.body()), status_code=error.status)
        return _json({"status": "ok"})

    @app.get("/metrics", include_in_schema=False)
    async def metrics_page(request: Request) -> Response:
        """Prometheus' text format; documented in README, kept out of the API's document."""
        if not metrics_token_ok(metrics_token, request.headers.get("authorization")):
            raise errors.Unauthenticated()
        body, content_type = await run_in_threadpool(metrics.render,
                                                     request.headers.get("accept"))  # fmt: skip
        return Response(body, headers={"Content-Type": content_type})

    _add_workspace_routes(app, cp, principal)
    _add_rules_routes(app, cp, principal)
    _add_lock_routes(app, cp, principal)
    _add_catalog_routes(app, cp, principal)
    _add_token_routes(app, cp, principal)
    _add_apply_routes(app, cp, principal)
    for kind in kinds_in_order():
        _add_kind_routes(app, cp, kind, principal, as_caller)
    app.openapi = lambda: openapi_document(app)  # type: ignore[method-assign]
    return app


class Principals(Protocol):
    """The caller of a request; ``tagged``: a resource write, which may name its apply run
    (``Seg-Apply``)."""

    def __call__(self, request: Request, *, tagged: bool = False) -> Awaitable[Principal]: ...


class Callers(Protocol):
    """Work done for the caller of a request, found in the same thread hop (``Principals``:
    the same checks in the same order; an apply's writes pay one hop each, not two)."""

    def __call__(self, request: Request, work: Callable[[Principal], Any], *,
                 tagged: bool = False) -> Awaitable[Any]: ...  # fmt: skip


def _add_workspace_routes(app: FastAPI, cp: ControlPlane, principal: Principals) -> None:
    """The workspace itself, access explanations, secret comparisons and audit events."""
    ws_path = API_PREFIX + "/workspaces/{workspace}"

    @app.get(ws_path, openapi_extra=operation(ws_path, Workspace))
    async def get_workspace(request: Request) -> Response:
        who = await principal(request)
        workspace = request.path_params["workspace"]
        return _json(await run_in_threadpool(cp.workspaces.get, who, workspace))

    @app.patch(ws_path, openapi_extra=operation(ws_path, Workspace, body=WorkspaceUpdate,
                                                errors=WRITE_ERRORS))  # fmt: skip
    async def update_workspace(request: Request) -> Response:
        who = await principal(request)
        workspace = request.path_params["workspace"]
        body = await _body(request, WORKSPACE_KEYS)
        return _json(await run_in_threadpool(cp.workspaces.update, who, workspace, body))

    access_path = ws_path + "/access/{email}"

    @app.get(access_path, openapi_extra=operation(access_path, AccessExplanation))
    async def explain_access(request: Request) -> Response:
        who = await principal(request)
        params = request.path_params
        return _json(
            await run_in_threadpool(cp.access.explain, who, params["workspace"], params["email"])
        )

    compare_path = ws_path + "/secrets:compare"
    compare_doc = operation(compare_path, SecretsCompareResponse, body=SecretsCompareRequest,
                            errors=WRITE_ERRORS)  # fmt: skip

    @app.post(compare_path, openapi_extra=compare_doc)
    async def compare_secrets(request: Request) -> Response:
        who = await principal(request)
        workspace = request.path_params["workspace"]
        body = await _body(request, COMPARE_KEYS)
        return _json(await run_in_threadpool(cp.resources.compare_secrets, who, workspace, body))

    changes_path = ws_path + "/changes"
    since = query("since", "The revision the caller holds; none: only the current revision "
                  "and epoch", {"type": "integer", "minimum": 0,
                                "maximum": MAX_REVISION})  # fmt: skip
    changes_doc = operation(changes_path, ChangeList, params=[since, *page_params()],
                            errors=(*READ_ERRORS, 410))  # fmt: skip

    @app.get(changes_path, openapi_extra=changes_doc)
    async def changes(request: Request) -> Response:
        who = await principal(request)
        q = request.query_params
        return _json(await run_in_threadpool(cp.changes.changes, who,
                                             request.path_params["workspace"], q.get("since"),
                                             q.get("page_size"), q.get("page_token")))  # fmt: skip

    audit_path = ws_path + "/audit-events"
    audit_doc = operation(audit_path, AuditEventList, params=[*_audit_filters(),
                                                              *page_params()])  # fmt: skip

    @app.get(audit_path, openapi_extra=audit_doc)
    async def audit_events(request: Request) -> Response:
        who = await principal(request)
        q = request.query_params
        filters = {name: q.get(name) for name in AUDIT_FILTERS}
        page = await run_in_threadpool(cp.audit.events, who, request.path_params["workspace"],
                                       q.get("page_size"), q.get("page_token"),
                                       filters)  # fmt: skip
        return _json({"audit_events": page.items, "next_page_token": page.next_page_token})


def _audit_filters() -> list[dict[str, Any]]:
    """The query parameters that narrow ``GET …/audit-events``."""
    event_id = {"type": "integer", "maximum": pages.MAX_AUDIT_ID}
    keys: list[Any] = [kind.key for kind in kinds_in_order()]
    return [
        query("after", "Only events newer than this event id", {**event_id, "minimum": 0}),
        query("actor", "Only events made with this token (its id)",
              {"type": "string", "pattern": TOKEN_ID_RE.pattern}),
        query("kind", "Only events on resources of this kind (its key; a tracking plan's "
              "rules count as the plan's)", {"type": "string", "enum": keys}),
        query("since", "Only events at or after this time (RFC 3339)",
              {"type": "string", "format": "date-time"}),
        query("until", "Only events before this time (RFC 3339)",
              {"type": "string", "format": "date-time"}),
        query("apply", "Only events of this apply run (its writes, start and finish); "
              "`none`: only events no apply run made (writes outside seg apply)",
              {"anyOf": [{**event_id, "minimum": 1}, {"type": "string", "enum": ["none"]}]}),
        query("resource", "Only events on this resource of the workspace (its full name, "
              "workspaces/<ws>/sources/web; a tracking plan's rules count as the plan's)",
              {"type": "string", "maxLength": MAX_RESOURCE_NAME,
               "pattern": r"^workspaces/[^/]+(/[^/]+/[^/]+)+$"}),
    ]  # fmt: skip


def _add_rules_routes(app: FastAPI, cp: ControlPlane, principal: Principals) -> None:
    """A tracking plan's rules: list, replace (PUT), upsert (PATCH), delete by id (DELETE)."""
    rules_path = API_PREFIX + "/workspaces/{workspace}/tracking-plans/{tracking_plan}/rules"
    tags: list[str | Enum] = [TRACKING_PLAN.name]

    @app.get(rules_path, tags=tags, openapi_extra=operation(rules_path, model("RuleList")))
    async def list_rules(request: Request) -> Response:
        who = await principal(request)
        params = request.path_params
        return _json(await run_in_threadpool(cp.rules.list_rules, who, params["workspace"],
                                             params["tracking_plan"]))  # fmt: skip

    def rules_route(write: Callable[..., dict[str, Any]]) -> Handler:
        async def change_rules(request: Request) -> Response:
            who = await principal(request, tagged=True)
            body = await _body(request, RULES_KEYS)
            params = request.path_params
            result = await run_in_threadpool(
                write, who, params["workspace"], params["tracking_plan"], body, _if_match(request)
            )
            return _json(result)

        return change_rules

    writes = (("PUT", "replace", cp.rules.replace, model("Rules")),
              ("PATCH", "upsert", cp.rules.upsert, model("Rules")),
              ("DELETE", "delete", cp.rules.delete, model("RuleIds")))  # fmt: skip
    for method, verb, write, body in writes:
        doc = operation(rules_path, model("RuleList"), body=body, errors=(*WRITE_ERRORS, 412),
                        params=[if_match(), apply_header()])  # fmt: skip
        app.add_api_route(rules_path, rules_route(write), methods=[method], tags=tags,
                          name=f"{verb}_rules", operation_id=f"{verb}_rules",
                          openapi_extra=doc)  # fmt: skip


def _add_lock_routes(app: FastAPI, cp: ControlPlane, principal: Principals) -> None:
    """The workspace lock: status, acquire, renew (by id), release (by id, or forced)."""
    lock_path = API_PREFIX + "/workspaces/{workspace}/lock"
    lock_id = [query("id", "The lock's id", {"type": "string"})]

    @app.get(lock_path, openapi_extra=operation(lock_path, Lock))
    async def lock_status(request: Request) -> Response:
        who = await principal(request)
        workspace = request.path_params["workspace"]
        return _json(await run_in_threadpool(cp.locks.status, who, workspace))

    @app.post(lock_path, openapi_extra=operation(lock_path, Lock, body=LockRequest,
                                                 errors=WRITE_ERRORS))  # fmt: skip
    async def acquire_lock(request: Request) -> Response:
        who = await principal(request)
        body = await _body(request, LOCK_KEYS)
        workspace = request.path_params["workspace"]
        return _json(await run_in_threadpool(cp.locks.acquire, who, workspace, body))

    renew_doc = operation(lock_path, Lock, body=LockRenewal, errors=WRITE_ERRORS, params=lock_id)

    @app.patch(lock_path, openapi_extra=renew_doc)
    async def renew_lock(request: Request) -> Response:
        who = await principal(request)
        body = await _body(request, RENEW_KEYS)
        lock_id = str(request.query_params.get("id", ""))
        workspace = request.path_params["workspace"]
        return _json(await run_in_threadpool(cp.locks.renew, who, workspace, lock_id, body))

    release_doc = operation(lock_path, Empty, errors=WRITE_ERRORS, params=lock_id)

    @app.delete(lock_path, openapi_extra=release_doc)
    async def release_lock(request: Request) -> Response:
        who = await principal(request)
        lock_id = request.query_params.get("id")
        await run_in_threadpool(cp.locks.release, who, request.path_params["workspace"], lock_id)
        return _json({})


def _add_catalog_routes(app: FastAPI, cp: ControlPlane, principal: Principals) -> None:
    """The catalog: a page of each section, one entry, and importing private entries."""
    base = API_PREFIX + "/catalog"
    tags: list[str | Enum] = ["Catalog"]

    def list_route(collection: str) -> Handler:
        async def list_catalog(request: Request) -> Response:
            who = await principal(request)
            q = request.query_params
            page = await run_in_threadpool(cp.catalog.list_entries, who, collection,
                                           q.get("page_size"), q.get("page_token"))  # fmt: skip
            return _json({collection: page.items, "next_page_token": page.next_page_token})

        return list_catalog

    for section, collection in COLLECTIONS.items():
        path = f"{base}/{collection}"
        doc = operation(path, model(f"Catalog{section.title()}List"), params=page_params())
        app.add_api_route(path, list_route(collection), methods=["GET"], tags=tags,
                          name=f"list_catalog_{collection}", openapi_extra=doc)  # fmt: skip

    item = base + "/{section}/{id}"
    item_doc = operation(item, CatalogEntry)
    for param in item_doc["parameters"]:
        if param["name"] == "section":
            param["schema"] = {"type": "string", "enum": list(COLLECTIONS.values())}

    @app.get(item, tags=tags, openapi_extra=item_doc)
    async def get_catalog_entry(request: Request) -> Response:
        who = await principal(request)
        params = request.path_params
        return _json(await run_in_threadpool(cp.catalog.get_entry, who, params["section"],
                                             params["id"]))  # fmt: skip

    import_path = base + ":import"
    import_doc = operation(import_path, CatalogImportResult, body=CatalogImport,
                           errors=WRITE_ERRORS)  # fmt: skip

    @app.post(import_path, tags=tags, openapi_extra=import_doc)
    async def import_catalog(request: Request) -> Response:
        who = await principal(request)
        body = await _body(request, CATALOG_KEYS)
        return _json(await run_in_threadpool(cp.catalog.import_entries, who, body))


def _add_token_routes(app: FastAPI, cp: ControlPlane, principal: Principals) -> None:
    """A workspace's tokens (owners only): list, create, revoke, rotate. The token id is
    routed with the colon-free ``segment`` convertor, so ``tok_1:rotate`` never matches the
    revoke route."""
    tokens = API_PREFIX + "/workspaces/{workspace}/tokens"
    one, rotate_path = tokens + "/{token}", tokens + "/{token}:rotate"
    routed = {one: tokens + "/{token:segment}", rotate_path: tokens + "/{token:segment}:rotate"}

    async def list_tokens(request: Request) -> Response:
        who = await principal(request)
        workspace = request.path_params["workspace"]
        return _json(await run_in_threadpool(cp.tokens.list_tokens, who, workspace))

    async def create_token(request: Request) -> Response:
        who = await principal(request)
        body = await _body(request, TOKEN_KEYS)
        workspace = request.path_params["workspace"]
        return _json(await run_in_threadpool(cp.tokens.create, who, workspace, body))

    async def revoke_token(request: Request) -> Response:
        who = await principal(request)
        params = request.path_params
        await run_in_threadpool(cp.tokens.revoke, who, params["workspace"], params["token"])
        return _json({})

    async def rotate_token(request: Request) -> Response:
        who = await principal(request)
        params = request.path_params
        await _body(request, frozenset())
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
    for path, handler, method, doc in routes:
        app.add_api_route(routed.get(path, path), handler, methods=[method], tags=["Token"],
                          name=handler.__name__, openapi_extra=doc)  # fmt: skip


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
    principal: Principals,
    as_caller: Callers,
) -> None:
    collection, item = _templates(kind)
    plural = kind.collection.replace("-", "_")

    async def list_(request: Request) -> Response:
        who = await principal(request)
        params, q = request.path_params, request.query_params
        page = await run_in_threadpool(
            cp.resources.list_resources, who, params["workspace"], kind,
            _parent_address(kind, params),
            q.get("page_size"), q.get("page_token"),
        )  # fmt: skip
        return _json({plural: page.items, "next_page_token": page.next_page_token})

    async def create(request: Request) -> Response:
        raw, params = await request.body(), request.path_params

        def work(who: Principal) -> dict[str, Any]:
            parent = _parent_address(kind, params)
            if kind.parent and parent is None:
                raise errors.InvalidArgument("cannot create under the '-' wildcard")
            body = _parsed(request, raw, OWNERSHIP_KEYS | {kind.key})
            return cp.resources.create(who, params["workspace"], kind, parent, body)

        return _json(await as_caller(request, work, tagged=True))

    async def get(request: Request) -> Response:
        who = await principal(request)
        params = request.path_params
        return _json(
            await run_in_threadpool(
                cp.resources.get, who, params["workspace"], kind, _address(kind, params)
            )
        )

    async def update(request: Request) -> Response:
        raw, params = await request.body(), request.path_params

        def work(who: Principal) -> dict[str, Any]:
            body = _parsed(request, raw, OWNERSHIP_KEYS | {kind.key, "update_mask"})
            return cp.resources.update(who, params["workspace"], kind, _address(kind, params),
                                       body, _if_match(request))  # fmt: skip

        return _json(await as_caller(request, work, tagged=True))

    async def delete(request: Request) -> Response:
        params = request.path_params

        def work(who: Principal) -> None:
            cp.resources.delete(who, params["workspace"], kind, _address(kind, params),
                                _if_match(request))  # fmt: skip

        await as_caller(request, work, tagged=True)
        return _json({})

    models = kind_models()[kind.name]
    conditional = [if_match(), apply_header()]
    routes = (
        (collection, list_, "GET", f"list_{plural}",
         operation(collection, models.list, params=page_params())),
        (collection, create, "POST", f"create_{kind.key}",
         operation(collection, models.resource, body=models.create, errors=WRITE_ERRORS,
                   params=[apply_header()])),
        (item, get, "GET", f"get_{kind.key}", operation(item, models.resource)),
        (item, update, "PATCH", f"update_{kind.key}",
         operation(item, models.resource, body=models.update, errors=(*WRITE_ERRORS, 412),
                   params=conditional)),
        (item, delete, "DELETE", f"delete_{kind.key}",
         operation(item, Empty, errors=(*WRITE_ERRORS, 412), params=conditional)),
    )  # fmt: skip
    tag: list[str | Enum] = [kind.name]
    for path, handler, method, name, doc in routes:
        app.add_api_route(path, handler, methods=[method], tags=tag, name=name,
                          openapi_extra=doc)  # fmt: skip
    if kind.versioning is not None:
        _add_version_routes(app, cp, kind, item, principal)


class _Segment(StringConvertor):
    """A path segment without ``:``, so ``/versions/{version}`` does not match ``3:restore``.

    Starlette merges the ``Allow`` header of every route whose path matches; with the plain
    string convertor an OPTIONS to ``…/versions/3:restore`` would answer ``Allow: GET, POST``.
    """

    regex = "[^/:]+"


register_url_convertor("segment", _Segment())


def _add_version_routes(app: FastAPI, cp: ControlPlane, kind: Kind, item: str,
                        principal: Principals) -> None:  # fmt: skip
    """A versioned kind's versions: list (newest first), get one, restore one."""
    versions, one = item + "/versions", item + "/versions/{version}"
    restore_path = one + ":restore"
    # Routed with the colon-free convertor; documented (and listed in OpenAPI) as {version}.
    routed = {one: item + "/versions/{version:segment}",
              restore_path: item + "/versions/{version:segment}:restore"}  # fmt: skip

    async def list_versions(request: Request) -> Response:
        who = await principal(request)
        params, q = request.path_params, request.query_params
        page = await run_in_threadpool(
            cp.versions.list_versions, who, params["workspace"], kind, _address(kind, params),
            q.get("page_size"), q.get("page_token"),
        )  # fmt: skip
        return _json({"versions": page.items, "next_page_token": page.next_page_token})

    async def get_version(request: Request) -> Response:
        who = await principal(request)
        params = request.path_params
        return _json(await run_in_threadpool(
            cp.versions.get_version, who, params["workspace"], kind, _address(kind, params),
            params["version"],
        ))  # fmt: skip

    async def restore_version(request: Request) -> Response:
        who = await principal(request)
        params = request.path_params
        await _body(request, frozenset())
        return _json(await run_in_threadpool(
            cp.versions.restore, who, params["workspace"], kind, _address(kind, params),
            params["version"], _if_match(request),
        ))  # fmt: skip

    models = kind_models()[kind.name]
    assert models.version is not None and models.versions is not None
    routes = (
        (versions, list_versions, "GET", f"list_{kind.key}_versions",
         operation(versions, models.versions, params=page_params())),
        (one, get_version, "GET", f"get_{kind.key}_version",
         version_number(operation(one, models.version))),
        (restore_path, restore_version, "POST", f"restore_{kind.key}_version",
         version_number(operation(restore_path, models.resource, body=Empty,
                                  errors=(*WRITE_ERRORS, 412), params=[if_match()]))),
    )  # fmt: skip
    for path, handler, method, name, doc in routes:
        app.add_api_route(routed.get(path, path), handler, methods=[method], tags=[kind.name],
                          name=name, openapi_extra=doc)  # fmt: skip


def _add_apply_routes(app: FastAPI, cp: ControlPlane, principal: Principals) -> None:
    """Apply runs: start (201), finish, list (newest first), one with its changes."""
    runs = API_PREFIX + "/workspaces/{workspace}/applies"
    one = runs + "/{apply}"
    tags: list[str | Enum] = ["Apply"]

    async def start_apply(request: Request) -> Response:
        who = await principal(request)
        body = await _body(request, START_KEYS)
        workspace = request.path_params["workspace"]
        return _json(await run_in_threadpool(cp.applies.start, who, workspace, body), 201)

    async def finish_apply(request: Request) -> Response:
        who = await principal(request)
        body = await _body(request, FINISH_KEYS)
        params = request.path_params
        return _json(await run_in_threadpool(cp.applies.finish, who, params["workspace"],
                                             params["apply"], body))  # fmt: skip

    async def list_applies(request: Request) -> Response:
        who = await principal(request)
        q = request.query_params
        page = await run_in_threadpool(cp.applies.list_runs, who,
                                       request.path_params["workspace"], q.get("manager"),
                                       q.get("status"), q.get("page_size"),
                                       q.get("page_token"))  # fmt: skip
        return _json({"applies": page.items, "next_page_token": page.next_page_token})

    async def get_apply(request: Request) -> Response:
        who = await principal(request)
        params = request.path_params
        return _json(await run_in_threadpool(cp.applies.get_run, who, params["workspace"],
                                             params["apply"]))  # fmt: skip

    statuses: list[Any] = list(APPLY_STATUSES)
    filters = [query("manager", "Only the runs of this manager",
                     {"type": "string", "pattern": MANAGER_RE.pattern}),
               query("status", "Only the runs in this status",
                     {"type": "string", "enum": statuses})]  # fmt: skip
    routes = (
        (runs, start_apply, "POST", 201,
         operation(runs, ApplyRun, body=ApplyStart, errors=WRITE_ERRORS, success=201)),
        (one, finish_apply, "PATCH", 200,
         _run_id(operation(one, ApplyRun, body=ApplyFinish, errors=WRITE_ERRORS))),
        (runs, list_applies, "GET", 200,
         operation(runs, ApplyRunList, params=[*filters, *page_params()])),
        (one, get_apply, "GET", 200, _run_id(operation(one, ApplyRunDetail))),
    )  # fmt: skip
    for path, handler, method, status, doc in routes:
        app.add_api_route(path, handler, methods=[method], tags=tags, name=handler.__name__,
                          status_code=status, openapi_extra=doc)  # fmt: skip


def _run_id(extra: dict[str, Any]) -> dict[str, Any]:
    """``extra`` with its ``apply`` path parameter documented as an apply run's id."""
    for param in extra["parameters"]:
        if (param["in"], param["name"]) == ("path", "apply"):
            param["schema"] = {"type": "integer", "minimum": 1, "maximum": pages.MAX_AUDIT_ID}
            param["description"] = "An apply run's id"
    return extra
