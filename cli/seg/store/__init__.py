"""Storage for the control plane: one SQLAlchemy Core implementation for SQLite and PostgreSQL."""

from seg.store.base import AuditRecord, ResourceRecord, Store, TokenRecord, WorkspaceRecord
from seg.store.sql import SqlStore, open_store

__all__ = [
    "AuditRecord",
    "ResourceRecord",
    "SqlStore",
    "Store",
    "TokenRecord",
    "WorkspaceRecord",
    "open_store",
]
