"""URLs as they may be shown: without the password (or other credential) they carry.

Redaction errs on the side of hiding: the user-info password runs from the first ``:`` after
the user name to the *last* ``@`` of the URL (passwords are not always escaped, and may hold
``?``, ``/`` or ``@``), and query parameters that name a credential (``password=``,
``sslpassword=``, ``token=``, …) lose their values.
"""

from __future__ import annotations

import re

__all__ = ["redact_text", "redact_url"]

_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_SECRET_PARAM = re.compile(
    r"(?i)([?&;](?:[a-z_]*password|passwd|pwd|[a-z_]*secret|[a-z_]*token|[a-z_]*key)=)([^&;#]*)"
)
HIDDEN = "***"


def _password_span(url: str) -> tuple[int, int] | None:
    """Where the user-info password of ``url`` starts and ends, if it has one."""
    head = _SCHEME.match(url)
    if head is None:
        return None
    rest = url[head.end() :]
    at = rest.rfind("@")
    user_end = min((i for i in (rest.find(":"), rest.find("/")) if i >= 0), default=-1)
    if at > 0 and 0 <= user_end < at and rest[user_end] == ":":
        return head.end() + user_end + 1, head.end() + at
    return None


def _secrets(url: str) -> list[str]:
    """The credential values ``url`` holds, longest first."""
    span = _password_span(url)
    found = [url[span[0] : span[1]]] if span else []
    found += [m.group(2) for m in _SECRET_PARAM.finditer(url)]
    return sorted((f for f in found if f), key=len, reverse=True)


def redact_url(url: str) -> str:
    """``url`` with its password replaced by ``***`` (``postgresql://user:***@host/db``, and
    ``?password=***``), for every place a database or API URL is shown."""
    span = _password_span(url)
    if span is not None:
        url = url[: span[0]] + HIDDEN + url[span[1] :]
    return _SECRET_PARAM.sub(lambda m: m.group(1) + HIDDEN, url)


def redact_text(text: str, url: str) -> str:
    """``text`` (a driver's error message, say) without any credential of ``url`` in it."""
    text = text.replace(url, redact_url(url))
    for secret in _secrets(url):
        text = text.replace(secret, HIDDEN)
    return text
