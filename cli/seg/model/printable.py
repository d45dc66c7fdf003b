"""Text that is safe to print: user keys and values shown in a terminal or a comment.

A settings key or value may hold anything JSON holds. Printed raw, a C0 or C1 control drives
the terminal (ESC sequences clear the screen, set the title, or draw a fake summary above a
confirmation prompt), a newline ends a Markdown code fence, and a bidi control (U+202E…)
reorders what the reader sees. Every view passes user text through these helpers: a character
of that kind is written as its JSON escape (``\\n``, ``\\u001b``, ``\\u202e``), and a path
segment holding one is quoted as a JSON string, so the shown text is one visible line.
"""

from __future__ import annotations

import json
import re

from seg.model.paths import AnyPath, format_path, parse_path

__all__ = ["CONTROLS", "UNSAFE", "display_path", "display_path_text", "escape_line", "quote"]

# C0 (newline and tab included), DEL, C1, the line and paragraph separators, and the bidi
# marks, embeddings, overrides and isolates.
_OTHERS = "\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069"
UNSAFE = re.compile(f"[\x00-\x1f{_OTHERS}]")
_UNSAFE_NO_TAB = re.compile(f"[\x00-\x08\x0a-\x1f{_OTHERS}]")
# What a terminal acts on in text meant to span lines: C0 but tab, newline and carriage return
# (SQL files with CRLF), DEL and C1 (escape sequences). ``seg show`` refuses a saved plan
# holding one.
CONTROLS = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _escaped(match: re.Match[str]) -> str:
    return json.dumps(match.group(0))[1:-1]


def escape_line(text: str, keep_tab: bool = True) -> str:
    """``text`` with every unsafe character written as its JSON escape (a tab kept when
    ``keep_tab``: it moves the cursor, nothing more)."""
    return (_UNSAFE_NO_TAB if keep_tab else UNSAFE).sub(_escaped, text)


def quote(text: str) -> str:
    """``text`` as it is when it holds no unsafe character, else as a JSON string."""
    return json.dumps(text) if UNSAFE.search(text) else text


def display_path(path: AnyPath) -> str:
    """A field path for reading: ``format_path``, except that a key holding an unsafe
    character is shown as a JSON string (``settings."k\\u001b"``). For display only: the
    round-trip form (update masks, the JSON plan) stays ``format_path``."""
    out = ""
    for segment in path:
        if isinstance(segment, int):
            out += f"[{segment}]"
        else:
            shown = json.dumps(segment) if UNSAFE.search(segment) else format_path((segment,))
            out += ("." if out else "") + shown
    return out


def display_path_text(text: str) -> str:
    """A path already in ``format_path`` form (an update mask entry, a saved plan's path),
    shown as ``display_path`` shows it."""
    if not UNSAFE.search(text):
        return text
    try:
        return display_path(parse_path(text))
    except ValueError:
        return json.dumps(text)
