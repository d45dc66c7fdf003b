"""Parsing FQL with lark (LALR). Errors carry the column and what was expected."""

from __future__ import annotations

from functools import cache
from typing import Any

from lark import Lark, Token, Transformer, v_args
from lark.exceptions import UnexpectedCharacters, UnexpectedEOF, UnexpectedInput, UnexpectedToken

from seg.fql.ast import All, BinOp, Call, ListLit, Literal, Node, Not, PathRef
from seg.fql.glob import GlobError, compile_glob

__all__ = ["ARITY", "MAX_BYTES", "MAX_DEPTH", "FqlError", "parse"]

MAX_BYTES = 5 * 1024
# Nesting levels of the tree: each operator, `!`, call and list is one (so a chain of
# `or` terms nests one level per term). Evaluating and printing recurse once per level.
MAX_DEPTH = 100

# name → (min args, max args)
ARITY = {
    "contains": (2, 2),
    "match": (2, 2),
    "length": (1, 1),
    "lowercase": (1, 1),
    "uppercase": (1, 1),
    "snakecase": (1, 1),
    "kebabcase": (1, 1),
    "titlecase": (1, 1),
    "typeof": (1, 1),
    "bool": (1, 1),
    "string": (1, 1),
    "number": (1, 1),
}

GRAMMAR = r"""
?start: "all" -> all_ | expr
?expr: or_expr
?or_expr: and_expr | or_expr "or" and_expr -> or_
?and_expr: cmp | and_expr "and" cmp -> and_
?cmp: unary | unary CMP_OP unary -> compare | unary "in" unary -> in_
?unary: atom | "!" unary -> not_
?atom: STRING -> string
     | NUMBER -> number
     | "true" -> true
     | "false" -> false
     | "null" -> null
     | "[" [expr ("," expr)*] "]" -> list_
     | FUNC "(" [expr ("," expr)*] ")" -> call
     | PATH -> path
     | "(" expr ")"

CMP_OP: "!=" | "<=" | ">=" | "=" | "<" | ">"
FUNC.3: /[a-z]+(?=\s*\()/
STRING: /'(?:[^'\\]|\\.)*'/ | /"(?:[^"\\]|\\.)*"/
NUMBER.2: /-?(?:\d+\.\d*|\.\d+|\d+)(?:[eE][-+]?\d+)?(?![A-Za-z_\\])/
PATH: /(?:[A-Za-z_]|\\.)(?:[A-Za-z0-9_\-]|\\.)*(?:\.(?:[A-Za-z0-9_\-]|\\.)+)*/
%ignore /[ \t\r\n]+/
"""

_NAMES = {
    "STRING": "a string",
    "NUMBER": "a number",
    "PATH": "a field path",
    "FUNC": "a function",
    "CMP_OP": "a comparison",
    "LPAR": "'('",
    "RPAR": "')'",
    "LSQB": "'['",
    "RSQB": "']'",
    "COMMA": "','",
    "BANG": "'!'",
    "AND": "'and'",
    "OR": "'or'",
    "IN": "'in'",
    "TRUE": "true",
    "FALSE": "false",
    "NULL": "null",
    "ALL": "all",
    "$END": "the end",
}


class FqlError(ValueError):
    """An FQL expression that cannot be used; ``column`` is 1-based (0 when not positional)."""

    def __init__(self, message: str, column: int = 0) -> None:
        super().__init__(message)
        self.message = message
        self.column = column

    def __str__(self) -> str:
        return f"{self.message} (column {self.column})" if self.column else self.message


def _unescape_string(raw: str) -> str:
    body, out, i = raw[1:-1], [], 0
    while i < len(body):
        c = body[i]
        if c == "\\" and i + 1 < len(body):
            nxt = body[i + 1]
            out.append({"n": "\n", "t": "\t"}.get(nxt, nxt))
            i += 2
        else:
            out.append(c)
            i += 1
    return "".join(out)


def _split_path(raw: str) -> tuple[str, ...]:
    keys, buf, i = [], [], 0
    while i < len(raw):
        c = raw[i]
        if c == "\\":
            buf.append(raw[i + 1])
            i += 2
        elif c == ".":
            keys.append("".join(buf))
            buf = []
            i += 1
        else:
            buf.append(c)
            i += 1
    keys.append("".join(buf))
    return tuple(keys)


@v_args(inline=True)
class _ToAst(Transformer[Token, Node]):
    def all_(self) -> Node:
        return All()

    def or_(self, left: Node, right: Node) -> Node:
        return BinOp("or", left, right)

    def and_(self, left: Node, right: Node) -> Node:
        return BinOp("and", left, right)

    def compare(self, left: Node, op: Token, right: Node) -> Node:
        return BinOp(str(op), left, right)

    def in_(self, left: Node, right: Node) -> Node:
        return BinOp("in", left, right)

    def not_(self, operand: Node) -> Node:
        return Not(operand)

    def string(self, token: Token) -> Node:
        return Literal(_unescape_string(str(token)), token.column or 0, str(token))

    def number(self, token: Token) -> Node:
        text = str(token)
        is_int = all(c.isdigit() or c == "-" for c in text)
        return Literal(int(text) if is_int else float(text))

    def true(self) -> Node:
        return Literal(True)

    def false(self) -> Node:
        return Literal(False)

    def null(self) -> Node:
        return Literal(None)

    def list_(self, *items: Node | None) -> Node:
        return ListLit(tuple(i for i in items if i is not None))

    def call(self, name: Token, *args: Node | None) -> Node:
        fname = str(name)
        present = tuple(a for a in args if a is not None)
        if fname not in ARITY:
            raise FqlError(f"unknown function {fname!r}", name.column or 0)
        low, high = ARITY[fname]
        if not low <= len(present) <= high:
            raise FqlError(f"{fname}() takes {low} argument{'s' if low != 1 else ''}, "
                           f"got {len(present)}", name.column or 0)  # fmt: skip
        if fname == "match":
            _check_glob(present[1])
        return Call(fname, present)

    def path(self, token: Token) -> Node:
        return PathRef(_split_path(str(token)))


def _source_offset(raw: str, index: int) -> int:
    """The offset in a quoted literal's source of its ``index``-th unescaped character."""
    pos, seen = 1, 0
    while seen < index and pos < len(raw) - 1:
        pos += 2 if raw[pos] == "\\" else 1
        seen += 1
    return pos


def _check_glob(pattern: Node) -> None:
    """A literal ``match()`` pattern must be a well-formed glob."""
    if not (isinstance(pattern, Literal) and isinstance(pattern.value, str)):
        return
    try:
        compile_glob(pattern.value)
    except GlobError as exc:
        column = (
            pattern.column + _source_offset(pattern.source, exc.offset) if pattern.column else 0
        )
        raise FqlError(f"match(): {exc.message}", column) from None


def _children(node: Node) -> tuple[Node, ...]:
    if isinstance(node, BinOp):
        return (node.left, node.right)
    if isinstance(node, Not):
        return (node.operand,)
    if isinstance(node, ListLit):
        return node.items
    if isinstance(node, Call):
        return node.args
    return ()


def depth(node: Node) -> int:
    """How many levels ``node`` nests (a leaf is 1), without recursion."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in _children(current))
    return deepest


@cache
def _parser() -> Lark:
    return Lark(GRAMMAR, parser="lalr", transformer=_ToAst(), maybe_placeholders=True)


def _expected(names: Any) -> str:
    shown = sorted({_NAMES.get(n, n.strip('"').lower()) for n in names})
    return ", ".join(shown[:12])


def _error(exc: UnexpectedInput, text: str) -> FqlError:
    column = exc.column if isinstance(exc.column, int) and exc.column > 0 else len(text) + 1
    if isinstance(exc, UnexpectedCharacters):
        return FqlError(f"unexpected character {exc.char!r}; expected {_expected(exc.allowed)}",
                        column)  # fmt: skip
    if isinstance(exc, UnexpectedEOF):
        return FqlError(f"unexpected end of expression; expected {_expected(exc.expected)}",
                        len(text) + 1)  # fmt: skip
    if isinstance(exc, UnexpectedToken):
        if exc.token.type == "$END":
            return FqlError(f"unexpected end of expression; expected {_expected(exc.expected)}",
                            len(text) + 1)  # fmt: skip
        return FqlError(f"unexpected {str(exc.token)!r}; expected {_expected(exc.expected)}",
                        column)  # fmt: skip
    return FqlError(f"invalid expression: {exc}", column)


def parse(text: str) -> Node:
    """Parse an FQL expression; raises FqlError with the column and what was expected."""
    if len(text.encode("utf-8")) > MAX_BYTES:
        raise FqlError(f"FQL expression is longer than 5 KB ({MAX_BYTES} bytes)")
    if not text.strip():
        raise FqlError("empty FQL expression", 1)
    try:
        tree: Node = _parser().parse(text)  # type: ignore[assignment]  # the transformer builds a Node
    except UnexpectedInput as exc:
        raise _error(exc, text) from None
    except Exception as exc:  # a transformer error arrives wrapped by lark
        inner = getattr(exc, "orig_exc", None)
        if isinstance(inner, FqlError):
            raise inner from None
        raise
    if depth(tree) > MAX_DEPTH:
        raise FqlError(f"FQL expression nests deeper than {MAX_DEPTH} levels (operators, "
                       "'!', calls and lists); split it or use 'in [...]'", 1)  # fmt: skip
    return tree
