"""``seg validate`` after an edit of a few files (``seg.workspace.delta``): the touched files
checked against the last valid load, the rest left unread; whatever the edits, it says what a
cold load says."""

from __future__ import annotations

import os
import tempfile
from itertools import count
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seg.errors import WorkspaceInvalid
from seg.workspace import delta, loader
from seg.workspace import tree as tree_module
from seg.workspace.loader import check_workspace, load_workspace
from tests.edited_workspaces import Op, State, apply, initial

pytestmark = pytest.mark.usefixtures("own_cache_key")


@pytest.fixture(autouse=True)
def identities_at_once(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every identity is trusted at once (``_written`` gives each write a new one)."""
    monkeypatch.setattr(tree_module, "RECENT_NS", 0)

_STAMPS = count(1)
CONSENT = ("kind: ConsentCategory\nname: Analytics\nspec:\n  display_name: Analytics\n"
           "  destinations: [s0/amp]\n")


def _written(state: State, root: Path) -> None:
    """``state`` on disk as an editor leaves it: only the files whose text changed written
    (with a modification time no earlier write had, so each shows a new identity even
    within the clock's granularity), the files gone removed."""
    with tempfile.TemporaryDirectory() as folder:
        staged = Path(folder)
        state.write(staged)
        wanted = {p.relative_to(staged).as_posix(): p.read_bytes()
                  for p in staged.rglob("*") if p.is_file()}  # fmt: skip
    root.mkdir(exist_ok=True)
    for path in sorted(root.rglob("*"), reverse=True):
        rel = path.relative_to(root).as_posix()
        if rel == ".seg" or rel.startswith(".seg/"):
            continue
        if path.is_file() and rel not in wanted:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()
    stamp = 1_600_000_000_000_000_000 + next(_STAMPS) * 1_000_000_000
    for rel, data in wanted.items():
        path = root / rel
        if path.is_file() and path.read_bytes() == data:
            continue
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        os.utime(path, ns=(stamp, stamp))


def _checked(root: Path, environ: dict[str, str], cache: bool) -> Any:
    try:
        found = check_workspace(root, environ=environ, cache=cache)
    except WorkspaceInvalid as exc:
        return ("invalid", [str(d) for d in exc.diagnostics])
    javascript = sorted((r.kind.name, r.address, sorted(r.fields.items())) for r in found.javascript)
    return (dict(found.counts), [str(w) for w in found.warnings], found.missing,
            found.secret_values, javascript)  # fmt: skip


class _Answers:
    """How many checks ``delta.check`` answered, and which files the loader loaded."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch) -> None:
        self.answered = 0
        self.loaded: list[str] = []
        check, load_file = delta.check, loader._load_file

        def counted(*args: Any) -> Any:
            found = check(*args)
            self.answered += found is not None
            return found

        def recorded(ctx: Any, rel: str, out: Any) -> Any:
            self.loaded.append(rel)
            return load_file(ctx, rel, out)

        monkeypatch.setattr(delta, "check", counted)
        monkeypatch.setattr(loader, "_load_file", recorded)


# mostly the edits a checked edit answers (values, documents added and removed, linked SQL,
# the consent category), some it leaves to the whole load
EDITS = st.lists(st.tuples(st.sampled_from(["value", "value", "add", "add", "remove", "sql",
                                            "consent", "consent", "env", "break", "rename",
                                            "yaml"]),
                           st.integers(0, 20), st.integers(0, 20)), min_size=1, max_size=3)


def _edit(state: State, op: Op) -> None:
    if op[0] != "consent":
        apply(state, op)
        return
    listed = [f"s{i}/amp" for i in range(op[2] % 4)]
    state.files["consent.yaml"] = [CONSENT.replace("[s0/amp]", f"[{', '.join(listed)}]")]


def _with_consent(sources: int) -> State:
    state = initial(sources)
    state.files["consent.yaml"] = [CONSENT]
    return state


def _memoised(tmp_path: Path, sources: int) -> tuple[Path, State]:
    """A workspace of ``sources`` sources and the consent category, its memo made."""
    root = tmp_path / "ws"  # the cache key lives in tmp_path: not in the tree
    state = _with_consent(sources)
    _written(state, root)
    load_workspace(root, environ=state.environ, cache=True)
    return root, state


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(sources=st.integers(1, 3), edits=st.lists(EDITS, min_size=1, max_size=6))
def test_a_checked_edit_says_what_a_cold_load_says(sources: int, edits: list[list[Op]]) -> None:
    """Random workspaces and edits (values, documents added and removed, broken references,
    renamed files, vars, environment values, linked SQL, broken YAML; a consent category
    whose warning depends on destinations in other files): after each, ``check_workspace``
    with the cache (the memo, the checked edit, or a whole load) equals a cold check, in
    counts, every warning, missing variables, secret values and the JavaScript resources."""
    with tempfile.TemporaryDirectory() as folder:
        root = Path(folder)
        state = _with_consent(sources)
        for batch in [[], *edits]:
            for op in batch:
                _edit(state, op)
            _written(state, root)
            assert _checked(root, state.environ, True) == _checked(root, state.environ, False)
            assert _checked(root, state.environ, True) == _checked(root, state.environ, False)


def test_a_one_file_edit_loads_that_file_only(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """The edit is checked against the memo: only the edited file is loaded, and its effect
    on a resource of another file (a consent category's warning about the destinations of a
    type it does not list) is there, as a cold check has it."""
    root, state = _memoised(tmp_path, 2)
    answers = _Answers(monkeypatch)
    before = _checked(root, state.environ, True)
    assert answers.loaded == [] and answers.answered == 0  # the memo, no file loaded
    assert any("also maps 1 other destination of that type (s1/amp)" in w for w in before[1])
    state.files["sources/s1.yaml"] = [d for d in state.files["sources/s1.yaml"]
                                      if "name: amp\n" not in d]  # fmt: skip
    _written(state, root)
    after = _checked(root, state.environ, True)
    assert answers.answered == 1 and answers.loaded == ["sources/s1.yaml"]
    assert not any("also maps" in w for w in after[1])
    assert after[0]["Destination"] == before[0]["Destination"] - 1
    assert after == _checked(root, state.environ, False)


def test_an_edit_that_breaks_a_reference_is_told_in_full(tmp_path: Path,
                                                         monkeypatch: pytest.MonkeyPatch) -> None:
    """Removing a resource another file links to is an error the whole load tells, with the
    rest of what is wrong: the checked edit does not answer."""
    root, state = _memoised(tmp_path, 2)
    answers = _Answers(monkeypatch)
    state.files["sources/s0.yaml"] = [d for d in state.files["sources/s0.yaml"]
                                      if "name: amp\n" not in d]  # fmt: skip
    _written(state, root)
    found = _checked(root, state.environ, True)
    assert answers.answered == 0
    assert found[0] == "invalid" and any("refers to destination 's0/amp'" in d for d in found[1])
    assert found == _checked(root, state.environ, False)


def test_an_edit_of_a_linked_file_reloads_the_file_that_links_it(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    root, state = _memoised(tmp_path, 1)
    answers = _Answers(monkeypatch)
    state.others["warehouse/users.sql"] = "SELECT user_id, mail AS email FROM analytics.users"
    _written(state, root)
    assert _checked(root, state.environ, True) == _checked(root, state.environ, False)
    assert answers.answered == 1 and answers.loaded[0] == "warehouse/w.yaml"


def test_a_changed_seg_yaml_or_environment_takes_the_whole_load(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    root, state = _memoised(tmp_path, 1)
    answers = _Answers(monkeypatch)
    state.region = "us"
    _written(state, root)
    assert _checked(root, state.environ, True) == _checked(root, state.environ, False)
    load_workspace(root, environ=state.environ, cache=True)
    rotated = {**state.environ, "SEG_T_KEY": "rotated-secret-value"}
    found = _checked(root, rotated, True)
    assert found == _checked(root, rotated, False) and "rotated-secret-value" in found[3]
    assert answers.answered == 0


def test_a_memo_rewritten_meanwhile_is_not_mixed_with_the_old_one(tmp_path: Path) -> None:
    """The rows are kept in shards marked with the memo's generation: a shard of another
    generation (a concurrent load rewrote them) is never read as the memo's."""
    root, state = _memoised(tmp_path, 1)
    shards = root / ".seg" / "cache" / "validate" / "memo-rows"
    kept = {path.name: path.read_bytes() for path in shards.iterdir()}
    state.files["sources/s0.yaml"][0] = state.files["sources/s0.yaml"][0].replace(
        "enabled: true", "enabled: false")  # fmt: skip
    _written(state, root)
    load_workspace(root, environ=state.environ, cache=True)  # a new memo, new shards
    for name, blob in kept.items():  # the old shards back, under the new memo
        (shards / name).write_bytes(blob)
    again = load_workspace(root, environ=state.environ, cache=True)
    cold = load_workspace(root, environ=state.environ, cache=False)
    assert again.resources == cold.resources and again.digest == cold.digest
