"""Words in messages: counted nouns (``1 resource``, ``2 resources`` — never
``resource(s)``) and the did-you-mean of every "unknown …" error."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

__all__ = ["close_match", "did_you_mean", "plural", "too_many"]


def plural(count: int, noun: str, many: str | None = None) -> str:
    """``count`` and the noun, singular for exactly one (``many`` when the plural is not
    ``noun + "s"``; a consonant and ``y`` make ``ies``: ``categories``)."""
    if count == 1:
        return f"{count} {noun}"
    if many is None and len(noun) > 1 and noun[-1] == "y" and noun[-2].lower() not in "aeiouy":
        many = noun[:-1] + "ies"
    return f"{count} {many or noun + 's'}"


def close_match(word: str, choices: Iterable[str], limit: int | None = None) -> str | None:
    """The choice closest to ``word`` (difflib), if any is close. With ``limit``, a word longer
    than that is never close: difflib's cost grows with its length, and a hostile input may be
    long."""
    if limit is not None and len(word) > limit:
        return None
    found = difflib.get_close_matches(word, list(choices), n=1)
    return found[0] if found else None


def did_you_mean(word: str, choices: Iterable[str], limit: int | None = None) -> str:
    """`` (did you mean 'web'?)`` for the closest choice, else empty."""
    match = close_match(word, choices, limit)
    return f" (did you mean {match!r}?)" if match is not None else ""


def too_many(validator: str, limit: object, instance: object) -> str | None:
    """A schema's ``maxItems`` refusal in words (``201 items; at most 200 are allowed``)
    rather than the list echoed; None for any other refusal."""
    if validator == "maxItems" and isinstance(instance, list) and isinstance(limit, int):
        return f"{plural(len(instance), 'item')}; at most {limit} are allowed"
    return None
