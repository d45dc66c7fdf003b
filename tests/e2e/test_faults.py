"""Fault tests against `seg serve` as a process: SIGKILLed applies, concurrent applies, a
server restart mid-apply, and two servers on one PostgreSQL behaving as one control plane."""

from __future__ import annotations

import json
import random
import signal
import subprocess
import time
from pathlib import Path

import httpx
import pytest

from tests.conftest import POSTGRES_URL
from tests.e2e.test_processes import SEG, Server, run

pytestmark = pytest.mark.e2e

SOURCES = 40  # 40 sources × (1 + 2 destinations) = 120 resources


def write_workspace(root: Path, slug: str, version: int) -> None:
    root.mkdir(parents=True, exist_ok=True)
    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {slug}\n")
    docs = []
    for i in range(SOURCES):
        docs.append(f"kind: Source\nname: s{i:03d}\nspec:\n  catalog: javascript\n"
                    f"  settings: {{version: {version}}}\n")  # fmt: skip
        for dest in ("amp", "hook"):
            docs.append(f"kind: Destination\nname: {dest}\nspec:\n  source: s{i:03d}\n"
                        f"  catalog: {dest}\n  settings: {{version: {version}}}\n")  # fmt: skip
    (root / "all.yaml").write_text("---\n".join(docs))


def counts(server: Server, slug: str) -> tuple[int, int]:
    headers = {"Authorization": f"Bearer {server.token}"}
    base = f"{server.url}/v1beta/workspaces/{slug}"
    sources = httpx.get(f"{base}/sources", params={"page_size": 1000}, headers=headers).json()
    dests = httpx.get(f"{base}/sources/-/destinations", params={"page_size": 1000},
                      headers=headers).json()  # fmt: skip
    names = [s["name"] for s in sources["sources"]] + [d["name"] for d in dests["destinations"]]
    assert len(names) == len(set(names))
    return len(sources["sources"]), len(dests["destinations"])


@pytest.fixture
def server(tmp_path: Path, slug: str):
    srv = Server(f"sqlite:///{tmp_path / 'cp.db'}", tmp_path, slug)
    yield srv
    srv.stop()


def apply_env(server: Server) -> dict[str, str]:
    return server.client_env(SEG_LOCK_TTL="1")


def test_sigkilled_applies_converge_without_duplicates(
    server: Server, tmp_path: Path, slug
) -> None:
    root = tmp_path / "ws"
    rng = random.Random(7)
    env = apply_env(server)
    runs, converged = 20, 0
    for version in range(1, runs + 1):
        write_workspace(root, slug, version)
        proc = subprocess.Popen([*SEG, "apply", "-w", str(root), "--auto-approve"], env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)  # fmt: skip
        time.sleep(rng.uniform(0.3, 1.5))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
        again = run("apply", "-w", str(root), "--auto-approve", "--lock-timeout", "20", env=env)
        assert again.returncode == 0, again.stdout + again.stderr
        plan = run("plan", "-w", str(root), "--detailed-exitcode", env=env)
        converged += plan.returncode == 0
        assert counts(server, slug) == (SOURCES, 2 * SOURCES)
    assert converged == runs


def test_concurrent_applies_are_serialised_by_the_lock(
    server: Server, tmp_path: Path, slug
) -> None:
    root = tmp_path / "ws"
    write_workspace(root, slug, 1)
    env = apply_env(server)
    procs = [subprocess.Popen([*SEG, "apply", "-w", str(root), "--auto-approve"], env=env,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for _ in range(2)]  # fmt: skip
    outputs = [p.communicate(timeout=120) for p in procs]
    codes = sorted(p.returncode for p in procs)
    assert codes in ([0, 1], [0, 0])  # one holds the lock; the other fails at once, clearly
    for proc, (_, err) in zip(procs, outputs, strict=True):
        if proc.returncode == 1:
            assert "is locked by seg apply" in err and "--lock-timeout" in err
    waiting = [subprocess.Popen([*SEG, "apply", "-w", str(root), "--auto-approve",
                                 "--lock-timeout", "60"], env=env, stdout=subprocess.DEVNULL,
                                stderr=subprocess.DEVNULL) for _ in range(2)]  # fmt: skip
    write_workspace(root, slug, 2)
    assert [p.wait(timeout=120) for p in waiting] == [0, 0]
    assert run("plan", "-w", str(root), "--detailed-exitcode", env=env).returncode == 0
    assert counts(server, slug) == (SOURCES, 2 * SOURCES)


def test_server_restart_mid_apply(server: Server, tmp_path: Path, slug) -> None:
    root = tmp_path / "ws"
    write_workspace(root, slug, 1)
    env = apply_env(server)
    proc = subprocess.Popen([*SEG, "apply", "-w", str(root), "--auto-approve"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)  # fmt: skip
    time.sleep(1.0)
    server.proc.send_signal(signal.SIGKILL)
    server.proc.wait()
    proc.communicate(timeout=120)
    server.restart()
    again = run("apply", "-w", str(root), "--auto-approve", "--lock-timeout", "20", env=env)
    assert again.returncode == 0, again.stdout + again.stderr
    assert run("plan", "-w", str(root), "--detailed-exitcode", env=env).returncode == 0
    assert counts(server, slug) == (SOURCES, 2 * SOURCES)


@pytest.mark.postgres
def test_two_servers_on_one_postgresql_act_as_one(tmp_path: Path, slug: str, request) -> None:
    if not POSTGRES_URL:
        request.getfixturevalue("pg_store")
    first = Server(POSTGRES_URL, tmp_path, slug)
    second = Server(POSTGRES_URL, tmp_path, slug, init=False)
    second.token = first.token  # one control plane: the same tokens work on both
    try:
        root = tmp_path / "ws"
        write_workspace(root, slug, 1)
        env_a = apply_env(first)
        env_b = apply_env(second)
        held = httpx.post(f"{second.url}/v1beta/workspaces/{slug}/lock", json={"holder": "b"},
                          headers={"Authorization": f"Bearer {first.token}"}).json()  # fmt: skip
        blocked = run("apply", "-w", str(root), "--auto-approve", env=env_a)
        assert blocked.returncode == 1 and "is locked by b" in blocked.stderr
        httpx.delete(f"{first.url}/v1beta/workspaces/{slug}/lock", params={"id": held["id"]},
                     headers={"Authorization": f"Bearer {first.token}"})  # fmt: skip
        procs = [subprocess.Popen([*SEG, "apply", "-w", str(root), "--auto-approve",
                                   "--lock-timeout", "60"], env=env, stdout=subprocess.DEVNULL,
                                  stderr=subprocess.DEVNULL) for env in (env_a, env_b)]  # fmt: skip
        assert [p.wait(timeout=120) for p in procs] == [0, 0]
        for env in (env_a, env_b):
            assert run("plan", "-w", str(root), "--detailed-exitcode", env=env).returncode == 0
        assert counts(second, slug) == (SOURCES, 2 * SOURCES)
        events = httpx.get(f"{second.url}/v1beta/workspaces/{slug}/audit-events",
                           params={"page_size": 1000},
                           headers={"Authorization": f"Bearer {first.token}"}).json()  # fmt: skip
        creates = [e for e in events["audit_events"] if e["method"] == "POST"
                   and "/lock" not in e["resource"]]  # fmt: skip
        assert len(creates) == 3 * SOURCES and json.dumps(events).count("/lock") >= 4
    finally:
        first.stop()
        second.stop()
