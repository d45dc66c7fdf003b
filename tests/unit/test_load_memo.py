"""The whole-load memo (``seg.workspace.memo``): a load that can prove nothing changed returns
the last valid load without loading any file; whatever the edits, it gives what a cold load
gives."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seg.commands.planfile import ReadRecorder
from seg.workspace import loader
from seg.workspace import memo as memo_module
from seg.workspace import tree as tree_module
from seg.workspace.cache import FileCache
from seg.workspace.loader import load_workspace
from seg.workspace.memo import LoadMemo, Memoised, RecordingEnviron
from seg.workspace.tree import FsTree
from tests.edited_workspaces import OPS, Op, State, apply, initial, load_result

pytestmark = pytest.mark.usefixtures("own_cache_key")

_STAMPS = count(1)


def _written(state: State, root: Path) -> None:
    root.mkdir(exist_ok=True)
    """``state`` on disk, every file with a modification time no earlier write had: a file
    written again never shows an identity it had before (the test trusts identities at once,
    without the two seconds a real load waits)."""
    for path in list(root.iterdir()):
        if path.name != ".seg":
            shutil.rmtree(path) if path.is_dir() else path.unlink()
    state.write(root)
    stamp = 1_600_000_000_000_000_000 + next(_STAMPS) * 1_000_000_000
    for path in root.rglob("*"):
        if path.is_file() and ".seg" not in path.parts:
            os.utime(path, ns=(stamp, stamp))


class _Hits:
    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.hits = 0
        self.kept = 0
        lookup, finish = LoadMemo.lookup, memo_module.Keeping.finish

        def counted_lookup(memo: LoadMemo, tree: Any, files: Any) -> Memoised | None:
            found = lookup(memo, tree, files)
            self.hits += found is not None
            return found

        def counted_finish(keeping: memo_module.Keeping, *args: Any) -> bool:
            kept = finish(keeping, *args)
            self.kept += kept
            return kept

        monkeypatch.setattr(LoadMemo, "lookup", counted_lookup)
        monkeypatch.setattr(memo_module.Keeping, "finish", counted_finish)


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sources=st.integers(1, 3), edits=st.lists(OPS, min_size=1, max_size=4))
def test_the_memo_gives_what_a_cold_load_gives(sources: int, edits: list[list[Op]],
                                               monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """Random workspaces and edits (values, documents added and removed, broken references,
    renamed files, vars, environment values, linked SQL, broken YAML): after each, the load
    that fills the memo and the load answered from it both equal a cold load, in resources,
    marks, order, digest, secret values, missing variables and every diagnostic; so does a load
    after only an environment value changed. A valid load is always answered from the memo."""
    monkeypatch.setattr(tree_module, "RECENT_NS", 0)
    hits = _Hits(monkeypatch)
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        state = initial(sources)
        for batch in [[], *edits]:
            for op in batch:
                apply(state, op)
            _written(state, root)
            cold = load_result(root, state.environ, False)
            before = hits.hits
            assert load_result(root, state.environ, True) == cold  # fills the memo
            assert load_result(root, state.environ, True) == cold  # answered from it
            if cold[0] != "invalid":
                assert hits.hits == before + 1
            other = {**state.environ, "SEG_T_KEY": f"{state.environ.get('SEG_T_KEY')}-rotated"}
            assert load_result(root, other, True) == load_result(root, other, False)
            unset = {k: v for k, v in state.environ.items() if k != "SEG_T_HOOK"}
            assert load_result(root, unset, True) == load_result(root, unset, False)
    assert hits.kept > 0


def test_a_hit_loads_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tree_module, "RECENT_NS", 0)
    tmp_path = tmp_path / "ws"  # the cache key lives in tmp_path: not in the tree
    state = initial(2)
    _written(state, tmp_path)
    first = load_workspace(tmp_path, environ=state.environ, cache=True)
    loaded: list[str] = []
    original = FileCache.load_all
    monkeypatch.setattr(FileCache, "load_all", lambda self, tree, rels, runner: (
        loaded.extend(rels), original(self, tree, rels, runner))[1])  # fmt: skip
    again = load_workspace(tmp_path, environ=state.environ, cache=True)
    assert loaded == []
    assert again.resources == first.resources and again.digest == first.digest
    assert again.secret_values == first.secret_values == {"k-secret-value", "hook-secret-path"}
    (tmp_path / "sources" / "s1.yaml").write_text(
        (tmp_path / "sources" / "s1.yaml").read_text().replace("track_pages: true",
                                                                "track_pages: false"))  # fmt: skip
    edited = load_workspace(tmp_path, environ=state.environ, cache=True)
    assert loaded == ["sources/s0.yaml", "sources/s1.yaml", "warehouse/w.yaml"]  # through the file cache
    assert edited.digest != first.digest



def test_no_memo_names_rows_that_were_not_written(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    """The memo's rows are written first (by a forked child where one may be), the memo
    that names them only once they are: rows that could not be written leave no memo, so
    the next load reads the files again and still gives the same workspace."""
    monkeypatch.setattr(tree_module, "RECENT_NS", 0)
    tmp_path = tmp_path / "ws"
    state = initial(2)
    _written(state, tmp_path)
    finished: list[bool] = []
    write_rows, finish = memo_module.Keeping.write_rows, memo_module.Keeping.finish
    monkeypatch.setattr(memo_module.Keeping, "write_rows", lambda self: False)
    monkeypatch.setattr(memo_module.Keeping, "finish",
                        lambda self, *args: finished.append(finish(self, *args)) or True)  # fmt: skip
    first = load_workspace(tmp_path, environ=state.environ, cache=True)
    assert finished == []
    assert not (tmp_path / ".seg" / "cache" / "validate" / "memo.pickle").exists()
    hits = _Hits(monkeypatch)
    again = load_workspace(tmp_path, environ=state.environ, cache=True)
    assert hits.hits == 0 and again.resources == first.resources
    monkeypatch.setattr(memo_module.Keeping, "write_rows", write_rows)
    load_workspace(tmp_path, environ=state.environ, cache=True)  # rows written: a memo
    assert finished == [True]
    assert (tmp_path / ".seg" / "cache" / "validate" / "memo.pickle").exists()

def test_a_file_changed_during_the_load_is_not_memoised(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    """A file rewritten after it was read but before the load ends: the next load reads the
    new content (a memo of the first load, if any, names the file as it was before)."""
    monkeypatch.setattr(tree_module, "RECENT_NS", 0)
    tmp_path = tmp_path / "ws"
    state = initial(1)
    _written(state, tmp_path)
    source = tmp_path / "sources" / "s0.yaml"
    original = loader.check_references

    def rewrite_then_check(*args: Any, **kwargs: Any) -> Any:
        source.write_text(source.read_text().replace("track_pages: true", "track_pages: false"))
        stamp = time.time_ns() - 10_000_000_000
        os.utime(source, ns=(stamp, stamp))
        return original(*args, **kwargs)

    monkeypatch.setattr(loader, "check_references", rewrite_then_check)
    first = load_workspace(tmp_path, environ=state.environ, cache=True)
    monkeypatch.setattr(loader, "check_references", original)
    assert _settings(first)["track_pages"] is True  # read before the rewrite
    again = load_workspace(tmp_path, environ=state.environ, cache=True)
    assert _settings(again)["track_pages"] is False


def _settings(ws: Any) -> Any:
    return next(r for r in ws.resources if r.address == "s0").fields["settings"]


def test_a_load_that_iterated_the_environment_is_not_kept(tmp_path: Path) -> None:
    environ = RecordingEnviron({"A": "1"})
    assert environ.get("A") == "1" and environ.get("B") is None
    assert environ.names == {"A", "B"} and not environ.iterated
    list(environ)
    assert environ.iterated
    memo = LoadMemo(tmp_path, "inputs", {}, {})
    done = Memoised((), frozenset(), (), (), "digest")
    tree = tree_module.FsTree(tmp_path)
    assert memo.keep(tree, (), (), environ, done) is False
    assert memo.keep(tree, (), (), RecordingEnviron({}), done) is True


def test_recent_files_or_a_git_tree_are_never_memoised(tmp_path: Path) -> None:
    """Without the two seconds' wait a file's identity proves nothing: no memo is made."""
    tmp_path = tmp_path / "ws"
    state = initial(1)
    state.write(tmp_path)
    load_workspace(tmp_path, environ=state.environ, cache=True)
    assert not (tmp_path / ".seg" / "cache" / "validate" / "memo.pickle").exists()
    assert memo_module.identities(object(), ["seg.yaml"]) is None  # type: ignore[arg-type]


def test_a_plan_gets_the_digests_of_the_files_from_the_memo(tmp_path: Path,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """``seg plan`` loads through a recorder of each file's SHA-256 (a saved plan names them).
    A memo made by a plain load has none, so the plan's load reads every file; the memo it
    makes has them, and the next plan's load is answered with exactly the digests a cold load
    records. ``seg apply``'s recorder does not trust identities: it always reads."""
    monkeypatch.setattr(tree_module, "RECENT_NS", 0)
    root = tmp_path / "ws"
    state = initial(2)
    _written(state, root)
    hits = _Hits(monkeypatch)
    load_workspace(root, environ=state.environ, cache=True)  # a memo without digests
    cold = ReadRecorder(FsTree(root))
    load_workspace(root, environ=state.environ, cache=False, tree=cold)
    filling = ReadRecorder(FsTree(root), trusts_identities=True)
    load_workspace(root, environ=state.environ, cache=True, tree=filling)
    assert hits.hits == 0 and filling.digests == cold.digests
    answered = ReadRecorder(FsTree(root), trusts_identities=True)
    load_workspace(root, environ=state.environ, cache=True, tree=answered)
    assert hits.hits == 1 and answered.digests == cold.digests
    assert "sources/s0.yaml" in answered.digests and "warehouse/users.sql" in answered.digests
    strict = ReadRecorder(FsTree(root))
    load_workspace(root, environ=state.environ, cache=True, tree=strict)
    assert hits.hits == 1 and strict.digests == cold.digests
