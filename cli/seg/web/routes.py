"""The web console's pages under ``/console``, served by the control plane's own app.

Every page calls the same services as the API with the signed-in token's principal, so it
sees and may do exactly what the token may (``server/console_service.py`` adds the reads no
single API call answers). Reading needs no JavaScript: filters are GET forms, pages are
links; htmx only narrows the resource list as one types and loads more audit events in
place. The only writes — sign-in, sign-out and releasing the lock — are POST forms carrying
the session's CSRF token, checked with the request's ``Origin``.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, quote, urlencode

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from jinja2 import Environment, FileSystemLoader, select_autoescape
from starlette.concurrency import run_in_threadpool
from starlette.staticfiles import StaticFiles

from seg.kinds import KINDS, kinds_in_order
from seg.kinds.names import parse_resource_name
from seg.model.kinds import Kind
from seg.server.auth import hash_token
from seg.server.console_service import ResourceFilter
from seg.server.core import Principal
from seg.server.errors import (
    DomainError,
    InvalidArgument,
    NotFound,
    PermissionDenied,
    Unauthenticated,
)
from seg.server.http_errors import http_error
from seg.server.service import ControlPlane
from seg.web.plan_page import PlanInputError, plan_html, read_plan
from seg.web.session import COOKIE, MAX_AGE_SECONDS, Session, Sessions, csrf_ok

__all__ = ["PREFIX", "mount"]

PREFIX = "/console"
HERE = Path(__file__).parent
AUDIT_PAGE = "50"
APPLY_PAGE = "50"
HISTORY_PAGE = "50"
# Pages hold workspace data: never cached, never framed, no script or style but our own.
HEADERS = {
    "Content-Security-Policy": "default-src 'none'; script-src 'self'; style-src 'self'; "
    "img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; "
    "base-uri 'none'",
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cache-Control": "no-store",
}

_env = Environment(loader=FileSystemLoader(HERE / "templates"),
                   autoescape=select_autoescape(default=True, default_for_string=True),
                   trim_blocks=True, lstrip_blocks=True)  # fmt: skip
_KINDS = {kind.key: kind for kind in kinds_in_order()}


@dataclass
class Visit:
    """A signed-in request: its session, principal and workspace."""

    request: Request
    session: Session
    who: Principal

    @property
    def workspace(self) -> str:
        return self.who.workspace


Page = Callable[[Visit], Awaitable[Response]]


def resource_url(workspace: str, kind: Kind | str, address: str) -> str:
    """A resource's page; ``kind`` a kind or its name."""
    key = (kind if isinstance(kind, Kind) else KINDS[kind]).key
    return f"{PREFIX}/w/{quote(workspace)}/r/{quote(key)}/{quote(address)}"


def event_link(workspace: str, resource: str) -> str | None:
    """The console page of an audit event's resource (a tracking plan's rules: the plan's)."""
    try:
        _, kind, address = parse_resource_name(resource.removesuffix("/rules"))
    except ValueError:
        return None
    return resource_url(workspace, kind, address)


_env.globals.update(prefix=PREFIX, resource_url=resource_url, event_link=event_link)
_env.filters["tojson_pretty"] = lambda value: json.dumps(value, indent=2, sort_keys=True,
                                                         ensure_ascii=False)  # fmt: skip


def render(name: str, status: int = 200, **context: Any) -> HTMLResponse:
    return HTMLResponse(_env.get_template(name).render(**context), status_code=status,
                        headers=HEADERS)  # fmt: skip


def _redirect(url: str, status: int = 303) -> RedirectResponse:
    return RedirectResponse(url, status_code=status, headers=HEADERS)


def _same_origin(request: Request) -> bool:
    """A form POST from one of our pages: the browser's ``Origin`` (or, without one, the
    ``Referer``) names this server."""
    own = f"{request.url.scheme}://{request.headers.get('host', '')}"
    origin = request.headers.get("origin")
    if origin is not None:
        return origin == own
    referer = request.headers.get("referer", "")
    return referer == own or referer.startswith(own + "/")


async def _form(request: Request) -> dict[str, str]:
    if request.headers.get("content-type", "").split(";")[0].strip() != (
            "application/x-www-form-urlencoded"):  # fmt: skip
        raise InvalidArgument("expected a form")
    raw = await request.body()
    try:
        fields = parse_qs(raw.decode(), keep_blank_values=True, max_num_fields=20)
    except (UnicodeDecodeError, ValueError):
        raise InvalidArgument("the form could not be read") from None
    return {k: v[0] for k, v in fields.items()}


def _set_cookie(response: Response, request: Request, value: str, max_age: int) -> None:
    response.set_cookie(COOKIE, value, max_age=max_age, path=PREFIX, httponly=True,
                        samesite="lax", secure=request.url.scheme == "https")  # fmt: skip


def mount(app: FastAPI, cp: ControlPlane, sessions: Sessions | None = None) -> Sessions:
    """Add the console's pages and static files to ``app``; its session store."""
    sessions = sessions or Sessions()
    app.mount(f"{PREFIX}/static", StaticFiles(directory=HERE / "static"), name="console-static")

    def error_page(request: Request, exc: DomainError) -> Response:
        error = http_error(exc)
        return render("error.html", error.status, message=str(exc), code=error.status,
                      request=request)  # fmt: skip

    def signed_in(page: Page) -> Callable[[Request], Awaitable[Response]]:
        async def handler(request: Request) -> Response:
            session = sessions.find(request.cookies.get(COOKIE))
            if session is None:
                return _redirect(f"{PREFIX}/sign-in?next={quote(request.url.path)}")
            try:
                who = await run_in_threadpool(cp.workspaces.principal_for, session.token_id,
                                              session.secret_hash)  # fmt: skip
            except Unauthenticated:
                sessions.end(session)
                return _redirect(f"{PREFIX}/sign-in")
            except DomainError as exc:
                return error_page(request, exc)
            request.state.token_id = who.token_id  # the access log's actor
            ws = request.path_params.get("workspace")
            if ws is not None and ws != who.workspace:
                return error_page(request, NotFound(f"workspace {ws!r} not found"))
            try:
                return await page(Visit(request, session, who))
            except DomainError as exc:
                return error_page(request, exc)

        return handler

    async def context(visit: Visit, active: str) -> dict[str, Any]:
        caps = await run_in_threadpool(cp.console.capabilities, visit.who, visit.workspace)
        return {"who": visit.who, "caps": caps, "ws": visit.workspace, "active": active,
                "csrf": visit.session.csrf, "request": visit.request}  # fmt: skip

    # -- sign-in and sign-out -------------------------------------------------------------

    async def sign_in_form(request: Request) -> Response:
        return render("sign_in.html", next=_next(request.query_params.get("next")))

    async def sign_in(request: Request) -> Response:
        if not _same_origin(request):
            return render("sign_in.html", 403, error="This form must be sent from this site.")
        try:
            form = await _form(request)
        except DomainError as exc:
            return render("sign_in.html", 400, error=str(exc))
        token = form.get("token", "").strip()
        try:
            who = await run_in_threadpool(cp.workspaces.authenticate, token)
        except Unauthenticated:
            return render("sign_in.html", 401, error="That token is not valid (or expired).",
                          next=_next(form.get("next")))  # fmt: skip
        except DomainError as exc:
            return render("sign_in.html", http_error(exc).status, error=str(exc))
        return _start(request, who.token_id, hash_token(token),
                      _next(form.get("next")) or _home(who))  # fmt: skip

    def _start(request: Request, token_id: str, secret_hash: str, target: str) -> Response:
        session = sessions.create(token_id, secret_hash)
        if session is None:
            return render("sign_in.html", 503, error="Too many people are signed in; try again "
                          "later.")  # fmt: skip
        response = _redirect(target)
        _set_cookie(response, request, sessions.cookie_value(session), MAX_AGE_SECONDS)
        return response

    async def sign_in_link(request: Request) -> Response:
        found = sessions.redeem(request.query_params.get("code", ""))
        if found is None:
            return render("sign_in.html", 401, error="That sign-in link was used or expired; "
                          "sign in with a token.")  # fmt: skip
        try:
            who = await run_in_threadpool(cp.workspaces.principal_for, *found)
        except DomainError as exc:
            return render("sign_in.html", http_error(exc).status, error=str(exc))
        return _start(request, *found, _home(who))

    async def sign_out(request: Request) -> Response:
        if not _same_origin(request):  # another site may not even clear the cookie
            return error_page(request, PermissionDenied("this form must be sent from this site"))
        session = sessions.find(request.cookies.get(COOKIE))
        if session is not None:
            form = await _form(request)
            if not csrf_ok(session, form.get("csrf", "")):
                return error_page(request, InvalidArgument("the form is stale; reload the page"))
            sessions.end(session)
        response = _redirect(f"{PREFIX}/sign-in")
        response.delete_cookie(COOKIE, path=PREFIX)
        return response

    # -- pages ----------------------------------------------------------------------------

    async def home(visit: Visit) -> Response:
        return _redirect(_home(visit.who))

    async def workspaces(visit: Visit) -> Response:
        ws = await run_in_threadpool(cp.workspaces.get, visit.who, visit.workspace)
        return render("workspaces.html", **await context(visit, "workspaces"), workspace=ws)

    async def overview(visit: Visit) -> Response:
        who, ws = visit.who, visit.workspace
        workspace = await run_in_threadpool(cp.workspaces.get, who, ws)
        counts = await run_in_threadpool(cp.console.counts, who, ws)
        lock = await run_in_threadpool(_lock_or_none, cp, who, ws)
        runs = await run_in_threadpool(cp.applies.list_runs, who, ws, None, None, "5", None)
        events = await run_in_threadpool(cp.audit.events, who, ws, "10", None, {})
        return render("overview.html", **await context(visit, "overview"), workspace=workspace,
                      counts=counts, lock=lock, runs=runs.items,
                      events=events.items)  # fmt: skip

    async def resources(visit: Visit) -> Response:
        q = visit.request.query_params
        managed = {"yes": True, "no": False}.get(q.get("managed", ""))
        search = ResourceFilter(q.get("q", "")[:200], q.get("kind", "")[:64],
                                q.get("source", "")[:200], q.get("label", "")[:200],
                                managed)  # fmt: skip
        if search.kind and search.kind not in _KINDS:
            raise InvalidArgument(f"no kind {search.kind!r}")
        rows, more = await run_in_threadpool(cp.console.resources, visit.who,
                                             visit.workspace, search)  # fmt: skip
        template = ("resource_rows.html" if visit.request.headers.get("hx-request")
                    else "resources.html")  # fmt: skip
        return render(template, **await context(visit, "resources"), rows=rows, more=more,
                      search=search, managed=q.get("managed", ""),
                      kinds=list(_KINDS.values()))  # fmt: skip

    async def resource(visit: Visit) -> Response:
        params, q = visit.request.path_params, visit.request.query_params
        kind = _KINDS.get(params["kind"])
        if kind is None:
            raise NotFound(f"no kind {params['kind']!r}")
        who, ws = visit.who, visit.workspace
        detail = await run_in_threadpool(cp.console.resource, who, ws, kind, params["address"])
        history = await run_in_threadpool(cp.audit.events, who, ws, HISTORY_PAGE,
                                          q.get("page_token"),
                                          {"resource": detail.name})  # fmt: skip
        return render("resource.html", **await context(visit, "resources"), r=detail,
                      history=history.items, next_token=history.next_page_token,
                      fields=_field_rows(detail.fields, detail.set_secrets,
                                         detail.unset_secrets))  # fmt: skip

    async def audit(visit: Visit) -> Response:
        q = visit.request.query_params
        filters = {"actor": q.get("actor") or None, "kind": q.get("kind") or None,
                   "since": _time(q.get("since")), "until": _time(q.get("until"))}  # fmt: skip
        page = await run_in_threadpool(cp.audit.events, visit.who, visit.workspace, AUDIT_PAGE,
                                       q.get("page_token") or None, filters)  # fmt: skip
        shown = {k: q.get(k, "") for k in ("actor", "kind", "since", "until")}
        more = (f"?{urlencode({**shown, 'page_token': page.next_page_token})}"
                if page.next_page_token else "")  # fmt: skip
        template = ("audit_rows.html" if visit.request.headers.get("hx-request")
                    else "audit.html")  # fmt: skip
        return render(template, **await context(visit, "audit"), events=page.items,
                      more=more, shown=shown, kinds=list(_KINDS.values()))  # fmt: skip

    async def lock(visit: Visit) -> Response:
        held = await run_in_threadpool(_lock_or_none, cp, visit.who, visit.workspace)
        done = visit.request.query_params.get("released") == "1"
        return render("lock.html", **await context(visit, "lock"), lock=held, released=done)

    async def release_lock(visit: Visit) -> Response:
        request = visit.request
        form = await _form(request)
        if not (_same_origin(request) and csrf_ok(visit.session, form.get("csrf", ""))):
            raise InvalidArgument("the form is stale; reload the page and try again")
        if form.get("confirm") != "release":
            raise InvalidArgument("tick the confirmation to release the lock")
        await run_in_threadpool(cp.locks.release, visit.who, visit.workspace, None)
        return _redirect(f"{PREFIX}/w/{quote(visit.workspace)}/lock?released=1")

    async def applies(visit: Visit) -> Response:
        q = visit.request.query_params
        page = await run_in_threadpool(cp.applies.list_runs, visit.who, visit.workspace, None,
                                       None, APPLY_PAGE, q.get("page_token") or None)  # fmt: skip
        return render("applies.html", **await context(visit, "applies"), runs=page.items,
                      next_token=page.next_page_token)  # fmt: skip

    async def apply_run(visit: Visit) -> Response:
        run = await run_in_threadpool(cp.applies.get_run, visit.who, visit.workspace,
                                      visit.request.path_params["apply"])  # fmt: skip
        return render("apply.html", **await context(visit, "applies"), run=run)

    async def plan_form(visit: Visit) -> Response:
        return render("plan.html", **await context(visit, "plan"), text="")

    async def plan_render(visit: Visit) -> Response:
        request = visit.request
        form = await _form(request)
        if not (_same_origin(request) and csrf_ok(visit.session, form.get("csrf", ""))):
            raise InvalidArgument("the form is stale; reload the page and try again")
        text = form.get("plan", "")
        ctx = await context(visit, "plan")
        try:
            markdown, html = await run_in_threadpool(_render_plan, text)
        except PlanInputError as exc:
            return render("plan.html", 400, **ctx, text=text, error=str(exc))
        return render("plan.html", **ctx, text=text, markdown=markdown, html=html)

    async def graph(visit: Visit) -> Response:
        focus = visit.request.query_params.get("focus", "")[:300]
        from seg.web import graph_page  # the graph's engine and renderers load when drawn

        fields = await run_in_threadpool(cp.console.graph_resources, visit.who, visit.workspace)
        drawn = await run_in_threadpool(graph_page.draw, fields, focus)
        return render("graph.html", **await context(visit, "graph"), drawn=drawn, focus=focus)

    ws = PREFIX + "/w/{workspace}"
    pages: list[tuple[str, Page, str]] = [
        (PREFIX + "/", home, "GET"),
        (PREFIX + "/workspaces", workspaces, "GET"),
        (ws, overview, "GET"),
        (ws + "/resources", resources, "GET"),
        (ws + "/r/{kind}/{address:path}", resource, "GET"),
        (ws + "/audit", audit, "GET"),
        (ws + "/lock", lock, "GET"),
        (ws + "/lock/release", release_lock, "POST"),
        (ws + "/applies", applies, "GET"),
        (ws + "/applies/{apply}", apply_run, "GET"),
        (ws + "/plan", plan_form, "GET"),
        (ws + "/plan", plan_render, "POST"),
        (ws + "/graph", graph, "GET"),
    ]
    for path, page, method in pages:
        app.add_api_route(path, signed_in(page), methods=[method], include_in_schema=False,
                          name=f"console_{page.__name__}_{method.lower()}")  # fmt: skip
    public = [(PREFIX + "/sign-in", sign_in_form, "GET"), (PREFIX + "/sign-in", sign_in, "POST"),
              (PREFIX + "/sign-in/link", sign_in_link, "GET"),
              (PREFIX + "/sign-out", sign_out, "POST")]  # fmt: skip
    for path, handler, method in public:
        app.add_api_route(path, handler, methods=[method], include_in_schema=False,
                          name=f"console_{handler.__name__}_{method.lower()}")  # fmt: skip
    app.add_api_route(PREFIX, home_redirect, methods=["GET"], include_in_schema=False)
    return sessions


async def home_redirect(_: Request) -> Response:
    return _redirect(PREFIX + "/")


def _home(who: Principal) -> str:
    return f"{PREFIX}/w/{quote(who.workspace)}"


def _next(raw: str | None) -> str:
    """Where to go after signing in: only a console path of this site."""
    if raw and raw.startswith(PREFIX + "/") and "//" not in raw and "\\" not in raw:
        return raw
    return ""


def _time(raw: str | None) -> str | None:
    """A ``datetime-local`` input (``2026-12-04T19:30``, read as UTC) or an RFC 3339 time."""
    if not raw:
        return None
    if len(raw) == 16:
        return raw + ":00Z"
    if len(raw) == 19:
        return raw + "Z"
    return raw


def _lock_or_none(cp: ControlPlane, who: Principal, workspace: str) -> dict[str, Any] | None:
    try:
        return cp.locks.status(who, workspace)
    except NotFound:
        return None


def _render_plan(text: str) -> tuple[str, str]:
    return plan_html(read_plan(text))


def _field_rows(fields: dict[str, Any], held: list[str], unset: list[str]
                ) -> list[tuple[str, str, bool]]:  # fmt: skip
    """Each top-level field as (name, shown value, holds a secret), then the secrets that
    have no value; a secret inside a field shows as "set" in its JSON."""
    secret_fields = {raw.split(".", 1)[0].split("[", 1)[0] for raw in held}
    rows = []
    for name in sorted(fields):
        value = fields[name]
        text = value if isinstance(value, str) else json.dumps(value, indent=2, sort_keys=True,
                                                               ensure_ascii=False)  # fmt: skip
        rows.append((name, text, name in secret_fields))
    rows += [(path, "not set", True) for path in unset]
    return rows
