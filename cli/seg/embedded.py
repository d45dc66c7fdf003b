"""The embedded control plane: the same server, in-process, on ``.seg/control-plane.db``.

Created on first use with its own workspace, owner token (``.seg/tokens.json``) and secret
key (``.seg/secret.key``), which ``.seg/.gitignore`` keeps out of git; reached through the
normal HTTP client.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import httpx

from seg.client.http import ControlPlaneClient
from seg.errors import ConfigError
from seg.server.app import create_app
from seg.server.crypto import SecretBox, SecretKeyError, write_key_file
from seg.server.inprocess import InProcessTransport
from seg.server.service import ControlPlane
from seg.store.base import StoreError
from seg.store.sql import open_store

__all__ = ["STATE_DIR", "embedded_control_plane", "open_embedded", "secret_box"]

STATE_DIR = ".seg"


def _token_for(cp: ControlPlane, state: Path, workspace: str) -> str:
    tokens_file = state / "tokens.json"
    tokens: dict[str, str] = {}
    if tokens_file.is_file():
        tokens = json.loads(tokens_file.read_text(encoding="utf-8"))
    if workspace not in tokens:
        _, secret = cp.workspaces.init(workspace, f"{workspace} (embedded)")
        tokens[workspace] = secret
        fd = os.open(tokens_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(tokens, fh, indent=2)
    return tokens[workspace]


def open_embedded(root: Path, workspace: str) -> ControlPlaneClient:
    """A client for the embedded control plane of the workspace at ``root``."""
    cp, token = embedded_control_plane(root, workspace)
    # no access log: the embedded plane has no operator, and its requests are the command's own
    transport = InProcessTransport(create_app(cp, access_log=False))
    http = httpx.Client(
        transport=transport,
        base_url="http://embedded",
        headers={"Authorization": f"Bearer {token}"},
    )
    return ControlPlaneClient(http, workspace)


def embedded_control_plane(root: Path, workspace: str) -> tuple[ControlPlane, str]:
    """The embedded control plane of the workspace at ``root`` (made on first use), and its
    owner token."""
    state = root / STATE_DIR
    state.mkdir(exist_ok=True)
    gitignore = state / ".gitignore"
    if not gitignore.exists():
        gitignore.write_text("*\n", encoding="utf-8")
    database = state / "control-plane.db"
    try:
        store = open_store(f"sqlite:///{database.resolve()}")
    except StoreError as exc:
        raise ConfigError(f"the embedded control plane's database {database} is unusable: "
                          f"{exc}") from None  # fmt: skip
    key_file = state / "secret.key"
    if not key_file.exists():
        write_key_file(key_file)
    cp = ControlPlane(store, secret_box=secret_box(key_file.read_bytes().strip()))
    return cp, _token_for(cp, state, workspace)


def secret_box(key: bytes) -> SecretBox:
    """The server's box for ``key``; a bad key is one ``ConfigError`` line for the commands."""
    try:
        return SecretBox(key)
    except SecretKeyError as exc:
        raise ConfigError(str(exc)) from None
