"""The composition root of the control plane: its services over one store, clock and
secret box. Each service has one job and raises domain errors only (``server/errors.py``);
the HTTP layer (``server/app.py``) reads headers and maps errors to statuses."""

from __future__ import annotations

from seg.server.access_service import AccessService
from seg.server.apply_service import ApplyService
from seg.server.audit import AuditLog
from seg.server.catalog_service import CatalogService
from seg.server.change_service import ChangeService
from seg.server.clock import Clock, SystemClock
from seg.server.console_service import ConsoleService
from seg.server.core import Page, Principal
from seg.server.crypto import SecretBox
from seg.server.lock_service import LockService
from seg.server.resource_service import ResourceService
from seg.server.rule_service import RuleService
from seg.server.token_service import TokenService
from seg.server.validation import FieldChecker
from seg.server.version_service import VersionService
from seg.server.workspaces import WorkspaceService
from seg.store.base import Store

__all__ = ["ControlPlane", "Page", "Principal"]


class ControlPlane:
    """``workspaces`` (and tokens, authentication, the rate limit), ``resources``,
    ``versions`` (of a versioned kind's field), ``rules`` (a tracking plan's), ``access``,
    ``locks``, ``audit``, ``catalog`` (built-in and private entries), ``tokens`` (list,
    revoke, rotate, create with an expiry), ``changes`` (the workspace's revision and what
    changed since one), ``applies`` (the apply runs) and ``console`` (the web console's
    reads), sharing one store and clock."""

    def __init__(self, store: Store, rate_limit: int = 0, clock: Clock | None = None,
                 secret_box: SecretBox | None = None) -> None:  # fmt: skip
        self.store = store
        self.clock: Clock = clock or SystemClock()
        self.box = secret_box or SecretBox.generate()
        fields = FieldChecker()
        self.access = AccessService(store)
        self.audit = AuditLog(store, self.clock, self.access)
        self.locks = LockService(store, self.clock, self.access, self.audit)
        self.workspaces = WorkspaceService(store, self.clock, self.access, self.audit,
                                           self.locks, rate_limit)  # fmt: skip
        self.resources = ResourceService(store, self.clock, self.box, self.access, self.audit,
                                         self.locks, fields)  # fmt: skip
        self.versions = VersionService(store, self.clock, self.box, self.access, self.audit,
                                       self.locks)  # fmt: skip
        self.rules = RuleService(store, self.clock, self.access, self.audit, self.locks, fields)
        self.catalog = CatalogService(store, self.clock, self.access, self.audit, self.locks)
        self.tokens = TokenService(store, self.clock, self.access, self.audit)
        self.changes = ChangeService(store, self.access, self.box)
        self.applies = ApplyService(store, self.clock, self.access, self.audit, self.locks)
        self.console = ConsoleService(store, self.access)
        self.workspaces.box = self.box  # revision and epoch in the workspace's GET
