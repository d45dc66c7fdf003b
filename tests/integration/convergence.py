"""The harness of the convergence property tests (test_*_convergence.py): a temporary
workspace on the module's control plane (the ``control_plane`` fixture of conftest.py, a
SQLite store per module) and one converging step — load the YAML, plan, apply, assert every
change applied, then the test's own check."""

from __future__ import annotations

import secrets
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path

from seg.apply.executor import NullObserver, apply_plan
from seg.client.http import ControlPlaneClient
from seg.commands.session import Session, make_plan
from seg.server.service import ControlPlane
from seg.workspace.loader import load_workspace
from tests.conftest import Api


@contextmanager
def temporary_workspace(
    control_plane: ControlPlane, prefix: str, seg_yaml: str = ""
) -> Iterator[tuple[Path, Api, ControlPlaneClient]]:
    """A fresh directory whose seg.yaml names a new random workspace (``prefix`` and hex,
    then the ``seg_yaml`` lines), the API on it and a seg client; closed afterwards."""
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        slug = prefix + secrets.token_hex(5)
        (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {slug}\n{seg_yaml}")
        api = Api(control_plane, slug)
        try:
            client = api.seg_client()
            try:
                yield root, api, client
            finally:
                client.http.close()
        finally:
            api.close()


def converge(
    root: Path,
    client: ControlPlaneClient,
    check: Callable[[Session], None],
    environ: Mapping[str, str] | None = None,
) -> None:
    """Apply the YAML under ``root``; every change applies, then ``check`` the session."""
    session = Session(load_workspace(root, environ=environ or {}), client, "embedded")
    result = apply_plan(make_plan(session), client, NullObserver())
    assert result.ok, [(r.step.change.address, r.error) for r in result.results if r.error]
    check(session)
