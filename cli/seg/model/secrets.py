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
from collections.abc import Iterable
from typing import Any

from seg.model.paths import MISSING, AnyPath, get_path
from seg.model.values import json_equal

__all__ = [
    "FROM_ENVIRONMENT",
    "scrub",
    "DIGEST_PREFIX",
    "LEGACY_PREFIX",
    "REDACTED",
    "canonical",
    "follow_moved",
    "is_catalog_secret",
    "holds_digest",
    "is_digest",
    "is_legacy_digest",
    "keyed_digest",
    "names_credential",
]

DIGEST_PREFIX = "secret:hmac:"
LEGACY_PREFIX = "secret:sha256:"
REDACTED = "(sensitive)"

# The catalog marks credentials as secret; without a settings schema, seg marks settings
# whose key names one (api_key, apiKey, client_secret, password, access_token, ...).
_SECRET_KEY = re.compile(
    r"(?i)(api[_-]?key|secret|password|passwd|token|private[_-]?key|credentials?|write[_-]?key)$"
)


def names_credential(key: object) -> bool:
    """Whether a settings key names a credential (``api_key``, ``clientSecret``, ...)."""
    return isinstance(key, str) and bool(_SECRET_KEY.search(key))


def is_catalog_secret(path: tuple[str | int, ...]) -> bool:
    """True for a settings path at or beneath a key that names a credential: a list or a map
    under ``api_key`` or ``password`` is secret as a whole, at every leaf."""
    return len(path) >= 2 and path[0] == "settings" and any(map(names_credential, path[1:]))


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


FROM_ENVIRONMENT = "(the value from the environment)"
_MIN_SCRUB = 3  # shorter values would mangle every message (and fall to guessing anyway)
_MIN_PIECE = 12  # a value cut short in a message (or quoted in a window) still names a piece


def scrub(text: str, secrets: Iterable[str], replacement: str = REDACTED) -> str:
    """``text`` with every occurrence of each secret (any case, longest first) replaced, and
    with any prefix or suffix of 12 characters or more of one (a value cut short in a message,
    or a window an error quotes) replaced too. The last line of defence for what seg prints:
    values from ``${env:…}`` never show."""
    for secret in sorted({s for s in secrets if len(s) >= _MIN_SCRUB}, key=len, reverse=True):
        lowered = text.lower()
        # every piece holds the secret's first or last 12 characters: most texts stop here
        head, tail = secret[:_MIN_PIECE].lower(), secret[-_MIN_PIECE:].lower()
        if head not in lowered and tail not in lowered:
            continue
        pieces = {secret} | {
            piece
            for size in range(_MIN_PIECE, min(len(secret), 200))
            for piece in (secret[:size], secret[-size:])
        }
        for piece in sorted(pieces, key=len, reverse=True):
            if piece.lower() in lowered:
                text = re.sub(re.escape(piece), replacement, text, flags=re.IGNORECASE)
                lowered = text.lower()
    return text


def follow_moved(before: Any, after: Any, paths: Iterable[AnyPath]) -> set[AnyPath]:
    """Secret ``paths`` of ``before`` as paths of ``after``, its canonical form
    (``Kind.normalize`` sorts lists and drops repeats, so a secret written at index 1 may end
    up at index 0): a value still at its path stays there; one a list moved is followed to
    every index of that list now holding it (nothing else is marked; a value normalize
    changed in place keeps its path)."""
    out: set[AnyPath] = set()
    for path in paths:
        value = get_path(before, path)
        now = get_path(after, path)
        if value is MISSING or (now is not MISSING and json_equal(now, value)):
            out.add(path)
            continue
        for depth in range(len(path) - 1, -1, -1):
            container = get_path(after, path[:depth])
            if not isinstance(path[depth], int) or not isinstance(container, list):
                continue
            item = get_path(before, path[: depth + 1])
            found = [i for i, x in enumerate(container) if json_equal(x, item)]
            if found:
                out |= {(*path[:depth], i, *path[depth + 1 :]) for i in found}
                break
        else:
            out.add(path)
    return out
