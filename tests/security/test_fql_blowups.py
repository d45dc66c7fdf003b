"""FQL cannot hang or crash: pathological globs run in linear time, deep or long expressions
are refused at parse time with a clear error (and everything accepted evaluates and prints),
malformed character classes are parse errors with their column — through the library,
`seg validate`, the server, `seg fql eval` and `seg filter test`."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
import warnings
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seg.fql import FqlError, evaluate, parse, to_source
from seg.fql.glob import GlobError, compile_glob, glob_match
from seg.fql.parser import MAX_BYTES, MAX_DEPTH
from tests.conftest import Api
from tests.conftest import run_cli as seg
from tests.helpers import error
from tests.repo_files import copy_repo_dir

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "filters"
PATHOLOGICAL = "*a*a*a*a*a*a*a*a*a*a*a*ab"  # backtracking regexes take minutes on 40 'a's
GENEROUS = 5.0  # seconds; the backtracking matcher needed more than 30 for 40 characters


# -- globs in linear time ------------------------------------------------------------------


def test_the_pathological_glob_makes_one_regex_call_per_piece() -> None:
    glob = compile_glob(PATHOLOGICAL)
    assert len(glob.pieces) == 13 and glob.starred  # 12 stars split it into 13 pieces
    assert all(width <= 2 for width in glob.widths)  # fixed-width pieces: nothing to backtrack
    for n in (40, 4_000, 400_000):
        matched, calls = glob.scan("a" * n)
        assert matched is False and calls <= len(glob.pieces)
        assert glob.scan("a" * n + "b") == (True, len(glob.pieces))


def test_the_pathological_glob_finishes_fast_on_huge_text() -> None:
    start = time.monotonic()
    assert glob_match("a" * 40, PATHOLOGICAL) is False
    assert glob_match("a" * 1_000_000, PATHOLOGICAL) is False
    assert glob_match("a" * 1_000_000 + "b", PATHOLOGICAL) is True
    assert glob_match("ab" * 500_000, "*[!ab]*") is False
    assert time.monotonic() - start < GENEROUS


def _reference(pattern: str) -> re.Pattern[str]:
    """The previous translation to a backtracking regex: the semantics to keep (except that
    an empty class is now an error rather than whatever regex its brackets happened to form)."""
    out, i, n = [], 0, len(pattern)
    while i < n:
        c = pattern[i]
        if c == "\\" and i + 1 < n:
            out.append(re.escape(pattern[i + 1]))
            i += 2
        elif c == "*":
            out.append(".*")
            i += 1
        elif c == "?":
            out.append(".")
            i += 1
        elif c == "[":
            end = pattern.find("]", i + 2 if pattern[i + 1 : i + 2] in ("!", "^") else i + 1)
            if end < 0:
                out.append(re.escape(c))
                i += 1
                continue
            body = pattern[i + 1 : end]
            negate = body[:1] in ("!", "^")
            body = body[1:] if negate else body
            if not body:
                raise re.error("empty class")
            escaped = "".join("\\" + ch if ch in "\\]^[" else ch for ch in body)
            out.append(f"[{'^' if negate else ''}{escaped}]")
            i = end + 1
        else:
            out.append(re.escape(c))
            i += 1
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", FutureWarning)  # "--" in a class: a range all the same
        return re.compile("".join(out), re.DOTALL)


@settings(max_examples=1500, deadline=None)
@given(
    st.text(alphabet="ab*?[]!^-\\z\n", max_size=10),
    st.text(alphabet="ab-z]\\\n[", max_size=10),
)
def test_the_linear_matcher_agrees_with_the_backtracking_one(pattern: str, text: str) -> None:
    try:
        expected = _reference(pattern).fullmatch(text) is not None
    except re.error:
        with pytest.raises(GlobError):
            compile_glob(pattern)
        assert glob_match(text, pattern) is False  # at evaluation, a bad pattern matches nothing
        return
    assert compile_glob(pattern).match(text) is expected


# -- depth and size ------------------------------------------------------------------------


def _nots(n: int) -> str:
    return "!" * n + "a"


def _chain(op: str, n: int) -> str:
    return f" {op} ".join(f"x{i} = {i}" for i in range(n))


def _terms(op: str, n: int) -> str:
    return f" {op} ".join(["a"] * n)


def _calls(n: int) -> str:
    return "lowercase(" * n + "a" + ")" * n


def _lists(n: int) -> str:
    return "a in " + "[" * n + "1" + "]" * n


# Each builder at its largest accepted size, and one level past it.
SHAPES: dict[str, tuple[Callable[[int], str], int]] = {
    "not": (_nots, MAX_DEPTH - 1),  # n '!' + a leaf
    "and": (lambda n: _chain("and", n), MAX_DEPTH - 1),  # n-1 'and' + '=' + a leaf
    "or": (lambda n: _chain("or", n), MAX_DEPTH - 1),
    "calls": (_calls, MAX_DEPTH - 1),
    "lists": (_lists, MAX_DEPTH - 2),  # 'in' + n lists + a leaf
}


@pytest.mark.parametrize(
    "text",
    [
        _nots(5000),
        _terms("and", 600),
        _terms("or", 600),
        _calls(400),
        _lists(1500),
        _terms("and", 850),
    ],  # fmt: skip
    ids=["5000-nots", "600-and", "600-or", "400-calls", "1500-lists", "850-and"],
)
def test_too_deep_expressions_are_refused_at_parse_time(text: str) -> None:
    assert len(text.encode()) <= MAX_BYTES  # within the size limit: depth is what refuses it
    with pytest.raises(FqlError, match=f"nests deeper than {MAX_DEPTH} levels"):
        parse(text)


@contextmanager
def stack_headroom(frames: int) -> Iterator[None]:
    """Run with only ``frames`` more Python frames allowed than the caller already uses."""
    depth, frame = 0, sys._getframe()
    while frame is not None:
        depth, frame = depth + 1, frame.f_back
    old = sys.getrecursionlimit()
    sys.setrecursionlimit(depth + frames)
    try:
        yield
    finally:
        sys.setrecursionlimit(old)


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_everything_the_parser_accepts_evaluates_and_prints(shape: str) -> None:
    build, largest = SHAPES[shape]
    with pytest.raises(FqlError, match="nests deeper"):
        parse(build(largest + 1))
    tree = parse(build(largest))
    event = {"a": "A", **{f"x{i}": i for i in range(MAX_DEPTH)}}
    with stack_headroom(4 * MAX_DEPTH):  # a few frames per level, far below the default limit
        value = evaluate(tree, event)
        printed = to_source(tree)
    assert parse(printed) == tree
    assert value == {"not": True, "and": True, "or": True, "calls": "a", "lists": False}[shape]


def test_deep_parentheses_add_no_depth() -> None:
    text = "(" * 2500 + "a = 1" + ")" * 2500
    assert len(text.encode()) <= MAX_BYTES
    assert evaluate(parse(text), {"a": 1}) is True


def test_huge_strings() -> None:
    with pytest.raises(FqlError, match="longer than 5 KB"):
        parse("a = '" + "x" * 100_000 + "'")
    text = "x" * 2_000_000
    start = time.monotonic()
    assert evaluate(parse("match(a, '*x*x*x*x*x*x*y') or length(a) > 5"), {"a": text}) is True
    assert evaluate(parse("contains(a, 'xy') or a = 'y'"), {"a": text}) is False
    assert time.monotonic() - start < GENEROUS


# -- malformed character classes -------------------------------------------------------------


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("match(a, '[]')", 11, "empty character class"),
        ("match(a, '[!]')", 11, "empty character class"),
        ("match(a, 'x[z-a]')", 12, "reversed range z-a"),
        ("type = 'x' and match(event, 'a\\\\b[9-0]')", 34, "reversed range 9-0"),
        ('match(a, "\\"[]")', 13, "empty character class"),
    ],
)
def test_malformed_classes_are_parse_errors_with_the_column(
    text: str, column: int, message: str
) -> None:
    with pytest.raises(FqlError) as info:
        parse(text)
    assert info.value.column == column and message in info.value.message
    assert text[column - 1] == "["  # the column points at the class


def test_well_formed_classes_and_literal_brackets_still_parse() -> None:
    assert evaluate(parse("match(a, '[a-c]x[!0-9]')"), {"a": "bxy"}) is True
    assert evaluate(parse("match(a, 'x[')"), {"a": "x["}) is True  # unclosed: a literal '['
    assert evaluate(parse("match(a, b)"), {"a": "x", "b": "[z-a]"}) is False  # data: no match


# -- through seg, the server and the offline tools -------------------------------------------


@pytest.fixture
def root(tmp_path: Path, clean_seg_env: None) -> Path:
    target = tmp_path / "filters"
    copy_repo_dir(EXAMPLE, target)
    return target


def _set_if(root: Path, expr: str) -> None:
    path = root / "workspace.yaml"
    old = "if: length( userId ) < 1"
    assert old in path.read_text()
    path.write_text(path.read_text().replace(old, "if: " + json.dumps(expr)))


BAD = {
    "empty-class": ("match(userId, '[]')", "empty character class (column 16)"),
    "reversed-range": ("match(userId, 'u[z-a]')", "reversed range z-a in a character class"),
    "deep-nots": (_nots(5000), f"nests deeper than {MAX_DEPTH} levels"),
    "long-and": (_terms("and", 600), f"nests deeper than {MAX_DEPTH} levels"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_validate_and_filter_test_report_file_line_col(root: Path, case: str) -> None:
    expr, message = BAD[case]
    _set_if(root, expr)
    for args in (("validate",), ("filter", "test", "--destination", "web/amplitude",
                                 "--events", str(root / "events.jsonl"))):  # fmt: skip
        result = seg(*args, "-w", str(root))
        assert result.exit_code == 1, result.output
        assert "workspace.yaml:20:7: error: filter.if: invalid FQL: " in result.output
        assert message in result.output and "internal error" not in result.output


@pytest.mark.parametrize("case", sorted(BAD))
def test_fql_eval_reports_one_error_line(case: str) -> None:
    expr, message = BAD[case]
    result = seg("fql", "eval", expr)
    assert result.exit_code == 1
    assert result.output.strip().splitlines() == [result.output.strip()]
    assert result.output.startswith("error: FQL: ") and message in result.output


def test_fql_eval_as_a_process(tmp_path: Path) -> None:
    event = tmp_path / "e.json"
    event.write_text(json.dumps({"a": "a" * 40}))
    start = time.monotonic()
    ok = subprocess.run([sys.executable, "-m", "seg", "fql", "eval", f"match(a, '{PATHOLOGICAL}')",
                         "--event", str(event)], capture_output=True, text=True, timeout=60)  # fmt: skip
    assert ok.returncode == 0 and ok.stdout == "false\n" and time.monotonic() - start < 30
    bad = subprocess.run([sys.executable, "-m", "seg", "fql", "eval", _nots(5000)],
                         capture_output=True, text=True, timeout=60)  # fmt: skip
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.count("\n") == 1 and f"nests deeper than {MAX_DEPTH}" in bad.stderr


def test_the_server_answers_400_for_every_blowup(api: Api) -> None:
    api.create_source("web")
    api.create_destination("web", "amp")
    base = f"workspaces/{api.workspace}/sources/web/destinations/amp"
    filters = api.url("/sources/web/destinations/amp/filters")
    for i, (expr, message) in enumerate(BAD.values()):
        body = {"name": f"{base}/filters/f{i}", "title": "t", "if": expr,
                "actions": [{"type": "DROP"}]}  # fmt: skip
        text = error(api.http.post(filters, json={"filter": body}), 400, 3)
        assert "filter.if: invalid FQL" in text and message in text
        mapping = {"name": f"{base}/mappings/m{i}", "action": "track", "trigger": expr}
        r = api.http.post(api.url("/sources/web/destinations/amp/mappings"),
                          json={"mapping": mapping})  # fmt: skip
        assert message in error(r, 400, 3)
    good = {"name": f"{base}/filters/ok", "title": "t", "if": PATHOLOGICAL.join(["match(a, '", "')"]),
            "actions": [{"type": "DROP"}]}  # fmt: skip
    assert api.http.post(filters, json={"filter": good}).status_code == 200
    patch = {"filter": {"if": "match(a, '[z-a]')"}, "update_mask": {"paths": ["filter.if"]}}
    assert "reversed range" in error(api.http.patch(f"{filters}/ok", json=patch), 400, 3)


def test_deep_events_are_refused_or_evaluated_never_a_crash(root: Path, tmp_path: Path) -> None:
    deepest = tmp_path / "deepest.json"
    deepest.write_text(json.dumps({"a": json.loads("[" * 99 + "]" * 99)}))  # 100 levels
    for expr, out in (("a = a", "true"), ("length(string(a))", "198"), ("a in [a]", "true")):
        result = seg("fql", "eval", expr, "--event", str(deepest))
        assert result.exit_code == 0 and result.stdout == out + "\n", result.output
    for text in (
        "[" * 100_000 + "]" * 100_000,
        json.dumps({"a": json.loads("[" * 100 + "]" * 100)}),
    ):
        event = tmp_path / "deep.json"
        event.write_text(text)
        bad = seg("fql", "eval", "a = a", "--event", str(event))
        assert bad.exit_code == 1 and "nests deeper than 100 levels" in bad.output
        assert len(bad.output.strip().splitlines()) == 1 and "internal error" not in bad.output
        events = root / "events.jsonl"
        events.write_text('{"type": "track"}\n' + text + "\n")
        result = seg("filter", "test", "-w", str(root), "--destination", "web/amplitude",
                     "--events", str(events))  # fmt: skip
        assert result.exit_code == 1 and ":2: not a JSON event: nests deeper than" in result.output
