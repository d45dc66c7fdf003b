"""Review of issue 14 (attack): private entries in a tree, and the did-you-mean of unknown ids.

Every unknown catalog id gets a did-you-mean against every id of its section. A pull request
can add catalog files (up to 2,000 entries each, any number of files) and thousands of
resources with unknown ids: millions of difflib comparisons of long, similar ids kept
``seg validate`` busy for minutes. A tree's catalog files now hold at most
``MAX_PRIVATE_ENTRIES`` entries (as many as a control plane holds). That bounds the work but
not enough: 500 entries times 5,000 resources still takes minutes, and
``test_many_unknown_ids_are_answered_quickly`` FAILS until the did-you-mean of a run has a
budget (see the review report)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from seg.catalog import MAX_PRIVATE_ENTRIES
from tests.conftest import WriteWorkspace

ENV = {k: v for k, v in os.environ.items() if not k.startswith("SEG_")}
SEG_YAML = "version: seg/v1\nworkspace: ids\ncatalog:\n  - a.json\n  - b.json\n"


def entries(first: int, count: int) -> str:
    made = [{"id": f"entry-{i:06d}-abcdefghijklmnopqrstuvwxyz-abcdefghij", "section": "source",
             "display_name": "E", "connection_modes": ["cloud"], "settings": None}
            for i in range(first, first + count)]  # fmt: skip
    return json.dumps({"format_version": 1, "entries": made})


def sources(count: int) -> str:
    return "".join(f"---\nkind: Source\nname: s{i}\nspec:\n"
                   f"  catalog: zntry-{i:06d}-abcdefghijklmnopqrstuvwxyz-abcdefghiy\n"
                   for i in range(count))  # fmt: skip


def validate(root: object, timeout: float) -> tuple[int, str, float]:
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "seg", "validate", "-w", str(root)],
                            capture_output=True, text=True, timeout=timeout, env=ENV)  # fmt: skip
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


def test_a_tree_holds_at_most_as_many_private_entries_as_a_control_plane(
    write_workspace: WriteWorkspace,
) -> None:
    half = MAX_PRIVATE_ENTRIES // 2
    files = {"a.json": entries(0, half), "b.json": entries(half, half + 1), "ws.yaml": sources(1)}
    root = write_workspace(files, seg_yaml=SEG_YAML)
    status, out, _ = validate(root, 60)
    assert status == 1
    assert (f"seg.yaml:5:5: error: cannot use catalog file 'b.json': the catalog files hold "
            f"more than {MAX_PRIVATE_ENTRIES} private entries") in out, out[-800:]  # fmt: skip
    (root / "b.json").write_text(entries(half, half))
    status, out, _ = validate(root, 60)
    assert "cannot use catalog file" not in out


def test_many_unknown_ids_are_answered_quickly(write_workspace: WriteWorkspace) -> None:
    half = MAX_PRIVATE_ENTRIES // 2
    files = {"a.json": entries(0, half), "b.json": entries(half, half), "ws.yaml": sources(5000)}
    root = write_workspace(files, seg_yaml=SEG_YAML)
    status, out, took = validate(root, 30)  # minutes before a did-you-mean budget
    assert status == 1 and "Found 5000 errors." in out and took < 30
