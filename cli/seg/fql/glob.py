"""FQL ``match``: full-string, case-sensitive glob (``*``, ``?``, ``[abc]``, ``[a-z]``, ``\\x``).

A pattern is compiled once into the fixed-width pieces between its stars; each piece is a
regular expression without repetition. Matching anchors the first piece at the start and the
last at the end, and finds every middle piece at its leftmost place after the previous one
(a star absorbs anything, so the leftmost place is always the best). That is one regular
expression call per piece and never any backtracking across stars: at worst
O(len(text) × len(pattern)) — linear in the text for a given pattern, never exponential.

Character classes: ``[`` opens one when a ``]`` follows (after an optional ``!`` or ``^``,
which negates it); an empty class and a reversed range (``z-a``) are errors (``GlobError``);
a ``[`` without a closing ``]`` is a literal ``[``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

__all__ = ["Glob", "GlobError", "compile_glob", "glob_match"]


class GlobError(ValueError):
    """A malformed pattern; ``offset`` is the 0-based index of the offending ``[``."""

    def __init__(self, message: str, offset: int) -> None:
        super().__init__(message)
        self.message = message
        self.offset = offset


@dataclass(frozen=True)
class Glob:
    """A compiled pattern: the pieces between stars (fixed width each) and whether any star
    separates them."""

    pieces: tuple[re.Pattern[str], ...]
    widths: tuple[int, ...]
    starred: bool

    def match(self, text: str) -> bool:
        return self.scan(text)[0]

    def scan(self, text: str) -> tuple[bool, int]:
        """Whether ``text`` matches, and how many regular-expression calls that took (at
        most one per piece)."""
        if not self.starred:
            return self.pieces[0].fullmatch(text) is not None, 1
        head, tail = self.pieces[0], self.pieces[-1]
        tail_start = len(text) - self.widths[-1]
        if tail_start < self.widths[0] or head.match(text) is None:
            return False, 1
        pos, calls = self.widths[0], 1
        for piece in self.pieces[1:-1]:
            found = piece.search(text, pos, tail_start)
            calls += 1
            if found is None:
                return False, calls
            pos = found.end()
        return pos <= tail_start and tail.fullmatch(text, tail_start) is not None, calls + 1


def _class(pattern: str, start: int) -> tuple[str, int] | None:
    """The regex for the class opening at ``start`` and the index after it; None when no
    ``]`` closes it (then the ``[`` is literal)."""
    i = start + 1
    negate = pattern[i : i + 1] in ("!", "^")
    i += negate
    end = pattern.find("]", i)
    if end < 0:
        return None
    body = pattern[i:end]
    if not body:
        raise GlobError("empty character class", start)
    members, k = [], 0
    while k < len(body):
        if k + 2 < len(body) and body[k + 1] == "-":
            low, high = body[k], body[k + 2]
            if low > high:
                raise GlobError(f"reversed range {low}-{high} in a character class", start)
            members.append(f"{re.escape(low)}-{re.escape(high)}")
            k += 3
        else:
            members.append(re.escape(body[k]))
            k += 1
    return f"[{'^' if negate else ''}{''.join(members)}]", end + 1


def _atoms(pattern: str) -> list[tuple[str, bool]]:
    """(regex of one character, or "*") per pattern element; the flag marks a star."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            out.append((re.escape(pattern[i + 1]), False))
            i += 2
        elif c == "*":
            out.append(("", True))
            i += 1
        elif c == "?":
            out.append((".", False))
            i += 1
        elif c == "[" and (found := _class(pattern, i)) is not None:
            out.append((found[0], False))
            i = found[1]
        else:
            out.append((re.escape(c), False))
            i += 1
    return out


@lru_cache(maxsize=512)
def compile_glob(pattern: str) -> Glob:
    """Compile ``pattern``; raises GlobError for a malformed character class."""
    pieces: list[list[str]] = [[]]
    for regex, star in _atoms(pattern):
        if star:
            if pieces[-1] or len(pieces) == 1:
                pieces.append([])
            continue
        pieces[-1].append(regex)
    starred = len(pieces) > 1
    return Glob(
        tuple(re.compile("".join(p), re.DOTALL) for p in pieces),
        tuple(len(p) for p in pieces),
        starred,
    )


def glob_match(text: str, pattern: str) -> bool:
    """Whether ``text`` matches ``pattern``; a malformed pattern matches nothing."""
    try:
        return compile_glob(pattern).match(text)
    except GlobError:
        return False
