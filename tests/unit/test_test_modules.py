"""Test modules share helpers through conftest.py or helper modules, never by importing one
another: importing a test module runs its tests twice (pytest collects what it imports) and
ties unrelated files together."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]


def _is_test_module(dotted: str) -> bool:
    return dotted.split(".")[0] == "tests" and dotted.rsplit(".", 1)[-1].startswith("test_")


def imported_test_modules(source: str) -> list[str]:
    """The test modules (``tests.….test_*``) that ``source`` imports, in any import form."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if _is_test_module(alias.name)]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            if _is_test_module(node.module):
                found.append(node.module)
            found += [f"{node.module}.{a.name}" for a in node.names
                      if _is_test_module(f"{node.module}.{a.name}")]  # fmt: skip
    return found


def test_the_check_sees_every_form_of_import() -> None:
    source = (
        "import tests.e2e.test_processes\n"
        "from tests.server.test_resources_api import error\n"
        "from tests.integration import test_patch_alone as base\n"
        "def f():\n    from tests.unit.test_fql import EVENT\n"
        "from tests.e2e.processes import run\nfrom tests.conftest import Api\nimport test_x\n"
    )
    assert imported_test_modules(source) == [
        "tests.e2e.test_processes", "tests.server.test_resources_api",
        "tests.integration.test_patch_alone", "tests.unit.test_fql",
    ]  # fmt: skip


def test_no_test_module_imports_another() -> None:
    offenders = {
        str(path.relative_to(TESTS)): found
        for path in sorted(TESTS.rglob("*.py"))
        if (found := imported_test_modules(path.read_text(encoding="utf-8")))
    }
    assert not offenders, f"move the shared helpers into conftest.py or a helper module: {offenders}"
