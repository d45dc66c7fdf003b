"""Review of issue 14 (attack): a private entry's ``custom_fields`` pattern cannot hang seg.

An Actions entry may accept custom field names by a regular expression (Salesforce's
``^[A-Za-z][A-Za-z0-9_]*__c$``). Private entries come from catalog files a pull request may add
to the tree (``seg.yaml catalog:``) and from an owner's import; Python's ``re`` has no time
limit, so ``^(a+)+$`` against a mapping field named ``aaaa…!`` backtracked for minutes: CI's
``seg validate`` hung, and on the control plane any write token could tie up a worker with a
mapping on such an entry. A pattern may now hold no group or alternation and at most two
repetitions (matching a field name stays at worst quadratic); others are refused where the
file or import names them."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from typing import Any

import pytest

from tests.conftest import Api, WriteWorkspace
from tests.helpers import error

EVIL = ["^(a+)+$", "^([A-Za-z]+_?)+__c$", "^(a|aa)*$", "^a*a*a*a*a*a*a*a*a*a*a*a*b$"]
CATALOG = """\
format_version: 1
entries:
  - id: evil
    section: destination
    display_name: Evil
    connection_modes: [cloud]
    settings: null
    actions:
      push:
        fields: {{Name: {{required: false}}}}
        custom_fields: '{pattern}'
"""
TREE = """\
kind: Source
name: warehouse
spec:
  catalog: postgres
  settings: {host: h, database: d}
---
kind: Model
name: m
spec:
  source: warehouse
  query: SELECT id, name FROM t
  identifier_column: id
---
kind: Destination
name: evil
spec:
  source: warehouse
  catalog: evil
---
kind: Mapping
name: mp
spec:
  destination: warehouse/evil
  action: push
  model: m
  schedule: {strategy: MANUAL}
  fields:
    aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!: name
"""
ENV = {k: v for k, v in os.environ.items() if not k.startswith("SEG_")}
SEG_YAML = "version: seg/v1\nworkspace: redos\ncatalog:\n  - catalog.yaml\n"


@pytest.mark.parametrize("pattern", EVIL)
def test_validate_refuses_a_pattern_that_could_hang_it(write_workspace: WriteWorkspace,
                                                       pattern: str) -> None:  # fmt: skip
    root = write_workspace({"catalog.yaml": CATALOG.format(pattern=pattern), "ws.yaml": TREE},
                           seg_yaml=SEG_YAML)  # fmt: skip
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "seg", "validate", "-w", str(root)],
                            capture_output=True, text=True, timeout=60, env=ENV)  # fmt: skip
    assert time.monotonic() - started < 30
    assert result.returncode == 1 and "Traceback" not in result.stderr
    out = result.stdout + result.stderr
    assert "seg.yaml:4:5: error: cannot use catalog file 'catalog.yaml'" in out, out
    assert "custom_fields: a pattern without groups" in out


def test_the_built_in_custom_fields_pattern_still_works(write_workspace: WriteWorkspace) -> None:
    pattern = "^[A-Za-z][A-Za-z0-9_]*__c$"
    tree = TREE.replace("aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa!", "MRR__c")
    root = write_workspace({"catalog.yaml": CATALOG.format(pattern=pattern), "ws.yaml": tree},
                           seg_yaml=SEG_YAML)  # fmt: skip
    result = subprocess.run([sys.executable, "-m", "seg", "validate", "-w", str(root)],
                            capture_output=True, text=True, timeout=60, env=ENV)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("pattern", EVIL)
def test_an_import_refuses_a_pattern_that_could_hang_the_server(api: Api, pattern: str) -> None:
    entry: dict[str, Any] = {
        "id": "evil", "section": "destination", "display_name": "Evil", "settings": None,
        "connection_modes": ["cloud"],
        "actions": {"push": {"fields": {"Name": {"required": False}}, "custom_fields": pattern}},
    }  # fmt: skip
    answer = api.http.post("/v1beta/catalog:import",
                           json={"format_version": 1, "entries": [entry]})  # fmt: skip
    error(answer, 400, 3)
    assert "custom_fields" in answer.json()["error"]
