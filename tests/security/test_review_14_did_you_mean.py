"""Review of issue 14 (attack): did-you-mean cannot be made to run for minutes.

Every unknown setting key (and mapping field) got a difflib suggestion against the entry's
settings. A catalog file in a pull request may define a private entry with 200 settings, and
the YAML beside it a resource with 20,000 unknown keys: four million difflib comparisons kept
``seg validate`` busy for minutes in CI; a write token could do the same to the control plane
with one request. Only the first ``MAX_HINTS`` unknown keys of a resource get a suggestion now
(every key is still reported), and an action holds at most 200 fields."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from typing import Any

from seg.catalog import MAX_HINTS
from tests.conftest import Api, WriteWorkspace
from tests.helpers import error

KEYS = 20_000
SETTINGS = {f"setting_{i:06d}_abcdefghij": {"type": "string"} for i in range(200)}
ENTRY: dict[str, Any] = {"id": "big", "section": "source", "display_name": "Big",
                         "connection_modes": ["cloud"], "settings": SETTINGS}  # fmt: skip
UNKNOWN = {f"zetting_{i:06d}_abcdefghiX": "x" for i in range(KEYS)}
ENV = {k: v for k, v in os.environ.items() if not k.startswith("SEG_")}


def test_validate_suggests_for_the_first_keys_only(write_workspace: WriteWorkspace) -> None:
    keys = "".join(f"    {key}: x\n" for key in UNKNOWN)
    source = f"kind: Source\nname: s\nspec:\n  catalog: big\n  settings:\n{keys}"
    root = write_workspace(
        {"catalog.json": json.dumps({"format_version": 1, "entries": [ENTRY]}), "ws.yaml": source},
        seg_yaml="version: seg/v1\nworkspace: dym\ncatalog:\n  - catalog.json\n",
    )
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "seg", "validate", "-w", str(root)],
                            capture_output=True, text=True, timeout=45, env=ENV)  # fmt: skip
    assert time.monotonic() - started < 45
    out = result.stdout + result.stderr
    assert result.returncode == 1 and f"Found {KEYS} errors." in out, out[-500:]
    assert out.count("did you mean") == MAX_HINTS
    assert ("unknown setting 'zetting_000000_abcdefghiX' for source 'big' (did you mean "
            "'setting_000000_abcdefghij'?)") in out  # fmt: skip


def test_the_control_plane_answers_many_unknown_keys_quickly(api: Api) -> None:
    made = api.http.post("/v1beta/catalog:import", json={"format_version": 1, "entries": [ENTRY]})
    assert made.status_code == 200, made.text
    started = time.monotonic()
    answer = api.create_source("s", catalog="big", settings=UNKNOWN)
    assert time.monotonic() - started < 20
    message = error(answer, 400, 3)
    assert "unknown setting" in message


def test_an_action_holds_at_most_200_fields(api: Api) -> None:
    fields = {f"f{i}": {} for i in range(201)}
    entry = {"id": "wide", "section": "destination", "display_name": "Wide",
             "connection_modes": ["cloud"], "settings": {},
             "actions": {"push": {"fields": fields}}}  # fmt: skip
    answer = api.http.post("/v1beta/catalog:import", json={"format_version": 1, "entries": [entry]})
    assert "at most 200 fields" in error(answer, 400, 3)
