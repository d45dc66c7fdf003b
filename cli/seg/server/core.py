"""Plumbing shared by the services: the caller, a page of results, what a request does, and
the conditional-write retry loop."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import Enum
from typing import Any, TypeVar

from seg.kinds.names import parse_resource_name
from seg.policy.models import ModelChangePolicy
from seg.server import errors
from seg.store.base import ResourceRecord, Store, StoreTx

__all__ = [
    "WRITE_ATTEMPTS",
    "Action",
    "Conflict",
    "Need",
    "Page",
    "Principal",
    "address_of",
    "get_for_write",
    "policy_of",
    "run_write",
]

T = TypeVar("T")

# A write that lost a race (its conditional write found the row changed) is rerun on the fresh
# state this many times in all before the caller is told to retry (Aborted).
WRITE_ATTEMPTS = 8


@dataclass(frozen=True)
class Principal:
    """The caller, as authenticated by its token."""

    token_id: str
    workspace: str
    scope: str
    description: str
    user: str = ""  # set for tokens that act for a user (their roles also apply)
    lock_id: str = ""  # the lease this caller claims to hold
    lock_override: bool = False  # whether it overrides another's lease (honoured for owners)
    # The apply run its resource writes belong to (``Seg-Apply``; checked before it is used)
    apply_run: int | None = None


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    next_page_token: str


class Need(Enum):
    """What a call needs of the token's scope."""

    READ = "read"
    WRITE = "write"
    OWNER = "owner"  # the owner scope, and for a user-bound token the workspace_owner role


class Action(Enum):
    """What a call does to a resource. The values are the names the audit trail and the
    permission messages have always used for it, so stored events keep their meaning."""

    READ = "GET"
    CREATE = "POST"
    UPDATE = "PATCH"
    REPLACE = "PUT"
    DELETE = "DELETE"
    START_APPLY = "apply start"  # an apply run (``server/apply_service.py``)
    FINISH_APPLY = "apply finish"

    @property
    def writes(self) -> bool:
        return self is not Action.READ


class Conflict(Exception):
    """The row a write read was changed by a concurrent write: roll back and rerun."""


def run_write(store: Store, name: str, step: Callable[[StoreTx], T]) -> T:
    """Run ``step`` in a transaction that first takes the workspace's write lock (so rules that
    read other resources cannot both pass; see ``StoreTx.lock_workspace``). Its writes are
    conditional on the row it read, so when a concurrent write got there first
    (``Conflict``) it is rerun on the fresh state (where an etag precondition then fails);
    never a lost update."""
    workspace = name.split("/")[1] if name.startswith("workspaces/") else None
    for _ in range(WRITE_ATTEMPTS):
        try:
            with store.tx() as tx:
                if workspace is not None:
                    tx.lock_workspace(workspace)  # rules see every earlier write (no skew)
                return step(tx)
        except Conflict:
            continue
    raise errors.Aborted(f"{name} is being changed concurrently; retry the request")


def get_for_write(tx: StoreTx, name: str, if_match: str | None) -> ResourceRecord:
    """The row a write changes; ``if_match`` (an etag, or ``*``) must name its current etag."""
    rec = tx.get_resource(name)
    if rec is None:
        raise errors.NotFound(f"{name} not found")
    if if_match is not None and if_match != "*" and if_match != rec.etag:
        raise errors.EtagMismatch(
            f"etag mismatch for {name}: the resource was modified "
            f"(expected {if_match}, current {rec.etag})"
        )
    return rec


def address_of(name: str) -> str:
    return parse_resource_name(name)[2]


def policy_of(tx: StoreTx, workspace: str) -> ModelChangePolicy:
    """The workspace's model-change policy (a deleted workspace, or a value no seg wrote:
    the strictest)."""
    ws = tx.get_workspace(workspace)
    policy = ModelChangePolicy.of(ws.model_change_policy) if ws else None
    return policy or ModelChangePolicy.STRICT
