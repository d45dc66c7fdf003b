"""Checking files against the published schemas, and the modelines that point at them."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

MODELINE = re.compile(r"^# yaml-language-server: \$schema=(\S+)$")


def check_jsonschema(schema: Path, *files: Path) -> subprocess.CompletedProcess[str]:
    """check-jsonschema as users run it (one YAML document per file)."""
    exe = Path(sys.executable).with_name("check-jsonschema")
    return subprocess.run([str(exe), "--schemafile", str(schema), *map(str, files)],
                          capture_output=True, text=True, timeout=120)  # fmt: skip


def modelines(root: Path) -> dict[Path, Path]:
    """{YAML file: the schema its modeline names, resolved from the file's directory}."""
    found = {}
    for path in root.rglob("*.y*ml"):
        first = path.read_text().splitlines()[0]
        match = MODELINE.match(first)
        assert match, (path, first)
        assert "://" not in match.group(1)
        found[path] = (path.parent / match.group(1)).resolve()
    return found
