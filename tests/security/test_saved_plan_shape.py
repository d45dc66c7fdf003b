"""Saved plans of the wrong shape or size (``seg apply PLANFILE``, ``seg show PLANFILE``).

A plan file may come from a CI artifact a pull-request author shaped. Before any command uses
it, its structure is checked against the shape ``seg plan --out`` writes, and its size is
bounded: a forged member is one error line naming where (exit 1), never ``internal error``, a
member read with the wrong type (``targets: "kept"`` as the targets k, e, p, t) or a file read
whole however large it is.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.cli_workspace import SEG_YAML
from tests.e2e.processes import run

pytestmark = pytest.mark.e2e

LIMIT = 32 << 20  # the documented size limit of a saved plan (32 MiB)


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEG_")}
    return {**env, "SEG_TOKEN": "t", "NO_COLOR": "1"}


@pytest.fixture(scope="module")
def saved(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path, dict[str, Any]]:
    """One workspace and its saved plan for the whole module (planning is the slow part)."""
    tmp = tmp_path_factory.mktemp("shape")
    root = tmp / "ws"
    root.mkdir()
    (root / "seg.yaml").write_text(SEG_YAML)
    (root / "sources.yaml").write_text("kind: Source\nname: web\nspec: {catalog: javascript}\n")
    planfile = tmp / "plan.json"
    made = run("plan", "-w", str(root), "--target", "web", "--out", str(planfile), env=_env())
    assert made.returncode == 0, made.stderr
    return root, planfile, json.loads(planfile.read_text())


def _set(data: dict[str, Any], where: str, value: Any) -> dict[str, Any]:
    """A deep copy of ``data`` with the member at the dotted ``where`` (``[0]`` for an index)
    set to ``value``."""
    data = json.loads(json.dumps(data))
    node: Any = data
    keys: list[Any] = [int(k) if k.isdigit() else k for k in where.split(".")]
    for key in keys[:-1]:
        node = node[key]
    node[keys[-1]] = value
    return data


FORGED = {
    "options": [1],
    "options.targets": "kept",
    "options.max_deletes": "3",
    "env": ["prod"],
    "api_url": 7,
    "files": ["sources.yaml"],
    "plan.changes": "abc",
    "plan.changes.0": 42,
    "plan.changes.0.address": ["web"],
    "plan.changes.0.field_changes": {"path": "x"},
    "plan.changes.0.update_mask": "source.catalog",
    "plan.workspace": {"slug": "acme"},
    "plan.missing_variables": "SECRET",
}
# The ones the review saw end in ``internal error`` (or misread) under ``seg apply``; the
# others through ``seg show`` (the same read_planfile: one process each keeps the file quick).
APPLIED = {"options", "options.targets", "env", "plan.changes", "plan.changes.0.address"}


def test_a_forged_member_is_one_error_line(saved, tmp_path: Path) -> None:
    root, _, data = saved
    for where, value in FORGED.items():
        forged = tmp_path / f"{where}.json"
        forged.write_text(json.dumps(_set(data, where, value)))
        commands = [["show", str(forged)]]
        if where in APPLIED:
            commands.append(["apply", "-w", str(root), str(forged)])
        for args in commands:
            result = run(*args, env=_env())
            assert result.returncode == 1, (where, args, result.stdout, result.stderr)
            assert result.stderr.startswith("error: "), (where, result.stderr)
            assert result.stderr.count("\n") == 1, (where, result.stderr)
            assert f"is not a readable saved plan: at {where.replace('.0', '[0]')}" in result.stderr, (
                where, result.stderr)  # fmt: skip
            assert "internal error" not in result.stderr and "Traceback" not in result.stderr


def test_the_targets_are_never_read_letter_by_letter(saved, tmp_path: Path) -> None:
    root, _, data = saved
    planfile = tmp_path / "plan.json"
    planfile.write_text(json.dumps(_set(data, "options.targets", "kept")))
    result = run("apply", "-w", str(root), str(planfile), env=_env())
    assert result.returncode == 1
    assert "options.targets: 'kept' is not of type 'array', 'null'" in result.stderr, result.stderr


def test_the_plan_as_written_still_reads(saved) -> None:
    root, planfile, _ = saved
    shown = run("show", str(planfile), env=_env())
    assert shown.returncode == 0, shown.stderr
    assert "+ Source web" in shown.stdout


def test_a_file_over_the_size_limit_is_refused_unread(saved, tmp_path: Path) -> None:
    root, _, data = saved
    big = tmp_path / "big.json"
    with big.open("w") as file:  # valid JSON, a plan of the right shape, padded past the limit
        file.write(json.dumps(data)[:-1] + ', "padding": "')
        file.write("x" * (LIMIT + 1))
        file.write('"}')
    for args in (["apply", "-w", str(root), str(big)], ["show", str(big)]):
        result = run(*args, env=_env())
        assert result.returncode == 1, result.stderr
        assert result.stderr == f"error: {big} is larger than 32 MiB: not a saved plan seg wrote\n"
