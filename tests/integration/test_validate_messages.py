"""`seg validate` as a process: an unknown kind gets a did-you-mean and no follow-on reference
errors, and every schema problem of a document is reported at once, each at file:line:col."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

SEG = [sys.executable, "-m", "seg"]


def validate(root: Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEG_")}
    env["NO_COLOR"] = "1"
    return subprocess.run([*SEG, "validate", "-w", str(root)], capture_output=True, text=True,
                          timeout=120, env=env)  # fmt: skip


def workspace(tmp_path: Path, files: dict[str, str]) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "seg.yaml").write_text("version: seg/v1\nworkspace: acme\n")
    for name, text in files.items():
        (root / name).write_text(text)
    return root


def error_lines(stderr: str) -> list[str]:
    return [line for line in stderr.splitlines() if ": error: " in line]


SOURCE_TYPO = """\
kind: Sorce
name: web
spec:
  catalog: javascript
"""
DESTINATION = """\
kind: Destination
name: amplitude
spec:
  source: web
  catalog: amplitude
"""


def test_an_unknown_kind_gets_a_did_you_mean_and_no_follow_on_errors(tmp_path: Path) -> None:
    root = workspace(tmp_path, {"a.yaml": DESTINATION, "b.yaml": SOURCE_TYPO})
    result = validate(root)
    assert result.returncode == 1
    assert error_lines(result.stderr) == [
        f"{root}/b.yaml:1:7: error: unknown kind 'Sorce' (did you mean 'Source'?) [schema/enum]"
    ], result.stderr
    assert result.stderr.rstrip().endswith("Found 1 error.")


def test_a_kind_nothing_resembles_lists_the_kinds(tmp_path: Path) -> None:
    root = workspace(tmp_path, {"a.yaml": DESTINATION, "b.yaml": SOURCE_TYPO.replace(
        "Sorce", "Xyzzy")})  # fmt: skip
    (line,) = error_lines(validate(root).stderr)  # the source is still not reported missing
    assert line.startswith(f"{root}/b.yaml:1:7: error: unknown kind 'Xyzzy'; expected one of: ")
    assert "Source" in line and "Mapping" in line


def test_every_schema_problem_of_a_document_is_reported_at_once(tmp_path: Path) -> None:
    doc = """\
kind: Destination
name: Amplitude
protekt: true
spec:
  source: web
  catalog: amplitude
  enabeld: true
  connection_mode: satellite
  display_name: 42
"""
    source = "kind: Source\nname: web\nspec: {catalog: javascript}\n"
    root = workspace(tmp_path, {"a.yaml": doc, "b.yaml": source})
    result = validate(root)
    assert result.returncode == 1
    at = f"{root}/a.yaml"
    assert error_lines(result.stderr) == [
        f"{at}:2:7: error: name: 'Amplitude' does not match ^[a-z][a-z0-9-]{{0,62}}$ "
        "(Destination) [schema/pattern]",
        f"{at}:3:1: error: unknown key 'protekt' (did you mean 'protect'?) [schema/unknown-key]",
        f"{at}:7:3: error: unknown key 'enabeld' in spec (did you mean 'enabled'?) "
        "[schema/unknown-key]",
        f"{at}:8:20: error: spec.connection_mode: 'satellite' is not one of ['cloud', 'device'] "
        "[schema/enum]",
        f"{at}:9:17: error: spec.display_name: 42 is not of type 'string' [schema/type]",
    ], result.stderr
    assert "Found 5 errors." in result.stderr


def test_interpolation_and_schema_problems_together_without_duplicates(tmp_path: Path) -> None:
    doc = """\
kind: Source
name: web
spec:
  catalog: ${var:nope}
  enabeld: true
"""
    root = workspace(tmp_path, {"a.yaml": doc})
    lines = error_lines(validate(root).stderr)
    assert lines == [
        f"{root}/a.yaml:4:12: error: variable 'nope' is not defined for this environment "
        "[interpolation]",
        f"{root}/a.yaml:5:3: error: unknown key 'enabeld' in spec (did you mean 'enabled'?) "
        "[schema/unknown-key]",
    ]  # the empty catalog the missing variable leaves is not reported again
