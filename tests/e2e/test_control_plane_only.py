"""Commands that only talk to the control plane (`access explain`, `lock status`, `lock
release`, `export --merge`) read seg.yaml alone: a broken resource file and unset variables
do not stop them. As processes, against the embedded control plane."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from seg.embedded import open_embedded
from tests.e2e.repo_workspace import SEG, clean_env, seg
from tests.e2e.secret_workspace import DESTINATIONS, SOURCES, write

pytestmark = pytest.mark.e2e


def group(root: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    """A sub-command (``seg lock status``): -w goes after it."""
    done = subprocess.run([*SEG, *args, "-w", str(root)], env=env, capture_output=True,
                          text=True, timeout=120)  # fmt: skip
    assert "Traceback" not in done.stdout + done.stderr
    return done


BROKEN = {
    "sources.yaml": SOURCES + "---\nkind: Source\nname: ios\nspec: {catalog: ios}\n",
    "broken.yaml": "kind: Source\nname: [unclosed\n",
    "destinations.yaml": DESTINATIONS,  # AMP_KEY and HOOK_TOKEN are not set
}


def test_control_plane_commands_read_only_seg_yaml(tmp_path: Path) -> None:
    env = clean_env(tmp_path)  # AMP_KEY and HOOK_TOKEN are not set
    root = write(tmp_path / "cp", {"sources.yaml": BROKEN["sources.yaml"]})
    assert seg(root, "apply", "--auto-approve", env=env).returncode == 0
    write(root, {**BROKEN, "sources.yaml": SOURCES})  # ios is now only on the control plane
    assert seg(root, "validate", env=env).returncode == 1  # the tree is broken indeed

    explain = group(root, "access", "explain", "--user", "ann@example.com", env=env)
    assert explain.returncode == 0, explain.stderr
    assert "ann@example.com: workspace roles: none" in explain.stdout
    status = group(root, "lock", "status", env=env)
    assert status.returncode == 0, status.stderr
    assert status.stdout.strip() == "Workspace acme is not locked."
    client = open_embedded(root, "acme")  # another apply holds the lock
    try:
        client.acquire_lock({"holder": "someone else", "host": "h", "plan": "p", "ci_run": ""},
                            600)  # fmt: skip
    finally:
        client.close()
    status = group(root, "lock", "status", env=env)
    assert "Workspace acme is locked by someone else on h" in status.stdout
    release = group(root, "lock", "release", env=env)
    assert release.returncode == 0, release.stderr
    assert "Released the lock on workspace acme." in release.stdout
    assert group(root, "lock", "status", env=env).stdout.strip() == "Workspace acme is not locked."

    exported = seg(root, "export", "--merge", env=env)
    assert exported.returncode == 0, exported.stderr
    assert "Exported 1 resource of workspace acme" in exported.stdout
    (warning,) = exported.stderr.replace(f"{root}/", "").strip().splitlines()
    assert warning.startswith("warning: broken.yaml:3:1: not read (YAML syntax error: ")
    assert warning.endswith("); what it declares may be exported again")
    assert "kind: Source" in (root / "sources" / "ios.yaml").read_text()
    assert not (root / "sources" / "web.yaml").exists()  # declared already: not exported again
