"""Tokens: minting, hashing, scopes, and the per-token rate limit."""

from __future__ import annotations

import hashlib
import secrets

__all__ = ["SCOPES", "can_write", "hash_token", "new_token", "secret_for"]

SCOPES = ("workspace:read", "workspace:write", "workspace:owner")


def new_token() -> tuple[str, str]:
    """A fresh (token id, token secret). The secret embeds the id for log-friendly lookup."""
    token_id = "tok_" + secrets.token_hex(8)
    return token_id, secret_for(token_id)


def secret_for(token_id: str) -> str:
    """A fresh secret for ``token_id`` (a new one, or a rotation keeping the id)."""
    return f"seg_{token_id.removeprefix('tok_')}.{secrets.token_urlsafe(32)}"


def hash_token(secret: str) -> str:
    # Tokens carry 256 bits of randomness, so a plain SHA-256 is safe to store (no stretching
    # needed, unlike passwords).
    return hashlib.sha256(secret.encode()).hexdigest()


def can_write(scope: str, owner_only: bool = False) -> bool:
    if owner_only:
        return scope == "workspace:owner"
    return scope in ("workspace:write", "workspace:owner")
