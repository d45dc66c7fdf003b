"""A function's JavaScript, read without running it: does it parse, and which handlers does it
define at the top level. Pure (the pure-Python ``esprima`` parser; ``node --check`` is the CLI's
extra check, see ``seg.workspace.node_check``).

esprima parses ES2017 (async/await, object spread). Optional chaining (``a?.b``), nullish
coalescing (``a ?? b``) and the logical assignments (``||=``, ``&&=``, ``??=``), which the
platform's Node.js runs and function code uses everywhere, are first rewritten (one textual
pass) into ES2017 operators of the same length, so every line and column stays where it was.
Hence ``a ?? b || c``, which Node.js refuses without parentheses, passes here; ``node
--check`` catches it where Node.js is installed. Later syntax (class fields, ``1_000``,
``catch {}``, ``for await``) is refused here unless Node.js says otherwise.
"""

from __future__ import annotations

import re
import sys
import types
import unicodedata
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

__all__ = ["HANDLERS", "MAX_PARSED_CHARS", "JsError", "JsFacts", "read_javascript"]

# The handlers the platform calls, by event type (onRequest: source functions only).
HANDLERS = ("onRequest", "onIdentify", "onTrack", "onPage", "onScreen", "onGroup", "onAlias",
            "onDelete", "onBatch")  # fmt: skip
# Longer code is not parsed (the schema's limit is 256 KiB; parsing that takes about a second).
MAX_PARSED_CHARS = 262_144


@dataclass(frozen=True)
class JsError:
    """Where the code does not parse: 1-based line and column, and why."""

    line: int
    col: int
    reason: str


@dataclass(frozen=True)
class JsFacts:
    """What the code defines at the top level (handler names), or why it does not parse."""

    handlers: frozenset[str] = frozenset()
    error: JsError | None = None


# ES2020/2021 operators, each with an ES2017 stand-in of the same length. The rewrite is
# textual (one linear pass; a tokenizer is quadratic on hostile input): inside a string, a
# comment or a regular expression the stand-in is as valid as the original.
_MODERN = re.compile(r"\?\?=|\?\?|\?\.(?!\d)|\|\|=|&&=")
_STAND_INS = {"??=": " |=", "??": "||", "||=": " |=", "&&=": " &="}


def _stand_in(match: re.Match[str]) -> str:
    text = match.group()
    if text != "?.":
        return _STAND_INS[text]
    after = match.string[match.end() : match.end() + 1]
    return "  " if after in ("[", "(") else " ."  # a?.[k] → a  [k], a?.b → a .b


def _rewrite(code: str) -> str:
    """``code`` with ES2020/2021 operators replaced by ES2017 ones of the same length."""
    return _MODERN.sub(_stand_in, code)


def _handler_names(body: list[Any]) -> set[str]:
    names: set[str] = set()
    for node in body:
        if node.type == "FunctionDeclaration" and node.id is not None:
            names.add(node.id.name)
        elif node.type == "VariableDeclaration":
            names.update(d.id.name for d in node.declarations if d.id.type == "Identifier")
        elif node.type == "ExpressionStatement" and node.expression.type == "AssignmentExpression":
            target = _export_name(node.expression.left)
            if target is not None:
                names.add(target)
    return names & set(HANDLERS)


def _export_name(left: Any) -> str | None:
    """``exports.onX`` or ``module.exports.onX`` → ``onX``."""
    if left.type != "MemberExpression" or left.computed or left.property.type != "Identifier":
        return None
    holder = left.object
    if holder.type == "Identifier" and holder.name == "exports":
        return str(left.property.name)
    if (holder.type == "MemberExpression" and not holder.computed
            and holder.object.type == "Identifier" and holder.object.name == "module"
            and holder.property.type == "Identifier"
            and holder.property.name == "exports"):  # fmt: skip
        return str(left.property.name)
    return None


_ID_START = frozenset({"Lu", "Ll", "Lt", "Lm", "Lo", "Nl"})
_ID_PART = _ID_START | {"Mn", "Mc", "Nd", "Pc"}
_OTHER_ID_START = frozenset("\u1885\u1886\u2118\u212e\u309b\u309c\u08b3\u0af9\u13f8\u9fcd"
                            "\uab60\U00010cc0\U000108e0\U0002b820\u1c80\U000104db"
                            "\U0001e922\U0001ee00\U0001ee06\U0001ee0a$_\\")  # fmt: skip
_OTHER_ID_PART = frozenset("\xb7\u0387\u1369\u136a\u136b\u136c\u136d\u136e\u136f\u1370"
                           "\u1371\u19da\u08e3\ua69e\U00011730\u08d4\u1dfb\ua8c5"
                           "\U00011450\U0001ee03\U0001ee0b\u200d\u200c")  # fmt: skip
_HEX = {c: int(c, 16) for c in "0123456789abcdefABCDEF"}


def _character_module() -> types.ModuleType:
    """A stand-in for ``esprima.character``, which classifies every Unicode code point when
    it is imported (about a second and 100 MB per process); the same predicates, asked of
    ``unicodedata`` per character (a test compares them on every code point)."""
    module = types.ModuleType("esprima.character")

    class Character:
        @staticmethod
        def fromCodePoint(code: int) -> str:  # noqa: N802 (esprima's names)
            return chr(code)

        @staticmethod
        def isWhiteSpace(ch: str) -> bool:  # noqa: N802
            return ch in "\t\x0b\x0c \xa0\u1680\u180e\u2000\u2001\u2002\u2003\u2004\u2005" \
                "\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000\ufeff" and len(ch) == 1

        @staticmethod
        def isLineTerminator(ch: str) -> bool:  # noqa: N802
            return len(ch) == 1 and ch in "\n\r\u2028\u2029"

        @staticmethod
        def isIdentifierStart(ch: str) -> bool:  # noqa: N802
            if len(ch) != 1:
                return False
            return ch in _OTHER_ID_START or unicodedata.category(ch) in _ID_START

        @staticmethod
        def isIdentifierPart(ch: str) -> bool:  # noqa: N802
            if len(ch) != 1:
                return False
            return (ch in _OTHER_ID_START or ch in _OTHER_ID_PART
                    or unicodedata.category(ch) in _ID_PART)  # fmt: skip

        @staticmethod
        def isDecimalDigit(ch: str) -> bool:  # noqa: N802
            return len(ch) == 1 and ch in "0123456789"

        @staticmethod
        def isHexDigit(ch: str) -> bool:  # noqa: N802
            return len(ch) == 1 and ch in _HEX

        @staticmethod
        def isOctalDigit(ch: str) -> bool:  # noqa: N802
            return len(ch) == 1 and ch in "01234567"

    module.Character = Character  # type: ignore[attr-defined]
    module.HEX_CONV = dict(_HEX)  # type: ignore[attr-defined]
    module.OCTAL_CONV = {c: int(c) for c in "01234567"}  # type: ignore[attr-defined]
    module.DECIMAL_CONV = {c: int(c) for c in "0123456789"}  # type: ignore[attr-defined]
    return module


def _esprima() -> Any:
    """esprima, with the light character tables (installed before esprima first loads)."""
    if "esprima" not in sys.modules:
        sys.modules.setdefault("esprima.character", _character_module())
    import esprima

    return esprima


@lru_cache(maxsize=256)
def read_javascript(code: str) -> JsFacts:
    """Parse ``code`` as a script; its top-level handlers, or where it fails to parse."""
    esprima = _esprima()

    if len(code) > MAX_PARSED_CHARS:
        too_long = f"the code is longer than {MAX_PARSED_CHARS} characters"
        return JsFacts(error=JsError(1, 1, too_long))
    try:
        tree = esprima.parseScript(_rewrite(code), {"tolerant": False})
    except esprima.Error as exc:
        reason = str(exc).split(": ", 1)[-1]
        line = int(getattr(exc, "lineNumber", 1) or 1)
        col = int(getattr(exc, "column", 1) or 1)
        return JsFacts(error=JsError(line, col, reason))
    except RecursionError:
        return JsFacts(error=JsError(1, 1, "the code is nested too deeply to read"))
    return JsFacts(handlers=frozenset(_handler_names(tree.body)))
