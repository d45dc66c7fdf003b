"""Apply runs: ``apply_runs`` (each ``seg apply`` the control plane recorded: who, when, which
manager, environment, git revision and plan, how it ended and what it did) and
``audit_events.apply_run`` (the run an event belongs to; NULL for everything before and
outside applies).

Existing events stay untagged: no apply was recorded before this revision.

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

STATUSES = ("running", "applied", "failed", "noop")


def upgrade() -> None:
    # Idempotent, like 0001-0003: a database that lost its version row keeps what it has.
    inspector = None if context.is_offline_mode() else sa.inspect(op.get_bind())
    have = set() if inspector is None else set(inspector.get_table_names())
    if "apply_runs" not in have:
        op.create_table(
            "apply_runs",
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("workspace", sa.String(64), sa.ForeignKey("workspaces.slug"),
                      nullable=False),
            sa.Column("started", sa.String(32), nullable=False),
            sa.Column("finished", sa.String(32), nullable=True),
            sa.Column("actor_id", sa.String(40), nullable=False),
            sa.Column("actor_description", sa.Text, nullable=False),
            sa.Column("manager", sa.String(64), nullable=False),
            sa.Column("environment", sa.String(64), nullable=True),
            sa.Column("git_revision", sa.String(64), nullable=True),
            sa.Column("plan_digest", sa.String(128), nullable=True),
            sa.Column("status", sa.String(16), nullable=False),
            sa.Column("counts", sa.Text, nullable=False),
            sa.Column("failures", sa.Text, nullable=False),
            sa.Column("audit_from", sa.Integer, nullable=False, server_default="0"),
            sa.CheckConstraint(f"status IN ({', '.join(repr(s) for s in STATUSES)})",
                               name="ck_apply_runs_status"),
        )  # fmt: skip
    runs_indexes = set() if inspector is None or "apply_runs" not in have else {
        i["name"] for i in inspector.get_indexes("apply_runs")}  # fmt: skip
    if "ix_apply_runs_ws_id" not in runs_indexes:
        op.create_index("ix_apply_runs_ws_id", "apply_runs", ["workspace", "id"])
    columns = set() if inspector is None else {
        c["name"] for c in inspector.get_columns("audit_events")}  # fmt: skip
    if "apply_run" not in columns:
        op.add_column("audit_events", sa.Column("apply_run", sa.Integer, nullable=True))
    audit_indexes = set() if inspector is None else {
        i["name"] for i in inspector.get_indexes("audit_events")}  # fmt: skip
    if "ix_audit_apply_run" not in audit_indexes:
        op.create_index("ix_audit_apply_run", "audit_events", ["apply_run"])


def downgrade() -> None:
    # The older schema has no apply runs: the runs and the events' tags go.
    op.drop_index("ix_audit_apply_run", table_name="audit_events")
    # SQLite drops a column in place since 3.35 (no batch copy, so --sql works too)
    op.drop_column("audit_events", "apply_run")
    op.drop_index("ix_apply_runs_ws_id", table_name="apply_runs")
    op.drop_table("apply_runs")
