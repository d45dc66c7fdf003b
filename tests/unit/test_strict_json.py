"""Strict JSON for request bodies and the audit page cursor: the edges of each limit."""

from __future__ import annotations

import pytest

from seg.server.errors import DomainError
from seg.server.pages import MAX_AUDIT_ID, audit_cursor
from seg.server.strict_json import INT_MAX, INT_MIN, MAX_DEPTH, JsonInputError, loads


def test_nesting_up_to_the_cap_parses_and_one_more_level_is_refused() -> None:
    assert loads(b"[" * MAX_DEPTH + b"]" * MAX_DEPTH) is not None
    with pytest.raises(JsonInputError, match=f"deeper than {MAX_DEPTH}"):
        loads(b'{"a": ' * (MAX_DEPTH + 1) + b"1" + b"}" * (MAX_DEPTH + 1))


def test_nesting_past_the_interpreter_recursion_limit_is_a_clean_error() -> None:
    with pytest.raises(JsonInputError, match="deeper than"):
        loads(b"[" * 200_000 + b"]" * 200_000)


@pytest.mark.parametrize("text", [b"NaN", b"[Infinity]", b'{"a": -Infinity}'])
def test_non_json_constants_are_refused(text: bytes) -> None:
    with pytest.raises(JsonInputError, match="not a JSON number"):
        loads(text)


def test_integers_at_the_64_bit_edges_pass_and_beyond_them_fail() -> None:
    assert loads(f"[{INT_MIN}, {INT_MAX}]".encode()) == [INT_MIN, INT_MAX]
    for value in (INT_MAX + 1, INT_MIN - 1):
        with pytest.raises(JsonInputError, match=r"\$\[0\]: integer out of the 64-bit range"):
            loads(f"[{value}]".encode())
    with pytest.raises(JsonInputError, match="not valid JSON"):
        loads(b"1" * 5000)  # past Python's digit limit for int()


def test_floats_that_overflow_are_refused_and_large_finite_ones_pass() -> None:
    assert loads(b"[1e308, -1e-320]") == [1e308, -1e-320]
    with pytest.raises(JsonInputError, match=r"\$\.x: number out of range"):
        loads(b'{"x": 1e400}')


@pytest.mark.parametrize(
    ("text", "where"),
    [(b'{"a": "x\\u0000"}', "$.a"), (b'{"k\\u0000": 1}', "a key in $"),
     (b'["\\udc00"]', "$[0]"), (b'{"a": ["\\ud83d"]}', r"$.a[0]")],
)  # fmt: skip
def test_nul_and_lone_surrogates_are_refused_where_they_are(text: bytes, where: str) -> None:
    with pytest.raises(JsonInputError) as caught:
        loads(text)
    assert str(caught.value).startswith(where)
    assert loads(b'["\\ud83d\\ude00"]') == ["\U0001f600"]  # a surrogate pair is one character


def test_malformed_bodies_are_not_json() -> None:
    for text in (b"{", b"\xff\xfe\x00", b"", b"[1,]"):
        with pytest.raises(JsonInputError, match="not valid JSON"):
            loads(text)


def test_audit_cursor_takes_only_ids_in_the_store_range() -> None:
    assert audit_cursor(None) is None
    assert audit_cursor("1") == 1 and audit_cursor(str(MAX_AUDIT_ID)) == MAX_AUDIT_ID
    for bad in ("", "0", "-1", str(MAX_AUDIT_ID + 1), "9" * 30, "1.0", " 1", "١"):
        with pytest.raises(DomainError, match="page_token is invalid"):
            audit_cursor(bad)


def test_schema_patterns_match_to_the_end_of_the_string() -> None:
    from seg.schemas import schema_validator

    validator = schema_validator({"type": "string", "pattern": "^[a-z]+$"})
    assert validator.is_valid("web")
    assert not validator.is_valid("web\n")
    escaped = schema_validator({"type": "string", "pattern": r"^a\$"})
    assert escaped.is_valid("a$") and not escaped.is_valid("a")
