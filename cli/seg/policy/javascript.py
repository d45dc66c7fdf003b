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
from dataclasses import dataclass
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


def read_javascript(code: str) -> JsFacts:
    """Parse ``code`` as a script; its top-level handlers, or where it fails to parse."""
    import esprima

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
