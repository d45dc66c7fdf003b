"""The control plane's schema as versioned Alembic migrations (see ``seg.store.migrate``).

Each file under ``versions/`` is one revision, frozen once released: a change to the schema
is a new revision, never an edit of an old one. ``0001`` is the schema of the last release
made without migrations, and also brings any database an earlier seg made up to it."""
