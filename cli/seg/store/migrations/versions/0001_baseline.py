"""The schema of the last release made without migrations; brings older databases up to it.

A database that seg made before migrations existed has the tables but no version: each
missing table is created, each missing column added (with the data step that keeps its
meaning) and each missing index restored, so every row it holds survives. A new database
gets every table. Frozen: later changes are later revisions.

Revision ID: 0001
Revises: (none)
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import context, op

revision = "0001"
down_revision: str | None = None
branch_labels = None
depends_on = None


def _tables() -> list[tuple[str, list[sa.Column[object]], list[sa.schema.SchemaItem]]]:
    """Each table's columns and table-level constraints, as the baseline release had them."""
    str_ = sa.String

    def ws_fk() -> sa.ForeignKey:
        return sa.ForeignKey("workspaces.slug")

    def res_fk() -> sa.ForeignKey:
        return sa.ForeignKey("resources.name")

    return [
        ("workspaces", [
            sa.Column("slug", str_(64), primary_key=True),
            sa.Column("id", str_(32), nullable=False, unique=True),
            sa.Column("display_name", sa.Text, nullable=False),
            sa.Column("create_time", str_(32), nullable=False),
            sa.Column("model_change_policy", str_(16), nullable=False, server_default="strict"),
            sa.Column("plan_tier", str_(16), nullable=False, server_default="business"),
        ], []),
        ("tokens", [
            sa.Column("id", str_(40), primary_key=True),
            sa.Column("workspace", str_(64), ws_fk(), nullable=False),
            sa.Column("scope", str_(32), nullable=False),
            sa.Column("description", sa.Text, nullable=False),
            sa.Column("secret_hash", str_(64), nullable=False, unique=True),
            sa.Column("create_time", str_(32), nullable=False),
            sa.Column("user_email", str_(320), nullable=False, server_default=""),
        ], []),
        ("resources", [
            sa.Column("name", str_(512), primary_key=True),
            sa.Column("workspace", str_(64), ws_fk(), nullable=False),
            sa.Column("kind", str_(32), nullable=False),
            sa.Column("parent", str_(512), res_fk(), nullable=True),
            sa.Column("data", sa.Text, nullable=False),
            sa.Column("secret_paths", sa.Text, nullable=False),
            sa.Column("salt", str_(32), nullable=False),
            sa.Column("etag", str_(64), nullable=False),
            sa.Column("create_time", str_(32), nullable=False),
            sa.Column("update_time", str_(32), nullable=False),
            sa.Column("managed_paths", sa.Text, nullable=False, server_default="[]"),
            sa.Column("protect", sa.Boolean, nullable=False, server_default=sa.false()),
            sa.Column("secret_values", sa.Text, nullable=False, server_default=""),
            sa.Column("manager", str_(64), nullable=False, server_default=""),
            sa.Column("latest_version", sa.Integer, nullable=False, server_default="0"),
            sa.Column("creator", str_(400), nullable=False, server_default=""),
        ], []),
        ("resource_versions", [
            sa.Column("workspace", str_(64), ws_fk(), nullable=False),
            sa.Column("resource", str_(512), res_fk(), primary_key=True),
            sa.Column("version", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("value", sa.Text, nullable=False),
            sa.Column("create_time", str_(32), nullable=False),
            sa.Column("actor_id", str_(40), nullable=False),
        ], [sa.CheckConstraint("version > 0", name="ck_resource_versions_positive")]),
        ("audit_events", [
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=True),
            sa.Column("workspace", str_(64), nullable=False),
            sa.Column("time", str_(32), nullable=False),
            sa.Column("actor_id", str_(40), nullable=False),
            sa.Column("actor_description", sa.Text, nullable=False),
            sa.Column("method", str_(16), nullable=False),
            sa.Column("resource", str_(512), nullable=False),
            sa.Column("paths", sa.Text, nullable=False),
        ], []),
        ("catalog_entries", [
            sa.Column("workspace", str_(64), ws_fk(), primary_key=True),
            sa.Column("section", str_(16), primary_key=True),
            sa.Column("id", str_(64), primary_key=True),
            sa.Column("data", sa.Text, nullable=False),
            sa.Column("create_time", str_(32), nullable=False),
            sa.Column("update_time", str_(32), nullable=False),
        ], []),
        ("locks", [
            sa.Column("workspace", str_(64), primary_key=True),
            sa.Column("id", str_(40), nullable=False),
            sa.Column("holder", sa.Text, nullable=False),
            sa.Column("host", sa.Text, nullable=False),
            sa.Column("plan", sa.Text, nullable=False),
            sa.Column("ci_run", sa.Text, nullable=False),
            sa.Column("token_id", str_(40), nullable=False),
            sa.Column("acquired_at", str_(32), nullable=False),
            sa.Column("expires_at", sa.Float, nullable=False),
        ], []),
        ("rate_limits", [
            sa.Column("key", str_(64), primary_key=True),
            sa.Column("window", sa.Integer, primary_key=True),
            sa.Column("count", sa.Integer, nullable=False),
        ], []),
    ]  # fmt: skip


INDEXES = (
    ("ix_resources_ws_kind_name", "resources", ["workspace", "kind", "name"]),
    ("ix_resources_parent", "resources", ["parent"]),
    ("ix_audit_ws_id", "audit_events", ["workspace", "id"]),
)

# The data step of a column added to a database that lacks it. ``resources.manager``: what
# seg wrote before managers existed stays managed — seg's writes always record the declared
# paths, raw API writes record none — so those resources get the default manager (the one
# of a seg.yaml that names none) and the next plan neither adopts nor orphans them.
MIGRATED_MANAGER = "default"
BACKFILL = {
    ("resources", "manager"): "UPDATE resources SET manager = :value "
                              "WHERE managed_paths != '[]'",
}  # fmt: skip


def upgrade() -> None:
    offline = context.is_offline_mode()
    inspector = None if offline else sa.inspect(op.get_bind())
    existing = set() if inspector is None else set(inspector.get_table_names())
    for name, columns, constraints in _tables():
        if name not in existing:
            op.create_table(name, *columns, *constraints)
            continue
        assert inspector is not None
        have = {c["name"] for c in inspector.get_columns(name)}
        for column in columns:
            if column.name not in have:
                op.add_column(name, column)
                backfill = BACKFILL.get((name, column.name))
                if backfill is not None:
                    op.execute(sa.text(backfill).bindparams(value=MIGRATED_MANAGER))
    for index, table, columns_ in INDEXES:
        have_ix = set() if inspector is None or table not in existing else {
            ix["name"] for ix in inspector.get_indexes(table)}  # fmt: skip
        if index not in have_ix:
            op.create_index(index, table, columns_)


def downgrade() -> None:
    for index, table, _ in INDEXES:
        op.drop_index(index, table_name=table)
    for name, _, _ in reversed(_tables()):
        op.drop_table(name)
