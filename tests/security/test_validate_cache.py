"""Attacks on the validate cache (``.seg/cache/validate/``): a pull request controls the tree,
so it can commit a cache that says its invalid files are valid, a damaged one, or make
``.seg`` a symlink; and the cache must never hold a value from the environment."""

from __future__ import annotations

import hashlib
import pickle
from pathlib import Path

import pytest

from seg import localcache
from seg.workspace import cache as validate_cache
from seg.workspace.loader import load_workspace
from tests.edited_workspaces import BAD, ENVIRON, GOOD, SECRET, problems, write_sources

FILES = ("validate", "files.pickle")


pytestmark = pytest.mark.usefixtures("own_cache_key")


def _as_attacker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "attacker-key"))
    localcache._key.cache_clear()


def _as_victim(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "victim-key"))
    localcache._key.cache_clear()


def test_a_committed_cache_claiming_a_bad_file_is_valid_is_not_trusted(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The attacker's own seg caches the good file, then rewrites the entry so its reads match
    the bad file's bytes, and seals it with the attacker's key: the victim's seg finds the
    seal broken and reads the bad file."""
    root = tmp_path / "ws"
    write_sources(root, BAD)
    expected = problems(root)
    assert expected
    (root / ".seg").rename(tmp_path / "victims-own-cache")
    _as_attacker(tmp_path, monkeypatch)
    write_sources(root, GOOD)
    assert problems(root) == []
    payload = localcache.read(root, validate_cache.PURPOSE, *FILES)
    assert payload is not None
    inputs, entries = pickle.loads(payload)
    bad_digest = ("text", hashlib.sha256(BAD.encode()).hexdigest())
    entry = entries["sources.yaml"]
    entries["sources.yaml"] = validate_cache._Entry(
        tuple((rel, limit, bad_digest, None) for rel, limit, *_ in entry.reads), entry.env,
        entry.blob, entry.token)  # fmt: skip
    localcache.write(root, validate_cache.PURPOSE, pickle.dumps((inputs, entries)), *FILES)
    (root / "sources.yaml").write_text(BAD)
    assert problems(root) == []  # the forgery works for the seg that sealed it
    _as_victim(tmp_path, monkeypatch)
    assert problems(root) == expected


class _Boom:
    def __reduce__(self) -> tuple[object, tuple[str]]:
        return (Path.touch, (str(Path.cwd() / "pwned"),))


def test_a_forged_pickle_is_never_unpickled(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                            ) -> None:  # fmt: skip
    root = tmp_path / "ws"
    write_sources(root, GOOD)
    load_workspace(root, environ=ENVIRON, cache=True)
    path = root / ".seg" / "cache" / "validate" / "files.pickle"
    blob = path.read_bytes()
    head = len(localcache.MAGIC) + 32
    path.write_bytes(blob[:head] + pickle.dumps(_Boom()))
    monkeypatch.chdir(tmp_path)
    assert problems(root) == []
    assert not (tmp_path / "pwned").exists()


@pytest.mark.parametrize("damage", ["truncate", "flip", "garbage"])
def test_a_damaged_cache_is_rebuilt(tmp_path: Path, damage: str) -> None:
    root = tmp_path / "ws"
    write_sources(root, BAD)
    expected = problems(root)
    for name in ("files.pickle", "rules.pickle"):
        path = root / ".seg" / "cache" / "validate" / name
        blob = path.read_bytes()
        path.write_bytes({"truncate": blob[: len(blob) // 2],
                          "flip": blob[:-1] + bytes([blob[-1] ^ 1]),
                          "garbage": b"not a cache"}[damage])  # fmt: skip
    assert problems(root) == expected
    assert localcache.read(root, validate_cache.PURPOSE, *FILES) is not None  # rewritten


def test_other_code_does_not_use_the_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                           ) -> None:  # fmt: skip
    """A cache written by another version (another fingerprint) reads as absent."""
    root = tmp_path / "ws"
    write_sources(root, GOOD)
    load_workspace(root, environ=ENVIRON, cache=True)
    monkeypatch.setattr(localcache, "code_fingerprint", lambda: "another seg")
    hits: list[int] = []
    load_all = validate_cache.FileCache.load_all
    monkeypatch.setattr(validate_cache.FileCache, "load_all", lambda self, *args: (
        load_all(self, *args), hits.append(self.hits))[0])  # fmt: skip
    load_workspace(root, environ=ENVIRON, cache=True)
    assert hits == [0]


def test_a_symlinked_seg_directory_is_not_followed(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    write_sources(root, BAD)
    outside = tmp_path / "outside"
    outside.mkdir()
    (root / ".seg").symlink_to(outside)
    expected = problems(root)
    assert expected and problems(root) == expected
    assert list(outside.iterdir()) == []


def test_no_value_from_the_environment_is_written(tmp_path: Path) -> None:
    """Neither the value, nor its plain SHA-256, in any cache file; the cached load still
    gives the value back (from the environment)."""
    root = tmp_path / "ws"
    write_sources(root, GOOD)
    load_workspace(root, environ=ENVIRON, cache=True)
    ws = load_workspace(root, environ=ENVIRON, cache=True)
    assert ws.resources[-1].fields["settings"]["api_key"] == SECRET
    assert SECRET in ws.secret_values
    plain = hashlib.sha256(SECRET.encode())
    for path in (root / ".seg" / "cache" / "validate").iterdir():
        blob = path.read_bytes()
        for needle in (SECRET.encode(), plain.digest(), plain.hexdigest().encode()):
            assert needle not in blob, path.name
    changed = load_workspace(root, environ={"SEG_T_KEY": "another-value-42"}, cache=True)
    assert changed.resources[-1].fields["settings"]["api_key"] == "another-value-42"


def test_a_trusted_file_swapped_for_a_symlink_is_read_again(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """A cached file whose identity is trusted (old enough) is replaced by a symlink to a file
    outside the workspace with the same bytes, or to another file inside: the identity no
    longer matches (the outside one is not even opened), so the file is read again — and the
    outside one refused — exactly as without the cache."""
    import os
    import time

    from seg.workspace import tree as tree_module

    monkeypatch.setattr(tree_module, "RECENT_NS", 200_000_000)
    root = tmp_path / "ws"
    write_sources(root, GOOD)
    then = time.time() - 3600
    for path in root.rglob("*.yaml"):
        os.utime(path, (then, then))
    time.sleep(0.3)
    assert problems(root) == [] and problems(root) == []  # the second run records identities
    outside = tmp_path / "outside.yaml"
    outside.write_text(GOOD)
    os.utime(outside, (then, then))
    (root / "sources.yaml").unlink()
    (root / "sources.yaml").symlink_to(outside)
    time.sleep(0.3)
    found = problems(root)
    assert found and "leads outside the workspace" in found[0], found
    (root / "sources.yaml").unlink()
    (root / "copy.yml").write_text(BAD)
    os.utime(root / "copy.yml", (then, then))
    (root / "sources.yaml").symlink_to("copy.yml")
    time.sleep(0.3)
    assert problems(root) == problems(root, cache=False)
    assert problems(root)

