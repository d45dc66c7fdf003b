"""Field paths: tuples of keys (and list indices), and their dotted text form.

A map key that contains ``.``, a backtick, ``[`` or ``]`` is quoted with backticks (AIP-161),
so settings keys such as ``a.b`` survive the round trip: ``destination.settings.`a.b```. A list
index is its own segment written ``[0]`` right after the key it indexes
(``settings.hosts[0].name``), so it cannot be confused with a map key ``"0"`` or ``"[0]"``.
Update masks name map keys only; secret paths may cross lists.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

__all__ = [
    "MISSING",
    "AnyPath",
    "PathError",
    "format_path",
    "get_path",
    "parse_key_path",
    "parse_path",
    "remove_path",
    "replaced_at",
    "set_path",
    "value_leaves",
]

Path = tuple[str, ...]
AnyPath = tuple[str | int, ...]

_PLAIN = re.compile(r"[^.`\[\]]+")
_INDEX = re.compile(r"\[(0|[1-9][0-9]{0,8})\]")


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


def _quote(key: str) -> str:
    if _PLAIN.fullmatch(key):
        return key
    return "`" + key.replace("`", "``") + "`"


def format_path(path: AnyPath) -> str:
    out = ""
    for segment in path:
        if isinstance(segment, int):
            out += f"[{segment}]"
        else:
            out += ("." if out else "") + _quote(segment)
    return out


def _quoted(text: str, i: int) -> tuple[str, int]:
    """The backtick-quoted key starting at ``text[i]`` and the index after it."""
    j, buf, n = i + 1, [], len(text)
    while True:
        if j >= n:
            raise ValueError(f"unterminated backtick in path {text!r}")
        if text[j] == "`":
            if j + 1 < n and text[j + 1] == "`":
                buf.append("`")
                j += 2
                continue
            return "".join(buf), j + 1
        buf.append(text[j])
        j += 1


@functools.lru_cache(maxsize=4096)
def parse_path(text: str) -> AnyPath:
    """Parse a dotted path with optional ``[n]`` indices; raises ValueError on bad syntax."""
    keys: list[str | int] = []
    i, n = 0, len(text)
    while True:
        if i < n and text[i] == "`":
            key, i = _quoted(text, i)
        else:
            plain = _PLAIN.match(text, i)
            if plain is None:
                raise ValueError(f"empty segment in path {text!r}")
            key, i = plain.group(0), plain.end()
        keys.append(key)
        while (index := _INDEX.match(text, i)) is not None:
            keys.append(int(index.group(1)))
            i = index.end()
        if i == n:
            return tuple(keys)
        if text[i] != ".":
            raise ValueError(f"unexpected character {text[i]!r} in path {text!r}")
        i += 1


@functools.lru_cache(maxsize=4096)
def parse_key_path(text: str) -> Path:
    """Parse a path of map keys only (update masks): a list index is an error. Cached: a
    plan parses the same few managed paths (``settings.api_key``, …) once per resource."""
    path = parse_path(text)
    if any(isinstance(k, int) for k in path):
        raise ValueError(f"path {text!r} names a list element; send the whole list")
    return tuple(str(k) for k in path)


def get_path(data: Any, path: AnyPath) -> Any:
    """The value at ``path`` in nested dicts and lists, or MISSING."""
    node = data
    for key in path:
        if isinstance(key, int):
            if not isinstance(node, list) or key >= len(node):
                return MISSING
        elif not isinstance(node, dict) or key not in node:
            return MISSING
        node = node[key]
    return node


def replaced_at(data: Mapping[str, Any], paths: Iterable[AnyPath], value: Any
                ) -> dict[str, Any]:  # fmt: skip
    """``data`` with ``value`` at each of ``paths`` that is there (the others are skipped).
    Only the dicts and lists on those paths are copied, each once; the rest is shared with
    ``data``, which is left alone (a deep copy of every resource cost seconds at 100,000)."""
    out = dict(data)
    copied = {id(out)}
    for path in paths:
        if not path or get_path(out, path) is MISSING:
            continue
        node: Any = out
        for key in path[:-1]:
            child = node[key]
            if id(child) not in copied:
                child = dict(child) if isinstance(child, dict) else list(child)
                copied.add(id(child))
                node[key] = child
            node = child
        node[path[-1]] = value
    return out


class PathError(ValueError):
    """A path that cannot be set: it runs through a scalar, or through something missing."""


def _child(node: Any, key: str | int, create: bool) -> Any:
    """The container at ``node[key]``; with ``create``, a map key that does not hold a map
    gets a new empty one."""
    if isinstance(key, int):
        if isinstance(node, list) and 0 <= key < len(node):
            return node[key]
        raise PathError(f"no list element [{key}] to descend into")
    if not isinstance(node, dict):
        raise PathError(f"cannot descend into a {type(node).__name__} at key {key!r}")
    child = node.get(key, MISSING)
    if isinstance(child, dict) or (isinstance(child, list) and not create):
        return child
    if not create:
        shown = "a missing key" if child is MISSING else f"a {type(child).__name__}"
        raise PathError(f"cannot descend into {shown} at key {key!r}")
    node[key] = {}
    return node[key]


def set_path(data: Any, path: AnyPath, value: Any, *, create: bool = False) -> None:
    """Set the value at ``path`` in nested dicts and lists.

    Every container on the way must exist (PathError otherwise: a scalar or a missing key is
    never descended into), unless ``create``: then a map key on the way that is missing or
    does not hold a map gets a new empty map (an update mask's nested path replaces what was
    there). The last segment is set: a map key (added or replaced) or an existing list index.
    """
    if not path:
        raise PathError("an empty path names no value to set")
    node = data
    for key in path[:-1]:
        node = _child(node, key, create)
    last = path[-1]
    if isinstance(last, int):
        if not isinstance(node, list) or not 0 <= last < len(node):
            raise PathError(f"no list element [{last}] to set")
    elif not isinstance(node, dict):
        raise PathError(f"cannot set key {last!r} in a {type(node).__name__}")
    node[last] = value


def remove_path(data: Any, path: AnyPath) -> None:
    """Remove the map key at ``path`` if it is there (nothing happens otherwise)."""
    parent = get_path(data, path[:-1])
    if isinstance(parent, dict):
        parent.pop(path[-1], None)


def value_leaves(value: Any, path: AnyPath = ()) -> Iterator[AnyPath]:
    """The paths of the values (not None) at or beneath ``path``, through maps (keys as
    strings) and lists."""
    if isinstance(value, Mapping):
        for key, item in value.items():
            yield from value_leaves(item, (*path, str(key)))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from value_leaves(item, (*path, index))
    elif value is not None:
        yield path
