"""Secret values at rest: encrypted with Fernet under a key from the server's environment.

The key comes from ``SEG_SECRET_KEY`` (a Fernet key), else the file named by
``SEG_SECRET_KEY_FILE``, else ``<database>.key`` beside a SQLite database. ``seg server init``
generates that file when no key is configured; the embedded control plane keeps its key in
``.seg/secret.key``.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import os
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from seg.model.secrets import canonical, keyed_digest

__all__ = ["SecretBox", "SecretKeyError", "default_key_file", "load_key", "write_key_file"]


class SecretKeyError(Exception):
    """The key is not a Fernet key, or does not open what the database holds (an operator's
    mistake: the commands report it as one line; inside a request it is an internal error)."""


class SecretBox:
    """Encrypts a mapping of secret values into one opaque token, and back."""

    def __init__(self, key: bytes) -> None:
        try:
            self._fernet = Fernet(key)
        except ValueError:
            raise SecretKeyError("the secret key is not a valid Fernet key") from None
        # The digest key is derived from (never equal to) the sealing key: one key to keep.
        self._digest_key = hmac.new(key, b"seg secret digest v1", hashlib.sha256).digest()

    def digest(self, resource: str, path: str, value: Any) -> str:
        """The keyed digest the API returns in place of a secret value."""
        return keyed_digest(self._digest_key, resource, path, value)

    def batch_digest(self, items: list[tuple[str, str, Any]]) -> str:
        """One keyed digest over several (resource, path, value): what a saved plan keeps so
        a changed secret is noticed without the plan holding a guessable hash of it."""
        blob = json.dumps([[r, p, canonical(v)] for r, p, v in items]).encode()
        return hmac.new(self._digest_key, b"batch:" + blob, hashlib.sha256).hexdigest()

    @property
    def key_tag(self) -> str:
        """A short public tag of the digest key: digests made under another key (a rotated
        one) are other values, so a client's cached digests must not outlive it."""
        return hmac.new(self._digest_key, b"key tag", hashlib.sha256).hexdigest()[:12]

    @staticmethod
    def same(value: Any, stored: Any) -> bool:
        """Whether a submitted value equals a stored secret (constant time)."""
        return hmac.compare_digest(canonical(value).encode(), canonical(stored).encode())

    @classmethod
    def generate(cls) -> SecretBox:
        return cls(Fernet.generate_key())

    def seal(self, values: dict[str, Any]) -> str:
        if not values:
            return ""
        return self._fernet.encrypt(json.dumps(values, sort_keys=True).encode()).decode()

    def open(self, token: str) -> dict[str, Any]:
        if not token:
            return {}
        try:
            values: dict[str, Any] = json.loads(self._fernet.decrypt(token.encode()))
        except InvalidToken:
            raise SecretKeyError(
                "stored secrets cannot be decrypted with this secret key"
            ) from None
        return values


def default_key_file(database_url: str) -> Path:
    """Where the key file is: $SEG_SECRET_KEY_FILE, else beside a SQLite database, else
    ``./seg-secret.key``."""
    if os.environ.get("SEG_SECRET_KEY_FILE"):
        return Path(os.environ["SEG_SECRET_KEY_FILE"])
    if database_url.startswith("sqlite:///"):
        return Path(database_url[len("sqlite:///") :] + ".key")
    return Path("seg-secret.key")


def write_key_file(path: Path) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(Fernet.generate_key() + b"\n")


def load_key(database_url: str) -> bytes | None:
    if os.environ.get("SEG_SECRET_KEY"):
        return os.environ["SEG_SECRET_KEY"].strip().encode()
    path = default_key_file(database_url)
    if path.is_file():
        return path.read_bytes().strip()
    return None
