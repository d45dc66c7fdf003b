"""Sample events for ``seg trace`` and ``seg plan`` (``events:`` in seg.yaml) are read from a
workspace a pull request may change: the patterns and files stay inside the tree, bad lines
are one error at FILE:LINE, and what a sample holds cannot break out of the markdown comment."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from seg.errors import ConfigError, WorkspaceInvalid
from seg.render.trace_view import impact_markdown, trace_markdown
from seg.trace.impact import DestinationImpact, Example
from seg.trace.pipeline import Delivery, Stop, Trace
from seg.workspace import samples as samples_module
from seg.workspace.config import read_config
from seg.workspace.samples import MAX_EVENT_DEPTH, tree_samples
from seg.workspace.tree import FsTree
from tests.e2e.cli_workspace import base_env, run

SECRET = "top-secret-line-7f3a"


def _workspace(root: Path, events: str) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: shop\nevents:\n{events}")
    (root / "sources.yaml").write_text("kind: Source\nname: web\nspec:\n  catalog: javascript\n")
    return root


def _samples(root: Path) -> list[tuple[str, int, object]]:
    return list(tree_samples(FsTree(root), read_config(root, None, {})))  # type: ignore[arg-type]


@pytest.mark.parametrize("pattern", ["../outside.jsonl", "/etc/*", "samples/../../x.jsonl", ".."])
def test_a_pattern_leading_outside_is_refused_at_its_line(tmp_path: Path, pattern: str) -> None:
    root = _workspace(tmp_path / "ws", f"  web: {json.dumps(pattern)}\n")
    with pytest.raises(WorkspaceInvalid) as caught:
        _samples(root)
    problem = caught.value.diagnostics[0]
    assert (problem.line, problem.col) == (4, 8)
    assert "leads outside the workspace" in problem.message


def test_a_symlink_leading_outside_is_refused_and_its_content_never_shown(tmp_path: Path) -> None:
    outside = tmp_path / "secret.jsonl"
    outside.write_text(json.dumps({"type": "track", "event": SECRET}) + "\n")
    root = _workspace(tmp_path / "ws", "  web: samples/*.jsonl\n")
    (root / "samples").mkdir()
    os.symlink(outside, root / "samples" / "evil.jsonl")
    with pytest.raises(WorkspaceInvalid) as caught:
        _samples(root)
    message = str(caught.value.diagnostics[0])
    assert "cannot read samples/evil.jsonl" in message and "outside the workspace" in message
    assert SECRET not in message


def test_a_pattern_matching_nothing_and_a_bad_line_are_one_error_each(tmp_path: Path) -> None:
    root = _workspace(tmp_path / "ws", "  web: [samples/*.jsonl, nothing/*.jsonl]\n")
    (root / "samples").mkdir()
    (root / "samples" / "a.jsonl").write_text('{"type": "track"}\n\n[1, 2]\n')
    with pytest.raises(ConfigError, match=r"samples/a.jsonl:3: an event is a JSON object"):
        _samples(root)
    (root / "samples" / "a.jsonl").write_text('{"type": "track"}\n')
    with pytest.raises(WorkspaceInvalid) as caught:
        _samples(root)
    assert "'nothing/*.jsonl' matches no file" in caught.value.diagnostics[0].message


def test_a_deep_or_huge_sample_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    root = _workspace(tmp_path / "ws", "  '*': deep.jsonl\n")
    (root / "deep.jsonl").write_text("[" * (MAX_EVENT_DEPTH + 1) + "]" * (MAX_EVENT_DEPTH + 1))
    with pytest.raises(ConfigError, match=r"deep.jsonl:1: not a JSON event: nests deeper"):
        _samples(root)
    (root / "deep.jsonl").write_text('{"type": "track"}\n' * 100)
    monkeypatch.setattr(samples_module, "MAX_SAMPLE_BYTES", 1000)
    with pytest.raises(WorkspaceInvalid) as caught:
        _samples(root)
    assert "cannot read deep.jsonl" in caught.value.diagnostics[0].message


def test_seg_trace_refuses_a_sample_outside_in_one_line(tmp_path: Path) -> None:
    (tmp_path / "secret.jsonl").write_text(json.dumps({"event": SECRET}) + "\n")
    root = _workspace(tmp_path / "ws", "  web: ../secret.jsonl\n")
    done = run(["trace", "--source", "web", "-w", str(root), "--no-cache"], base_env(tmp_path))
    assert done.returncode != 0 and done.stdout == ""
    assert "seg.yaml:4:8" in done.stderr and "leads outside the workspace" in done.stderr
    assert "Traceback" not in done.stderr and SECRET not in done.stderr


HOSTILE = "x<!-- |\n```\u202e"


def test_sample_text_cannot_break_out_of_the_markdown() -> None:
    """An event name (a sample line) shows in the trace table and the plan comment's impact
    example: no HTML comment, fence, line break or raw pipe gets through."""
    trace = Trace("web", None, {}, (Delivery("web/a", Stop("consent", HOSTILE)),))
    table = trace_markdown([(1, {"event": HOSTILE}, trace)])
    impact = DestinationImpact("web/a", lost=1, lost_example=Example(1, HOSTILE, HOSTILE))
    comment = impact_markdown([impact], 1)
    for text in (table, comment):
        assert "<!--" not in text and "\u202e" not in text
        assert not any(line.lstrip().startswith("```") for line in text.splitlines())
        rows = [line for line in text.splitlines() if line.startswith("| ")]
        assert all(row.count(" | ") == rows[0].count(" | ") for row in rows)


def test_dot_files_and_files_named_twice(tmp_path: Path) -> None:
    """``*`` does not pick up a dot file (credentials a CI step wrote into the workspace) unless
    the pattern names dot files; a file two patterns match is read once; the size limit holds
    for every sample file together."""
    root = _workspace(tmp_path / "ws", "  web: ['*.json*', 'a.jsonl']\n")
    (root / "a.jsonl").write_text('{"type": "track", "event": "A"}\n')
    (root / ".gha-creds-1.json").write_text(json.dumps({"private_key": SECRET}) + "\n")
    found = _samples(root)
    assert [event for _, _, event in found] == [{"type": "track", "event": "A"}]
    assert SECRET not in repr(found)
    named = _workspace(tmp_path / "dots", "  web: '.*.json'\n")
    (named / ".b.json").write_text('{"type": "identify"}\n')
    assert [event for _, _, event in _samples(named)] == [{"type": "identify"}]


def test_the_size_limit_holds_for_every_file_together(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:  # fmt: skip
    root = _workspace(tmp_path / "ws", "  web: part-*.jsonl\n")
    for n in range(3):
        (root / f"part-{n}.jsonl").write_text('{"type": "track"}\n' * 20)  # 360 bytes each
    monkeypatch.setattr(samples_module, "MAX_SAMPLE_BYTES", 1000)
    with pytest.raises(WorkspaceInvalid) as caught:
        _samples(root)
    assert "cannot read part-2.jsonl" in caught.value.diagnostics[0].message
    assert "more than 1,000 bytes in all" in caught.value.diagnostics[0].message
