"""The audit trail: one event per change (written in the change's transaction, with what it
did to the resource's fields: ``field_changes``), and the events a caller may see — all of
them, or those after an event, by one actor, on one kind or one resource, in a time range,
or of one apply run."""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping
from datetime import UTC, datetime
from typing import Any

from seg.kinds import kinds_in_order
from seg.kinds.names import parse_resource_name
from seg.model.clip import clip_repr
from seg.model.kinds import Kind
from seg.model.wording import did_you_mean
from seg.policy.access import allowed, is_owner
from seg.server import errors, pages
from seg.server.access_service import AccessService, readable
from seg.server.clock import Clock
from seg.server.core import Action, Need, Page, Principal
from seg.server.field_changes import field_changes
from seg.store.base import AuditQuery, AuditRecord, ResourceRecord, Shape, Store, StoreTx

__all__ = [
    "AUDIT_FILTERS",
    "COMPARED",
    "MAX_CHANGES",
    "MAX_RESOURCE_NAME",
    "TOKEN_ID_RE",
    "AuditLog",
    "audit_query",
    "event_view",
    "parse_event_id",
    "run_name",
]

COMPARED = "values:"  # the audit path of a compare event that counts the values asked about
# The query parameters of ``GET …/audit-events`` besides paging
OUTSIDE_RUNS = 0  # ``apply=none``: no run has this id (they count from 1)
AUDIT_FILTERS = ("after", "actor", "kind", "since", "until", "apply", "resource")
TOKEN_ID_RE = re.compile(r"^[A-Za-z0-9_.-]{1,40}$")
MAX_RESOURCE_NAME = 512  # characters of a resource name (the store's column)
MAX_CHANGES = 1000  # the events an apply run's view lists
_RFC3339 = re.compile(r"([0-9]{4}-[0-9]{2}-[0-9]{2}[Tt][0-9]{2}:[0-9]{2}:)([0-9]{2})"
                      r"((?:\.[0-9]+)?(?:[Zz]|[+-][0-9]{2}:[0-9]{2}))")


def run_name(workspace: str, run_id: int) -> str:
    """An apply run as the audit trail names it."""
    return f"workspaces/{workspace}/applies/{run_id}"


class AuditLog:
    def __init__(self, store: Store, clock: Clock, access: AccessService) -> None:
        self.store = store
        self.clock = clock
        self.access = access

    def record(self, tx: StoreTx, principal: Principal, action: Action, resource: str,
               paths: list[str], run: int | None = None, *, before: ResourceRecord | None = None,
               after: ResourceRecord | None = None, rewritten: Collection[str] = ()
               ) -> int:  # fmt: skip
        """Record that ``principal`` did ``action`` on ``resource`` (``paths``: what changed);
        the event's id. It belongs to apply run ``run`` when given (the run's own start and
        finish), else to the run the caller names in ``Seg-Apply`` (checked here, in the
        write's transaction: a run that is no longer the caller's running one refuses the
        write). A write of a resource hands over its stored record ``before`` and ``after``
        (one of them for a create or a delete) and the secret paths it sealed anew: the event
        keeps the values that changed (``field_changes``), never a secret."""
        if run is None and principal.apply_run is not None:
            run = self.check_tag(tx, principal)
        changes = field_changes(before, after, rewritten)  # [] when neither is given
        record = AuditRecord(principal.workspace, self.clock.iso(), principal.token_id,
                             principal.description, action.value, resource, paths,
                             apply_run=run, changes=changes)  # fmt: skip
        return tx.insert_audit(record)

    def check_tag(self, tx: StoreTx, principal: Principal) -> int:
        """The caller's ``Seg-Apply`` run, which must be a running run of its workspace that
        its token started; else ``InvalidArgument``."""
        run_id = principal.apply_run
        assert run_id is not None
        run = tx.get_apply_run(run_id)
        if (run is None or run.workspace != principal.workspace
                or run.actor_id != principal.token_id or run.status != "running"):  # fmt: skip
            raise errors.InvalidArgument(
                f"Seg-Apply: {run_id} is not a running apply run this token started in "
                f"workspace {principal.workspace}"
            )
        return run_id

    def check_header(self, principal: Principal) -> None:
        """``check_tag`` before a write begins (so a write that turns out to change nothing
        is refused the same)."""
        with self.store.tx() as tx:
            self.check_tag(tx, principal)

    def events(self, principal: Principal, workspace: str, page_size: str | None,
               page_token: str | None, filters: Mapping[str, str | None] | None = None
               ) -> Page:  # fmt: skip
        """The newest events first (``filters``: see ``audit_query``); a user-bound token
        sees those on what its user may read."""
        caller = self.access.caller(principal, workspace, Need.READ)
        size = pages.page_size(page_size)
        before = pages.decode_page_token(page_token, "audit")
        query = audit_query(workspace, filters or {})
        with self.store.tx() as tx:
            rows = tx.list_audit(workspace, pages.audit_cursor(before), size + 1, query)
        more = len(rows) > size
        rows = rows[:size]
        token = pages.encode_page_token(str(rows[-1].id), "audit") if more else ""
        return Page([event_view(r) for r in self.visible(caller.access(), rows)], token)

    def run_changes(self, tx: StoreTx, access: dict[str, Any] | None, workspace: str,
                    run_id: int) -> list[dict[str, Any]]:  # fmt: skip
        """The events of apply run ``run_id`` but its own start and finish, oldest first, at
        most ``MAX_CHANGES``, as ``access`` may see them."""
        own = run_name(workspace, run_id)
        query = AuditQuery(apply_run=run_id, oldest_first=True)
        rows = tx.list_audit(workspace, None, MAX_CHANGES + 2, query)  # its start and finish
        rows = [r for r in rows if r.resource != own][:MAX_CHANGES]
        return [event_view(r) for r in self.visible(access, rows)]

    @staticmethod
    def visible(access: dict[str, Any] | None, rows: list[AuditRecord]) -> list[AuditRecord]:
        if access is None:
            return rows
        owner = is_owner(access)  # token events are an owner's business, like the tokens
        return [r for r in rows if _visible(access, r.resource, r.paths, owner)]


def event_view(r: AuditRecord) -> dict[str, Any]:
    return {
        "id": str(r.id),
        "time": r.time,
        "actor": {"token_id": r.actor_id, "description": r.actor_description},
        "method": r.method,
        "resource": r.resource,
        "paths": r.paths,
        "changes": r.changes,
        "apply": None if r.apply_run is None else str(r.apply_run),
    }


def audit_query(workspace: str, filters: Mapping[str, str | None]) -> AuditQuery:
    """The query of ``GET …/audit-events``' filters: ``after`` (an event id: newer events
    only), ``actor`` (a token id), ``kind`` (a kind's key: events on its resources, a
    tracking plan's rules included), ``since`` and ``until`` (ISO-8601 times, inclusive and
    exclusive), ``apply`` (an apply run's id, or ``none``: events no run made) and
    ``resource`` (a resource's name: the events on it, its tracking plan's rules included).
    Each is checked: a bad one is ``InvalidArgument``."""
    after, actor, kind, since, until, run, resource = (filters.get(name)
                                                       for name in AUDIT_FILTERS)  # fmt: skip
    if actor is not None and not TOKEN_ID_RE.fullmatch(actor):
        raise errors.InvalidArgument(f"actor must be a token id, not {clip_repr(actor)}")
    return AuditQuery(
        after_id=None if after is None else parse_event_id(after, "after", minimum=0),
        actor_id=actor,
        shapes=() if kind is None else kind_shapes(workspace, _kind(kind)),
        resources=() if resource is None else _resource_names(workspace, resource),
        since=None if since is None else _time(since, "since"),
        until=None if until is None else _time(until, "until"),
        apply_run=None if run is None else OUTSIDE_RUNS if run == "none" else
        parse_event_id(run, "apply"),
    )


def parse_event_id(raw: str, name: str, minimum: int = 1) -> int:
    """An audit event's (or apply run's) id as a query or path gives it: decimal, in the
    store's 32-bit range."""
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 10):
        raise errors.InvalidArgument(f"{name} must be an id (a positive integer)")
    value = int(raw)
    if not minimum <= value <= pages.MAX_AUDIT_ID:
        raise errors.InvalidArgument(f"{name} must be between {minimum} and "
                                     f"{pages.MAX_AUDIT_ID}")  # fmt: skip
    return value


def _kind(key: str) -> Kind:
    by_key = {kind.key: kind for kind in kinds_in_order()}
    kind = by_key.get(key)
    if kind is None:
        raise errors.InvalidArgument(f"kind must be a kind's key, not {clip_repr(key)}"
                                     f"{did_you_mean(key, by_key, limit=64)}")  # fmt: skip
    return kind


def kind_shapes(workspace: str, kind: Kind) -> tuple[Shape, ...]:
    """The names of ``kind``'s resources in ``workspace``, and of the items a batched field
    of it writes through its own endpoint (a tracking plan's ``…/rules``)."""
    shape: Shape = ("workspaces", workspace)
    for ancestor in kind.chain():
        shape += (ancestor.collection, None)
    batched = [shape + (spec.name,) for spec in kind.fields if spec.max_per_call is not None]
    return (shape, *batched)


def _resource_names(workspace: str, name: str) -> tuple[str, ...]:
    """The names the trail records the events on resource ``name`` (of ``workspace``) under:
    its own, and those of the items a batched field of it writes through its own endpoint (a
    tracking plan's ``…/rules``). Anything but a resource name of the workspace is
    ``InvalidArgument``."""
    try:
        owner, kind, _ = parse_resource_name(name)
    except ValueError:
        owner, kind = None, None
    if (kind is None or owner != workspace or "" in name.split("/")
            or len(name) > MAX_RESOURCE_NAME):  # fmt: skip
        raise errors.InvalidArgument(f"resource must be the name of a resource in workspaces/"
                                     f"{workspace} (workspaces/{workspace}/sources/web), not "
                                     f"{clip_repr(name)}")  # fmt: skip
    batched = [f"{name}/{spec.name}" for spec in kind.fields if spec.max_per_call is not None]
    return (name, *batched)


def _time(raw: str, name: str) -> str:
    """An RFC 3339 time (ISO 8601 with ``Z`` or an offset) as the trail's timestamps write
    it (UTC, milliseconds); a leap second reads as the second before."""
    found = _RFC3339.fullmatch(raw)
    try:
        if found is None:
            raise ValueError(raw)
        date, second, rest = found.groups()
        moment = datetime.fromisoformat(f"{date}{'59' if second == '60' else second}"
                                        f"{rest}".upper())  # fmt: skip
        try:
            stamp = moment.astimezone(UTC).isoformat(timespec="milliseconds")
        except OverflowError:  # an offset past the first or the last representable day
            stamp = (datetime.min if moment.year == 1 else datetime.max).isoformat(
                timespec="milliseconds") + "Z"  # fmt: skip
    except ValueError:
        raise errors.InvalidArgument(
            f"{name} must be an RFC 3339 time (2026-01-31T12:00:00Z), not {clip_repr(raw)}"
        ) from None
    return stamp.replace("+00:00", "Z")


def _visible(access: dict[str, Any], resource: str, paths: list[str], owner: bool) -> bool:
    """Whether a user may see an audit event: one on a resource (or a tracking plan's rules)
    needs read access to it; a ``secrets:compare`` event (whose paths name the resources asked
    about) needs read access to each of them; one on a token (``…/tokens/<id>``) needs the
    workspace_owner role, as managing tokens does; events on the workspace, its lock and its
    apply runs are open."""
    if "/tokens/" in resource:
        return owner
    if resource.endswith("/secrets:compare"):
        return all(readable(access, n) for n in paths if not n.startswith(COMPARED))
    for name in (resource, resource.removesuffix("/rules")):
        try:
            _, kind, address = parse_resource_name(name)
        except ValueError:
            continue
        return allowed(access, kind.access_scope, address, False)
    return True
