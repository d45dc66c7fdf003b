"""Review of issue 17's backup: `seg server backup FILE --force` where FILE is the live
database itself (the same path, another spelling of it, or a hard link) must be refused. A
backup replaces its target with a new file, so it would swap the database out from under
running servers: their pooled connections keep writing to the old, unlinked file, and every
later write is lost to anyone who opens the database again."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import run_cli


@pytest.fixture
def cp_db(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("SEG_DATABASE_URL", f"sqlite:///{tmp_path / 'cp.db'}")
    monkeypatch.setenv("SEG_SECRET_KEY_FILE", str(tmp_path / "key"))
    monkeypatch.setenv("NO_COLOR", "1")
    assert run_cli("server", "init", "--slug", "acme").exit_code == 0
    return tmp_path / "cp.db"


def test_a_backup_onto_the_database_itself_is_refused(
    cp_db: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (cp_db.parent / "link.db").hardlink_to(cp_db)
    inode = cp_db.stat().st_ino
    monkeypatch.chdir(cp_db.parent)
    for target in (str(cp_db), "cp.db", "./cp.db", str(cp_db.parent / "link.db")):
        result = run_cli("server", "backup", target, "--force")
        assert result.exit_code == 1, result.output
        lines = result.output.strip().splitlines()
        assert len(lines) == 1 and "is the database itself" in lines[0], result.output
        assert cp_db.stat().st_ino == inode  # never swapped out
