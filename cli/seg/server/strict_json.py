"""Strict JSON for request bodies: what both databases can store, and nothing deeper than a
resource needs.

``json.loads`` accepts ``NaN``/``Infinity`` (not JSON), turns ``1e400`` into ``inf``, keeps
integers of any size, strings holding ``\\u0000`` or lone surrogates (which PostgreSQL and the
UTF-8 codecs refuse), and recurses until it fails. These checks run once, where the body
enters the server, so everything behind the edge sees only storable values.
"""

from __future__ import annotations

import json
import math
import re
from typing import Any

__all__ = ["INT_MAX", "INT_MIN", "MAX_DEPTH", "JsonInputError", "check_text", "loads"]

MAX_DEPTH = 64
INT_MIN, INT_MAX = -(2**63), 2**63 - 1

# NUL and lone UTF-16 surrogates: no database stores them as text.
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


class JsonInputError(ValueError):
    """A request body (or a value in it) that the API refuses; the message names where."""


def loads(raw: bytes) -> Any:
    """Parse ``raw`` as strict JSON and check every value (see the module docstring)."""
    try:
        value = json.loads(raw, parse_constant=_reject_constant)
    except RecursionError:
        raise JsonInputError(f"request body is nested deeper than {MAX_DEPTH} levels") from None
    except JsonInputError:
        raise
    except ValueError:  # JSONDecodeError, UnicodeDecodeError, over-long integer literals
        raise JsonInputError("request body is not valid JSON") from None
    _check_tree(value)
    return value


def check_text(what: str, text: str) -> None:
    """Refuse a string that cannot be stored as text (NUL, lone surrogates)."""
    if _UNSTORABLE.search(text):
        raise JsonInputError(f"{what} contains a NUL character or an unpaired surrogate")


def _reject_constant(name: str) -> Any:
    raise JsonInputError(f"request body is not valid JSON: {name} is not a JSON number")


def _check_tree(value: Any) -> None:
    """Walk without recursion: depth, keys, strings and numbers."""
    stack: list[tuple[Any, str, int]] = [(value, "$", 1)]
    while stack:
        item, where, depth = stack.pop()
        if isinstance(item, dict | list):
            if depth > MAX_DEPTH:
                raise JsonInputError(f"request body is nested deeper than {MAX_DEPTH} levels")
            stack.extend(_children(item, where, depth))
        else:
            _check_scalar(item, where)


def _children(item: dict[str, Any] | list[Any], where: str, depth: int) -> list[Any]:
    if isinstance(item, list):
        return [(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(item)]
    for key in item:
        check_text(f"a key in {where}", key)
    return [(v, f"{where}.{_short(k)}", depth + 1) for k, v in item.items()]


def _short(key: str) -> str:
    return key if len(key) <= 40 else key[:40] + "…"


def _check_scalar(item: Any, where: str) -> None:
    if isinstance(item, str):
        check_text(where, item)
    elif isinstance(item, bool) or item is None:
        return
    elif isinstance(item, int):
        if not INT_MIN <= item <= INT_MAX:
            raise JsonInputError(f"{where}: integer out of the 64-bit range")
    elif isinstance(item, float) and not math.isfinite(item):
        raise JsonInputError(f"{where}: number out of range")
