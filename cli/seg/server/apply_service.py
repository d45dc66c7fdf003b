"""Apply runs: each ``seg apply`` recorded — started (under the workspace lock, like any
write), finished by the token that started it, listed and read with the audit events its
writes made (``Seg-Apply``, checked by ``AuditLog``)."""

from __future__ import annotations

import re
from dataclasses import replace
from typing import Any

from seg.kinds import KINDS
from seg.kinds.names import MANAGER_RE, SLUG_RE
from seg.model.clip import clip_repr
from seg.policy.access import allowed
from seg.server import errors, pages
from seg.server.access_service import AccessService, readable
from seg.server.audit import AuditLog, parse_event_id, run_name
from seg.server.clock import Clock
from seg.server.core import Action, Conflict, Need, Page, Principal, run_write
from seg.server.lock_service import LockService
from seg.store.base import APPLY_STATUSES, ApplyRunRecord, Store, StoreTx

__all__ = [
    "COUNT_KEYS",
    "FINISHED_STATUSES",
    "FINISH_KEYS",
    "GIT_REVISION_RE",
    "MAX_COUNT",
    "MAX_ERROR",
    "MAX_FAILURES",
    "MAX_RESOURCE",
    "PLAN_DIGEST_RE",
    "START_KEYS",
    "ApplyService",
    "run_view",
]

START_KEYS = frozenset({"manager", "git_revision", "plan_digest", "environment"})
FINISH_KEYS = frozenset({"status", "counts", "failures"})
FINISHED_STATUSES = ("applied", "failed", "noop")
COUNT_KEYS = ("created", "updated", "deleted", "failed")
MAX_COUNT = 10**9
MAX_FAILURES = 100
MAX_ERROR = 500  # characters of one failure's error
MAX_RESOURCE = 512  # characters of one failure's resource
GIT_REVISION_RE = re.compile(r"^[0-9a-fA-F]{4,64}$")
PLAN_DIGEST_RE = re.compile(r"^[A-Za-z0-9._:+/=-]{1,128}$")
# Not blank as the schema's pattern ``\S`` reads it (ECMA's white space, not Python's)
_NOT_BLANK = re.compile("[^\t\n\v\f\r \u00a0\u1680\u2000-\u200a\u2028\u2029\u202f"
                        "\u205f\u3000\ufeff]")


class ApplyService:
    def __init__(self, store: Store, clock: Clock, access: AccessService, audit: AuditLog,
                 locks: LockService) -> None:  # fmt: skip
        self.store = store
        self.clock = clock
        self.access = access
        self.audit = audit
        self.locks = locks

    def start(self, principal: Principal, workspace: str, body: dict[str, Any]
              ) -> dict[str, Any]:  # fmt: skip
        """A new run, ``running``; its start is audited, and that event's id is its
        ``audit_from``. Refused while another holds the workspace lock, like any write."""
        caller = self.access.caller(principal, workspace, Need.WRITE)
        if not caller.may_write_anything():
            raise errors.PermissionDenied(f"permission denied: {principal.user} may not write "
                                          "anything, so may not start an apply")  # fmt: skip
        fields = _start_fields(body)
        collection = f"workspaces/{workspace}/applies"

        def step(tx: StoreTx) -> ApplyRunRecord:
            self.locks.check(tx, caller, Action.START_APPLY, collection)
            run = ApplyRunRecord(workspace, self.clock.iso(), principal.token_id,
                                 principal.description, status="running",
                                 counts=dict.fromkeys(COUNT_KEYS, 0), **fields)  # fmt: skip
            run_id = tx.insert_apply_run(run)
            paths = [f"{key}:{fields[key]}" for key in ("manager", "git_revision")
                     if fields[key] is not None]  # fmt: skip
            event = self.audit.record(tx, principal, Action.START_APPLY,
                                      run_name(workspace, run_id), paths, run=run_id)
            tx.set_apply_run_audit(run_id, event)
            return replace(run, id=run_id, audit_from=event)

        return run_view(run_write(self.store, collection, step), None)

    def finish(self, principal: Principal, workspace: str, raw_id: str, body: dict[str, Any]
               ) -> dict[str, Any]:  # fmt: skip
        """Record how a run ended: only the token that started it, only while it runs. Not
        under the workspace lock: a run whose lease was lost is still finished."""
        caller = self.access.caller(principal, workspace, Need.WRITE)
        run_id = parse_event_id(raw_id, "apply run id")
        status, counts, failures = _finish_fields(body)
        name = run_name(workspace, run_id)

        def step(tx: StoreTx) -> ApplyRunRecord:
            run = _existing(tx, workspace, run_id)
            if run.actor_id != principal.token_id:
                raise errors.PermissionDenied(
                    f"permission denied: only the token that started apply run {run_id} may "
                    "finish it"
                )
            if run.status != "running":
                raise errors.FailedPrecondition(f"apply run {run_id} is already finished "
                                                f"({run.status})")  # fmt: skip
            done = replace(run, status=status, finished=self.clock.iso(), counts=counts,
                           failures=failures)  # fmt: skip
            if not tx.finish_apply_run(done):
                raise Conflict
            self.audit.record(tx, principal, Action.FINISH_APPLY, name, [f"status:{status}"],
                              run=run_id)  # fmt: skip
            return done

        return run_view(run_write(self.store, name, step), caller.access())

    def list_runs(self, principal: Principal, workspace: str, manager: str | None,
                  status: str | None, page_size: str | None, page_token: str | None
                  ) -> Page:  # fmt: skip
        """The workspace's runs, newest first (of one manager, in one status)."""
        caller = self.access.caller(principal, workspace, Need.READ)
        if manager is not None and not MANAGER_RE.fullmatch(manager):
            raise errors.InvalidArgument(f"manager must be a manager's name, not "
                                         f"{clip_repr(manager)}")  # fmt: skip
        if status is not None and status not in APPLY_STATUSES:
            raise errors.InvalidArgument(f"status must be one of {', '.join(APPLY_STATUSES)}")
        size = pages.page_size(page_size)
        after = pages.decode_page_token(page_token, "applies")
        before = None if after is None else _cursor(after)
        with self.store.tx() as tx:
            rows = tx.list_apply_runs(workspace, before, size + 1, manager, status)
        more = len(rows) > size
        rows = rows[:size]
        token = pages.encode_page_token(str(rows[-1].id), "applies") if more else ""
        access = caller.access()
        return Page([run_view(r, access) for r in rows], token)

    def get_run(self, principal: Principal, workspace: str, raw_id: str) -> dict[str, Any]:
        """One run, with ``changes``: the audit events its writes made, oldest first."""
        caller = self.access.caller(principal, workspace, Need.READ)
        run_id = parse_event_id(raw_id, "apply run id")
        with self.store.tx() as tx:
            run = _existing(tx, workspace, run_id)
            access = caller.access(tx)
            changes = self.audit.run_changes(tx, access, workspace, run_id)
        return {**run_view(run, access), "changes": changes}


def run_view(run: ApplyRunRecord, access: dict[str, Any] | None) -> dict[str, Any]:
    """A run as the API shows it; a user-bound token (``access``) sees only the failures of
    resources its user may read."""
    failures = run.failures
    if access is not None:
        failures = [f for f in failures if _failure_visible(access, f.get("resource", ""))]
    return {
        "id": str(run.id),
        "manager": run.manager,
        "environment": run.environment,
        "git_revision": run.git_revision,
        "plan_digest": run.plan_digest,
        "status": run.status,
        "started": run.started,
        "finished": run.finished,
        "actor": {"token_id": run.actor_id, "description": run.actor_description},
        "counts": {key: int(run.counts.get(key, 0)) for key in COUNT_KEYS},
        "failures": failures,
        "audit_from": str(run.audit_from),
    }


def _failure_visible(access: dict[str, Any], resource: str) -> bool:
    """A failure names its resource by full name or as ``<Kind> <address>`` (as seg apply
    prints it); a user sees it when it may read that resource, and no other."""
    if resource.startswith("workspaces/"):
        return readable(access, resource)
    kind_name, _, address = resource.partition(" ")
    kind = KINDS.get(kind_name)
    return kind is not None and bool(address) and allowed(access, kind.access_scope, address,
                                                          False)  # fmt: skip


def _existing(tx: StoreTx, workspace: str, run_id: int) -> ApplyRunRecord:
    run = tx.get_apply_run(run_id)
    if run is None or run.workspace != workspace:
        raise errors.NotFound(f"apply run {run_id} not found in workspace {workspace}")
    return run


def _cursor(after: str) -> int:
    try:
        return parse_event_id(after, "page_token")
    except errors.InvalidArgument:
        raise errors.InvalidArgument("page_token is invalid") from None


def _optional(body: dict[str, Any], key: str, pattern: re.Pattern[str], what: str
              ) -> str | None:  # fmt: skip
    value = body.get(key)
    if value is None:
        return None
    if not isinstance(value, str) or not pattern.fullmatch(value):
        raise errors.InvalidArgument(f"{key} must be {what}, or null")
    return value


def _start_fields(body: dict[str, Any]) -> dict[str, Any]:
    manager = body.get("manager")
    if not isinstance(manager, str) or not MANAGER_RE.fullmatch(manager):
        raise errors.InvalidArgument(
            "manager must be a name of at most 64 letters, digits, '-', '_' or '.' (starting "
            "with a letter or digit)"
        )
    revision = _optional(body, "git_revision", GIT_REVISION_RE,
                         "a git commit id (4 to 64 hexadecimal digits)")  # fmt: skip
    return {
        "manager": manager,
        "git_revision": revision.lower() if revision is not None else None,
        "plan_digest": _optional(body, "plan_digest", PLAN_DIGEST_RE,
                                 "a digest of at most 128 letters, digits and ._:+/=-"),
        "environment": _optional(body, "environment", SLUG_RE,
                                 f"an environment's name ({SLUG_RE.pattern})"),
    }  # fmt: skip


def _finish_fields(body: dict[str, Any]) -> tuple[str, dict[str, int], list[dict[str, str]]]:
    status = body.get("status")
    if status not in FINISHED_STATUSES:
        raise errors.InvalidArgument(f"status must be one of {', '.join(FINISHED_STATUSES)}")
    return str(status), _counts(body.get("counts")), _failures(body.get("failures"))


def _counts(raw: Any) -> dict[str, int]:
    counts = dict.fromkeys(COUNT_KEYS, 0)
    if raw is None:
        return counts
    if not isinstance(raw, dict):
        raise errors.InvalidArgument("counts must be an object")
    unknown = sorted(set(raw) - set(COUNT_KEYS))
    if unknown:
        raise errors.InvalidArgument(f"counts: unknown key {clip_repr(unknown[0])}; expected "
                                     f"{', '.join(COUNT_KEYS)}")  # fmt: skip
    for key, value in raw.items():
        if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value <= MAX_COUNT:
            raise errors.InvalidArgument(f"counts.{key} must be an integer from 0 to {MAX_COUNT}")
        counts[key] = value
    return counts


def _failures(raw: Any) -> list[dict[str, str]]:
    if raw is None:
        return []
    if not isinstance(raw, list):
        raise errors.InvalidArgument("failures must be a list")
    if len(raw) > MAX_FAILURES:
        raise errors.InvalidArgument(f"failures: {len(raw)} items; at most {MAX_FAILURES} are "
                                     "allowed")  # fmt: skip
    out = []
    for i, item in enumerate(raw):
        if not isinstance(item, dict) or set(item) != {"resource", "error"}:
            raise errors.InvalidArgument(f"failures[{i}] must be an object with resource and "
                                         "error")  # fmt: skip
        resource, error = item["resource"], item["error"]
        if (not isinstance(resource, str) or len(resource) > MAX_RESOURCE
                or not _NOT_BLANK.search(resource)):  # fmt: skip
            raise errors.InvalidArgument(f"failures[{i}].resource must be a name of at most "
                                         f"{MAX_RESOURCE} characters, not blank")  # fmt: skip
        if not isinstance(error, str) or len(error) > MAX_ERROR:
            raise errors.InvalidArgument(f"failures[{i}].error must be a string of at most "
                                         f"{MAX_ERROR} characters")  # fmt: skip
        out.append({"resource": resource, "error": error})
    return out
