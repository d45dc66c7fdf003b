"""JSON values compared as JSON: the one equality the differ, the client, the server and the
saved-plan check share.

``True`` is not ``1`` (Python's ``==`` says it is), ``1`` is ``1.0`` (JSON has one number
type), a map's key order does not matter, a list's order does.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

__all__ = ["json_equal", "json_key", "json_strings", "same_items"]


def json_equal(a: Any, b: Any) -> bool:
    """Whether two JSON values are equal as JSON (without recursion: a value read from a file
    may nest as deeply as the JSON reader allows)."""
    pending = [(a, b)]
    while pending:
        x, y = pending.pop()
        if isinstance(x, bool) or isinstance(y, bool):
            if type(x) is not type(y) or x != y:
                return False
        elif isinstance(x, dict) and isinstance(y, dict):
            if x.keys() != y.keys():
                return False
            pending.extend((x[k], y[k]) for k in x)
        elif isinstance(x, list) and isinstance(y, list):
            if len(x) != len(y):
                return False
            pending.extend(zip(x, y, strict=True))
        elif isinstance(x, dict | list) or isinstance(y, dict | list) or not bool(x == y):
            return False
    return True


def json_strings(value: Any) -> tuple[list[str], int]:
    """Every string of a JSON value (map keys too), and how deeply it nests; without
    recursion, as a value read from a file may nest as deeply as the JSON reader allows."""
    out: list[str] = []
    deepest = 0
    stack: list[tuple[Any, int]] = [(value, 0)]
    while stack:
        node, depth = stack.pop()
        deepest = max(deepest, depth)
        if isinstance(node, str):
            out.append(node)
        elif isinstance(node, dict):
            out.extend(k for k in node if isinstance(k, str))
            stack.extend((v, depth + 1) for v in node.values())
        elif isinstance(node, list):
            stack.extend((v, depth + 1) for v in node)
    return out, deepest


def json_key(value: Any) -> Any:
    """A hashable form of a JSON value: equal keys exactly when ``json_equal``."""
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, dict):
        return ("d", frozenset((k, json_key(v)) for k, v in value.items()))
    if isinstance(value, list):
        return ("l", tuple(json_key(v) for v in value))
    if isinstance(value, int | float):
        return ("n", value)
    return ("s", value)


def same_items(a: Any, b: Any) -> bool:
    """Two lists holding the same values (as JSON) in any order, repeats counted."""
    if not isinstance(a, list) or not isinstance(b, list) or len(a) != len(b):
        return False
    return Counter(map(json_key, a)) == Counter(map(json_key, b))
