"""Pagination: page sizes and opaque page tokens (keyset by resource name)."""

from __future__ import annotations

import base64
import binascii
import json

from seg.server import errors, strict_json

__all__ = [
    "DEFAULT_PAGE_SIZE",
    "MAX_AUDIT_ID",
    "MAX_PAGE_SIZE",
    "audit_cursor",
    "decode_page_token",
    "encode_page_token",
    "page_size",
]

DEFAULT_PAGE_SIZE = 100
MAX_PAGE_SIZE = 1000
MAX_AUDIT_ID = 2**31 - 1  # audit ids are 32-bit integers in the store


def page_size(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE_SIZE
    try:
        size = int(raw)
    except ValueError:
        raise errors.InvalidArgument("page_size must be an integer") from None
    if size <= 0:
        raise errors.InvalidArgument("page_size must be positive")
    return min(size, MAX_PAGE_SIZE)


def encode_page_token(after: str, scope: str) -> str:
    raw = json.dumps({"a": after, "s": scope}).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_page_token(token: str | None, scope: str) -> str | None:
    if not token:
        return None
    try:
        padded = token + "=" * (-len(token) % 4)
        data = strict_json.loads(base64.urlsafe_b64decode(padded.encode()))
        if data["s"] != scope or not isinstance(data["a"], str):
            raise ValueError
        return str(data["a"])
    except (ValueError, KeyError, TypeError, binascii.Error):
        raise errors.InvalidArgument("page_token is invalid") from None


def audit_cursor(after: str | None) -> int | None:
    """The audit id a decoded audit page token continues after (decimal, in the id range)."""
    if after is None:
        return None
    if not (after.isascii() and after.isdigit() and len(after) <= 10):
        raise errors.InvalidArgument("page_token is invalid")
    value = int(after)
    if not 0 < value <= MAX_AUDIT_ID:
        raise errors.InvalidArgument("page_token is invalid")
    return value
