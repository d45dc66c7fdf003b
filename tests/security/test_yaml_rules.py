"""The strict YAML rules README promises (issue 11, item 9): merge keys, tags outside the core
schema, duplicate keys and alias bombs are `seg validate` errors at file:line:col — never a
silently different document, never a hang."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from seg.workspace import load_workspace
from tests.conftest import run_cli

CORE = "tag:yaml.org,2002:"
ONLY = " is not allowed (only the core schema)"
HEAD = "kind: Source\nname: web\nspec:\n  catalog: javascript\n  settings:\n"


@pytest.fixture(autouse=True)
def _clean(clean_seg_env: None) -> None:
    """No SEG_* settings from the shell."""


def validate(write_workspace, settings: str, prefix: str = "") -> tuple[int, list[str]]:
    root: Path = write_workspace({"a.yaml": prefix + HEAD + settings})
    result = run_cli("validate", "-w", str(root))
    lines = [line for line in result.stderr.splitlines() if ": error: " in line]
    return result.exit_code, [line.split(str(root) + "/", 1)[-1] for line in lines]


@pytest.mark.parametrize(
    ("settings", "at"),
    [
        # `<<: *anchor`: the anchor sits in the same document, earlier in settings
        ("    base: &base {a: 1}\n    copy:\n      <<: *base\n      b: 2\n", "a.yaml:8:7"),
        # `<<: {a: 1}`: an inline map
        ("    <<: {a: 1}\n    b: 2\n", "a.yaml:6:5"),
        # an explicitly tagged merge key
        ("    !!merge <<: {a: 1}\n", "a.yaml:6:5"),
        # a merge of a list of maps
        ("    x: &x {a: 1}\n    y:\n      <<: [*x]\n", "a.yaml:8:7"),
    ],
    ids=["alias", "inline-map", "tagged", "list"],
)
def test_merge_keys_are_errors(write_workspace, settings: str, at: str) -> None:
    code, lines = validate(write_workspace, settings)
    assert code == 1
    assert lines == [f"{at}: error: YAML merge keys (<<) are not allowed [yaml]"]


def test_a_quoted_merge_key_is_an_ordinary_key(write_workspace) -> None:
    code, lines = validate(write_workspace, '    consent_settings:\n      "<<": literal\n')
    assert (code, lines) == (0, [])


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (
            "    a: !!python/object:os.system ls\n",
            f"YAML tag '{CORE}python/object:os.system'{ONLY}",
        ),
        ("    a: !custom x\n", f"YAML tag '!custom'{ONLY}"),
        ("    a: !!binary aGVsbG8=\n", f"YAML tag '{CORE}binary'{ONLY}"),
        ("    a: !!set {x, y}\n", f"YAML tag '{CORE}set' is not allowed"),
        ("    a: 1\n    a: 2\n", "duplicate key 'a' (first defined at line 6)"),
        ("    a: !!int nope\n", "'nope' is not a valid !!int"),
    ],
    ids=["python-tag", "local-tag", "binary", "set", "duplicate-key", "bad-int"],
)
def test_tags_and_duplicate_keys_are_errors(write_workspace, settings: str, message: str) -> None:
    code, lines = validate(write_workspace, settings)
    assert code == 1
    (line,) = lines
    assert f": error: {message}" in line and line.startswith("a.yaml:"), line


def test_alias_expansion_is_capped_quickly(write_workspace) -> None:
    """A "billion laughs" document: 10^9 nodes once expanded; refused at the cap, at once."""
    levels = ["    l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"]
    for i in range(1, 9):
        refs = ", ".join([f"*l{i - 1}"] * 10)
        levels.append(f"    l{i}: &l{i} [{refs}]\n")
    started = time.monotonic()
    code, lines = validate(write_workspace, "".join(levels))
    assert code == 1
    (line,) = lines
    assert "document expands past 100000 nodes (alias/anchor expansion too large)" in line
    assert time.monotonic() - started < 20


def test_core_schema_words_stay_strings(write_workspace) -> None:
    """`yes`, `on` and dates are strings (YAML 1.2 core), not booleans or dates."""
    words = "    consent_settings:\n      a: yes\n      b: on\n      c: 2024-01-01\n"
    root = write_workspace({"a.yaml": HEAD + words})
    (source,) = load_workspace(root, None, {}).resources
    assert source.fields["settings"]["consent_settings"] == {"a": "yes", "b": "on",
                                                             "c": "2024-01-01"}  # fmt: skip
