"""FQL: every documented example, null defaults, globs, escaping, errors, and a round-trip
property (print a tree, parse it back, get the same tree)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seg.fql import FqlError, evaluate, parse, to_source
from seg.fql.ast import BinOp, Call, ListLit, Literal, Not, PathRef
from seg.fql.glob import GlobError, compile_glob
from tests.unit.fql_cases import EVENT, TRUTH_TABLE


def fql(expr: str, event: object = EVENT) -> object:
    return evaluate(parse(expr), event)


@pytest.mark.parametrize(("expr", "expected"), TRUTH_TABLE)
def test_documented_truth_table(expr: str, expected: bool) -> None:
    assert fql(expr) is expected


@pytest.mark.parametrize(
    ("expr", "expected"),
    [
        ("contains(userId, 'x')", False),
        ("length(userId)", 0),
        ("lowercase(userId)", None),
        ("uppercase(userId)", None),
        ("typeof(userId)", "null"),
        ("match(userId, '*')", False),
        ("length(userId) > 0", False),
        ("length(userId) < 1", True),
    ],
)
def test_null_defaults(expr: str, expected: object) -> None:
    assert fql(expr, {}) == expected


@pytest.mark.parametrize(
    ("text", "pattern", "expected"),
    [
        ("abcd", "a*d", True),
        ("", "*", True),
        ("abc", "ab", False),
        ("abcd", "a??d", True),
        ("abcd", "*d", True),
        ("ab*d", "ab\\*d", True),
        ("abCd", "ab[cC]d", True),
        ("abcd", "ab[a-z]d", True),
        ("abcd", "ab[A-Z]d", False),
    ],
)
def test_documented_globs(text: str, pattern: str, expected: bool) -> None:
    assert evaluate(Call("match", (Literal(text), Literal(pattern))), {}) is expected


def test_functions_and_types() -> None:
    assert fql("length('a')", {}) == 1 and fql("length('ア')", {}) == 3
    assert fql("length(properties.features)") == 2
    assert fql("snakecase('test string')", {}) == "test_string"
    assert fql("kebabcase('test string')", {}) == "test-string"
    assert fql("titlecase('test string')", {}) == "Test String"
    assert fql("lowercase('ABC')", {}) == "abc" and fql('uppercase("abc")', {}) == "ABC"
    types = [
        "typeof('s')",
        "typeof(1)",
        "typeof([1])",
        "typeof(true)",
        "typeof(null)",
        "typeof(context)",
    ]
    assert [fql(t) for t in types] == ["string", "number", "list", "bool", "null", "object"]
    assert fql("number('42') = 42", {}) is True and fql("number('x')", {}) is None
    assert fql("string(42) = '42'", {}) is True and fql("string([1, 'a'])", {}) == '[1,"a"]'
    assert (
        fql("bool('true')", {}) is True
        and fql("bool(0)", {}) is False
        and fql("bool(null)", {}) is False
    )


def test_comparisons_are_strict_about_types() -> None:
    assert (
        fql("1 = 1.0", {}) is True and fql("1 = '1'", {}) is False and fql("1 = true", {}) is False
    )
    assert fql("1 != '1'", {}) is True and fql("null = missing", {}) is True
    assert fql("[1, 'a'] = [1, 'a']", {}) is True
    assert (
        fql("received_at >= '2023-04-21T19:55:00.933Z'", {"received_at": "2024-01-01T00:00:00Z"})
        is True
    )
    assert fql("received_at >= '2023-04-21T19:55:00.933Z'", {}) is False
    assert fql("2 > '1'", {}) is False and fql("x < 3", {"x": 2.5}) is True
    assert fql("type in 'track'", EVENT) is False


def test_truthiness_only_true_is_true() -> None:
    assert fql("properties.enabled or false", {"properties": {"enabled": True}}) is True
    assert fql("properties.enabled or false", {"properties": {"enabled": "yes"}}) is False
    assert fql("!properties.enabled", {}) is True
    assert fql("all", {}) is True
    assert fql("!( type in ['track', 'identify'] )") is False


def test_escaped_paths() -> None:
    event = {"properties": {"product 1": {"price": "19.99"}, "a.b": 1}}
    assert fql("properties.product\\ 1.price = '19.99'", event) is True
    assert fql("properties.a\\.b = 1", event) is True


def test_precedence() -> None:
    tree = parse("a or b and c = 1")
    assert tree == BinOp(
        "or",
        PathRef(("a",)),
        BinOp("and", PathRef(("b",)), BinOp("=", PathRef(("c",)), Literal(1))),
    )
    assert parse("!a = b") == BinOp("=", Not(PathRef(("a",))), PathRef(("b",)))
    assert parse("a and b and c") == BinOp(
        "and", BinOp("and", PathRef(("a",)), PathRef(("b",))), PathRef(("c",))
    )


@pytest.mark.parametrize(
    ("expr", "column", "message"),
    [
        ('userId = oops"', 14, "unexpected character '\"'"),
        ("type = ", 8, "unexpected end of expression"),
        ("a = b = c", 7, "unexpected '='"),
        ("(a = 1", 7, "expected ')'"),
        ("foo(1)", 1, "unknown function 'foo'"),
        ("x and contains(a)", 7, "contains() takes 2 arguments, got 1"),
        ("type = 'unterminated", 8, "unexpected character"),
        ("", 1, "empty FQL expression"),
        ("a = [1,", 8, "unexpected end of expression"),
    ],
)
def test_malformed_expressions_report_column_and_expectation(
    expr: str, column: int, message: str
) -> None:
    with pytest.raises(FqlError) as info:
        parse(expr)
    assert info.value.column == column and message in info.value.message, str(info.value)


def test_five_kilobyte_limit() -> None:
    near = "a = '" + "x" * (5120 - 6) + "'"
    assert len(near.encode()) == 5120 and parse(near)  # exactly 5 KB is allowed
    with pytest.raises(FqlError, match="longer than 5 KB"):
        parse("a = '" + "x" * 5120 + "'")
    with pytest.raises(FqlError, match="longer than 5 KB"):
        parse("a = '" + "ア" * 1707 + "'")  # 5,121 bytes in UTF-8, 1,713 characters


# -- round trip ----------------------------------------------------------------------------

keys = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs", "Cc")), min_size=1, max_size=6
)
literals = st.one_of(
    st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6).map(
        Literal
    ),
    st.integers(-1000, 1000).map(Literal),
    st.floats(allow_nan=False, allow_infinity=False, width=32).map(Literal),
    st.sampled_from([True, False, None]).map(Literal),
)
paths = st.lists(keys, min_size=1, max_size=3).map(lambda k: PathRef(tuple(k)))
atoms = st.one_of(literals, paths)


def _well_formed(pattern) -> bool:
    """A literal match() pattern must be a valid glob to parse (malformed classes are errors)."""
    if not (isinstance(pattern, Literal) and isinstance(pattern.value, str)):
        return True
    try:
        compile_glob(pattern.value)
    except GlobError:
        return False
    return True


def _extend(children: st.SearchStrategy) -> st.SearchStrategy:
    ops = st.sampled_from(["or", "and", "=", "!=", "<", "<=", ">", ">=", "in"])
    return st.one_of(
        st.builds(BinOp, ops, children, children),
        st.builds(Not, children),
        st.lists(children, max_size=3).map(lambda items: ListLit(tuple(items))),
        st.builds(lambda a: Call("lowercase", (a,)), children),
        st.builds(lambda a, b: Call("match", (a, b)), children, children.filter(_well_formed)),
    )


trees = st.recursive(atoms, _extend, max_leaves=12)


@settings(max_examples=300, deadline=None)
@given(trees)
def test_printing_then_parsing_gives_the_same_tree(tree) -> None:
    assert parse(to_source(tree)) == tree
