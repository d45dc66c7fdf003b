"""Review of issue 17: a database's schema revision is text from the database (a restored
backup is someone else's file). Every command that names it (backup, restore, migrate,
migrate --sql, serve) shows it escaped and cut short: a revision never drives the operator's
terminal or floods it."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from tests.conftest import run_cli

EVIL = "\x1b]0;pwned\x07\x1b[2J\u202e" + "9" * 5000


@pytest.fixture
def evil_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A seg database whose alembic_version row holds escape sequences and a long tail."""
    monkeypatch.setenv("SEG_DATABASE_URL", f"sqlite:///{tmp_path / 'cp.db'}")
    monkeypatch.setenv("SEG_SECRET_KEY_FILE", str(tmp_path / "key"))
    monkeypatch.setenv("NO_COLOR", "1")
    assert run_cli("server", "init", "--slug", "acme").exit_code == 0
    with sqlite3.connect(tmp_path / "cp.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = ?", (EVIL,))
    conn.close()
    return tmp_path


def _clean(output: str) -> None:
    assert "\x1b" not in output and "\x07" not in output and "\u202e" not in output, output
    assert len(output) < 2000, len(output)


def test_a_revision_from_the_database_never_reaches_the_terminal_raw(evil_db: Path) -> None:
    backup = run_cli("server", "backup", str(evil_db / "b.db"))
    assert backup.exit_code == 0, backup.output
    restore = run_cli("server", "restore", str(evil_db / "b.db"), "--database",
                      f"sqlite:///{evil_db / 'new.db'}")  # fmt: skip
    assert restore.exit_code == 0, restore.output
    for result in (backup, restore, run_cli("server", "migrate"),
                   run_cli("server", "migrate", "--sql"), run_cli("serve", "--port", "0")):  # fmt: skip
        _clean(result.output)
    assert "revision \\u001b]0;pwned" in run_cli("server", "migrate").output
