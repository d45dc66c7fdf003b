"""Attacks on the local cache under ``.seg/cache``: a pull request controls the tree, so it can
commit cache files, or make ``.seg`` a symlink to somewhere else."""

from __future__ import annotations

from pathlib import Path

import pytest

from seg import localcache

pytestmark = pytest.mark.usefixtures("own_cache_key")


def test_a_committed_cache_file_is_not_trusted(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                               ) -> None:  # fmt: skip
    """A file made with another key (the attacker's own seg) fails the seal."""
    root = tmp_path / "ws"
    root.mkdir()
    localcache.write(root, "validate", b"forged: everything is valid", "v")
    forged = (root / ".seg" / "cache" / "v").read_bytes()
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "victim-cache"))
    localcache._key.cache_clear()
    assert localcache.read(root, "validate", "v") is None
    (root / ".seg" / "cache" / "v").write_bytes(forged)
    assert localcache.read(root, "validate", "v") is None


def test_a_tampered_payload_is_not_trusted(tmp_path: Path) -> None:
    localcache.write(tmp_path, "p", b"the real payload", "v")
    path = tmp_path / ".seg" / "cache" / "v"
    blob = path.read_bytes()
    path.write_bytes(blob[:-7] + b"changed")
    assert localcache.read(tmp_path, "p", "v") is None
    path.write_bytes(blob[:10])
    assert localcache.read(tmp_path, "p", "v") is None


@pytest.mark.parametrize("link", [".seg", ".seg/cache"])
def test_a_symlinked_cache_directory_is_never_followed(tmp_path: Path, link: str) -> None:
    root = tmp_path / "ws"
    (root / ".seg").mkdir(parents=True)
    outside = tmp_path / "outside"
    outside.mkdir()
    target = root / link
    if target.exists():
        target.rmdir()
    target.symlink_to(outside)
    assert localcache.write(root, "p", b"x", "v") is False
    assert list(outside.iterdir()) == []
    assert localcache.read(root, "p", "v") is None


def test_a_symlinked_cache_file_is_replaced_not_followed(tmp_path: Path) -> None:
    localcache.write(tmp_path, "p", b"x", "v")
    victim = tmp_path / "victim.txt"
    victim.write_text("keep me")
    path = tmp_path / ".seg" / "cache" / "v"
    path.unlink()
    path.symlink_to(victim)
    assert localcache.read(tmp_path, "p", "v") is None
    assert localcache.write(tmp_path, "p", b"new", "v")
    assert victim.read_text() == "keep me"
    assert not path.is_symlink()


def test_a_key_readable_by_others_is_not_used(tmp_path: Path) -> None:
    localcache.write(tmp_path, "p", b"x", "v")
    key = tmp_path / "home-cache" / "seg" / "cache.key"
    key.chmod(0o644)
    localcache._key.cache_clear()
    assert localcache.read(tmp_path, "p", "v") is None
    assert localcache.write(tmp_path, "p", b"x", "v") is False


def test_a_fifo_in_place_of_a_cache_file_does_not_block(tmp_path: Path) -> None:
    """A committed FIFO would make a plain open wait for a writer forever."""
    import os

    localcache.write(tmp_path, "p", b"x", "v")
    path = tmp_path / ".seg" / "cache" / "v"
    path.unlink()
    os.mkfifo(path)
    assert localcache.read(tmp_path, "p", "v") is None
