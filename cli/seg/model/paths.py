"""Field paths: tuples of keys, and their dotted update-mask form.

A key that contains ``.`` or a backtick is quoted with backticks (AIP-161), so settings keys
such as ``a.b`` survive the round trip: ``destination.settings.`a.b```.
"""

from __future__ import annotations

from typing import Any

__all__ = ["MISSING", "format_path", "get_path", "parse_path"]

Path = tuple[str, ...]


class _Missing:
    def __repr__(self) -> str:
        return "MISSING"

    def __bool__(self) -> bool:
        return False


MISSING: Any = _Missing()


def _quote(key: str) -> str:
    if key and "." not in key and "`" not in key:
        return key
    return "`" + key.replace("`", "``") + "`"


def format_path(path: Path) -> str:
    return ".".join(_quote(k) for k in path)


def parse_path(text: str) -> Path:
    """Parse a dotted path; raises ValueError on bad quoting or empty segments."""
    keys: list[str] = []
    i, n = 0, len(text)
    while i <= n:
        if i < n and text[i] == "`":
            j, buf = i + 1, []
            while True:
                if j >= n:
                    raise ValueError(f"unterminated backtick in path {text!r}")
                if text[j] == "`":
                    if j + 1 < n and text[j + 1] == "`":
                        buf.append("`")
                        j += 2
                        continue
                    break
                buf.append(text[j])
                j += 1
            keys.append("".join(buf))
            i = j + 1
            if i < n and text[i] != ".":
                raise ValueError(f"unexpected character after quoted key in {text!r}")
        else:
            j = text.find(".", i)
            j = n if j < 0 else j
            key = text[i:j]
            if not key:
                raise ValueError(f"empty segment in path {text!r}")
            keys.append(key)
            i = j
        i += 1
    return tuple(keys)


def get_path(data: Any, path: Path) -> Any:
    """The value at ``path`` in nested dicts, or MISSING."""
    node = data
    for key in path:
        if not isinstance(node, dict) or key not in node:
            return MISSING
        node = node[key]
    return node
