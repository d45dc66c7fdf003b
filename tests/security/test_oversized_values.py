"""An oversized value in an error is cut (issue 11, item 9).

A diagnostic or API error that quotes a user value shows a short prefix and `…`, so one line of
`seg validate` stays small however big the value (a 50 MB string was echoed whole to stderr),
and so does a 400 body of the API.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import git
import pytest

from seg.model.clip import ELLIPSIS, MAX_ECHO, MAX_MESSAGE, clip_repr, clip_within
from tests.conftest import Api, run_cli

LINE_LIMIT = 2048
BIG = "A" * 1_000_000


@pytest.fixture(autouse=True)
def _clean(clean_seg_env: None) -> None:
    """No SEG_* settings from the shell."""


def error_lines(stderr: str) -> dict[str, str]:
    """Each error line by the file it names (the part before the first ':')."""
    out = {}
    for line in stderr.splitlines():
        if ": error: " in line:
            out[Path(line.split(":", 1)[0]).name] = line
    return out


def test_a_50_mb_string_failing_a_schema_rule_is_cut_as_a_process(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "seg.yaml").write_text("version: seg/v1\nworkspace: acme\n")
    with (root / "d.yaml").open("w") as fh:
        fh.write("kind: Source\nname: web\nspec:\n  catalog: javascript\n  display_name: ")
        fh.write("A" * 50_000_000)
        fh.write("\n")
    done = subprocess.run([sys.executable, "-m", "seg", "validate", "-w", str(root)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip
    assert done.returncode == 1, done.stderr[:500]
    assert len(done.stderr) < LINE_LIMIT
    (line,) = error_lines(done.stderr).values()
    assert line.endswith(f"d.yaml:5:17: error: spec.display_name: '{'A' * MAX_ECHO}'{ELLIPSIS} "
                         "is too long [schema/maxLength]")  # fmt: skip


# Each file holds one document whose first error quotes a 1 MB value somewhere (keys longer
# than 1024 characters must be explicit, `? key`, in YAML).
CASES = {
    "enum.yaml": "kind: Destination\nname: d\nspec: {source: web, catalog: amplitude, "
    f"connection_mode: {BIG}}}\n",
    "unknown-key.yaml": f"kind: Source\nname: s\nspec:\n  catalog: javascript\n  ? {BIG}\n  : 1\n",
    "unknown-kind.yaml": f"kind: {BIG}\nname: s\nspec: {{}}\n",
    "pattern.yaml": f"kind: Source\nname: s\nspec: {{catalog: a{BIG.lower()}}}\n",
    "nested-path.yaml": "kind: Source\nname: s\nspec:\n  catalog: javascript\n  labels:\n"
    f"    ? {BIG}\n    : 1\n",
    "bad-interpolation.yaml": "kind: Source\nname: s\nspec: {catalog: javascript, settings: {a: '${"
    f"{BIG}}}'}}}}\n",
    "undefined-var.yaml": f"kind: Source\nname: s\nspec: {{catalog: javascript, settings: {{a: '${{var:{BIG}}}'}}}}\n",
    "duplicate-key.yaml": "kind: Source\nname: s\nspec:\n  catalog: javascript\n  settings:\n"
    f"    ? {BIG}\n    : 1\n    ? {BIG}\n    : 2\n",
    "bad-int.yaml": f"kind: Source\nname: s\nspec: {{catalog: javascript, settings: {{a: !!int {BIG}}}}}\n",
    "tag.yaml": f"kind: Source\nname: s\nspec: {{catalog: javascript, settings: {{a: !{'t' * 100_000} x}}}}\n",
    "query-file.yaml": "kind: Model\nname: m\nspec: {source: web, identifier_column: id, "
    f"query_file: {'q' * 1_000_000}.sql}}\n",
}


def test_every_echoed_value_in_validate_is_cut(write_workspace) -> None:
    root = write_workspace({"web.yaml": "kind: Source\nname: web\nspec: {catalog: javascript}\n", **CASES})
    result = run_cli("validate", "-w", str(root))
    assert result.exit_code == 1
    assert sorted(error_lines(result.stderr)) == sorted(CASES), result.stderr[:3000]
    for line in result.stderr.splitlines():
        assert len(line.encode()) < LINE_LIMIT, line[:300]
    for name in CASES:  # the value is quoted, cut
        assert any(name in line and ELLIPSIS in line for line in result.stderr.splitlines()), name


def test_an_unknown_environment_of_100_kb_is_cut(write_workspace) -> None:
    root = write_workspace({})
    result = run_cli("validate", "-w", str(root), "--env", "e" * 100_000)
    assert result.exit_code == 1
    (line,) = error_lines(result.stderr).values()
    assert len(line) < LINE_LIMIT and "unknown environment" in line


def test_cli_error_lines_are_cut(write_workspace) -> None:
    """One-line CLI errors (a SegError, an unexpected OSError) quoting a huge input stay one
    short line."""
    root = write_workspace({})
    git.Repo.init(root, initial_branch="main")
    for args in (("diff", "-w", str(root), "--base", "r" * 100_000),  # unknown git revision
                 ("validate", "-w", str(root / ("d" * 100_000)))):  # fmt: skip
        result = run_cli(*args)
        assert result.exit_code == 1
        assert result.stderr.count("\n") == 1, result.stderr[:300]
        assert len(result.stderr) < LINE_LIMIT and ELLIPSIS in result.stderr, result.stderr[:300]


def test_clip_helpers() -> None:
    assert clip_repr("abc") == "'abc'"
    assert clip_repr("x" * 200) == repr("x" * MAX_ECHO) + ELLIPSIS
    huge = {"k": "v" * 10_000}
    message = f"{huge!r} is not valid under any of the given schemas"
    cut = clip_within(message, huge)
    assert cut.endswith(" is not valid under any of the given schemas") and len(cut) < 200
    assert len(clip_within("z" * 5000, 1)) == MAX_MESSAGE + 1


# --------------------------------------------------------------------------------------------
# The API: a 400 that quotes a value stays small (SQLite and PostgreSQL).

HALF_MB = "B" * 500_000


def assert_small_error(response, status: int, code: int) -> str:
    assert response.status_code == status, response.text[:300]
    assert len(response.content) < LINE_LIMIT, response.text[:300]
    body = response.json()
    assert body["code"] == code and set(body) == {"error", "code", "request_id"}
    message: str = body["error"]
    return message


def test_api_invalid_argument_messages_are_cut(api: Api) -> None:
    assert api.create_source("web").status_code == 200
    made = api.create_destination("web", "amp", connection_mode=HALF_MB)
    message = assert_small_error(made, 400, 3)
    quoted = f"'{'B' * MAX_ECHO}'{ELLIPSIS}"
    assert message == f"destination.connection_mode: {quoted} is not one of ['cloud', 'device']"
    assert api.create_destination("web", "amp").status_code == 200
    patched = api.http.patch(
        api.url("/sources/web/destinations/amp"),
        json={"destination": {"display_name": HALF_MB}, "update_mask": {"paths": [
            "destination.display_name"]}},
    )  # fmt: skip
    message = assert_small_error(patched, 400, 3)
    assert message.startswith("destination.display_name: 'BBBB") and "is too long" in message


def test_api_messages_naming_a_huge_resource_are_cut(api: Api) -> None:
    response = api.http.get(api.url("/sources/" + "w" * 60_000))
    assert 400 <= response.status_code < 500
    assert len(response.content) < LINE_LIMIT
    assert json.loads(response.content)["code"] in (3, 5)
