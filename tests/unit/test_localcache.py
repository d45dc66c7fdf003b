"""The sealed local cache: what one run writes, the next run of the same code reads back."""

from __future__ import annotations

from pathlib import Path

import pytest

from seg import localcache

pytestmark = pytest.mark.usefixtures("own_cache_key")


def test_a_written_payload_reads_back(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    assert localcache.write(root, "validate", b"payload \x00 bytes", "validate", "files.bin")
    assert localcache.read(root, "validate", "validate", "files.bin") == b"payload \x00 bytes"
    path = root / ".seg" / "cache" / "validate" / "files.bin"
    assert path.stat().st_mode & 0o777 == 0o600
    assert (root / ".seg" / "cache").stat().st_mode & 0o777 == 0o700


def test_the_key_lives_outside_the_tree_and_is_private(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    localcache.write(root, "p", b"x", "a")
    key = tmp_path / "home-cache" / "seg" / "cache.key"
    assert key.stat().st_mode & 0o777 == 0o600
    assert len(key.read_bytes()) == localcache.KEY_BYTES


def test_another_purpose_or_name_reads_nothing(tmp_path: Path) -> None:
    localcache.write(tmp_path, "validate", b"x", "a")
    assert localcache.read(tmp_path, "state", "a") is None
    assert localcache.read(tmp_path, "validate", "b") is None


def test_a_new_key_invalidates_every_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    localcache.write(tmp_path, "p", b"x", "a")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "other-home"))
    localcache._key.cache_clear()
    assert localcache.read(tmp_path, "p", "a") is None


def test_no_place_for_the_key_disables_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    monkeypatch.setenv("XDG_CACHE_HOME", str(blocker))
    localcache._key.cache_clear()
    assert localcache.write(tmp_path, "p", b"x", "a") is False
    assert localcache.read(tmp_path, "p", "a") is None


def test_the_fingerprint_follows_the_code(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    localcache.write(tmp_path, "p", b"x", "a")
    monkeypatch.setattr(localcache, "code_fingerprint", lambda: "other code")
    assert localcache.read(tmp_path, "p", "a") is None


def test_a_tree_where_no_cache_can_be_made_is_no_error(tmp_path: Path) -> None:
    (tmp_path / ".seg").write_text("a file, not a directory")
    assert localcache.write(tmp_path, "p", b"x", "a") is False
    assert localcache.read(tmp_path, "p", "a") is None


def test_the_cache_folder_keeps_itself_out_of_git(tmp_path: Path) -> None:
    import subprocess

    repo = tmp_path / "repo"
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    assert localcache.write(repo, "p", b"x", "validate", "files.pickle")
    status = subprocess.run(["git", "-C", str(repo), "status", "--porcelain",
                             "--untracked-files=all"], capture_output=True, text=True,
                            check=True)  # fmt: skip
    assert status.stdout == ""
