"""Benchmark the dbt side of seg (issue 16): `seg validate` of a workspace whose models link to
a large dbt project, and `seg check --dbt` on a pull request of that project.

It writes, under --out, one git repository holding a dbt project of N models (staging models
reading sources, marts selecting * from a staging model and one computed column: every mart's
columns come through the star expansion) with a manifest like `dbt compile`'s, and a seg
workspace in `seg/` whose models link to N/10 marts, each used by an enabled mapping. The base
commit is applied to the workspace's embedded control plane; the head commit (branch
`feature`) adds a column to every tenth mart and drops a mapped column from one. Then it times
each command over --runs runs on the head and prints wall time, peak memory (max RSS, from
wait4) and the exit code (validate: 1, the dropped mapped column; check: 3, blocked):

    python benchmarks/dbt_bench.py --models 1000 --runs 3
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

SEG = [sys.executable, "-m", "seg"]
PER_DESTINATION = 50  # mappings per destination (the catalog's limit)


def _mart(i: int, extra: str = "", email: bool = True) -> str:
    email_column = "email, " if email else ""
    return (f"select *, {email_column}{i} as score{extra}\n"
            f"from {{{{ ref('stg_{i}') }}}}\n")  # fmt: skip


def write_project(root: Path, models: int) -> None:
    (root / "models/staging").mkdir(parents=True)
    (root / "models/marts").mkdir(parents=True)
    (root / "dbt_project.yml").write_text(
        "name: analytics\nversion: '1.0.0'\nconfig-version: 2\nprofile: analytics\n"
        "models:\n  analytics:\n    +materialized: view\n"
    )
    sources = ["version: 2", "sources:", "  - name: app", "    tables:"]
    for i in range(models // 2):
        sources.append(f"      - name: t{i}")
        (root / f"models/staging/stg_{i}.sql").write_text(
            f"select id as user_id, lower(mail) as mail_raw, plan, created_at\n"
            f"from {{{{ source('app', 't{i}') }}}}\n"
        )
        (root / f"models/marts/mart_{i}.sql").write_text(_mart(i))
    (root / "models/sources.yml").write_text("\n".join(sources) + "\n")


def write_manifest(root: Path) -> None:
    """A manifest as `dbt compile` writes it: every model's raw and compiled SQL."""
    nodes = {}
    for path in sorted((root / "models").rglob("*.sql")):
        rel = path.relative_to(root).as_posix()
        name = path.stem
        raw = path.read_text()
        compiled = raw.replace("{{ ref('", '"db"."main"."').replace("') }}", '"')
        compiled = compiled.replace("{{ source('app', '", '"db"."app"."')
        nodes[f"model.analytics.{name}"] = {
            "resource_type": "model", "package_name": "analytics", "name": name,
            "original_file_path": rel, "raw_code": raw, "compiled_code": compiled,
        }  # fmt: skip
    (root / "target").mkdir(exist_ok=True)
    (root / "target/manifest.json").write_text(json.dumps({"nodes": nodes}))


def write_workspace(ws: Path, linked: int) -> None:
    ws.mkdir()
    (ws / "seg.yaml").write_text(
        "version: seg/v1\nworkspace: dbt-bench\nmodel_change_policy: breaking\n"
        "dbt_projects:\n  analytics:\n    path: ..\n"
    )
    docs = ["kind: Source\nname: warehouse\nspec:\n  catalog: postgres\n  settings:\n"
            "    host: db.internal\n    database: analytics\n    password: pw\n"]  # fmt: skip
    for d in range((linked + PER_DESTINATION - 1) // PER_DESTINATION):
        docs.append(f"kind: Destination\nname: braze-{d}\nspec:\n  source: warehouse\n"
                    "  catalog: braze\n  enabled: true\n  settings:\n    api_key: k\n")  # fmt: skip
    for i in range(linked):
        docs.append(f"kind: Model\nname: mart-{i}\nspec:\n  source: warehouse\n"
                    f"  dbt_model: mart_{i * 5}\n  identifier_column: user_id\n")  # fmt: skip
        docs.append(
            f"kind: Mapping\nname: sync-{i}\nspec:\n  destination: warehouse/braze-"
            f"{i // PER_DESTINATION}\n  action: updateUserProfile\n  enabled: true\n"
            f"  model: mart-{i}\n  schedule:\n    strategy: PERIODIC\n"
            "    config: {interval: 1h}\n"
            "  fields:\n    external_id: user_id\n    email: email\n"
        )
    (ws / "resources.yaml").write_text("---\n".join(docs))


def git(root: Path, *args: str) -> None:
    subprocess.run(["git", "-C", str(root), *args], check=True, capture_output=True)


def prepare(out: Path, models: int) -> Path:
    repo = out / "repo"
    write_project(repo, models)
    write_workspace(repo / "seg", models // 20)
    (repo / ".gitignore").write_text("target/\n.seg/\n")
    git(repo, "init", "-q", "-b", "main")
    git(repo, "-c", "user.name=bench", "-c", "user.email=b@example.com", "add", "-A")
    git(repo, "-c", "user.name=bench", "-c", "user.email=b@example.com", "commit", "-qm", "base")
    write_manifest(repo)
    shutil.copy(repo / "target/manifest.json", out / "base-manifest.json")
    run([*SEG, "apply", "-w", str(repo / "seg"), "--auto-approve"], repo)
    git(repo, "checkout", "-q", "-b", "feature")
    for i in range(0, models // 2, 10):
        (repo / f"models/marts/mart_{i}.sql").write_text(_mart(i, ", 1 as added"))
    (repo / "models/marts/mart_5.sql").write_text(_mart(5, email=False))
    git(repo, "-c", "user.name=bench", "-c", "user.email=b@example.com", "commit", "-qam", "head")
    write_manifest(repo)
    return repo


def run(cmd: list[str], cwd: Path) -> tuple[float, float, int]:
    """Wall seconds, peak RSS in MiB and the exit code of one run."""
    env = {**os.environ, "NO_COLOR": "1"}
    start = time.perf_counter()
    proc = subprocess.Popen(cmd, cwd=cwd, env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE)  # fmt: skip
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - start
    code = os.waitstatus_to_exitcode(status)
    if code not in (0, 1, 3):  # validate finds the head's dropped column; check blocks it
        raise SystemExit(f"{' '.join(cmd)} failed ({code}): {proc.stderr.read().decode()}")
    return wall, usage.ru_maxrss / 1024, code


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", type=int, default=1000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp)
        repo = prepare(out, args.models)
        linked = args.models // 20
        (repo / "target/manifest.json").rename(out / "head-manifest.json")
        check = [*SEG, "check", "--dbt", ".", "--base", "main", "-w", "seg"]
        commands = {
            "validate (manifest)": [*SEG, "validate", "-w", "seg"],
            "check --dbt (both manifests)": [
                *check, "--base-manifest", str(out / "base-manifest.json"),
                "--head-manifest", str(out / "head-manifest.json")],
            "check --dbt (no manifest)": check,
        }  # fmt: skip
        shutil.copy(out / "head-manifest.json", repo / "target/manifest.json")
        print(f"dbt project of {args.models} models, {linked} linked seg models in use")
        for label, cmd in commands.items():
            if label == "check --dbt (no manifest)":
                (repo / "target/manifest.json").unlink()
            runs = [run(cmd, repo) for _ in range(args.runs)]
            walls = sorted(r[0] for r in runs)
            peak = max(r[1] for r in runs)
            print(f"{label:30} median {walls[len(walls) // 2]:6.2f} s  "
                  f"(min {walls[0]:.2f}, max {walls[-1]:.2f})  peak {peak:6.0f} MiB  "
                  f"exit {runs[0][2]}")  # fmt: skip


if __name__ == "__main__":
    main()
