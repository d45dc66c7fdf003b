"""Finding F3 of the attacker's review of issue 12, as processes against the embedded control
plane: CI expands a secret that does not exist to "", so an empty ${env:NAME} counts as not
set: plan fails naming it (or leaves the value out with --missing-secrets=skip), apply
refuses, validate treats the value as unknown — the stored value is never overwritten with "".
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.repo_workspace import clean_env, seg
from tests.security.review_12_workspace import SEG_YAML, SOURCES

pytestmark = pytest.mark.e2e

SECRET_DEST = """\
kind: Destination
name: amplitude
spec:
  source: web
  catalog: amplitude
  settings: {api_key: "${env:AK}"}
"""


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return clean_env(tmp_path)


@pytest.fixture
def secret_root(tmp_path: Path, env) -> Path:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "seg.yaml").write_text(SEG_YAML)
    (root / "sources.yaml").write_text(SOURCES)
    (root / "destinations.yaml").write_text(SECRET_DEST)
    done = seg(root, "apply", "--auto-approve", env={**env, "AK": "the-real-key-7"})
    assert done.returncode == 0, done.stdout + done.stderr
    return root


def _settled(root: Path, env) -> None:
    """The stored key is still the real one: a plan with it changes nothing."""
    done = seg(root, "plan", "--detailed-exitcode", env={**env, "AK": "the-real-key-7"})
    assert done.returncode == 0, done.stdout + done.stderr


def test_an_empty_secret_fails_the_plan_naming_it(secret_root: Path, env) -> None:
    done = seg(secret_root, "plan", env={**env, "AK": ""})
    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("error: environment variable not set: AK (set but empty, used at ")
    assert "--missing-secrets=skip" in line
    unset = seg(secret_root, "plan", env=env)  # unset: the same refusal, without "empty"
    assert unset.returncode == 1 and "not set: AK (used at " in unset.stderr


def test_an_empty_secret_is_left_out_of_a_skip_plan(secret_root: Path, env, tmp_path) -> None:
    planfile = tmp_path / "skip.json"
    done = seg(secret_root, "plan", "--missing-secrets=skip", "-o", "json", "--out",
               str(planfile), env={**env, "AK": ""})  # fmt: skip
    assert done.returncode == 0, done.stderr
    plan = json.loads(done.stdout)
    assert plan["missing_variables"] == ["AK"] and plan["changes"] == []
    refusal = seg(secret_root, "apply", str(planfile), env={**env, "AK": ""})
    assert refusal.returncode == 4 and "made with --missing-secrets=skip" in refusal.stderr
    _settled(secret_root, env)


def test_an_empty_secret_never_overwrites_the_stored_one(secret_root: Path, env) -> None:
    done = seg(secret_root, "apply", "--auto-approve", env={**env, "AK": ""})
    assert done.returncode == 1, done.stdout + done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert "not set: AK (set but empty, used at " in line and "destinations.yaml:6:23);" in line
    assert "seg apply needs every value" in line
    _settled(secret_root, env)


def test_validate_treats_an_empty_secret_as_unknown(secret_root: Path, env) -> None:
    done = seg(secret_root, "validate", env={**env, "AK": ""})
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Not set: AK." in done.stdout
