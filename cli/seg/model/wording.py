"""Counted nouns for messages: ``1 resource``, ``2 resources`` — never ``resource(s)``."""

from __future__ import annotations

__all__ = ["plural"]


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and the noun, singular for exactly one (``many`` when the plural is not
    ``noun + "s"``)."""
    return f"{count} {noun if count == 1 else (many or noun + 's')}"
