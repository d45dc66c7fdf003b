"""Secret values: which settings are secret, and the salted digest that stands for them.

The control plane never returns a secret in clear. It returns ``secret:sha256:<salt>:<hex>``
where ``hex = sha256(salt + ":" + value)``, so ``seg`` can tell whether its local value differs
without either side revealing the value.
"""

from __future__ import annotations

import hashlib
import json
import re
from typing import Any

__all__ = [
    "DIGEST_PREFIX",
    "REDACTED",
    "digest_matches",
    "is_catalog_secret",
    "is_digest",
    "secret_digest",
]

DIGEST_PREFIX = "secret:sha256:"
REDACTED = "(sensitive)"

# The platform's catalog marks credentials as secret; without a catalog, seg marks settings
# whose key names one (api_key, apiKey, client_secret, password, access_token, ...).
_SECRET_KEY = re.compile(
    r"(?i)(api[_-]?key|secret|password|passwd|token|private[_-]?key|credentials?|write[_-]?key)$"
)


def is_catalog_secret(path: tuple[str, ...]) -> bool:
    """True for a settings path whose last key names a credential."""
    return len(path) >= 2 and path[0] == "settings" and bool(_SECRET_KEY.search(path[-1]))


def _canonical(value: Any) -> str:
    return value if isinstance(value, str) else json.dumps(value, sort_keys=True)


def secret_digest(value: Any, salt: str) -> str:
    digest = hashlib.sha256(f"{salt}:{_canonical(value)}".encode()).hexdigest()
    return f"{DIGEST_PREFIX}{salt}:{digest}"


def is_digest(value: Any) -> bool:
    return isinstance(value, str) and value.startswith(DIGEST_PREFIX)


def digest_matches(value: Any, digest: str) -> bool:
    """Whether ``value`` is the secret that ``digest`` stands for."""
    rest = digest[len(DIGEST_PREFIX) :]
    salt, _, _ = rest.partition(":")
    return secret_digest(value, salt) == digest
