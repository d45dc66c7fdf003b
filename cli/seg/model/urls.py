"""URLs as they may be shown: without the password they carry."""

from __future__ import annotations

__all__ = ["redact_text", "redact_url"]


def _credentials(url: str) -> tuple[str, str, str, str] | None:
    """(scheme, user, password, the rest from ``@`` on) of a URL with a password, else None.
    The last ``@`` before the query ends the credentials (passwords are not always escaped)."""
    scheme, sep, rest = url.partition("://")
    at = rest.split("?", 1)[0].rfind("@")
    if not sep or at < 0 or ":" not in rest[:at]:
        return None
    user, password = rest[:at].split(":", 1)
    return scheme, user, password, rest[at:]


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (``postgresql://user:***@host/db``), for
    every place a database or API URL is shown."""
    parts = _credentials(url)
    if parts is None:
        return url
    scheme, user, _, rest = parts
    return f"{scheme}://{user}:***{rest}"


def redact_text(text: str, url: str) -> str:
    """``text`` (a driver's error message, say) without the password of ``url`` in it."""
    parts = _credentials(url)
    if parts is None:
        return text
    text = text.replace(url, redact_url(url))
    return text.replace(parts[2], "***") if parts[2] else text
