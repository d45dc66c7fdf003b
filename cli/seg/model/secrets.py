"""Secret values: which settings are secret, and the keyed digest that stands for them.

The control plane never returns a secret in clear. It returns ``secret:hmac:<hex>`` where
``hex = HMAC-SHA256(server key, resource name, path, value)``: the key never leaves the server,
so a digest cannot be checked offline against guesses. ``seg`` asks the server whether its
local value matches (``secrets:compare``). ``secret:sha256:<salt>:<hex>`` is the legacy form
(salt + one SHA-256) that databases written before keyed digests still hold; the server never
returns it again (it re-keys such values on read and on the next write).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
from typing import Any

__all__ = [
    "DIGEST_PREFIX",
    "LEGACY_PREFIX",
    "REDACTED",
    "canonical",
    "is_catalog_secret",
    "holds_digest",
    "is_digest",
    "is_legacy_digest",
    "keyed_digest",
]

DIGEST_PREFIX = "secret:hmac:"
LEGACY_PREFIX = "secret:sha256:"
REDACTED = "(sensitive)"

# The platform's catalog marks credentials as secret; without a catalog, seg marks settings
# whose key names one (api_key, apiKey, client_secret, password, access_token, ...).
_SECRET_KEY = re.compile(
    r"(?i)(api[_-]?key|secret|password|passwd|token|private[_-]?key|credentials?|write[_-]?key)$"
)


def is_catalog_secret(path: tuple[str | int, ...]) -> bool:
    """True for a settings path (possibly through lists) whose last key names a credential."""
    last = path[-1] if path else None
    return (
        len(path) >= 2 and path[0] == "settings" and isinstance(last, str)
        and bool(_SECRET_KEY.search(last))
    )  # fmt: skip


def canonical(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def keyed_digest(key: bytes, resource: str, path: str, value: Any) -> str:
    """The digest of ``value`` at ``path`` of ``resource`` under the server's ``key``."""
    message = json.dumps([resource, path, canonical(value)]).encode()
    return DIGEST_PREFIX + hmac.new(key, message, hashlib.sha256).hexdigest()


def is_digest(value: Any) -> bool:
    return isinstance(value, str) and value.startswith((DIGEST_PREFIX, LEGACY_PREFIX))


def is_legacy_digest(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(LEGACY_PREFIX)


def holds_digest(value: Any) -> bool:
    """Whether ``value`` is, or holds at any depth (maps and lists), a digest."""
    if isinstance(value, dict):
        return any(holds_digest(v) for v in value.values())
    if isinstance(value, list):
        return any(holds_digest(v) for v in value)
    return is_digest(value)
