"""Review of issue 17's migrations: migrating down below the revision that added token
expiry must not turn an expiring token into one that never expires (the older schema has no
expiry, and migrating up again gives the column its default: never)."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from seg.store.migrate import head_revision, migrate, migration_sql, revisions

_TOKEN = ("INSERT INTO tokens (id, workspace, scope, description, secret_hash, create_time, "
          "expire_time) VALUES (:id, 'acme', 'workspace:owner', 'd', :id, 't', :expire)")  # fmt: skip


def test_a_down_and_up_migration_never_makes_an_expiring_token_permanent(
    engine: sa.Engine,  # noqa: F811
) -> None:
    migrate(engine)
    with engine.begin() as conn:
        conn.execute(sa.text("INSERT INTO workspaces (slug, id, display_name, create_time) "
                             "VALUES ('acme', 'ws1', 'Acme', 't')"))  # fmt: skip
        conn.execute(sa.text(_TOKEN), {"id": "tok_day", "expire": "2030-01-01T00:00:00.000Z"})
        conn.execute(sa.text(_TOKEN), {"id": "tok_ever", "expire": ""})
    migrate(engine, revisions()[0])
    with engine.connect() as conn:
        ids = {row[0] for row in conn.execute(sa.text("SELECT id FROM tokens"))}
    assert ids == {"tok_ever"}  # the older seg would have honoured tok_day forever
    migrate(engine)
    with engine.connect() as conn:
        rows = conn.execute(sa.text("SELECT id, expire_time FROM tokens")).all()
    assert [tuple(r) for r in rows] == [("tok_ever", "")]


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_the_printed_down_migration_removes_expiring_tokens_too(dialect: str) -> None:
    text = migration_sql(dialect, head_revision(), revisions()[0])
    assert "DELETE FROM tokens WHERE expire_time <> ''" in text
    assert text.index("DELETE FROM tokens") < text.index("DROP COLUMN expire_time")
