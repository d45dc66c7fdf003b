"""Cutting user values before an error message echoes them.

A diagnostic or API error that quotes a value (a schema failure, a did-you-mean, a path) must
stay one short line even when the value is 50 MB: the value is cut to a prefix and ``…``.
``clip_message`` is the backstop for a whole message whose parts were not cut one by one.
"""

from __future__ import annotations

__all__ = [
    "ELLIPSIS",
    "MAX_ECHO",
    "MAX_MESSAGE",
    "clip",
    "clip_message",
    "clip_repr",
    "clip_within",
]

MAX_ECHO = 80  # characters of a user value an error may quote
MAX_MESSAGE = 1000  # characters of any one error message
ELLIPSIS = "…"


def clip(text: str, limit: int = MAX_ECHO) -> str:
    """``text``, or its first ``limit`` characters and ``…``."""
    return text if len(text) <= limit else text[:limit] + ELLIPSIS


def clip_repr(value: object, limit: int = MAX_ECHO) -> str:
    """``repr(value)`` as a message quotes it, cut to about ``limit`` characters. A long string
    is cut before ``repr`` so that a huge value is never copied whole."""
    if isinstance(value, str):
        return repr(value) if len(value) <= limit else repr(value[:limit]) + ELLIPSIS
    return clip(repr(value), limit)


def clip_within(message: str, value: object, limit: int = MAX_ECHO) -> str:
    """``message`` with the quoted ``repr(value)`` in it cut (as jsonschema messages quote the
    instance), then the backstop of ``clip_message``."""
    if isinstance(value, str) and len(value) <= limit:
        return clip_message(message)
    if isinstance(value, (str, dict, list)):
        quoted = repr(value)
        if len(quoted) > limit and quoted in message:
            message = message.replace(quoted, clip_repr(value, limit))
    return clip_message(message)


def clip_message(message: str, limit: int = MAX_MESSAGE) -> str:
    """A whole message cut to ``limit`` characters."""
    return clip(message, limit)
