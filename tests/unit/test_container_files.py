"""The Containerfile, compose.yaml and .dockerignore, checked without a container runtime
(CI has none, so they are never built there): the image runs as a non-root user, checks
/readyz, stops with SIGTERM, takes its database and secret key from the environment, and
binds 0.0.0.0 only inside the container; compose starts seg after a healthy PostgreSQL on a
named volume, migrates at start, publishes the port on 127.0.0.1 only, and lets a drain
finish before it kills the process. Every `seg serve` flag they pass is a real one, and the
health check's command works against a real `seg serve`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
import typer
import yaml

from seg.commands.app import app

ROOT = Path(__file__).resolve().parents[2]


def instructions(text: str) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) of a Containerfile: comments dropped, continuations joined."""
    joined = re.sub(r"\\\n", " ", "\n".join(
        line for line in text.splitlines() if not line.lstrip().startswith("#")))  # fmt: skip
    found = []
    for line in joined.splitlines():
        if line.strip():
            word, _, rest = line.strip().partition(" ")
            found.append((word.upper(), rest.strip()))
    return found


def final_stage() -> list[tuple[str, str]]:
    steps = instructions((ROOT / "Containerfile").read_text())
    last = max(i for i, (word, _) in enumerate(steps) if word == "FROM")
    return steps[last:]


def serve_options() -> set[str]:
    serve = typer.main.get_command(app).commands["serve"]  # type: ignore[attr-defined]
    return {name for param in serve.params for name in param.opts if name.startswith("--")}


def flags(argv: list[str]) -> list[str]:
    return [arg for arg in argv if arg.startswith("--")]


def compose() -> dict:
    loaded: dict = yaml.safe_load((ROOT / "compose.yaml").read_text())
    return loaded


def test_the_image_runs_seg_serve_as_a_non_root_user_on_0_0_0_0() -> None:
    stage = final_stage()
    words = dict(stage)
    assert re.fullmatch(r"python:\$\{PYTHON_VERSION\}-slim", words["FROM"])
    users = [args for word, args in stage if word == "USER"]
    assert users and users[-1].split(":")[0] not in ("root", "0")
    assert json.loads(words["ENTRYPOINT"]) == ["seg"]
    command = json.loads(words["CMD"])
    assert command[:3] == ["serve", "--host", "0.0.0.0"]
    assert set(flags(command)) <= serve_options()
    assert words["STOPSIGNAL"] == "SIGTERM"
    assert words["EXPOSE"] == command[command.index("--port") + 1] == "8400"


@pytest.mark.e2e
def test_the_health_check_asks_readyz_and_works_against_a_real_server(
    tmp_path: Path, slug: str
) -> None:
    from tests.e2e.processes import Server

    server = Server(f"sqlite:///{tmp_path / 'cp.db'}", tmp_path, slug)
    try:
        check_health(server.url)
    finally:
        server.stop()


def check_health(live: str) -> None:
    health = dict(final_stage())["HEALTHCHECK"]
    argv = json.loads(health.split("CMD", 1)[1])
    assert "http://127.0.0.1:8400/readyz" in argv[-1]
    for url, expected in ((live, 0), ("http://127.0.0.1:9", 1)):
        code = argv[-1].replace("http://127.0.0.1:8400", url)
        done = subprocess.run([sys.executable, *argv[1:-1], code], capture_output=True,
                              timeout=60)  # fmt: skip
        assert done.returncode == expected, done.stderr


def test_no_secret_is_baked_into_the_image() -> None:
    text = (ROOT / "Containerfile").read_text()
    for word, args in instructions(text):
        if word in ("ENV", "ARG"):
            assert "SEG_SECRET_KEY" not in args and "PASSWORD" not in args.upper()
    assert "SEG_DATABASE_URL=sqlite:////var/lib/seg/seg.db" in text  # overridable default


def test_compose_starts_seg_after_a_healthy_postgresql_and_migrates() -> None:
    services = compose()["services"]
    db, seg = services["db"], services["seg"]
    assert db["image"].startswith("postgres:")
    assert "pg_isready" in " ".join(db["healthcheck"]["test"])
    assert seg["depends_on"] == {"db": {"condition": "service_healthy"}}
    volume = db["volumes"][0].split(":")[0]
    assert volume in compose()["volumes"]  # a named volume, not a host directory
    assert seg["build"]["dockerfile"] == "Containerfile"
    command = seg["command"]
    assert command[:3] == ["serve", "--host", "0.0.0.0"] and "--migrate" in command
    assert set(flags(command)) <= serve_options()
    assert seg["ports"] == ["127.0.0.1:8400:8400"]  # the host publishes on loopback only
    drain = int(command[command.index("--drain-timeout") + 1])
    assert int(seg["stop_grace_period"].rstrip("s")) > drain


def test_compose_takes_its_secrets_from_the_env_file_never_literally() -> None:
    services = compose()["services"]
    seg_env, db_env = services["seg"]["environment"], services["db"]["environment"]
    assert seg_env["SEG_SECRET_KEY"] == "${SEG_SECRET_KEY:?set SEG_SECRET_KEY in .env}"
    assert db_env["POSTGRES_PASSWORD"] == "${SEG_DB_PASSWORD:?set SEG_DB_PASSWORD in .env}"
    assert seg_env["SEG_DATABASE_URL"].startswith(
        "postgresql://seg:${SEG_DB_PASSWORD:?set SEG_DB_PASSWORD in .env}@db:5432/"
    )


def test_the_build_context_is_an_allowlist_of_what_the_image_copies() -> None:
    lines = [line.strip() for line in (ROOT / ".dockerignore").read_text().splitlines()
             if line.strip() and not line.startswith("#")]  # fmt: skip
    assert lines[0] == "*"  # everything else (.git, .env, keys, databases) stays out
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    copied = set()
    for word, args in instructions((ROOT / "Containerfile").read_text()):
        if word == "COPY" and not args.startswith("--from"):
            copied |= set(args.split()[:-1])
    assert copied == allowed
    assert all((ROOT / path).exists() for path in copied)
    assert {"**/*.key", "**/*.db", "**/*.db-*"} <= set(lines)
