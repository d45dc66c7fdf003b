"""Attacks on the whole-load memo (``.seg/cache/validate/memo.pickle``): a pull request
controls the tree, so it can commit a memo that says its workspace is another, valid one, swap
a trusted file for a symlink, or write a secret in clear; and the memo never holds a value
from the environment."""

from __future__ import annotations

import dataclasses
import hashlib
import os
import pickle
import time
from pathlib import Path

import pytest

from seg import localcache
from seg.errors import WorkspaceInvalid
from seg.workspace import memo as memo_module
from seg.workspace import tree as tree_module
from seg.workspace.loader import check_workspace, load_workspace
from tests.edited_workspaces import BAD, ENVIRON, GOOD, SECRET, problems, write_sources

MEMO = ("validate", "memo.pickle")

pytestmark = pytest.mark.usefixtures("own_cache_key")


@pytest.fixture(autouse=True)
def trusted_identities(monkeypatch: pytest.MonkeyPatch) -> None:
    """Files count as settled after 0.2 s (not 2 s), so a test can make a memo quickly."""
    monkeypatch.setattr(tree_module, "RECENT_NS", 200_000_000)


def _workspace(root: Path, text: str) -> None:
    write_sources(root, text)
    _settle(root)


def _settle(root: Path) -> None:
    then = time.time() - 3600
    for path in root.rglob("*.yaml"):
        if ".seg" not in path.parts and not path.is_symlink():
            os.utime(path, (then, then))
    time.sleep(0.3)  # the change times utime moved age past RECENT_NS too


def _memoised(root: Path) -> bool:
    return localcache.read(root, memo_module.PURPOSE, *MEMO) is not None


def test_a_memo_sealed_by_another_key_is_not_trusted(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    """The attacker's seg makes a memo of the good workspace, then the attacker commits the
    bad file with identities forged to match, sealed with the attacker's key: the victim's seg
    finds the seal broken and reports the bad file."""
    root = tmp_path / "ws"
    _workspace(root, BAD)
    expected = problems(root)
    assert expected
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "attacker-key"))
    localcache._key.cache_clear()
    (root / "sources.yaml").write_text(GOOD)
    _settle(root)
    assert problems(root) == [] and _memoised(root)
    payload = localcache.read(root, memo_module.PURPOSE, *MEMO)
    assert payload is not None
    kept = pickle.loads(payload)
    (root / "sources.yaml").write_text(BAD)
    _settle(root)
    seen = memo_module.identities(tree_module.FsTree(root), tree_module.FsTree(root).files())
    files = memo_module.trusted(seen)
    assert files is not None
    forged = dataclasses.replace(kept, files=files)
    localcache.write(root, memo_module.PURPOSE, pickle.dumps(forged), *MEMO)
    assert problems(root) == []  # the forgery works for the seg that sealed it
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "victim-key"))
    localcache._key.cache_clear()
    assert problems(root) == expected


def test_a_trusted_file_swapped_for_a_symlink_is_read_again(tmp_path: Path) -> None:
    """After a memo, the resource file is replaced by a symlink to a file outside with the
    same bytes and old times: the symlink has no identity, so the memo is not used and the
    file is refused as without any cache."""
    root = tmp_path / "ws"
    _workspace(root, GOOD)
    assert problems(root) == [] and _memoised(root)
    outside = tmp_path / "outside.yaml"
    outside.write_text(GOOD)
    _settle(tmp_path)
    (root / "sources.yaml").unlink()
    (root / "sources.yaml").symlink_to(outside)
    time.sleep(0.3)
    found = problems(root)
    assert found and "leads outside the workspace" in found[0], found
    assert found == problems(root, cache=False)


def test_a_new_file_or_a_removed_one_is_seen(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    _workspace(root, GOOD)
    assert problems(root) == [] and _memoised(root)
    (root / "more.yaml").write_text(BAD.split("---\n")[1])
    _settle(root)
    added = problems(root)
    assert added and added == problems(root, cache=False)
    (root / "more.yaml").unlink()
    assert problems(root) == []


def test_no_value_from_the_environment_is_written(tmp_path: Path) -> None:
    """Neither the value nor its plain SHA-256 in the memo; the memo's load still gives the
    value back (from the environment) and hides it; another value is seen at once."""
    root = tmp_path / "ws"
    _workspace(root, GOOD)
    load_workspace(root, environ=ENVIRON, cache=True)
    assert _memoised(root)
    ws = load_workspace(root, environ=ENVIRON, cache=True)
    assert ws.resources[-1].fields["settings"]["api_key"] == SECRET
    assert ws.secret_values == {SECRET}
    plain = hashlib.sha256(SECRET.encode())
    kept = [p for p in (root / ".seg" / "cache" / "validate").rglob("*") if p.is_file()]
    assert any(p.parent.name == "memo-rows" for p in kept)  # the rows' shards too
    for path in kept:
        blob = path.read_bytes()
        for needle in (SECRET.encode(), plain.digest(), plain.hexdigest().encode()):
            assert needle not in blob, path.name
    changed = load_workspace(root, environ={"SEG_T_KEY": "another-value-42"}, cache=True)
    assert changed.resources[-1].fields["settings"]["api_key"] == "another-value-42"
    assert changed.secret_values == {"another-value-42"}


def test_a_secret_written_in_clear_is_never_memoised(tmp_path: Path) -> None:
    """A value the catalog marks secret, written in the file rather than from ${env:…}: the
    file cache keeps no entry for such a file, and the memo is not written either."""
    root = tmp_path / "ws"
    _workspace(root, GOOD.replace("'${env:SEG_T_KEY}'", SECRET))
    assert problems(root) == [] and problems(root) == []
    assert not _memoised(root)
    for path in (root / ".seg" / "cache" / "validate").rglob("*"):
        assert path.is_dir() or SECRET.encode() not in path.read_bytes(), path.name


def _checked(root: Path) -> list[str]:
    """What ``seg validate``'s check (the memo, the checked edit or a whole load) reports."""
    try:
        check_workspace(root, environ=ENVIRON, cache=True)
    except WorkspaceInvalid as exc:
        return [str(d) for d in exc.diagnostics]
    return []


def test_an_edited_file_swapped_for_a_symlink_is_refused_by_the_checked_edit(
        tmp_path: Path) -> None:  # fmt: skip
    """After a memo, one file is edited into a symlink to a file outside (the other files
    untouched): the checked edit loads it through the tree, which refuses it, and the whole
    load reports it as a load without any cache does."""
    root = tmp_path / "ws"
    _workspace(root, GOOD)
    (root / "more.yaml").write_text(BAD.split("---\n")[0].replace("name: web", "name: app"))
    _settle(root)
    assert _checked(root) == [] and _memoised(root)
    outside = tmp_path / "outside.yaml"
    outside.write_text("kind: Source\nname: app\nspec: {catalog: javascript}\n")
    (root / "more.yaml").unlink()
    (root / "more.yaml").symlink_to(outside)
    found = _checked(root)
    assert found and "leads outside the workspace" in found[0], found
    assert found == problems(root, cache=False)


def test_the_checked_edit_never_echoes_a_value_from_the_environment(tmp_path: Path) -> None:
    """An edit that makes a rule quote a value (a warning naming the destination's settings)
    cannot print a secret: the checked edit hides what the environment put in, as the whole
    load does."""
    root = tmp_path / "ws"
    _workspace(root, GOOD)
    assert _checked(root) == [] and _memoised(root)
    (root / "sources.yaml").write_text(GOOD.replace("region: eu", "region: '${env:SEG_T_KEY}'"))
    found = _checked(root)
    assert found == problems(root, cache=False)
    assert all(SECRET not in line for line in found)
