"""Hostile files for `seg server backup` / `restore`: each is one readable error line (exit
1, no traceback), nothing is written through a symlink or over a file without --force, no
temporary file is left behind, and a backup carrying SQL that would run on the server's
writes (a trigger, a view) is refused."""

from __future__ import annotations

import os
import shutil
import sqlite3
import stat
from pathlib import Path

import pytest

from tests.conftest import run_cli


@pytest.fixture
def seg_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A seg database (cp.db, one workspace) and a good backup of it (good.db)."""
    monkeypatch.setenv("SEG_DATABASE_URL", f"sqlite:///{tmp_path / 'cp.db'}")
    monkeypatch.setenv("SEG_SECRET_KEY_FILE", str(tmp_path / "key"))
    monkeypatch.setenv("NO_COLOR", "1")
    assert run_cli("server", "init", "--slug", "acme").exit_code == 0
    made = run_cli("server", "backup", str(tmp_path / "good.db"))
    assert made.exit_code == 0, made.output
    return tmp_path


def one_error(*args: str) -> str:
    result = run_cli("server", *args)
    assert result.exit_code == 1, result.output
    lines = result.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.output
    assert "\x1b" not in result.output
    return lines[0]


def restore_into(tmp: Path, source: Path, *extra: str) -> str:
    return one_error("restore", str(source), "--database", f"sqlite:///{tmp / 'new.db'}", *extra)


def no_leftovers(tmp: Path) -> None:
    assert not [p.name for p in tmp.iterdir() if p.name.startswith(".")]
    assert not (tmp / "new.db").exists()


def test_files_that_are_not_seg_databases_are_one_line(seg_db: Path) -> None:
    tmp = seg_db
    (tmp / "text.db").write_text("kind: Source\n")
    assert restore_into(tmp, tmp / "text.db").endswith("is not a SQLite database")
    assert restore_into(tmp, tmp / "missing.db").endswith("does not exist")
    assert restore_into(tmp, tmp).endswith("is not a regular file")
    garbage = tmp / "garbage.db"
    garbage.write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    assert "is not a usable SQLite database" in restore_into(tmp, garbage)
    other = tmp / "other.db"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    assert restore_into(tmp, other).endswith(
        "is not a seg database (no workspaces, tokens, resources, audit_events table)"
    )
    no_leftovers(tmp)


@pytest.mark.parametrize("fraction", [0.5, 0.77])
def test_a_truncated_backup_is_refused(seg_db: Path, fraction: float) -> None:
    tmp = seg_db
    data = (tmp / "good.db").read_bytes()
    cut = int(len(data) * fraction) // 4096 * 4096 if fraction == 0.5 else int(len(data) * fraction)
    (tmp / "cut.db").write_bytes(data[:cut])  # 0.5: on a page boundary; else mid-page
    message = restore_into(tmp, tmp / "cut.db")
    assert "is not a usable SQLite database" in message or "is damaged" in message, message
    no_leftovers(tmp)


def test_a_backup_carrying_a_trigger_or_a_view_is_refused(seg_db: Path) -> None:
    tmp = seg_db
    for name, sql in (("trigger.db", "CREATE TRIGGER leak AFTER INSERT ON tokens BEGIN "
                                     "INSERT INTO workspaces SELECT * FROM workspaces; END"),
                      ("view.db", "CREATE VIEW v AS SELECT secret_hash FROM tokens")):  # fmt: skip
        shutil.copy(tmp / "good.db", tmp / name)
        with sqlite3.connect(tmp / name) as conn:
            conn.execute(sql)
        conn.close()
        assert "which seg never makes; refusing to restore it" in restore_into(tmp, tmp / name)
    no_leftovers(tmp)


def test_symlinks_are_never_written_through_or_read_as_backups(seg_db: Path) -> None:
    tmp = seg_db
    victim = tmp / "victim.txt"
    victim.write_text("keep me")
    (tmp / "link.db").symlink_to(victim)
    (tmp / "dangling.db").symlink_to(tmp / "nowhere.db")
    for target in ("link.db", "dangling.db"):
        for force in ((), ("--force",)):
            assert one_error("backup", str(tmp / target), *force).endswith(
                "is a symlink; name the file itself"
            )
    assert victim.read_text() == "keep me" and not (tmp / "nowhere.db").exists()
    (tmp / "good-link.db").symlink_to(tmp / "good.db")
    assert restore_into(tmp, tmp / "good-link.db").endswith("is a symlink; name the file itself")
    (tmp / "db-link.db").symlink_to(victim)
    assert one_error("restore", str(tmp / "good.db"), "--force", "--database",
                     f"sqlite:///{tmp / 'db-link.db'}").endswith(
                         "is a symlink; name the file itself")  # fmt: skip
    assert victim.read_text() == "keep me"
    no_leftovers(tmp)


def test_an_existing_file_is_replaced_only_with_force(seg_db: Path) -> None:
    tmp = seg_db
    existing = tmp / "existing.db"
    existing.write_text("an older backup")
    existing.chmod(0o644)
    assert one_error("backup", str(existing)).endswith("exists; pass --force to replace it")
    assert existing.read_text() == "an older backup"
    assert one_error("backup", str(tmp)).endswith("exists and is not a regular file")
    assert run_cli("server", "backup", str(existing), "--force").exit_code == 0
    assert existing.read_bytes().startswith(b"SQLite format 3\x00")
    assert stat.S_IMODE(existing.stat().st_mode) == 0o600  # a new private file, not rewritten
    other = tmp / "other.db"  # a database that is not seg's is not replaced without --force
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE notes (body TEXT)")
    conn.close()
    assert one_error("restore", str(tmp / "good.db"), "--database",
                     f"sqlite:///{other}").endswith(
                         "is not a seg database; pass --force to replace it")  # fmt: skip
    assert one_error("restore", str(tmp / "good.db"), "--force", "--database",
                     f"sqlite:///{tmp / 'good.db'}").endswith("is the database itself")
    no_leftovers(tmp)


def test_a_live_database_with_its_write_ahead_log_is_not_restored_from(seg_db: Path) -> None:
    tmp = seg_db
    holder = sqlite3.connect(tmp / "cp.db")  # keeps cp.db-wal in place
    try:
        holder.execute("PRAGMA journal_mode=WAL")
        holder.execute("UPDATE workspaces SET display_name = 'x'")
        holder.commit()
        assert (tmp / "cp.db-wal").exists()
        assert "has a write-ahead log beside it" in restore_into(tmp, tmp / "cp.db")
    finally:
        holder.close()


def test_odd_paths_and_urls_are_one_line(seg_db: Path) -> None:
    tmp = seg_db
    assert one_error("backup", str(tmp / "no-dir" / "b.db")).endswith("does not exist")
    assert one_error("backup", str(tmp / "b.db"), "--database",
                     f"sqlite:///{tmp / 'absent.db'}").endswith("does not exist (or is not a file)")  # fmt: skip
    assert not (tmp / "absent.db").exists()  # backup never creates the database it copies
    assert "works on a SQLite database file" in one_error("backup", str(tmp / "b.db"),
                                                          "--database", "sqlite://")  # fmt: skip
    assert "not a database URL" in one_error("backup", str(tmp / "b.db"), "--database", "::")
    evil = tmp / "evil\x1b[2J.db"
    evil.write_text("not sqlite")
    assert "evil\\u001b[2J.db" in restore_into(tmp, evil)
