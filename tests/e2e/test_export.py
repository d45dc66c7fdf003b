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
        "  settings:\n    user_cookie_days: 30"))  # fmt: skip
    (root / "stripe.yaml").write_text(
        "kind: Source\nname: billing\nspec:\n  catalog: stripe\n  settings:\n"
        "    api_key: ${env:STRIPE_API_KEY}\n    sync_interval_hours: 6\n")  # fmt: skip
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


def exported_files(root: Path) -> list[Path]:
    return sorted(p.relative_to(root) for p in root.rglob("*")
                  if p.is_file() and p.relative_to(root).parts[0] != ".seg")  # fmt: skip


def test_export_round_trips_every_kind(tmp_path: Path, slug: str) -> None:
    server = Server(f"sqlite:///{tmp_path / 'cp.db'}", tmp_path, slug)
    try:
        env = server.client_env(WAREHOUSE_PASSWORD="pw-123", STRIPE_API_KEY="sk-456",
                                BRAZE_API_KEY="bz-789", AMPLITUDE_API_KEY="amp-012")
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
        secrets = {
            "SEG_SECRET_WAREHOUSE_SETTINGS_PASSWORD": "pw-123",
            "SEG_SECRET_BILLING_SETTINGS_API_KEY": "sk-456",
            "SEG_SECRET_WAREHOUSE_BRAZE_SETTINGS_API_KEY": "bz-789",
            "SEG_SECRET_WEB_AMPLITUDE_SETTINGS_API_KEY": "amp-012",
        }
        assert all(var in listing for var in secrets) and "pw-123" not in listing, listing
        for path in out.rglob("*"):
            if path.is_file():
                assert not any(value in path.read_text() for value in secrets.values()), path
        env_out = {**env, **secrets}
        plan = run("plan", "-w", str(out), "--detailed-exitcode", env=env_out)
        assert plan.returncode == 0, plan.stdout + plan.stderr

        again = tmp_path / "again"
        assert run("export", "-w", str(again), "--slug", slug, env=env).returncode == 0
        files = exported_files(out)  # the plan above left its local cache (.seg/) in out
        assert files == exported_files(again)
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
