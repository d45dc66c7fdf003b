"""Hostile dbt projects and links (issue 16): a project path or a symlink leading out of the
repository, oversized or deeply nested files, YAML alias bombs, SQL built to make the Jinja
patterns backtrack, and dbt_model values that are not names. Each is one readable line of
`seg validate` (file:line:col), never a traceback or a hang, and nothing outside the
repository is read."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Iterator
from pathlib import Path

import git
import pytest

from seg.workspace import dbt_project
from tests.conftest import run_cli
from tests.dbt_tool import copy_dbt_example
from tests.helpers import replace_in

SECRET = "outside-secret-value"


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, clean_seg_env: None) -> Iterator[Path]:
    """examples/dbt in a git repository; beside it (outside) a file nobody may read."""
    monkeypatch.setenv("WAREHOUSE_PASSWORD", "pw")
    monkeypatch.setenv("BRAZE_API_KEY", "braze-key")
    root = copy_dbt_example(tmp_path / "repo")
    git.Repo.init(root, initial_branch="main")
    outside = tmp_path / "outside"
    (outside / "models").mkdir(parents=True)
    (outside / "dbt_project.yml").write_text("name: analytics\n")
    (outside / "models" / "users.sql").write_text(f"select 1 as {SECRET}\n")
    monkeypatch.chdir(root)
    yield root


def validate(code: int, within: float = 30.0) -> list[str]:
    started = time.monotonic()
    result = run_cli("validate", "-w", "seg")
    assert time.monotonic() - started < within
    assert result.exit_code == code, result.output
    assert SECRET not in result.output
    return [line for line in result.output.splitlines()
            if ": error: " in line or ": warning: " in line]  # fmt: skip


@pytest.mark.parametrize("path", ["../..", "../../outside", "../../../../../../../etc"])
def test_a_path_leading_outside_the_repository(repo: Path, path: str) -> None:
    replace_in(repo / "seg/seg.yaml", "path: ..", f"path: {path}")
    assert validate(1) == [f"seg/seg.yaml:7:3: error: dbt project analytics: {path} leads "
                           "outside the repository [config/dbt]"]  # fmt: skip


def test_an_absolute_path_is_refused_by_the_schema_or_leads_outside(repo: Path) -> None:
    replace_in(repo / "seg/seg.yaml", "path: ..", f"path: {repo.parent / 'outside'}")
    [line] = validate(1)
    assert line.startswith("seg/seg.yaml:") and ": error: " in line


def test_a_symlinked_project_directory_leading_out(repo: Path) -> None:
    (repo / "linked").symlink_to(repo.parent / "outside", target_is_directory=True)
    replace_in(repo / "seg/seg.yaml", "path: ..", "path: ../linked")
    assert validate(1) == ["seg/seg.yaml:7:3: error: dbt project analytics: ../linked leads "
                           "outside the repository [config/dbt]"]  # fmt: skip


def test_a_symlink_inside_the_project_leading_out_is_not_read(repo: Path) -> None:
    users = repo / "models/marts/users.sql"
    users.unlink()
    users.symlink_to(repo.parent / "outside/models/users.sql")
    assert validate(1) == [
        "seg/models.yaml:6:14: error: dbt project analytics has no model 'users' (did you mean "
        "'stg_users'?) [model/dbt-model]",
        "seg/seg.yaml:7:3: warning: dbt project analytics: models/marts/users.sql is not "
        "read: it leads outside the workspace (through a symlink) [config/dbt]",
    ]  # fmt: skip


def test_an_oversized_sql_file_is_not_read(repo: Path) -> None:
    (repo / "models/marts/users.sql").write_text("select 1 as a\n" + "-- x\n" * 300_000)
    missing, refused = validate(1)
    assert missing == ("seg/models.yaml:6:14: error: dbt project analytics has no model "
                       "'users' (did you mean 'stg_users'?) [model/dbt-model]")  # fmt: skip
    assert refused.startswith("seg/seg.yaml:7:3: warning: dbt project analytics: "
                              "models/marts/users.sql is not read: ")  # fmt: skip


def test_an_oversized_manifest_is_not_read(repo: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dbt_project, "MAX_MANIFEST", 1000)
    (repo / "target").mkdir()
    (repo / "target/manifest.json").write_text(json.dumps({"nodes": {}, "pad": "x" * 2000}))
    [line] = validate(0)
    assert line.startswith("seg/seg.yaml:7:3: warning: dbt project analytics: the manifest "
                           "target/manifest.json is not read: ")  # fmt: skip


@pytest.mark.parametrize("text", ["[" * 100_000 + "]" * 100_000, '{"a":' * 100_000 + "1"
                                  + "}" * 100_000, "{not json", "\x00"])  # fmt: skip
def test_a_nested_or_broken_manifest_is_one_line(repo: Path, text: str) -> None:
    (repo / "target").mkdir()
    (repo / "target/manifest.json").write_text(text)
    [line] = validate(1)
    assert line.startswith("seg/seg.yaml:7:3: error: target/manifest.json: the manifest is "
                           "not JSON (")  # fmt: skip


def test_a_yaml_alias_bomb_in_schema_yml(repo: Path) -> None:
    bomb = ['a: &a ["x","x","x","x","x","x","x","x","x","x"]']
    bomb += [f"{chr(98 + i)}: &{chr(98 + i)} [*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
             f"*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},*{chr(97 + i)},"
             f"*{chr(97 + i)},*{chr(97 + i)}]" for i in range(9)]  # fmt: skip
    (repo / "models/schema.yml").write_text("\n".join(bomb) + "\n")
    unchecked, refused = validate(0, within=10)
    assert unchecked.startswith("seg/models.yaml:6:14: warning: the columns of dbt model users "
                                "cannot be determined")  # fmt: skip
    assert refused.startswith("seg/seg.yaml:7:3: warning: dbt project analytics: "
                              "models/schema.yml is not read: line 1 column ")  # fmt: skip
    assert refused.endswith(": document expands past 100000 nodes (alias/anchor expansion too "
                            "large) [config/dbt]")  # fmt: skip


@pytest.mark.parametrize("sql", ["{{ ref(" * 30_000, "{{ ref('a', " * 20_000,
                                 "{{ config(" * 20_000, "{#" * 100_000])  # fmt: skip
def test_sql_built_to_backtrack_is_read_quickly(repo: Path, sql: str) -> None:
    (repo / "models/marts/users.sql").write_text(sql)
    replace_in(repo / "models/schema.yml", "  - name: users\n", "  - name: users_undocumented\n")
    [line] = validate(0, within=10)
    assert line.startswith("seg/models.yaml:6:14: warning: the columns of dbt model users "
                           "cannot be determined (the SQL cannot be read: line 1 uses Jinja")  # fmt: skip


@pytest.mark.parametrize("value", ["../users", "marts/users", "users\\u0000", "users\\nx",
                                   "users\\u001b[31m", ".", "-users"])  # fmt: skip
def test_dbt_model_values_that_are_not_names(repo: Path, value: str) -> None:
    replace_in(repo / "seg/models.yaml", "dbt_model: users", f'dbt_model: "{value}"')
    [line] = validate(1)
    assert line.startswith("seg/models.yaml:6:14: error: ") and "\x1b" not in line
    assert "\x00" not in line


def test_dbt_project_values_that_are_not_names(repo: Path) -> None:
    replace_in(repo / "seg/models.yaml", "dbt_model: users", 'dbt_model: users\n  dbt_project: "../x"')
    [line] = validate(1)
    assert line.startswith("seg/models.yaml:7:16: error: ")


def test_no_file_outside_the_repository_is_opened(repo: Path, monkeypatch: pytest.MonkeyPatch
                                                  ) -> None:  # fmt: skip
    """Through every refusal above, nothing outside the repository root is opened."""
    opened: list[str] = []
    real_open = os.open

    def spy(path: object, *args: object, **kwargs: object) -> int:
        opened.append(str(path))
        return real_open(path, *args, **kwargs)  # type: ignore[arg-type]

    (repo / "models/evil.sql").symlink_to(repo.parent / "outside/models/users.sql")
    monkeypatch.setattr(os, "open", spy)
    validate(0)
    outside = str(repo.parent / "outside")
    assert not [p for p in opened if p.startswith(outside)]
