"""Token lifecycle: when a token expires and when it was last used ("" = never), and an index
to list a workspace's tokens.

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Idempotent, like 0001: a database that lost its version row keeps whatever it has.
    inspector = None if context.is_offline_mode() else sa.inspect(op.get_bind())
    have = set() if inspector is None else {c["name"] for c in inspector.get_columns("tokens")}
    for name in ("expire_time", "last_used_time"):
        if name not in have:
            op.add_column("tokens", sa.Column(name, sa.String(32), nullable=False,
                                              server_default=""))  # fmt: skip
    indexes = set() if inspector is None else {i["name"] for i in inspector.get_indexes("tokens")}
    if "ix_tokens_workspace" not in indexes:
        op.create_index("ix_tokens_workspace", "tokens", ["workspace"])


def downgrade() -> None:
    # The older schema cannot expire a token: one kept would never expire (there, and here
    # again after migrating up, its expiry back at the default). Drop them instead.
    op.execute("DELETE FROM tokens WHERE expire_time <> ''")
    op.drop_index("ix_tokens_workspace", table_name="tokens")
    # SQLite drops a column in place since 3.35 (no batch copy, so --sql works too)
    op.drop_column("tokens", "last_used_time")
    op.drop_column("tokens", "expire_time")
