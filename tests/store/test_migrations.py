"""The schema lives in Alembic migrations: they build exactly the tables the code uses, on
SQLite and PostgreSQL, go down and up again without losing rows, print their SQL without a
database, and refuse databases they do not know."""

from __future__ import annotations

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from seg.store.migrate import (
    SchemaError,
    drift,
    head_revision,
    migrate,
    migration_sql,
    revisions,
    schema_status,
)
from seg.store.sql import metadata


def _differences(engine: sa.Engine) -> list[object]:
    """What Alembic's comparison finds between the database and the code's tables."""
    with engine.connect() as conn:
        return list(compare_metadata(MigrationContext.configure(conn), metadata))


def test_the_migrations_build_exactly_the_tables_the_code_uses(engine: sa.Engine) -> None:
    assert schema_status(engine).state == "empty"
    before, now = migrate(engine)
    assert (before.state, now) == ("empty", head_revision())
    assert schema_status(engine).state == "current"
    assert _differences(engine) == []  # columns, types, defaults, indexes, keys


def test_down_and_up_again_keeps_the_rows(engine: sa.Engine) -> None:
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO workspaces (slug, id, display_name, create_time) "
                             "VALUES ('acme', 'ws1', 'Acme', 't')"))  # fmt: skip
        conn.execute(sa.text("INSERT INTO tokens (id, workspace, scope, description, "
                             "secret_hash, create_time, expire_time) VALUES ('tok_1', 'acme', "
                             "'workspace:read', 'd', 'h', 't', '')"))  # fmt: skip
    first = revisions()[0]
    migrate(engine, first)
    assert schema_status(engine).current == first
    with engine.connect() as conn:
        columns = {c["name"] for c in sa.inspect(conn).get_columns("tokens")}
    assert "expire_time" not in columns  # the later revision's columns went with it
    migrate(engine)
    assert _differences(engine) == []
    with engine.connect() as conn:
        row = conn.execute(sa.text("SELECT id, scope, expire_time FROM tokens")).one()
    assert tuple(row) == ("tok_1", "workspace:read", "")  # the row survived both ways


def test_a_database_newer_than_the_code_is_refused_untouched(engine: sa.Engine) -> None:
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))
    status = schema_status(engine)
    assert status.state == "ahead"
    assert "newer than this seg" in str(status.problem())
    with pytest.raises(SchemaError, match="newer than this seg"):
        migrate(engine)
    assert schema_status(engine).current == "9999"


def test_unknown_and_base_revisions_are_refused(engine: sa.Engine) -> None:
    with pytest.raises(SchemaError, match="unknown revision 'nope'"):
        migrate(engine, "nope")
    with pytest.raises(SchemaError, match="drop every table"):
        migrate(engine, "base")
    assert schema_status(engine).state == "empty"


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_sql_of_a_migration_is_printed_without_a_database(dialect: str) -> None:
    whole = migration_sql(dialect, None)
    for table in metadata.tables:
        assert f"CREATE TABLE {table} (" in whole
    assert f"INSERT INTO alembic_version (version_num) VALUES ('{revisions()[0]}')" in whole
    step = migration_sql(dialect, revisions()[0], revisions()[1])
    assert "CREATE TABLE" not in step and "ALTER TABLE tokens ADD COLUMN expire_time" in step
    history = migration_sql(dialect, revisions()[1], revisions()[2])
    assert "CREATE TABLE workspace_history (" in history
    assert "INSERT INTO workspace_history" in history  # existing workspaces get an epoch
    down = migration_sql(dialect, head_revision(), revisions()[0])
    assert "DROP INDEX ix_tokens_workspace" in down
    assert migration_sql(dialect, head_revision()) == ""  # nothing to do


def test_a_dropped_index_is_seen_and_restored_by_migrate(engine: sa.Engine) -> None:
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("DROP INDEX ix_resources_parent"))
    assert drift(engine) == ["missing index ix_resources_parent"]
    before, now = migrate(engine)
    assert before.current == now == head_revision()  # already at the head, and yet
    assert drift(engine) == []
    with engine.connect() as conn:
        assert "ix_resources_parent" in {i["name"] for i in sa.inspect(conn).get_indexes(
            "resources")}  # fmt: skip


def test_other_differences_are_named_not_changed(engine: sa.Engine) -> None:
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("ALTER TABLE tokens DROP COLUMN last_used_time"))
    assert drift(engine) == ["missing column tokens.last_used_time"]
    migrate(engine)
    assert drift(engine) == ["missing column tokens.last_used_time"]  # a person decides
