"""The validate cache changes nothing but the time: for random workspaces and random edit
sequences, ``load_workspace`` with the cache (warm from the previous state) gives exactly what
it gives without it — resources in order with their marks, digest, warnings and errors at
file:line:col, values from the environment and missing variables."""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seg.errors import WorkspaceInvalid
from seg.workspace import loader
from seg.workspace import tree as tree_module
from seg.workspace.cache import FileCache
from seg.workspace.fanout import Background
from seg.workspace.loader import load_workspace
from seg.workspace.rules_cache import RulesCache
from seg.workspace.tree import FsTree
from tests.edited_workspaces import OPS, Op, apply, initial, load_result, source_doc

pytestmark = pytest.mark.usefixtures("own_cache_key")


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sources=st.integers(1, 3), edits=st.lists(OPS, min_size=1, max_size=4))
def test_the_cache_gives_what_a_cold_load_gives(sources: int, edits: list[list[Op]]) -> None:
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        state = initial(sources)
        state.write(root)
        assert load_result(root, state.environ, True) == load_result(root, state.environ, False)
        for batch in edits:
            for op in batch:
                apply(state, op)
            for path in list(root.iterdir()):
                if path.name != ".seg":
                    shutil.rmtree(path) if path.is_dir() else path.unlink()
            state.write(root)
            assert load_result(root, state.environ, True) == load_result(root, state.environ, False)


def test_a_warm_load_reuses_the_files_and_rules(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                ) -> None:  # fmt: skip
    """The cache is used at all: a second load answers every file and rule from it, and an
    edit of one file loads that file alone again."""
    state = initial(3)
    state.write(tmp_path)
    # the caches are written here, not by a child, so the counts below are seen
    monkeypatch.setattr(loader, "in_background", lambda job: Background(result=job()))
    hits: list[int] = []
    reused: list[int] = []
    save_files, save_rules = FileCache.save, RulesCache.save
    monkeypatch.setattr(FileCache, "save", lambda self: (hits.append(self.hits), save_files(self)))
    monkeypatch.setattr(RulesCache, "save",
                        lambda self: (reused.append(self.reused), save_rules(self)))  # fmt: skip
    first = load_workspace(tmp_path, environ=state.environ, cache=True)
    second = load_workspace(tmp_path, environ=state.environ, cache=True)
    assert (hits, reused) == ([0, 4], [0, len(first.resources)])
    assert second.digest == first.digest
    state.files["sources/s1.yaml"][0] = source_doc("s1", False)
    state.write(tmp_path)
    load_workspace(tmp_path, environ=state.environ, cache=True)
    assert hits[-1] == 3
    assert reused[-1] >= len(first.resources) - 3  # the edited source's own resources and readers


def test_no_cache_neither_reads_nor_writes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    state = initial(1)
    state.write(tmp_path)
    monkeypatch.setenv("SEG_NO_CACHE", "1")
    load_workspace(tmp_path, environ=state.environ)
    assert not (tmp_path / ".seg").exists()
    monkeypatch.delenv("SEG_NO_CACHE")
    load_workspace(tmp_path, environ=state.environ)
    assert (tmp_path / ".seg" / "cache" / "validate" / "files.pickle").is_file()


def _warehouse(name: str) -> str:
    return (f"kind: Warehouse\nname: {name}\nspec:\n  catalog: snowflake\n  enabled: false\n"
            "  settings: {account: a, database: D, user: u, warehouse: W}\n")  # fmt: skip


class _Snapshot:
    """A lookup of one kind's resources (``every`` only: what a workspace-wide count reads)."""

    def __init__(self, names: list[str]) -> None:
        self.names = names

    def every(self, kind_name: str) -> list[tuple[str, dict[str, Any]]]:
        return [(name, {}) for name in self.names] if kind_name == "Source" else []


def test_a_workspace_wide_value_is_made_once_per_run_and_recorded_by_every_reader() -> None:
    """``per_lookup`` on the views that record each resource's reads: the value is computed
    once for the snapshot they view, and each view is told what computing it read."""
    from seg.kinds.shared import per_lookup
    from seg.workspace.rules_cache import _RecordingLookup

    calls: list[int] = []

    @per_lookup
    def count(lookup: Any) -> int:
        calls.append(1)
        return sum(1 for _ in lookup.every("Source"))

    snapshot = _Snapshot(["a", "b", "c"])
    views = [_RecordingLookup(snapshot) for _ in range(4)]  # type: ignore[arg-type]
    assert [count(view) for view in views] == [3, 3, 3, 3]
    assert len(calls) == 1
    assert all(list(view.deps) == [("every", "Source")] for view in views)
    assert count(_RecordingLookup(_Snapshot(["a"]))) == 1 and len(calls) == 2  # type: ignore[arg-type]
    # a resource without a cache entry runs its rules on the snapshot itself: a recording
    # view that comes after it still learns what the value read
    plain = _Snapshot(["a", "b"])
    assert count(plain) == 2  # type: ignore[arg-type]
    later = _RecordingLookup(plain)  # type: ignore[arg-type]
    assert count(later) == 2 and list(later.deps) == [("every", "Source")]


def test_a_workspace_wide_count_still_invalidates_cached_results(tmp_path: Path) -> None:
    """The first warehouse of a free workspace is checked, then cached; a second one added in
    another file breaks the one-warehouse limit, reported on the first (the cached one)."""
    (tmp_path / "seg.yaml").write_text("version: seg/v1\nworkspace: t\nplan_tier: free\n")
    (tmp_path / "a.yaml").write_text(_warehouse("one"))
    for i in range(3):
        (tmp_path / f"w{i}.yaml").write_text(source_doc(f"s{i}", True))
    load_workspace(tmp_path, environ={}, cache=True)
    (tmp_path / "b.yaml").write_text(_warehouse("two"))
    with pytest.raises(WorkspaceInvalid) as raised:
        load_workspace(tmp_path, environ={}, cache=True)
    limit = [d for d in raised.value.diagnostics if "at most 1 warehouse" in str(d)]
    assert [Path(str(d).split(":")[0]).name for d in limit] == ["a.yaml"], limit
    assert load_result(tmp_path, {}, True) == load_result(tmp_path, {}, False)


def _age(root: Path, seconds: float = 3600) -> None:
    """Every file as last written ``seconds`` ago (older than ``RECENT_NS``)."""
    then = time.time() - seconds
    for path in root.rglob("*"):
        if path.is_file():
            os.utime(path, (then, then))


def test_an_unchanged_old_file_is_not_read_again(tmp_path: Path, monkeypatch: pytest.MonkeyPatch
                                                 ) -> None:  # fmt: skip
    """Files whose identity (inode, size, times) is as recorded are answered without reading
    them; a file written in the last two seconds is read (its times may not have moved)."""
    monkeypatch.setattr(tree_module, "RECENT_NS", 300_000_000)
    state = initial(2)
    state.write(tmp_path)
    first = load_workspace(tmp_path, environ=state.environ, cache=True)  # recent: no identity
    _age(tmp_path, 3600)
    time.sleep(0.4)  # utime moved the change times: let them age past RECENT_NS too
    load_workspace(tmp_path, environ=state.environ, cache=True)  # reads, records identities
    read: list[str] = []
    original = FsTree.read
    monkeypatch.setattr(FsTree, "read", lambda self, rel, limit=None: (read.append(rel),
                                                                       original(self, rel, limit))[1])
    again = load_workspace(tmp_path, environ=state.environ, cache=True)
    assert again.digest == first.digest
    assert not [rel for rel in read if rel.startswith(("sources/", "warehouse/"))], read
    (tmp_path / "sources" / "s1.yaml").write_text((tmp_path / "sources" / "s1.yaml").read_text())
    read.clear()
    load_workspace(tmp_path, environ=state.environ, cache=True)
    assert "sources/s1.yaml" in read and "sources/s0.yaml" not in read


def test_a_same_size_rewrite_with_the_old_mtime_is_seen(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Rewritten to the same length with its modification time put back, a file still has a
    new change time: the cache reads it again and gives what a cold load gives."""
    monkeypatch.setattr(tree_module, "RECENT_NS", 300_000_000)
    state = initial(2)
    state.write(tmp_path)
    _age(tmp_path, 3600)
    time.sleep(0.4)
    load_workspace(tmp_path, environ=state.environ, cache=True)
    load_workspace(tmp_path, environ=state.environ, cache=True)
    path = tmp_path / "sources" / "s0.yaml"
    before = path.stat()
    text = path.read_text()
    changed = text.replace("enabled: true", "enabled: fals", 1)  # same length, now invalid
    assert len(changed) == len(text) and changed != text
    path.write_text(changed)
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
    time.sleep(0.4)  # no longer recent: only the change time tells
    assert path.stat().st_size == before.st_size and path.stat().st_ino == before.st_ino
    assert path.stat().st_mtime_ns == before.st_mtime_ns
    assert load_result(tmp_path, state.environ, True) == load_result(tmp_path, state.environ, False)
    assert load_result(tmp_path, state.environ, True)[0] == "invalid"


def test_a_file_without_an_entry_and_a_cached_one_share_a_workspace_wide_value(
    tmp_path: Path,
) -> None:
    """a.yaml gets no cache entry (a value from the environment is also written there in
    clear, so its entry would hold it), so its rules run on the snapshot itself, and it has an
    unknown catalog id; b.yaml, cached, has another: both take the run's did-you-mean budget,
    and the cached load gives what the cold one gives."""
    environ = {"SEG_T_KEY": "value-0123456789"}
    (tmp_path / "seg.yaml").write_text("version: seg/v1\nworkspace: t\n")
    (tmp_path / "a.yaml").write_text(
        "kind: Source\nname: a\nspec:\n  catalog: javascrip\n"
        "  display_name: value-0123456789\n---\n"
        "kind: Source\nname: w\nspec:\n  catalog: javascript\n---\n"
        "kind: Destination\nname: amp\nspec:\n  source: w\n  catalog: amplitude\n"
        "  settings: {api_key: '${env:SEG_T_KEY}', region: eu}\n")  # fmt: skip
    (tmp_path / "b.yaml").write_text("kind: Source\nname: b\nspec:\n  catalog: javascrit\n")
    for _ in range(3):
        cached = load_result(tmp_path, environ, True)
        assert cached == load_result(tmp_path, environ, False)
        assert cached[0] == "invalid" and sum("did you mean" in d for d in cached[1]) == 2
