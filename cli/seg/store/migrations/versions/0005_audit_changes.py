"""Field-level changes in the audit trail: ``audit_events.changes`` (a JSON list of
``{"path", "before", "after"}`` entries, secrets shown only as set; NULL when the event has
none) and ``ix_audit_ws_resource`` (a resource's history: ``GET …/audit-events?resource=``).

Existing events keep NULL: what they changed was never recorded, and reads as no entry.

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Idempotent, like 0001-0004: a database that lost its version row keeps what it has.
    inspector = None if context.is_offline_mode() else sa.inspect(op.get_bind())
    columns = set() if inspector is None else {
        c["name"] for c in inspector.get_columns("audit_events")}  # fmt: skip
    if "changes" not in columns:
        op.add_column("audit_events", sa.Column("changes", sa.Text, nullable=True))
    indexes = set() if inspector is None else {
        i["name"] for i in inspector.get_indexes("audit_events")}  # fmt: skip
    if "ix_audit_ws_resource" not in indexes:
        op.create_index("ix_audit_ws_resource", "audit_events", ["workspace", "resource", "id"])


def downgrade() -> None:
    # The older schema keeps only the changed paths: the values go.
    op.drop_index("ix_audit_ws_resource", table_name="audit_events")
    # SQLite drops a column in place since 3.35 (no batch copy, so --sql works too)
    op.drop_column("audit_events", "changes")
