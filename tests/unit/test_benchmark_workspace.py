"""The benchmarks' generated workspace (SPEC §8, issue 15): deterministic, every kind of the
registry but the access ones mixed in, valid without a warning, each consent category listing
every destination of its type."""

from __future__ import annotations

import importlib.util
from collections import Counter
from pathlib import Path
from types import ModuleType

from seg.workspace.loader import load_workspace

ROOT = Path(__file__).resolve().parents[2]
ENVIRON = {"BENCH_API_KEY": "bench-secret",
           "BENCH_SLACK_WEBHOOK": "https://hooks.slack.com/services/T0/B0/bench"}  # fmt: skip


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_generate",
                                                  ROOT / "benchmarks" / "generate.py")  # fmt: skip
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _files(root: Path) -> dict[str, bytes]:
    return {str(p.relative_to(root)): p.read_bytes() for p in root.rglob("*") if p.is_file()}


def test_the_generated_workspace_is_deterministic_and_valid(tmp_path: Path) -> None:
    generate = _generator().generate
    assert generate(tmp_path / "a", 1000) == 1000
    assert generate(tmp_path / "b", 1000) == 1000
    assert _files(tmp_path / "a") == _files(tmp_path / "b")
    ws = load_workspace(tmp_path / "a", environ=ENVIRON)
    assert ws.warnings == ()
    kinds = Counter(resource.kind.name for resource in ws.resources)
    assert sum(kinds.values()) == 1000
    for name in ("Alert", "ConsentCategory", "TrackingPlan", "Transformation", "Function",
                 "Warehouse", "Model", "Mapping"):  # fmt: skip
        assert kinds[name] > 0, name
    settings = [r for r in ws.resources if r.kind.name == "Source"
                and r.fields.get("schema_settings", {}).get("forwarding_violations_to")]
    assert settings, "no source forwards its violations"
