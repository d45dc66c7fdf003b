"""Helpers shared by test modules (a test module never imports another one)."""

from __future__ import annotations


def error(response, status: int, code: int) -> str:
    assert response.status_code == status, response.text
    body = response.json()
    assert body["code"] == code, body
    assert set(body) == {"error", "code"}
    return str(body["error"])


# The settings the built-in catalog requires of an enabled Reverse ETL postgres source.
WAREHOUSE_SETTINGS = {"host": "db.internal", "database": "analytics"}
