"""The storage contract the server relies on, and the records it stores."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol

__all__ = [
    "APPLY_STATUSES",
    "AlreadyExistsError",
    "ApplyRunRecord",
    "AuditQuery",
    "AuditRecord",
    "CatalogRecord",
    "ChangeRecord",
    "HistoryRecord",
    "InvalidValueError",
    "LockRecord",
    "MissingReferenceError",
    "PoolStatus",
    "ResourceRecord",
    "Shape",
    "StillReferencedError",
    "Store",
    "StoreError",
    "StoreTx",
    "TokenRecord",
    "UnavailableError",
    "VersionRecord",
    "WorkspaceRecord",
]


class StoreError(Exception):
    """The database refused or could not run an operation; subclasses say why."""


class AlreadyExistsError(StoreError):
    """A row with the same unique key exists (a unique or primary-key violation, only)."""


class MissingReferenceError(StoreError):
    """A row refers to one that does not exist (a foreign key on insert: the parent is gone)."""


class StillReferencedError(StoreError):
    """A row cannot be deleted while others refer to it (a foreign key on delete)."""


class InvalidValueError(StoreError):
    """The database refused a value: out of range, a NUL character on PostgreSQL, or another
    constraint than the ones above."""


class UnavailableError(StoreError):
    """The database cannot be reached or used (stopped, dropped, corrupt, locked too long)."""


@dataclass(frozen=True)
class WorkspaceRecord:
    slug: str
    id: str
    display_name: str
    create_time: str
    model_change_policy: str = "strict"
    plan_tier: str = "business"


@dataclass(frozen=True)
class TokenRecord:
    id: str
    workspace: str
    scope: str
    description: str
    secret_hash: str
    create_time: str
    # A token may act for a user: its requests are then also limited by that user's roles.
    user_email: str = ""
    # When it stops working ("" = never) and when it was last used ("" = never; recorded at
    # most once a minute, see ``seg.server.token_service.LAST_USE_GRANULARITY``).
    expire_time: str = ""
    last_used_time: str = ""


@dataclass(frozen=True)
class ResourceRecord:
    """One stored resource. ``data`` holds its fields;
    ``secret_paths`` lists the dotted field paths whose values are secret: ``data`` holds
    their salted digests and ``secret_values`` the values, encrypted."""

    name: str
    workspace: str
    kind: str
    parent: str | None
    data: dict[str, Any]
    secret_paths: list[str]
    salt: str
    etag: str
    create_time: str
    update_time: str
    # Field paths seg manages (declared in YAML at its last write), and whether deleting the
    # resource is refused (protect: true), remembered even after the YAML document is gone.
    managed_paths: list[str] = field(default_factory=list)
    protect: bool = False
    # The secret values (by path), encrypted; ``data`` holds only their salted digests.
    secret_values: str = ""
    # The manager (a seg.yaml's ``manager:``) that owns it; "" when nobody does.
    manager: str = ""
    # The newest of its versions (kinds with ``versioning``; 0: none kept).
    latest_version: int = 0
    # Who created it: ``user:<email>`` (a user-bound token) or ``token:<id>``; "" when it was
    # made before the control plane kept creators. Set once, never changed.
    creator: str = ""


@dataclass(frozen=True)
class HistoryRecord:
    """A workspace's history of resource writes: its id (``epoch``, new when the history
    cannot continue), the number of writes so far (``revision``) and the oldest revision whose
    later changes are all still logged (``floor``)."""

    workspace: str
    epoch: str
    revision: int
    floor: int


@dataclass(frozen=True)
class ChangeRecord:
    """One logged resource write: the revision it made, the resource, its kind, and
    ``create``, ``update`` or ``delete``."""

    revision: int
    name: str
    kind: str
    operation: str


@dataclass(frozen=True)
class VersionRecord:
    """One kept version of a resource's versioned field (a function's code): its number
    (1, 2, … per resource), the value, when and by which token it was made."""

    workspace: str
    resource: str
    version: int
    value: str
    create_time: str
    actor_id: str


@dataclass(frozen=True)
class AuditRecord:
    workspace: str
    time: str
    actor_id: str
    actor_description: str
    method: str
    resource: str
    paths: list[str] = field(default_factory=list)
    id: int = 0
    # The apply run the write belongs to (the ``Seg-Apply`` header, and the run's own start
    # and finish events); None for everything made outside an apply.
    apply_run: int | None = None
    # What the write did to the resource's fields, one ``{"path", "before", "after"}`` entry
    # per changed value (``seg.server.field_changes``); empty for events that change no field
    # and for those recorded before the trail kept values.
    changes: list[dict[str, Any]] = field(default_factory=list)


# Names made of these segments, ``None`` matching any one segment (``workspaces/acme/sources/
# <any>``): the resources of one kind, as ``AuditQuery.shapes`` asks for them.
Shape = tuple[str | None, ...]


@dataclass(frozen=True)
class AuditQuery:
    """Which audit events ``StoreTx.list_audit`` lists (besides its ``before_id`` bound): ids
    above ``after_id``, by one actor (token id), on a resource of one of ``shapes`` (any
    when empty), on one of the resources named in ``resources`` (exact names; any when
    empty), at a time in [``since``, ``until``) (the API's timestamp text, which sorts as
    time), of one apply run (0: of none); newest first, or oldest first with
    ``oldest_first``."""

    after_id: int | None = None
    actor_id: str | None = None
    shapes: tuple[Shape, ...] = ()
    resources: tuple[str, ...] = ()
    since: str | None = None
    until: str | None = None
    apply_run: int | None = None
    oldest_first: bool = False


# running until its client finishes it; then applied, failed, or noop (a plan without changes)
APPLY_STATUSES = ("running", "applied", "failed", "noop")


@dataclass(frozen=True)
class ApplyRunRecord:
    """One ``seg apply`` as the control plane recorded it: who started it when, for which
    manager, environment, git revision and plan, how it ended (``status``, ``finished``), what
    it did (``counts``: created, updated, deleted, failed) and what failed (``failures``:
    ``{"resource", "error"}``), and ``audit_from``: the id of the audit event of its start."""

    workspace: str
    started: str
    actor_id: str
    actor_description: str
    manager: str
    environment: str | None = None
    git_revision: str | None = None
    plan_digest: str | None = None
    status: str = "running"
    finished: str | None = None
    counts: dict[str, int] = field(default_factory=dict)
    failures: list[dict[str, str]] = field(default_factory=list)
    audit_from: int = 0
    id: int = 0


@dataclass(frozen=True)
class CatalogRecord:
    """A workspace's private catalog entry: its section, id and the entry's JSON form."""

    workspace: str
    section: str
    id: str
    data: dict[str, Any]
    create_time: str
    update_time: str


@dataclass(frozen=True)
class LockRecord:
    """A workspace lease: who holds it, for which plan and CI run, until when (epoch s)."""

    workspace: str
    id: str
    holder: str
    host: str
    plan: str
    ci_run: str
    token_id: str
    acquired_at: str
    expires_at: float


@dataclass(frozen=True)
class PoolStatus:
    """The database connection pool: connections in use and the pool's size."""

    checked_out: int
    size: int


class StoreTx(Protocol):
    """Operations inside one transaction."""

    def insert_workspace(self, ws: WorkspaceRecord) -> None: ...
    def get_workspace(self, slug: str) -> WorkspaceRecord | None: ...
    def lock_workspace(self, slug: str) -> None: ...
    def update_workspace(self, ws: WorkspaceRecord, expected: WorkspaceRecord | None = None
                         ) -> bool: ...  # fmt: skip
    def insert_token(self, token: TokenRecord) -> None: ...
    def find_token(self, secret_hash: str) -> TokenRecord | None: ...
    def get_token(self, token_id: str) -> TokenRecord | None: ...
    def list_tokens(self, workspace: str) -> list[TokenRecord]: ...
    def delete_token(self, token_id: str) -> bool: ...
    def replace_token_secret(self, token_id: str, old_hash: str, new_hash: str) -> bool: ...
    def record_token_use(self, token_id: str, time: str, before: str) -> bool: ...
    def insert_resource(self, rec: ResourceRecord) -> None: ...
    def get_resource(self, name: str) -> ResourceRecord | None: ...
    def get_resources(self, names: list[str]) -> dict[str, ResourceRecord]: ...
    def update_resource(self, rec: ResourceRecord, expected: ResourceRecord | None = None
                        ) -> bool: ...  # fmt: skip
    def delete_resource(self, name: str, expected: ResourceRecord | None = None) -> bool: ...
    def list_resources(
        self, workspace: str, kind: str, parent: str | None, after: str | None, limit: int
    ) -> list[ResourceRecord]: ...
    def child_names(self, parent: str, limit: int) -> list[str]: ...
    def insert_audit(self, event: AuditRecord) -> int: ...
    def history(self, workspace: str) -> HistoryRecord | None: ...
    def changes(self, workspace: str, after: int, upto: int, limit: int
                ) -> list[ChangeRecord]: ...  # fmt: skip
    def get_lock(self, workspace: str) -> LockRecord | None: ...
    def insert_lock(self, lock: LockRecord) -> None: ...
    def replace_lock(self, lock: LockRecord, expected_id: str) -> bool: ...
    def extend_lock(self, workspace: str, lock_id: str, expires_at: float) -> bool: ...
    def delete_lock(self, workspace: str, lock_id: str | None) -> bool: ...
    def lock_expiries(self) -> dict[str, float | None]: ...
    def count_request(self, key: str, window: int) -> int: ...
    def list_audit(
        self, workspace: str, before_id: int | None, limit: int, query: AuditQuery | None = None
    ) -> list[AuditRecord]: ...
    def insert_apply_run(self, run: ApplyRunRecord) -> int: ...
    def set_apply_run_audit(self, run_id: int, audit_from: int) -> None: ...
    def get_apply_run(self, run_id: int) -> ApplyRunRecord | None: ...
    def finish_apply_run(self, run: ApplyRunRecord) -> bool: ...
    def list_apply_runs(self, workspace: str, before_id: int | None, limit: int,
                        manager: str | None = None, status: str | None = None
                        ) -> list[ApplyRunRecord]: ...  # fmt: skip
    def insert_version(self, version: VersionRecord) -> None: ...
    def list_versions(self, resource: str, before: int | None, limit: int
                      ) -> list[VersionRecord]: ...  # fmt: skip
    def get_version(self, resource: str, version: int) -> VersionRecord | None: ...
    def delete_versions(self, resource: str) -> int: ...
    def list_catalog_entries(self, workspace: str, section: str, after: str | None, limit: int
                             ) -> list[CatalogRecord]: ...  # fmt: skip
    def all_catalog_entries(self, workspace: str) -> list[CatalogRecord]: ...
    def catalog_keys(self, workspace: str) -> set[tuple[str, str]]: ...
    def get_catalog_entry(self, workspace: str, section: str, entry_id: str
                          ) -> CatalogRecord | None: ...  # fmt: skip
    def upsert_catalog_entry(self, rec: CatalogRecord) -> None: ...


class Store(Protocol):
    """A database the control plane runs on."""

    url: str

    def create_schema(self) -> None: ...
    def ping(self) -> None: ...
    def tx(self) -> AbstractContextManager[StoreTx]: ...
    def write_turn(self) -> AbstractContextManager[None]: ...
    def pool_status(self) -> PoolStatus: ...
    def close(self) -> None: ...


def iter_all(tx: StoreTx, workspace: str, kind: str, page: int = 500) -> Iterator[ResourceRecord]:
    after: str | None = None
    while True:
        rows = tx.list_resources(workspace, kind, None, after, page)
        yield from rows
        if len(rows) < page:
            return
        after = rows[-1].name
