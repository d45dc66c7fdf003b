"""Workspace revisions and the change log: ``workspace_history`` (a random epoch, the
revision every resource write increments, the oldest answerable revision) and
``resource_changes`` (one row per write).

Existing workspaces start at revision 0 with their floor at 0 and a new epoch: no client
holds a revision of them yet, so "everything older is too old" costs nothing.

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

# A random epoch per existing workspace, made by the database itself (so ``--sql`` prints it)
RANDOM_EPOCH = {
    "sqlite": "lower(hex(randomblob(16)))",
    "postgresql": "md5(random()::text || clock_timestamp()::text || slug)",
}


def upgrade() -> None:
    # Idempotent, like 0001 and 0002: a database that lost its version row keeps what it has.
    inspector = None if context.is_offline_mode() else sa.inspect(op.get_bind())
    have = set() if inspector is None else set(inspector.get_table_names())
    if "workspace_history" not in have:
        op.create_table(
            "workspace_history",
            sa.Column("workspace", sa.String(64), sa.ForeignKey("workspaces.slug"),
                      primary_key=True),
            sa.Column("epoch", sa.String(32), nullable=False),
            sa.Column("revision", sa.BigInteger, nullable=False, server_default="0"),
            sa.Column("floor", sa.BigInteger, nullable=False, server_default="0"),
        )  # fmt: skip
        epoch = RANDOM_EPOCH[op.get_context().dialect.name]
        op.execute(f"INSERT INTO workspace_history (workspace, epoch, revision, floor) "
                   f"SELECT slug, {epoch}, 0, 0 FROM workspaces")  # fmt: skip
    if "resource_changes" not in have:
        op.create_table(
            "resource_changes",
            sa.Column("workspace", sa.String(64), primary_key=True),
            sa.Column("revision", sa.BigInteger, primary_key=True, autoincrement=False),
            sa.Column("name", sa.String(512), nullable=False),
            sa.Column("kind", sa.String(32), nullable=False),
            sa.Column("operation", sa.String(8), nullable=False),
        )
    indexes = set() if inspector is None or "resource_changes" not in have else {
        i["name"] for i in inspector.get_indexes("resource_changes")}  # fmt: skip
    if "ix_resource_changes_name" not in indexes:
        op.create_index("ix_resource_changes_name", "resource_changes",
                        ["workspace", "name", "revision"])  # fmt: skip


def downgrade() -> None:
    op.drop_index("ix_resource_changes_name", table_name="resource_changes")
    op.drop_table("resource_changes")
    op.drop_table("workspace_history")
