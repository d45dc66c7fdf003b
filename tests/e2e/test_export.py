"""`seg export` against `seg serve`: a workspace holding every kind round-trips (export, then
plan shows no changes), export is byte-identical when run twice, and --merge adds only what is
missing. Export never changes the server."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.e2e.processes import Server, run
from tests.integration.schema_files import check_jsonschema, modelines
from tests.repo_files import copy_repo_dir

pytestmark = pytest.mark.e2e

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def every_kind(root: Path, slug: str) -> Path:
    """One workspace with every kind, assembled from the examples."""
    root.mkdir(parents=True)
    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {slug}\n")
    copy_repo_dir(EXAMPLES / "access", root / "access", skip=("seg.yaml",))
    copy_repo_dir(EXAMPLES / "reverse-etl", root / "retl", skip=("seg.yaml",))
    (root / "tp").mkdir()
    shutil.copy(EXAMPLES / "tracking-plans" / "tracking-plan.yaml", root / "tp")
    copy_repo_dir(EXAMPLES / "tracking-plans" / "schemas", root / "tp" / "schemas")
    docs = (EXAMPLES / "filters" / "workspace.yaml").read_text().split("---\n")[1:]
    (root / "filters.yaml").write_text("---\n".join(docs))
    sources = root / "access" / "sources.yaml"
    sources.write_text(sources.read_text().replace(
        "  labels: {environment: prod, team: growth, region: eu}",
        "  labels: {environment: prod, team: growth, region: eu}\n  tracking_plan: ecommerce\n"
        "  settings:\n    write_key: ${env:WEB_WRITE_KEY}\n    sample: 1"))  # fmt: skip
    return root


def assert_editor_ready(out: Path, env: dict[str, str]) -> None:
    """Every exported YAML file names, by a relative modeline, a schema written beside the
    tree (.seg-schema/) that accepts it, and is already in `seg fmt`'s canonical form."""
    found = modelines(out)
    assert len(found) > 10
    for schema in set(found.values()):
        assert schema.is_file() and schema.parent == (out / ".seg-schema").resolve(), schema
        files = [path for path, named in found.items() if named == schema]
        result = check_jsonschema(schema, *files)
        assert result.returncode == 0, result.stdout
    formatted = run("fmt", "--check", "-w", str(out), env=env)
    assert formatted.returncode == 0, formatted.stdout + formatted.stderr


def test_export_round_trips_every_kind(tmp_path: Path, slug: str) -> None:
    server = Server(f"sqlite:///{tmp_path / 'cp.db'}", tmp_path, slug)
    try:
        env = server.client_env(WAREHOUSE_PASSWORD="pw-123", WEB_WRITE_KEY="wk-456")
        source = every_kind(tmp_path / "source", slug)
        applied = run("apply", "-w", str(source), "--auto-approve", env=env)
        assert applied.returncode == 0, applied.stdout + applied.stderr
        audit_before = run("plan", "-w", str(source), "--detailed-exitcode", env=env)
        assert audit_before.returncode == 0

        out = tmp_path / "exported"
        exported = run("export", "-w", str(out), "--slug", slug, env=env)
        assert exported.returncode == 0, exported.stderr
        kinds = {p.parent.name for p in out.rglob("*.yaml") if p.name != "seg.yaml"}
        assert kinds == {"labels", "groups", "tracking-plans", "sources", "role-bindings",
                         "destinations", "filters", "models", "mappings"}  # fmt: skip
        assert (out / "models" / "warehouse.users.sql").read_text().startswith("SELECT")
        assert_editor_ready(out, env)
        listing = (out / "secrets.env.example").read_text()
        pw_var, wk_var = (
            "SEG_SECRET_WAREHOUSE_SETTINGS_PASSWORD",
            "SEG_SECRET_WEB_SETTINGS_WRITE_KEY",
        )
        assert pw_var in listing and wk_var in listing and "pw-123" not in listing
        for path in out.rglob("*"):
            if path.is_file():
                assert "pw-123" not in path.read_text() and "wk-456" not in path.read_text()
        env_out = {**env, pw_var: "pw-123", wk_var: "wk-456"}
        plan = run("plan", "-w", str(out), "--detailed-exitcode", env=env_out)
        assert plan.returncode == 0, plan.stdout + plan.stderr

        again = tmp_path / "again"
        assert run("export", "-w", str(again), "--slug", slug, env=env).returncode == 0
        files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
        assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
        assert all((out / f).read_bytes() == (again / f).read_bytes() for f in files)

        (out / "groups" / "data.yaml").unlink()
        (out / "role-bindings" / "data-tracking-plans.yaml").unlink()
        merged = run("export", "-w", str(out), "--merge", env=env_out)
        assert merged.returncode == 0, merged.stderr
        assert "Exported 2 resources" in merged.stdout
        assert (out / "groups" / "data.yaml").read_bytes() == (
            again / "groups" / "data.yaml"
        ).read_bytes()
        refused = run("export", "-w", str(out), env=env_out)
        assert refused.returncode == 1 and "use --merge" in refused.stderr
        assert run("plan", "-w", str(source), "--detailed-exitcode", env=env).returncode == 0
    finally:
        server.stop()
