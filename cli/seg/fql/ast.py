"""FQL syntax trees, and printing them back to source.

Precedence, loosest first: ``or``, ``and``, comparisons (``= != < <= > >= in``, not
chainable), ``!``, then atoms (literals, lists, paths, calls, parentheses).
"""

from __future__ import annotations

import json
import string
from dataclasses import dataclass, field
from typing import Any

__all__ = [
    "All",
    "BinOp",
    "Call",
    "ListLit",
    "Literal",
    "Node",
    "Not",
    "PathRef",
    "to_source",
]


@dataclass(frozen=True)
class All:
    """The ``all`` keyword: matches every event."""


@dataclass(frozen=True)
class Literal:
    value: Any  # str, int, float, bool or None
    # Where a parsed literal came from (for errors about it); not part of its identity.
    column: int = field(default=0, compare=False, repr=False)
    source: str = field(default="", compare=False, repr=False)


@dataclass(frozen=True)
class ListLit:
    items: tuple[Node, ...]


@dataclass(frozen=True)
class PathRef:
    keys: tuple[str, ...]


@dataclass(frozen=True)
class Not:
    operand: Node


@dataclass(frozen=True)
class BinOp:
    op: str  # or, and, =, !=, <, <=, >, >=, in
    left: Node
    right: Node


@dataclass(frozen=True)
class Call:
    name: str
    args: tuple[Node, ...]


Node = All | Literal | ListLit | PathRef | Not | BinOp | Call

_PLAIN_CHARS = frozenset(string.ascii_letters + string.digits + "_-")
_KEYWORDS = {"and", "or", "in", "true", "false", "null", "all"}
_LEVEL = {"or": 1, "and": 2}


def _level(node: Node) -> int:
    if isinstance(node, BinOp):
        return _LEVEL.get(node.op, 3)
    if isinstance(node, Not):
        return 4
    return 5


def _key(key: str, first: bool) -> str:
    out = []
    for i, c in enumerate(key):
        plain = c in _PLAIN_CHARS and not (first and i == 0 and (c.isdigit() or c == "-"))
        out.append(c if plain else "\\" + c)
    text = "".join(out)
    return "\\" + text if first and key in _KEYWORDS else text


def _literal(value: Any) -> str:
    if isinstance(value, str):
        return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(value, float):
        return repr(value)
    return json.dumps(value)


def to_source(node: Node) -> str:
    """FQL text that parses back to ``node``."""
    if isinstance(node, All):
        return "all"
    if isinstance(node, Literal):
        return _literal(node.value)
    if isinstance(node, ListLit):
        return "[" + ", ".join(to_source(i) for i in node.items) + "]"
    if isinstance(node, PathRef):
        return ".".join(_key(k, i == 0) for i, k in enumerate(node.keys))
    if isinstance(node, Call):
        return f"{node.name}(" + ", ".join(to_source(a) for a in node.args) + ")"
    if isinstance(node, Not):
        inner = to_source(node.operand)
        return f"!{inner}" if _level(node.operand) >= 4 else f"!({inner})"
    level = _level(node)
    left, right = to_source(node.left), to_source(node.right)
    if _level(node.left) < level or (level == 3 and _level(node.left) == 3):
        left = f"({left})"
    if _level(node.right) <= level:
        right = f"({right})"
    return f"{left} {node.op} {right}"
