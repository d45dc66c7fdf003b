"""Alembic's entry point: run the migrations on the connection ``seg.store.migrate`` passes
(online), or print their SQL for the dialect it names (offline, ``seg server migrate --sql``)."""

from __future__ import annotations

from alembic import context

config = context.config

if context.is_offline_mode():
    context.configure(dialect_name=config.attributes["dialect"], literal_binds=True,
                      transactional_ddl=True)  # fmt: skip
    with context.begin_transaction():
        context.run_migrations()
else:
    connection = config.attributes["connection"]
    # SQLite cannot alter most of a table in place: batch operations copy it.
    context.configure(connection=connection, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
