"""yamledit: edits that rewrite only the lines they must (comments and formatting elsewhere stay
byte for byte), checked against seg's own reader; plus a property test over random documents
written by a small block emitter with comments on many lines."""

from __future__ import annotations

import copy
import json
import random
import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seg.model.values import json_equal
from seg.workspace.yamledit import (
    EditError,
    append_document,
    remove_document,
    remove_value,
    render_value,
    set_value,
)
from seg.workspace.yamlpos import read_documents


def values(text: str) -> list[Any]:
    return [doc.value for doc in read_documents(text)]


DEST = """\
# yaml-language-server: $schema=x
kind: destination
name: "my dest"   # the name
spec:
  enabled: true  # keep on
  # settings below
  settings:
    # the key
    api_key: abc
    region: us   # where
  # after settings
  tags:
  - a
  - b
"""


def test_replacing_a_scalar_keeps_the_comment_after_it() -> None:
    out = set_value(DEST, 0, ("spec", "enabled"), False)
    assert out == DEST.replace("enabled: true  # keep on", "enabled: false  # keep on")


def test_setting_the_same_value_changes_nothing() -> None:
    assert set_value(DEST, 0, ("spec", "settings", "region"), "us") == DEST


def test_inserting_a_key_goes_after_the_maps_last_entry() -> None:
    out = set_value(DEST, 0, ("spec", "settings", "zone"), "eu-1")
    assert out == DEST.replace("us   # where\n", "us   # where\n    zone: eu-1\n")


def test_missing_maps_are_created() -> None:
    text = "kind: source\nname: web  # n\nspec:\n  enabled: true\n# end\n"
    out = set_value(text, 0, ("spec", "settings", "region"), "eu")
    assert out == text.replace("enabled: true\n", "enabled: true\n  settings:\n    region: eu\n")
    # a null value counts as missing
    out = set_value("spec:\n  settings:   # none yet\nkind: x\n", 0, ("spec", "settings", "a"), 1)
    assert out == "spec:\n  settings:   # none yet\n    a: 1\nkind: x\n"
    out = set_value("spec: {}  # empty\n", 0, ("spec", "settings"), {"a": [1]})
    assert out == "spec:  # empty\n  settings:\n    a:\n      - 1\n"


def test_removing_an_entry_keeps_the_comments_around_it() -> None:
    out = remove_value(DEST, 0, ("spec", "settings", "region"))
    assert out == DEST.replace("    region: us   # where\n", "")
    out = remove_value(DEST, 0, ("spec", "settings"))
    assert "api_key" not in out and "# settings below\n  # after settings\n" in out
    assert remove_value(DEST, 0, ("spec", "nothing", "here")) == DEST
    assert remove_value(DEST, 0, ("spec", "tags", 7)) == DEST


def test_comments_indented_under_a_removed_entry_go_with_it() -> None:
    text = "a:\n  x: 1\n  # inside a\n# above b\nb:\n  - 1\n    # inside the item\n  - 2\n"
    assert remove_value(text, 0, ("a",)) == "# above b\nb:\n  - 1\n    # inside the item\n  - 2\n"
    assert remove_value(text, 0, ("b", 0)) == "a:\n  x: 1\n  # inside a\n# above b\nb:\n  - 2\n"


def test_removing_the_last_key_leaves_an_empty_map() -> None:
    text = "spec:\n  settings:\n    a: 1  # only\n  other: 2\n"
    out = remove_value(text, 0, ("spec", "settings", "a"))
    assert out == "spec:\n  settings: {}\n  other: 2\n"
    assert values(remove_value("a: 1\n", 0, ("a",))) == [{}]
    assert remove_value("l:\n- 1\n", 0, ("l", 0)) == "l: []\n"


def test_removing_the_first_key_of_a_list_items_map() -> None:
    text = "l:\n- name: x  # n\n  other: y\n- z\n"
    assert remove_value(text, 0, ("l", 0, "name")) == "l:\n- other: y\n- z\n"
    assert remove_value(text, 0, ("l", 0)) == "l:\n- z\n"
    assert remove_value("l:\n- - a\n  - b\n", 0, ("l", 0, 0)) == "l:\n- - b\n"


def test_a_block_list_is_replaced_with_a_new_list() -> None:
    out = set_value(DEST, 0, ("spec", "tags"), ["c", {"d": 1, "e": []}])
    assert out == DEST.replace("  - a\n  - b\n", "  - c\n  - d: 1\n    e: []\n")
    indented = "tags:\n  - a  # one\nkind: x\n"
    assert set_value(indented, 0, ("tags",), ["b", "c"]) == "tags:\n  - b\n  - c\nkind: x\n"


def test_a_scalar_becomes_a_map_keeping_its_comment() -> None:
    out = set_value("a: 1  # c\nb: 2\n", 0, ("a",), {"x": True})
    assert out == "a:  # c\n  x: true\nb: 2\n"


def test_block_scalars_are_replaced_whole() -> None:
    text = "code: |\n  line 1\n  line 2\n\n# next\nb: 1\n"
    assert set_value(text, 0, ("code",), "x") == "code: x\n\n# next\nb: 1\n"
    out = set_value(text, 0, ("code",), "a\nb")
    assert out == 'code: "a\\nb"\n\n# next\nb: 1\n'


def test_null_values_and_kept_block_scalars() -> None:
    assert set_value("l:\n-   # none\n", 0, ("l", 0), {"a": 1, "b": 2}) == "l:\n- a: 1\n  b: 2   # none\n"
    assert set_value("l:\n-\n", 0, ("l", 0), "x") == "l:\n- x\n"
    # blank lines at the end of a `|+` block are its value: the new key goes after them
    assert set_value("a: |+\n  keep\n\n", 0, ("b",), 1) == "a: |+\n  keep\n\nb: 1\n"


def test_flow_collections_are_edited_as_flow() -> None:
    text = "spec: {a: 1, b: [x, y]}  # flow\nkind: x\n"
    assert set_value(text, 0, ("spec", "b", 1), "z") == "spec: {a: 1, b: [x, z]}  # flow\nkind: x\n"
    assert set_value(text, 0, ("spec", "c"), "a: b") == 'spec: {a: 1, b: [x, y], c: "a: b"}  # flow\nkind: x\n'
    assert remove_value(text, 0, ("spec", "a")) == "spec: {b: [x, y]}  # flow\nkind: x\n"
    assert set_value("l: [1, 2]\n", 0, ("l",), [3]) == "l: [3]\n"


def test_quoted_keys_and_document_markers() -> None:
    text = '---\n"quoted key": 1  # q\n\'other\': {}\n...\n'
    assert set_value(text, 0, ("quoted key",), 2) == text.replace(": 1", ": 2")
    out = set_value(text, 0, ("new key",), "v")
    assert out == '---\n"quoted key": 1  # q\n\'other\': {}\nnew key: v\n...\n'


def test_multi_document_edits_leave_the_other_documents_alone() -> None:
    docs = ["# zero\nkind: a\nname: x\n", "# one\nkind: b\nname: y  # why\n", "kind: c\nname: z\n"]
    text = "---\n".join(docs)
    out = set_value(text, 1, ("name",), "w")
    assert out.split("---\n") == [docs[0], docs[1].replace("y  #", "w  #"), docs[2]]
    assert remove_document(text, 1) == docs[0] + "---\n" + docs[2]
    # the first document's leading comments stay: they may be the file's (a modeline)
    assert remove_document(text, 0) == "# zero\n" + docs[1] + "---\n" + docs[2]
    assert remove_document(text, 2) == docs[0] + "---\n" + docs[1]
    with pytest.raises(EditError, match="no document 3"):
        set_value(text, 3, ("name",), "w")


def test_empty_documents_are_not_counted() -> None:
    text = "---\n# nothing here\n---\nkind: a\n---\nkind: b\n"
    assert set_value(text, 1, ("kind",), "c") == text.replace("kind: b", "kind: c")
    assert values(remove_document(text, 0)) == [{"kind": "b"}]


def test_append_document() -> None:
    assert append_document("kind: a\nname: b", "kind: c\n") == "kind: a\nname: b\n---\nkind: c\n"
    assert append_document("", "kind: c") == "kind: c\n"
    assert append_document("# only a comment\n", "kind: c\n") == "# only a comment\nkind: c\n"
    assert append_document("a: 1\r\n", "b: 2\nc: 3\n") == "a: 1\r\n---\r\nb: 2\r\nc: 3\r\n"
    assert append_document("a: 1\n", "---\nb: 2\n") == "a: 1\n---\nb: 2\n"


def test_crlf_files_keep_crlf() -> None:
    text = "spec:\r\n  a: 1  # c\r\n"
    assert set_value(text, 0, ("spec", "b"), {"c": 2}) == "spec:\r\n  a: 1  # c\r\n  b:\r\n    c: 2\r\n"


@pytest.mark.parametrize(
    ("value", "written"),
    [
        ("yes", "yes"),
        ("plain words", "plain words"),
        ("https://x.io/a?b=c", "https://x.io/a?b=c"),
        ("true", '"true"'),
        ("123", '"123"'),
        ("1.5", '"1.5"'),
        ("null", '"null"'),
        ("~", '"~"'),
        ("a: b", '"a: b"'),
        ("a #b", '"a #b"'),
        ("#x", '"#x"'),
        ("", '""'),
        (" x", '" x"'),
        ("x ", '"x "'),
        ("- x", '"- x"'),
        ("*x", '"*x"'),
        ("x:", '"x:"'),
        ("a\nb", '"a\\nb"'),
        ("\x85\u2028\u202e\ufeff", '"\\u0085\\u2028\\u202e\\ufeff"'),
        ("é😀", "é😀"),
        (True, "true"),
        (None, "null"),
        (10, "10"),
        (0.1, "0.1"),
        (1e20, "1e+20"),
        ({}, "{}"),
        ([], "[]"),
    ],
)
def test_scalars_are_written_so_they_read_back(value: Any, written: str) -> None:
    assert render_value(value, 0) == written
    out = set_value("a: 1\n", 0, ("a",), value)
    assert out == f"a: {written}\n"
    assert json_equal(values(out), [{"a": value}])


def test_render_value_blocks_and_keys() -> None:
    assert render_value({"a b": [1, {"true": None}], "": {"x": []}}, 2) == (
        '  a b:\n    - 1\n    - "true": null\n  "":\n    x: []'
    )
    with pytest.raises(EditError):
        render_value(float("nan"), 0)
    with pytest.raises(EditError):
        render_value({1: 2}, 0)


def test_anchors_and_aliases_are_refused() -> None:
    text = "base: &b {x: 1}\nother: *b\nplain: 1\n"
    with pytest.raises(EditError, match="anchor or alias"):
        set_value(text, 0, ("other",), 2)
    with pytest.raises(EditError, match="anchor or alias"):
        set_value(text, 0, ("base", "x"), 2)
    with pytest.raises(EditError, match="anchor or alias"):
        remove_value(text, 0, ("base",))
    assert set_value(text, 0, ("plain",), 2) == text.replace("plain: 1", "plain: 2")


def test_impossible_edits_raise() -> None:
    with pytest.raises(EditError, match="not a map"):
        set_value("a: 1\n", 0, ("a", "b"), 2)
    with pytest.raises(EditError, match="list index"):
        set_value("a: [1]\n", 0, ("a", 3), 2)
    with pytest.raises(EditError, match="cannot be read|line"):
        set_value("a: [\n", 0, ("a",), 2)


# --- the property test -----------------------------------------------------------------------

KEYS = st.one_of(
    st.sampled_from(["a", "b", "kind", "name", "spec", "settings", "a b", "true", "1", "x:y", "<<", ""]),
    st.text(st.characters(min_codepoint=32, max_codepoint=0x2FF, exclude_characters="\x7f"), max_size=5)
    .filter(lambda s: not re.search(r"[\x80-\x9f]", s)),
)
SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(),
    st.floats(allow_nan=False, allow_infinity=False),
    st.sampled_from(["true", "123", "a: b", "#x", "", " x", "yes", "- a", "plain", "a\nb", "~"]),
    st.text(st.characters(exclude_categories=("Cs",)), max_size=6),
)
VALUES = st.recursive(
    SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(KEYS, inner, max_size=3),
    max_leaves=10,
)
DOCS = st.lists(st.dictionaries(KEYS, VALUES, min_size=1, max_size=4), min_size=1, max_size=3)


class Emitter:
    """A simple block writer that remembers each entry's lines (key line to last value line)
    and sprinkles comment lines and end-of-line comments."""

    def __init__(self, rnd: random.Random) -> None:
        self.rnd = rnd
        self.lines: list[str] = []
        self.spans: dict[tuple[Any, ...], tuple[int, int]] = {}
        self.shared: set[tuple[Any, ...]] = set()  # entries that start on a `- ` line
        self.comments = 0
        self.seq = rnd.choice([0, 2])

    def comment(self) -> str:
        self.comments += 1
        return f"# c{self.comments}"

    def eol(self) -> str:
        return "  " + self.comment() if self.rnd.random() < 0.4 else ""

    def scalar(self, value: Any) -> str:
        if value is None:
            return self.rnd.choice(["null", "~", ""])
        if isinstance(value, str) and re.fullmatch(r"[a-z]+", value) and value not in ("true", "false", "null"):
            return value
        return yaml_json(value)

    def key(self, key: str) -> str:
        return key if re.fullmatch(r"[a-z]+", key) and key not in ("true", "false", "null") else yaml_json(key)

    def inline(self, value: Any, path: tuple[Any, ...], line: int) -> str:
        """A scalar, or a collection as JSON (which is YAML flow); every path inside maps to
        the line."""
        stack = [(value, path)]
        while stack:
            item, at = stack.pop()
            self.spans[at] = (line, line)
            if isinstance(item, dict):
                stack += [(v, (*at, k)) for k, v in item.items()]
            elif isinstance(item, list):
                stack += [(v, (*at, i)) for i, v in enumerate(item)]
        return self.scalar(value) if not isinstance(value, dict | list) else yaml_json(value)

    def block(self, value: Any) -> bool:
        return isinstance(value, dict | list) and bool(value) and self.rnd.random() < 0.85

    def mapping(self, value: dict[str, Any], indent: int, path: tuple[Any, ...], lead: bool) -> None:
        for n, (key, item) in enumerate(value.items()):
            if self.rnd.random() < 0.3 and (lead or n):
                self.lines.append(" " * indent + self.comment())
            first = len(self.lines)
            head = " " * indent + self.key(key) + ":"
            if self.block(item):
                self.lines.append(head + self.eol())
                sub = indent + (2 if isinstance(item, dict) else self.seq)
                self.node(item, sub, (*path, key))
            else:
                text = self.inline(item, (*path, key), first)
                self.lines.append((head + " " + text).rstrip() + self.eol())
            self.spans[(*path, key)] = (first, len(self.lines) - 1)

    def sequence(self, value: list[Any], indent: int, path: tuple[Any, ...]) -> None:
        for i, item in enumerate(value):
            first = len(self.lines)
            if self.block(item):
                self.node(item, indent + 2, (*path, i), lead=False)
                self.lines[first] = " " * indent + "- " + self.lines[first].lstrip()
                if isinstance(item, dict):
                    self.shared.add((*path, i, next(iter(item))))
                else:
                    self.shared.add((*path, i, 0))
            else:
                self.lines.append(" " * indent + "- " + self.inline(item, (*path, i), first) + self.eol())
            self.spans[(*path, i)] = (first, len(self.lines) - 1)

    def node(self, value: Any, indent: int, path: tuple[Any, ...], lead: bool = True) -> None:
        if isinstance(value, dict):
            self.mapping(value, indent, path, lead)
        else:
            self.sequence(value, indent, path)


PAIR = re.compile(r"\\u(d[89ab][0-9a-f]{2})\\u(d[c-f][0-9a-f]{2})")


def yaml_json(value: Any) -> str:
    """JSON (which is YAML flow) with characters past U+FFFF as YAML's ``\\U`` escapes: YAML
    has no surrogate pairs."""

    def code(m: re.Match[str]) -> str:
        return f"\\U{0x10000 + ((int(m[1], 16) - 0xD800) << 10) + int(m[2], 16) - 0xDC00:08x}"

    return PAIR.sub(code, json.dumps(value))


def get(value: Any, path: tuple[Any, ...]) -> Any:
    for segment in path:
        value = value[segment]
    return value


@settings(max_examples=200, deadline=None)
@given(docs=DOCS, new=VALUES, data=st.data(), rnd=st.randoms(use_true_random=False))
def test_random_edits_touch_only_their_lines(docs: list[dict[str, Any]], new: Any, data: st.DataObject, rnd: random.Random) -> None:
    emitter = Emitter(rnd)
    starts = []
    for i, doc in enumerate(docs):
        if i or rnd.random() < 0.3:
            emitter.lines.append("---" + emitter.eol())
        starts.append(len(emitter.lines))
        emitter.node(doc, 0, (i,))
    text = "\n".join(emitter.lines) + "\n"
    assert values(text) == docs
    which = data.draw(st.integers(0, len(docs) - 1))
    doc = docs[which]

    # an existing path, or a new key under a map (or null) that exists
    existing = sorted((p[1:] for p in emitter.spans if p[0] == which), key=repr)
    holders = [p for p in [(), *existing] if isinstance(get(doc, p), dict) or get(doc, p) is None]
    missing = [(*p, "zz") for p in holders] + [(*p, "zz", "y") for p in holders]
    path = data.draw(st.sampled_from(existing + missing))
    remove = data.draw(st.booleans()) and path in existing

    def span(p: tuple[Any, ...]) -> tuple[int, int]:
        if p:
            return emitter.spans[(which, *p)]
        end = starts[which + 1] - 2 if which + 1 < len(starts) else len(emitter.lines) - 1
        return (starts[which], end)

    expected = copy.deepcopy(docs)
    if remove:
        parent = get(expected[which], path[:-1])
        del parent[path[-1]]
        a, b = span(path[:-1] if not parent else path)
        b += 1 if (which, *path) in emitter.shared else 0
        out = remove_value(text, which, path)
    else:
        node = expected[which]
        for segment in path[:-1]:
            if (node.get(segment) if isinstance(node, dict) else node[segment]) is None:
                node[segment] = {}
            node = node[segment]
        node[path[-1]] = new
        known = next(i for i in range(len(path), -1, -1) if path[:i] in [(), *existing])
        a, b = span(path[:known])
        b += known < len(path)  # an insertion may land on the line after
        out = set_value(text, which, path, new)
    assert json_equal(values(out), expected)

    # every line outside the entry's lines [a, b] is byte-identical, in place
    old_lines, new_lines = text.splitlines(keepends=True), out.splitlines(keepends=True)
    after = len(old_lines) - b - 1
    assert new_lines[:a] == old_lines[:a], (path, remove, (a, b), text, out)
    assert new_lines[len(new_lines) - after :] == old_lines[b + 1 :], (path, remove, (a, b), text, out)
    for n, line in enumerate(old_lines):
        for comment in re.findall(r"# c\d+", line):
            if not a <= n <= b:
                assert re.search(re.escape(comment) + r"\b", out), (comment, text, out)
    old = get(doc, path) if path in existing else None
    if not remove and a == b and not isinstance(new, dict | list) and not isinstance(old, dict | list):
        for comment in re.findall(r"# c\d+", old_lines[a]):  # an end-of-line comment survives
            assert re.search(re.escape(comment) + r"\b", out), (comment, text, out)
