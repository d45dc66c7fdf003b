"""The wheel ships the JSON Schemas (schemas/ → seg/schemas), the built-in catalog
(seg/catalog/data) and the web console's templates and static files (seg/web), byte for
byte."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

pytestmark = pytest.mark.e2e

REPO = Path(__file__).resolve().parents[2]


def test_wheel_contains_every_schema(tmp_path: Path) -> None:
    built = subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(tmp_path), str(REPO)],
        capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert built.returncode == 0, built.stderr
    (wheel,) = tmp_path.glob("seg-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        shipped = {n: archive.read(n) for n in archive.namelist() if n.startswith("seg/schemas/")}
        assert "seg/commands/app.py" in archive.namelist()
        catalog = {n: archive.read(n) for n in archive.namelist()
                   if n.startswith("seg/catalog/data/")}  # fmt: skip
        console = {n: archive.read(n) for n in archive.namelist()
                   if n.startswith(("seg/web/templates/", "seg/web/static/"))}  # fmt: skip
    schemas = REPO / "schemas"
    expected = {
        f"seg/schemas/{p.relative_to(schemas).as_posix()}": p.read_bytes()
        for p in schemas.rglob("*.json")
    }
    assert "seg/schemas/resolved/source.schema.json" in expected
    assert shipped == expected
    data = REPO / "cli" / "seg" / "catalog" / "data"
    assert catalog == {f"seg/catalog/data/{p.name}": p.read_bytes() for p in data.glob("*.json")}
    assert len(catalog) == 3
    web = REPO / "cli" / "seg" / "web"
    assert console == {f"seg/web/{p.relative_to(web).as_posix()}": p.read_bytes()
                       for folder in ("templates", "static") for p in (web / folder).iterdir()}
    assert "seg/web/static/htmx.min.js" in console and "seg/web/templates/base.html" in console
