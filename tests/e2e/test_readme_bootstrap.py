"""The README's "from nothing to a dev and prod pair" commands, run exactly as written."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.e2e.processes import free_port

pytestmark = pytest.mark.e2e

README = Path(__file__).resolve().parents[2] / "README.md"


def test_readme_bootstrap_works_as_written(tmp_path: Path) -> None:
    block = re.search(r"<!-- bootstrap:start -->\n```sh\n(.*?)```", README.read_text(), re.S)
    assert block is not None
    port = str(free_port())
    script = block.group(1).replace("8400", port)  # a free port instead of the documented one
    env = {k: v for k, v in os.environ.items() if not k.startswith("SEG_")}
    env["PATH"] = f"{Path(sys.executable).parent}{os.pathsep}{env.get('PATH', '')}"
    env["NO_COLOR"] = "1"
    wrapped = f"set -e\ntrap 'kill $(jobs -p) 2>/dev/null' EXIT\n{script}"
    wrapped = wrapped.replace("seg diff -w acme --env dev --env prod",
                              "seg diff -w acme --env dev --env prod; echo diff-exit=$?")  # fmt: skip
    result = subprocess.run(["bash", "-c", wrapped], cwd=tmp_path, env=env, capture_output=True,
                            text=True, timeout=180)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.count("Apply complete: 1 applied, 0 failed, 0 skipped.") == 2
    assert "diff-exit=0" in result.stdout  # both environments hold the same scaffold
    assert (tmp_path / "acme" / "seg.yaml").is_file()
