"""Evaluating FQL against an event: null-friendly, never raising for data.

Decisions the docs leave open (also in ARCHITECTURE.md):
- Only the boolean ``true`` is true: ``and``/``or``/``!`` and a filter's result treat every
  other value (false, null, numbers, strings, lists, objects) as not true.
- ``=`` is true when both sides have the same JSON type and are equal (``1 = true`` is false);
  ``!=`` is its negation.
- ``< <= > >=`` compare two numbers, or two strings lexicographically (so ISO-8601 timestamps
  order correctly); any other pair is false.
- ``in`` needs a list on the right; membership uses ``=``.
- A missing path, or a path through a non-object, is null.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

from seg.fql.ast import All, BinOp, Call, ListLit, Literal, Node, Not, PathRef
from seg.fql.glob import GlobError, compile_glob, glob_match

__all__ = ["compile_expr", "evaluate", "fql_type"]

Fn = Callable[[Any], Any]


def fql_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "list"
    return "object"


def _equal(a: Any, b: Any) -> bool:
    ta = fql_type(a)
    if ta != fql_type(b):
        return False
    if ta == "list":
        return len(a) == len(b) and all(_equal(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _order(op: str, a: Any, b: Any) -> bool:
    ta, tb = fql_type(a), fql_type(b)
    if not (ta == tb and ta in ("number", "string")):
        return False
    if op == "<":
        return bool(a < b)
    if op == "<=":
        return bool(a <= b)
    if op == ">":
        return bool(a > b)
    return bool(a >= b)


def _words(text: str) -> list[str]:
    return [w for w in re.split(r"[\s_\-]+", text.strip()) if w]


def _number(value: Any) -> Any:
    if fql_type(value) == "number":
        return value
    if isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            return None
        return (
            int(number)
            if number.is_integer() and "." not in value and "e" not in value.lower()
            else number
        )
    return None


def _string(value: Any) -> Any:
    if isinstance(value, str):
        return value
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return json.dumps(value, separators=(",", ":"))


def _bool(value: Any) -> bool:
    kind = fql_type(value)
    if kind == "bool":
        return bool(value)
    if kind == "number":
        return bool(value != 0)
    if kind == "string":
        return value.strip().lower() not in ("", "false", "0")
    if kind in ("list", "object"):
        return bool(value)
    return False


def _strings(fn: Callable[[str], Any]) -> Fn:
    return lambda v: fn(v) if isinstance(v, str) else None


def _length(value: Any) -> Any:
    if isinstance(value, str):
        return len(value.encode("utf-8"))
    if isinstance(value, list):
        return len(value)
    return 0 if value is None else None


UNARY: dict[str, Fn] = {
    "length": _length,
    "lowercase": _strings(str.lower),
    "uppercase": _strings(str.upper),
    "snakecase": _strings(lambda s: "_".join(w.lower() for w in _words(s))),
    "kebabcase": _strings(lambda s: "-".join(w.lower() for w in _words(s))),
    "titlecase": _strings(lambda s: " ".join(w[:1].upper() + w[1:] for w in s.split(" "))),
    "typeof": fql_type,
    "bool": _bool,
    "string": _string,
    "number": _number,
}


def _literal_match(left: Fn, pattern: str) -> Fn:
    """``match`` with a literal pattern: compiled once (a malformed one matches nothing)."""
    try:
        glob = compile_glob(pattern)
    except GlobError:
        return lambda _e: False
    return lambda e: (lambda s: isinstance(s, str) and glob.match(s))(left(e))


def _binary_call(name: str, left: Fn, right: Fn) -> Fn:
    if name == "contains":
        return lambda e: (lambda s, t: isinstance(s, str) and isinstance(t, str) and t in s)(
            left(e), right(e)
        )
    return lambda e: (lambda s, p: isinstance(s, str) and isinstance(p, str) and glob_match(s, p))(
        left(e), right(e)
    )


def _path(keys: tuple[str, ...]) -> Fn:
    def get(event: Any) -> Any:
        node = event
        for key in keys:
            if not isinstance(node, dict):
                return None
            node = node.get(key)
        return node

    return get


def _binop(node: BinOp) -> Fn:
    left, right = compile_expr(node.left), compile_expr(node.right)
    op = node.op
    if op == "and":
        return lambda e: left(e) is True and right(e) is True
    if op == "or":
        return lambda e: left(e) is True or right(e) is True
    if op == "=":
        return lambda e: _equal(left(e), right(e))
    if op == "!=":
        return lambda e: not _equal(left(e), right(e))
    if op == "in":
        return lambda e: (lambda v, items: isinstance(items, list) and any(
            _equal(v, i) for i in items))(left(e), right(e))  # fmt: skip
    return lambda e: _order(op, left(e), right(e))


def compile_expr(node: Node) -> Fn:
    """A function event → value for ``node`` (compiled once, evaluated many times)."""
    if isinstance(node, All):
        return lambda _e: True
    if isinstance(node, Literal):
        value = node.value
        return lambda _e: value
    if isinstance(node, ListLit):
        items = [compile_expr(i) for i in node.items]
        return lambda e: [f(e) for f in items]
    if isinstance(node, PathRef):
        return _path(node.keys)
    if isinstance(node, Not):
        inner = compile_expr(node.operand)
        return lambda e: inner(e) is not True
    if isinstance(node, Call):
        args = [compile_expr(a) for a in node.args]
        if node.name in UNARY:
            fn, arg = UNARY[node.name], args[0]
            return lambda e: fn(arg(e))
        pattern = node.args[1]
        if node.name == "match" and isinstance(pattern, Literal) and isinstance(pattern.value, str):
            return _literal_match(args[0], pattern.value)
        return _binary_call(node.name, args[0], args[1])
    return _binop(node)


def evaluate(node: Node, event: Any) -> Any:
    return compile_expr(node)(event)
