"""The authorisation matrix: every route of the control plane × every kind of token → the
status it gets. The routes come from the app itself, so a route added without a row here fails
``test_every_route_has_a_row``.

Token kinds: plain tokens with the read, write and owner scopes, and user-bound tokens holding
the owner scope — so only the user's roles limit them — for a workspace owner, a tracking-plan
admin (a workspace role), a source admin of the sources labelled ``team:mine`` (a role on one
source), and a user with no roles. Every request gets fresh targets made by the owner, so one
token's delete never changes what the next one sees.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi.routing import APIRoute

from seg.server.app import create_app
from seg.server.service import ControlPlane
from seg.store.sql import SqlStore, open_store
from tests.conftest import Api

TOKENS = ("read", "write", "owner", "user_owner", "user_tp", "user_source", "user_none")
USERS = {
    "user_owner": "dana@x.io",
    "user_tp": "tara@x.io",
    "user_source": "sam@x.io",
    "user_none": "nora@x.io",
}
QUERY = "SELECT id, email FROM users"
# The settings the catalog requires of an enabled postgres source and amplitude destination.
WAREHOUSE_SETTINGS = {"host": "db.internal", "database": "analytics"}
AMPLITUDE_SETTINGS = {"api_key": "amp-key"}
RULE = {"type": "COMMON", "version": 1, "json_schema": {"type": "object"}}


class World:
    """One workspace with a source the source admin administers (``mine``, labelled
    ``team:mine``), one they do not (``other``), bindings for each user, and a token of
    every kind."""

    def __init__(self, cp: ControlPlane, slug: str) -> None:
        self.api = Api(cp, slug)
        self.ws = slug
        self.counter = itertools.count()
        self.owner = self.api.http
        self.must("POST", "/labels", {"label": {"name": f"workspaces/{slug}/labels/team:mine"}})
        for source, labels in (("mine", {"team": "mine"}), ("other", {})):
            self.source(source, labels)
        bindings = [
            ("dana@x.io", "workspace_owner", "workspace"),
            ("tara@x.io", "tracking_plan_admin", "workspace"),
            ("sam@x.io", "source_admin", {"labels": {"team": "mine"}}),
        ]
        for i, (user, role, scope) in enumerate(bindings):
            body = {
                "name": f"workspaces/{slug}/role-bindings/b{i}",
                "subject": {"user": user},
                "role": role,
                "scope": scope,
            }
            self.must("POST", "/role-bindings", {"role_binding": body})
        self.plan_id = self.tracking_plan()
        self.clients = {kind: self.api.client(self.secret(kind)) for kind in TOKENS}
        # Clients share the in-process transport: closing one would stop it, so close none
        # before the end.
        self.other_writer = self.api.client(self.api.token("workspace:write", "another apply"))

    def secret(self, kind: str) -> str:
        if kind == "owner":
            return self.api.owner_token
        if kind in ("read", "write"):
            return self.api.token(f"workspace:{kind}", f"{kind} token")
        return self.api.cp.workspaces.create_token(self.ws, "workspace:owner", kind, USERS[kind])[1]

    def must(self, method: str, path: str, body: Any = None) -> dict[str, Any]:
        response = self.owner.request(method, self.api.url(path), json=body)
        assert response.status_code == 200, (method, path, response.text)
        result: dict[str, Any] = response.json()
        return result

    def fresh(self, prefix: str) -> str:
        return f"{prefix}{next(self.counter)}"

    def source(self, slug: str, labels: dict[str, str]) -> str:
        body = {
            "name": f"workspaces/{self.ws}/sources/{slug}",
            "catalog": "postgres",
            "settings": WAREHOUSE_SETTINGS,
            "labels": labels,
        }
        self.must("POST", "/sources", {"source": body})
        return slug

    def destination(self, source: str = "mine") -> str:
        slug = self.fresh("d")
        name = f"workspaces/{self.ws}/sources/{source}/destinations/{slug}"
        body = {"name": name, "catalog": "amplitude", "settings": AMPLITUDE_SETTINGS}
        self.must("POST", f"/sources/{source}/destinations", {"destination": body})
        return f"{source}/{slug}"

    def model(self, source: str = "mine") -> str:
        slug = self.fresh("m")
        body = {
            "name": f"workspaces/{self.ws}/sources/{source}/models/{slug}",
            "query": QUERY,
            "identifier_column": "id",
        }
        self.must("POST", f"/sources/{source}/models", {"model": body})
        return f"{source}/{slug}"

    def mapping_body(self, destination: str, slug: str) -> dict[str, Any]:
        source = destination.split("/")[0]
        model_slug = self.model(source).split("/")[1]
        model = f"workspaces/{self.ws}/sources/{source}/models/{model_slug}"
        name = f"workspaces/{self.ws}/sources/{self.path(destination)}/mappings/{slug}"
        return {
            "mapping": {
                "name": name,
                "action": "identify",
                "enabled": False,
                "model": model,
                "schedule": {"strategy": "MANUAL"},
                "fields": {"email": "email", "external_id": "id"},
            }
        }

    def mapping(self) -> str:
        destination, slug = self.destination(), self.fresh("map")
        self.must(
            "POST",
            f"/sources/{self.path(destination)}/mappings",
            self.mapping_body(destination, slug),
        )
        return f"{self.path(destination)}/mappings/{slug}"

    def filter_body(self, destination: str, slug: str) -> dict[str, Any]:
        name = f"workspaces/{self.ws}/sources/{self.path(destination)}/filters/{slug}"
        return {
            "filter": {
                "name": name,
                "title": "t",
                "if": "type = 'track'",
                "actions": [{"type": "DROP"}],
            }
        }

    def filter(self) -> str:
        destination, slug = self.destination(), self.fresh("f")
        self.must(
            "POST",
            f"/sources/{self.path(destination)}/filters",
            self.filter_body(destination, slug),
        )
        return f"{self.path(destination)}/filters/{slug}"

    def transformation_body(self, source: str, slug: str) -> dict[str, Any]:
        name = f"workspaces/{self.ws}/sources/{source}/transformations/{slug}"
        return {"transformation": {"name": name, "type": "rename_event",
                                   "event": f"Event {slug}", "new_event_name": "Renamed"}}

    def transformation(self, source: str = "mine") -> str:
        slug = self.fresh("t")
        self.must("POST", f"/sources/{source}/transformations",
                  self.transformation_body(source, slug))
        return f"{source}/transformations/{slug}"

    @staticmethod
    def path(destination: str) -> str:
        source, slug = destination.split("/")
        return f"{source}/destinations/{slug}"

    def alert_body(self, parent: str, slug: str) -> dict[str, Any]:
        """A source volume alert on ``parent`` (``mine/alerts``)."""
        name = f"workspaces/{self.ws}/sources/{parent}/{slug}"
        return {"alert": {"name": name, "type": "source_volume", "threshold_percent": 20}}

    def alert(self) -> str:
        """A fresh alert on ``mine``, made (so owned) by the owner token."""
        slug = self.fresh("al")
        self.must("POST", "/sources/mine/alerts", self.alert_body("mine/alerts", slug))
        return f"mine/alerts/{slug}"

    def tracking_plan(self) -> str:
        body = {"tracking_plan": {"external_id": self.fresh("tp"), "rules": [RULE]}}
        made = self.must("POST", "/tracking-plans", body)
        return str(made["name"]).rsplit("/", 1)[1]

    def warehouse(self) -> str:
        slug = self.fresh("wh")
        body = {"name": f"workspaces/{self.ws}/warehouses/{slug}", **WAREHOUSE}
        self.must("POST", "/warehouses", {"warehouse": body})
        return slug

    def prune_functions(self) -> None:
        """Delete the functions earlier cases made: a workspace holds at most 25."""
        listed = self.owner.get(self.api.url("/functions"), params={"page_size": 100})
        names = [f["name"].rsplit("/", 1)[1] for f in listed.json()["functions"]]
        if len(names) >= 20:
            for name in names:
                self.owner.delete(self.api.url(f"/functions/{name}"))

    def function(self) -> str:
        self.prune_functions()
        slug = self.fresh("fn")
        body = {"name": f"workspaces/{self.ws}/functions/{slug}", **FUNCTION}
        self.must("POST", "/functions", {"function": body})
        return slug

    def label(self) -> str:
        name = f"team:{self.fresh('l')}"
        self.must("POST", "/labels", {"label": {"name": f"workspaces/{self.ws}/labels/{name}"}})
        return name

    def group(self) -> str:
        slug = self.fresh("g")
        body = {"name": f"workspaces/{self.ws}/groups/{slug}", "members": ["a@x.io"]}
        self.must("POST", "/groups", {"group": body})
        return slug

    def consent_category(self) -> str:
        slug = self.fresh("Consent")
        body = {"name": f"workspaces/{self.ws}/consent-categories/{slug}", "display_name": slug,
                "destinations": []}  # fmt: skip
        self.must("POST", "/consent-categories", {"consent_category": body})
        return slug

    def binding(self) -> str:
        slug = self.fresh("rb")
        body = {
            "name": f"workspaces/{self.ws}/role-bindings/{slug}",
            "subject": {"user": "zed@x.io"},
            "role": "source_read_only",
            "scope": "workspace",
        }
        self.must("POST", "/role-bindings", {"role_binding": body})
        return slug

    def lock_by_someone_else(self) -> str:
        lock = self.other_writer.post(self.api.url("/lock"), json={"holder": "another apply"})
        assert lock.status_code == 200, lock.text
        return str(lock.json()["id"])

    def apply_run(self) -> str:
        """A running apply run the owner token started."""
        made = self.owner.post(self.api.url("/applies"), json={"manager": "matrix"})
        assert made.status_code == 201, made.text
        return str(made.json()["id"])

    def unlock(self) -> None:
        self.owner.delete(self.api.url("/lock"))  # whatever a case left behind

    def close(self) -> None:
        self.api.close()


@dataclass(frozen=True)
class Request:
    method: str
    path: str  # under the workspace ("" for the workspace itself), or absolute with a "/"
    body: Any = None
    params: dict[str, str] | None = None


def _patch(key: str, field: str, value: Any) -> dict[str, Any]:
    return {key: {field: value}, "update_mask": {"paths": [f"{key}.{field}"]}}


# Expected statuses per token kind, in TOKENS order.
ALL_200 = (200,) * 7
SOURCE_READ = (200, 200, 200, 200, 403, 200, 403)
SOURCE_WRITE = (403, 200, 200, 200, 403, 200, 403)
# A label-scoped source admin cannot create a source: the new source carries no role yet.
SOURCE_CREATE = (403, 200, 200, 200, 403, 403, 403)
PLAN_READ = (200, 200, 200, 200, 200, 403, 403)
PLAN_WRITE = (403, 200, 200, 200, 200, 403, 403)
IAM_READ = (200, 200, 200, 200, 403, 403, 403)
OWNER_WRITE = (403, 403, 200, 200, 403, 403, 403)
# Rotation hands out a working secret: a user-bound owner rotates only its own user's tokens.
ROTATE_OTHERS = (403, 403, 200, 403, 403, 403, 403)
TOKEN_BODY = {"token": {"description": "matrix", "scope": "workspace:read"}}
LOCK_TAKE = (403, 200, 200, 200, 200, 200, 403)
WAREHOUSE_READ = (200, 200, 200, 200, 403, 403, 403)  # no warehouse role but the owner's
WAREHOUSE_WRITE = (403, 200, 200, 200, 403, 403, 403)
WAREHOUSE = {"catalog": "snowflake", "settings": {"account": "a", "database": "d",
             "warehouse": "w", "user": "u", "password": "p"}}  # fmt: skip
FUNCTION_READ = (200, 200, 200, 200, 403, 403, 403)  # no functions role but the owner's
FUNCTION_WRITE = (403, 200, 200, 200, 403, 403, 403)
FUNCTION = {"type": "insert", "code": "function onTrack(event) {\n  return event\n}\n"}
LOCK_RENEW_OTHERS = (403, 409, 409, 409, 409, 409, 409)
# Alerts the owner token made: only it edits them; workspace owners (user_owner) may delete.
ALERT_EDIT = (403, 403, 200, 403, 403, 403, 403)
ALERT_DELETE = (403, 403, 200, 200, 403, 403, 403)
# Apply runs: started (201) by whoever may write something, as the lock is taken; finished
# only by the token that started it (the owner token here); read by every reader.
APPLY_START = (403, 201, 201, 201, 201, 201, 403)
APPLY_FINISH_OWNERS_RUN = (403, 403, 200, 403, 403, 403, 403)

W = "/v1beta/workspaces/{workspace}"
S, D = W + "/sources/{source}", W + "/sources/{source}/destinations/{destination}"
Case = tuple[Callable[[World], Request], tuple[int, ...]]


def _while_locked(w: World, request: Request) -> Request:
    """``request``, to be sent while another write token holds the lock."""
    w.lock_by_someone_else()
    return request


def _cases() -> dict[tuple[str, str], Case]:
    cases: dict[tuple[str, str], Case] = {
        ("GET", "/healthz"): (lambda w: Request("GET", "/healthz"), ALL_200),
        ("GET", "/readyz"): (lambda w: Request("GET", "/readyz"), ALL_200),
        ("GET", "/openapi.json"): (lambda w: Request("GET", "/openapi.json"), ALL_200),
        ("GET", W): (lambda w: Request("GET", ""), ALL_200),
        ("PATCH", W): (
            lambda w: Request("PATCH", "", _patch("workspace", "display_name", "X")),
            OWNER_WRITE,
        ),
        ("GET", W + "/access/{email}"): (lambda w: Request("GET", "/access/zed@x.io"), IAM_READ),
        ("GET", "/metrics"): (lambda w: Request("GET", "/metrics"), ALL_200),  # no metrics token
        ("GET", W + "/tokens"): (lambda w: Request("GET", "/tokens"), OWNER_WRITE),
        ("POST", W + "/tokens"): (lambda w: Request("POST", "/tokens", TOKEN_BODY), OWNER_WRITE),
        ("DELETE", W + "/tokens/{token}"): (
            lambda w: Request("DELETE", f"/tokens/{w.must('POST', '/tokens', TOKEN_BODY)['id']}"),
            OWNER_WRITE,
        ),
        ("POST", W + "/tokens/{token}:rotate"): (
            lambda w: Request("POST",
                              f"/tokens/{w.must('POST', '/tokens', TOKEN_BODY)['id']}:rotate"),
            ROTATE_OTHERS,
        ),
        ("GET", W + "/audit-events"): (lambda w: Request("GET", "/audit-events"), ALL_200),
        # every reader may ask; a user-bound token sees only what it may read (test_changes_api)
        ("GET", W + "/changes"): (lambda w: Request("GET", "/changes", None, {"since": "0"}),
                                  ALL_200),
        # any reader may ask (an online oracle by design); what it may not read never matches
        ("POST", W + "/secrets:compare"): (
            lambda w: Request("POST", "/secrets:compare", {"secrets": [{
                "resource": f"workspaces/{w.ws}/sources/mine", "path": "settings.api_key",
                "value": "guess"}]}),
            ALL_200,
        ),
        ("GET", W + "/lock"): (
            lambda w: _while_locked(w, Request("GET", "/lock")),
            ALL_200,
        ),
        ("POST", W + "/lock"): (lambda w: Request("POST", "/lock", {"holder": "me"}), LOCK_TAKE),
        ("POST", W + "/applies"): (lambda w: Request("POST", "/applies", {"manager": "m"}),
                                   APPLY_START),
        ("PATCH", W + "/applies/{apply}"): (
            lambda w: Request("PATCH", f"/applies/{w.apply_run()}", {"status": "noop"}),
            APPLY_FINISH_OWNERS_RUN,
        ),
        ("GET", W + "/applies"): (lambda w: Request("GET", "/applies"), ALL_200),
        ("GET", W + "/applies/{apply}"): (lambda w: Request("GET", f"/applies/{w.apply_run()}"),
                                          ALL_200),
        ("PATCH", W + "/lock"): (
            lambda w: Request("PATCH", "/lock", {}, {"id": w.lock_by_someone_else()}),
            LOCK_RENEW_OTHERS,
        ),
        ("DELETE", W + "/lock"): (
            lambda w: _while_locked(w, Request("DELETE", "/lock")),
            OWNER_WRITE,
        ),
    }
    rules = W + "/tracking-plans/{tracking_plan}/rules"
    one = [{"type": "COMMON", "version": 1}]
    cases[("GET", rules)] = (
        lambda w: Request("GET", f"/tracking-plans/{w.plan_id}/rules"),
        PLAN_READ,
    )
    for method, body in (
        ("PUT", {"rules": [RULE]}),
        ("PATCH", {"rules": [RULE]}),
        ("DELETE", {"rules": one}),
    ):
        cases[(method, rules)] = (
            lambda w, m=method, b=body: Request(m, f"/tracking-plans/{w.tracking_plan()}/rules", b),
            PLAN_WRITE,
        )
    ws = "workspaces/{ws}"
    cases |= _simple_kind(
        "labels",
        "label",
        "label",
        World.label,
        IAM_READ,
        OWNER_WRITE,
        lambda w: {"name": f"{ws}/labels/team:{w.fresh('n')}"},
        ("description", "changed"),
    )
    cases |= _simple_kind(
        "groups",
        "group",
        "group",
        World.group,
        IAM_READ,
        OWNER_WRITE,
        lambda w: {"name": f"{ws}/groups/{w.fresh('n')}", "members": []},
        ("display_name", "changed"),
    )
    cases |= _simple_kind(
        "role-bindings",
        "role_binding",
        "role_binding",
        World.binding,
        IAM_READ,
        OWNER_WRITE,
        lambda w: {
            "name": f"{ws}/role-bindings/{w.fresh('n')}",
            "subject": {"user": "zed@x.io"},
            "role": "source_read_only",
            "scope": "workspace",
        },
        ("subject", {"user": "zod@x.io"}),
    )
    # Consent categories: workspace-level, owners write them; read like the IAM kinds.
    cases |= _simple_kind(
        "consent-categories",
        "consent_category",
        "consent_category",
        World.consent_category,
        IAM_READ,
        OWNER_WRITE,
        lambda w: {"name": f"{ws}/consent-categories/{w.fresh('N')}", "display_name": "N",
                   "destinations": []},
        ("enabled", False),
    )
    # Tracking plans: an empty mask (PATCH without paths answers 200 unchanged) still goes
    # through authorisation and the lock check.
    cases |= _simple_kind(
        "tracking-plans",
        "tracking_plan",
        "tracking_plan",
        World.tracking_plan,
        PLAN_READ,
        PLAN_WRITE,
        lambda w: {"external_id": w.fresh("n"), "rules": []},
        None,
    )
    cases |= _simple_kind(
        "sources",
        "source",
        "source",
        lambda w: w.source(w.fresh("s"), {"team": "mine"}),
        SOURCE_READ,
        SOURCE_WRITE,
        lambda w: {
            "name": f"{ws}/sources/{w.fresh('n')}",
            "catalog": "postgres",
            "settings": WAREHOUSE_SETTINGS,
            "labels": {"team": "mine"},
        },
        ("enabled", False),
        read_target=lambda w: "mine",
        create_status=SOURCE_CREATE,
    )
    cases |= _simple_kind(
        "warehouses",
        "warehouse",
        "warehouse",
        World.warehouse,
        WAREHOUSE_READ,
        WAREHOUSE_WRITE,
        lambda w: {"name": f"{ws}/warehouses/{w.fresh('n')}", **WAREHOUSE},
        ("display_name", "changed"),
    )
    cases |= _simple_kind(
        "functions",
        "function",
        "function",
        World.function,
        FUNCTION_READ,
        FUNCTION_WRITE,
        lambda w: (w.prune_functions(), {"name": f"{ws}/functions/{w.fresh('n')}", **FUNCTION})[1],
        ("display_name", "changed"),
    )
    versions = f"{W}/functions/{{function}}/versions"
    cases |= {
        ("GET", versions): (lambda w: Request("GET", f"/functions/{w.function()}/versions"),
                            FUNCTION_READ),
        ("GET", versions + "/{version}"): (
            lambda w: Request("GET", f"/functions/{w.function()}/versions/1"), FUNCTION_READ),
        ("POST", versions + "/{version}:restore"): (
            lambda w: Request("POST", f"/functions/{w.function()}/versions/1:restore", {}),
            FUNCTION_WRITE),
    }  # fmt: skip
    cases |= _catalog_routes()
    cases |= _source_kinds()
    return cases


def _catalog_routes() -> dict[tuple[str, str], Case]:
    """The catalog: every token of the workspace reads it; only owners import entries."""
    cases: dict[tuple[str, str], Case] = {}
    for section in ("sources", "destinations", "warehouses"):
        cases[("GET", f"/v1beta/catalog/{section}")] = (
            lambda w, s=section: Request("GET", f"/v1beta/catalog/{s}"), ALL_200)  # type: ignore[misc]  # fmt: skip
    cases[("GET", "/v1beta/catalog/{section}/{id}")] = (
        lambda w: Request("GET", "/v1beta/catalog/destinations/amplitude"), ALL_200)  # fmt: skip

    def import_(w: World) -> Request:
        entry = {"id": w.fresh("crm"), "section": "destination", "settings": None}
        return Request("POST", "/v1beta/catalog:import",
                       {"format_version": 1, "entries": [entry]})  # fmt: skip

    cases[("POST", "/v1beta/catalog:import")] = (import_, OWNER_WRITE)
    return cases


def _simple_kind(
    collection: str,
    param: str,
    key: str,
    make: Callable[[World], str],
    read: tuple[int, ...],
    write: tuple[int, ...],
    body: Callable[[World], dict[str, Any]],
    change: tuple[str, Any] | None,
    read_target: Callable[[World], str] | None = None,
    create_status: tuple[int, ...] | None = None,
) -> dict[tuple[str, str], Case]:
    """A root kind's five routes."""
    coll, item = f"{W}/{collection}", f"{W}/{collection}/{{{param}}}"

    def ws_name(w: World, b: dict[str, Any]) -> dict[str, Any]:
        return {k: (v.replace("{ws}", w.ws) if isinstance(v, str) else v) for k, v in b.items()}

    def patch(w: World) -> Request:
        target = f"/{collection}/{make(w)}"
        if change is None:
            return Request("PATCH", target, {key: {}})
        return Request("PATCH", target, _patch(key, *change))

    return {
        ("GET", coll): (lambda w: Request("GET", f"/{collection}"), ALL_200),
        ("POST", coll): (
            lambda w: Request("POST", f"/{collection}", {key: ws_name(w, body(w))}),
            create_status or write,
        ),
        ("GET", item): (
            lambda w: Request("GET", f"/{collection}/{(read_target or make)(w)}"),
            read,
        ),
        ("PATCH", item): (patch, write),
        ("DELETE", item): (lambda w: Request("DELETE", f"/{collection}/{make(w)}"), write),
    }


def _source_kinds() -> dict[tuple[str, str], Case]:
    """Destinations, models, filters and mappings, all under the source ``mine``."""
    cases: dict[tuple[str, str], Case] = {}

    def five(
        coll_tpl: str,
        item_tpl: str,
        key: str,
        parent: Callable[[World], str],
        make: Callable[[World], str],
        body: Callable[[World, str, str], dict[str, Any]],
        change: tuple[str, Any],
        edit: tuple[int, ...] = SOURCE_WRITE,
        delete: tuple[int, ...] = SOURCE_WRITE,
    ) -> None:
        # listing under a parent needs read access to the parent (403 otherwise, even when it
        # does not exist, so a list is no existence oracle)
        cases[("GET", coll_tpl)] = (lambda w: Request("GET", f"/sources/{parent(w)}"), SOURCE_READ)
        cases[("POST", coll_tpl)] = (
            lambda w: (lambda p: Request("POST", f"/sources/{p}", body(w, p, w.fresh("n"))))(
                parent(w)
            ),
            SOURCE_WRITE,
        )
        cases[("GET", item_tpl)] = (lambda w: Request("GET", f"/sources/{make(w)}"), SOURCE_READ)
        cases[("PATCH", item_tpl)] = (
            lambda w: Request("PATCH", f"/sources/{make(w)}", _patch(key, *change)),
            edit,
        )
        cases[("DELETE", item_tpl)] = (
            lambda w: Request("DELETE", f"/sources/{make(w)}"),
            delete,
        )

    def dest_body(w: World, parent: str, slug: str) -> dict[str, Any]:
        name = f"workspaces/{w.ws}/sources/{parent}/{slug}"
        return {"destination": {"name": name, "catalog": "amplitude",
                                "settings": AMPLITUDE_SETTINGS}}

    def model_body(w: World, parent: str, slug: str) -> dict[str, Any]:
        name = f"workspaces/{w.ws}/sources/{parent}/{slug}"
        return {"model": {"name": name, "query": QUERY, "identifier_column": "id"}}

    def under_destination(w: World) -> str:
        return w.path(w.destination())

    five(
        S + "/destinations",
        D,
        "destination",
        lambda w: "mine/destinations",
        lambda w: w.path(w.destination()),
        dest_body,
        ("enabled", True),
    )
    five(
        S + "/models",
        S + "/models/{model}",
        "model",
        lambda w: "mine/models",
        lambda w: w.model().replace("/", "/models/", 1),
        model_body,
        ("enabled", False),
    )
    five(
        S + "/alerts",
        S + "/alerts/{alert}",
        "alert",
        lambda w: "mine/alerts",
        World.alert,
        World.alert_body,
        ("threshold_percent", 30),
        ALERT_EDIT,
        ALERT_DELETE,
    )
    five(
        D + "/filters",
        D + "/filters/{filter}",
        "filter",
        lambda w: under_destination(w) + "/filters",
        World.filter,
        lambda w, p, s: w.filter_body(p.split("/")[0] + "/" + p.split("/")[2], s),
        ("title", "changed"),
    )
    five(
        D + "/mappings",
        D + "/mappings/{mapping}",
        "mapping",
        lambda w: under_destination(w) + "/mappings",
        World.mapping,
        lambda w, p, s: w.mapping_body(p.split("/")[0] + "/" + p.split("/")[2], s),
        ("enabled", False),
    )
    five(
        S + "/transformations",
        S + "/transformations/{transformation}",
        "transformation",
        lambda w: "mine/transformations",
        World.transformation,
        lambda w, p, s: w.transformation_body(p.split("/")[0], s),
        ("enabled", False),
    )
    return cases


CASES = _cases()


def send(w: World, client: httpx.Client, request: Request) -> httpx.Response:
    url = (
        request.path
        if request.path.startswith(("/healthz", "/readyz", "/metrics", "/openapi",
                                    "/v1beta/catalog"))
        else w.api.url(request.path)
    )
    return client.request(request.method, url, json=request.body, params=request.params)


def row(w: World, route: tuple[str, str], kinds: tuple[str, ...] = TOKENS) -> dict[str, int]:
    """Each token kind's status for ``route``; every refusal must carry the API's error shape."""
    build, _ = CASES[route]
    statuses = {}
    for kind in kinds:
        request = build(w)
        response = send(w, w.clients[kind], request)
        w.unlock()
        statuses[kind] = response.status_code
        if response.status_code == 403:
            assert response.json()["code"] == 7, (kind, response.text)
        elif not response.is_success:
            assert response.json()["code"] in (9, 10), (kind, response.text)
    return statuses


def expected(route: tuple[str, str], kinds: tuple[str, ...] = TOKENS) -> dict[str, int]:
    return {k: s for k, s in zip(TOKENS, CASES[route][1], strict=True) if k in kinds}


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    db = tmp_path_factory.mktemp("authz") / "seg.db"
    store = open_store(f"sqlite:///{Path(db)}")
    w = World(ControlPlane(store), "authz")
    yield w
    w.close()
    store.close()


def app_routes() -> set[tuple[str, str]]:
    app = create_app(ControlPlane(open_store("sqlite://")))
    found = set()
    for route in app.routes:
        methods = getattr(route, "methods", None) or set()
        if isinstance(route, APIRoute) or route.path in ("/openapi.json",):
            path = getattr(route, "path_format", getattr(route, "path", ""))  # {v:conv} → {v}
            found |= {(m, path) for m in methods if m != "HEAD"}
    return found


def test_every_route_has_a_row() -> None:
    routes = app_routes()
    assert routes - set(CASES) == set(), "routes without a row in the authorisation matrix"
    assert set(CASES) - routes == set(), "rows for routes the app does not have"


@pytest.mark.parametrize("route", sorted(CASES), ids=lambda r: f"{r[0]} {r[1]}")
def test_matrix(world: World, route: tuple[str, str]) -> None:
    assert row(world, route) == expected(route)


PG_ROWS = [
    ("PUT", W + "/tracking-plans/{tracking_plan}/rules"),
    ("PATCH", W),
    ("DELETE", W + "/lock"),
    ("PATCH", D),
    ("GET", W + "/access/{email}"),
    ("PATCH", S + "/alerts/{alert}"),
    ("DELETE", S + "/alerts/{alert}"),
]


def test_matrix_rows_on_each_database(store: SqlStore, slug: str) -> None:
    """A few rows again on SQLite and PostgreSQL (the store fixture)."""
    w = World(ControlPlane(store), slug)
    try:
        for route in PG_ROWS:
            assert row(w, route) == expected(route), route
    finally:
        w.close()


# -- what the rows do not show: the answers' contents ---------------------------------------


def audit_resources(w: World, kind: str) -> list[str]:
    response = w.clients[kind].get(w.api.url("/audit-events"), params={"page_size": 1000})
    assert response.status_code == 200, response.text
    return [e["resource"] for e in response.json()["audit_events"]]


def test_audit_trail_shows_a_user_only_what_the_user_may_read(world: World) -> None:
    world.must("PATCH", "/sources/other", _patch("source", "enabled", False))
    base = f"workspaces/{world.ws}"
    everything = audit_resources(world, "owner")
    assert f"{base}/sources/other" in everything and f"{base}/role-bindings/b0" in everything
    mine = audit_resources(world, "user_source")
    assert f"{base}/sources/mine" in mine
    hidden = tuple(
        f"{base}/{c}" for c in ("sources/other", "role-bindings", "labels", "tracking-plans")
    )
    assert not [r for r in mine if r.startswith(hidden)]
    plans = audit_resources(world, "user_tp")
    assert any(r.endswith("/rules") for r in plans)
    assert not [r for r in plans if r.startswith(f"{base}/sources")]
    nothing = audit_resources(world, "user_none")
    # the catalog (and so its imports) is every token's to read, and so are the apply runs
    # (like the lock: who applied when, never a resource's contents)
    runs = {r for r in nothing if r.startswith(f"{base}/applies/")}
    assert nothing and set(nothing) - runs <= {base, f"{base}/lock", f"{base}/catalog"}
    assert audit_resources(world, "user_owner") == everything


def test_explain_shows_only_readable_sources_and_others_need_an_owner(world: World) -> None:
    def explain(kind: str, email: str) -> httpx.Response:
        return world.clients[kind].get(world.api.url(f"/access/{email}"))

    own = explain("user_source", "sam@x.io").json()["sources"]
    assert own["mine"] == ["source_admin"] and "other" not in own  # not even named
    assert all(roles == ["source_admin"] for roles in own.values())  # the team:mine sources
    assert explain("user_none", "nora@x.io").json()["sources"] == {}
    denied = explain("user_source", "dana@x.io")
    assert denied.status_code == 403 and "workspace_owner" in denied.json()["error"]
    as_owner = explain("user_owner", "sam@x.io").json()["sources"]
    assert as_owner["mine"] == ["source_admin"] and as_owner["other"] == []
    assert {"mine", "other"} <= set(explain("read", "sam@x.io").json()["sources"])


def test_a_source_admin_cannot_touch_another_source_or_any_plans_rules(world: World) -> None:
    sam = world.clients["user_source"]
    other = world.destination("other")
    url = world.api.url(f"/sources/{world.path(other)}")
    assert sam.get(url).status_code == 403
    assert sam.patch(url, json=_patch("destination", "enabled", True)).status_code == 403
    assert sam.delete(url).status_code == 403
    listed = sam.get(world.api.url("/sources")).json()["sources"]
    assert "other" not in {s["name"].rsplit("/", 1)[1] for s in listed}
    rules_url = world.api.url(f"/tracking-plans/{world.plan_id}/rules")
    before = world.owner.get(rules_url).json()
    replaced = sam.put(rules_url, json={"rules": []})
    assert replaced.status_code == 403 and replaced.json()["code"] == 7
    assert world.owner.get(rules_url).json() == before  # the attack changed nothing


@pytest.mark.parametrize("scheme", ["Bearer", "bearer", "BEARER", "bEaReR"])
def test_the_bearer_scheme_is_case_insensitive(world: World, scheme: str) -> None:
    headers = {"Authorization": f"{scheme} {world.api.owner_token}"}
    client = world.api.client(None)
    assert client.get(world.api.url(), headers=headers).status_code == 200


@pytest.mark.parametrize("value", ["Basic abc", "Bearer", "Bearer ", "Token x", "bearerx y"])
def test_other_schemes_and_empty_credentials_are_unauthenticated(world: World, value: str) -> None:
    response = world.api.client(None).get(world.api.url(), headers={"Authorization": value})
    assert response.status_code == 401 and response.json()["code"] == 16
