"""The layer table of ARCHITECTURE.md holds, and the contract that checks it would notice a
break (``.importlinter``, run by ``.ci/run`` as ``lint-imports``)."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
CONFIG = REPO / ".importlinter"


def lint_imports(source_root: Path) -> subprocess.CompletedProcess[str]:
    """``lint-imports`` over the ``seg`` package found under ``source_root``."""
    script = "import sys; from importlinter.cli import lint_imports_command; sys.exit(lint_imports_command())"
    return subprocess.run(
        [sys.executable, "-c", script, "--config", str(CONFIG), "--no-cache"],
        cwd=source_root, capture_output=True, text=True, timeout=120,
        env={"PYTHONPATH": str(source_root), "PATH": "/usr/bin:/bin"},
    )  # fmt: skip


def test_the_layers_hold() -> None:
    result = lint_imports(REPO / "cli")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "0 broken" in result.stdout


@pytest.mark.parametrize(
    ("module", "line", "contract"),
    [
        ("engine/plan.py", "import httpx", "The engine, policy, model and rules do no I/O"),
        ("server/pages.py", "import seg.errors", "The control plane imports nothing of the CLI"),
        ("model/paths.py", "import seg.workspace.loader", "Layers (ARCHITECTURE.md)"),
        ("workspace/tree.py", "import seg.server.app", "Layers (ARCHITECTURE.md)"),
    ],
)
def test_a_break_is_reported(tmp_path: Path, module: str, line: str, contract: str) -> None:
    shutil.copytree(REPO / "cli" / "seg", tmp_path / "seg",
                    ignore=shutil.ignore_patterns("__pycache__"))  # fmt: skip
    target = tmp_path / "seg" / module
    target.write_text(target.read_text(encoding="utf-8") + f"\n{line}  # noqa\n", encoding="utf-8")
    result = lint_imports(tmp_path)
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"{contract} BROKEN" in result.stdout
