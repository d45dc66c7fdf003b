"""Helpers shared by test modules (a test module never imports another one)."""

from __future__ import annotations

from pathlib import Path


def error(response, status: int, code: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert set(body) == {"error", "code", "request_id"}
    assert body["request_id"] == response.headers["x-request-id"], body
    return str(body["error"])


def error_body(response) -> dict:
    """An error answer's body without its ``request_id``, checked to be the one the
    ``X-Request-Id`` header echoes."""
    body = dict(response.json())
    assert body.pop("request_id") == response.headers["x-request-id"], response.text
    return body


# The settings the built-in catalog requires of an enabled Reverse ETL postgres source.
WAREHOUSE_SETTINGS = {"host": "db.internal", "database": "analytics"}


def replace_in(path: Path, old: str, new: str) -> None:
    """Replace ``old`` (which must be there) by ``new`` in the file at ``path``."""
    text = path.read_text()
    assert old in text, (old, text)
    path.write_text(text.replace(old, new))
