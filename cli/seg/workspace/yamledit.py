"""Edits to YAML text that change only the lines they must.

``seg sync`` writes values changed on the control plane back into a user's files. A round-trip
emitter (ruamel) re-emits the whole document, so a line nobody touched may come back with other
indentation, quoting or wrapping. Here the text is spliced instead: the document is composed
with PyYAML (nodes with character offsets), the span of the node an edit concerns is worked out
from its children's marks (a block collection's own end mark runs on over the comments after
it), and only that span is rewritten: a value replaced, an entry inserted after a map's last
entry, an entry's lines removed. Comments and formatting of every other line stay byte for byte.

Every edit checks itself: the result is read back with seg's own reader (``yamlpos``) and
every document must equal the old one with exactly this edit applied, and the text before the
edited span's first line and after its last line must be unchanged; otherwise ``EditError``.

Documents are numbered as ``read_documents`` yields them: empty (null) documents are skipped.
"""

from __future__ import annotations

import copy
import json
import math
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from seg.model.paths import format_path
from seg.model.printable import UNSAFE
from seg.model.values import json_equal
from seg.workspace.yamlpos import YamlError, _core_plain, read_documents

__all__ = [
    "EditError",
    "append_document",
    "remove_document",
    "remove_value",
    "render_value",
    "set_value",
]

Path = tuple[str | int, ...]
Span = tuple[int, int, str]  # replace text[start:end] with the string
Edit = Callable[[Any, Path], Any]  # (old value, path inside it) -> new value


class EditError(Exception):
    """The edit cannot be made safely (the message is one readable line)."""


# --- rendering -------------------------------------------------------------------------------

_INDICATORS = frozenset("-?:,[]{}#&*!|>'\"%@`")
# Not printable in YAML, a line break to libyaml, or a bidi/control character: always escaped.
_ESCAPE = re.compile(f"{UNSAFE.pattern}|[\ufeff\ufffe\uffff]")
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class _Style:
    step: int = 2  # a nested map's indentation under its key
    seq: int = 2  # a list's dashes under its key (0: `key:` then `- item` at the key's column)


def _plain_ok(text: str, flow: bool) -> bool:
    """Whether ``text`` written plain reads back as this very string (YAML 1.2 core)."""
    return (
        text != ""
        and text == text.strip()
        and text[0] not in _INDICATORS
        and text.isprintable()
        and ": " not in text
        and " #" not in text
        and not text.endswith(":")
        and not (flow and any(c in text for c in ",[]{}:"))
        and text != "<<"
        and isinstance(_core_plain(text), str)
    )


def _string(text: str, flow: bool) -> str:
    if _plain_ok(text, flow):
        return text
    if _SURROGATE.search(text):
        raise EditError("a string holds a lone surrogate and cannot be written")
    quoted = json.dumps(text, ensure_ascii=False)
    return _ESCAPE.sub(lambda m: f"\\u{ord(m.group()):04x}", quoted)


def _key(key: Any, flow: bool) -> str:
    if not isinstance(key, str):
        raise EditError(f"a map key must be a string, not {type(key).__name__}")
    return _string(key, flow)


def _inline(value: Any, flow: bool = False) -> str:
    """A scalar, or a collection in flow style."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return int.__repr__(value)
    if isinstance(value, float):
        if not math.isfinite(value):
            raise EditError(f"{value!r} cannot be written")
        return float.__repr__(value)
    if isinstance(value, str):
        return _string(value, flow)
    if isinstance(value, dict):
        items = (f"{_key(k, True)}: {_inline(v, True)}" for k, v in value.items())
        return "{" + ", ".join(items) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(_inline(v, True) for v in value) + "]"
    raise EditError(f"a {type(value).__name__} value cannot be written")


def _is_block(value: Any) -> bool:
    return isinstance(value, dict | list) and bool(value)


def _entry(key: Any, value: Any, indent: int, style: _Style) -> list[str]:
    head = " " * indent + _key(key, False) + ":"
    if not _is_block(value):
        return [f"{head} {_inline(value)}"]
    sub = indent + (style.step if isinstance(value, dict) else style.seq)
    return [head, *_block(value, sub, style)]


def _block(value: Any, indent: int, style: _Style) -> list[str]:
    """The lines of ``value`` in block style, each starting with ``indent`` spaces."""
    if not _is_block(value):
        return [" " * indent + _inline(value)]
    if isinstance(value, dict):
        return [line for k, v in value.items() for line in _entry(k, v, indent, style)]
    out: list[str] = []
    for item in value:
        lines = _block(item, indent + 2, style)
        out += [" " * indent + "- " + lines[0].lstrip(" "), *lines[1:]]
    return out


def render_value(value: Any, indent: int) -> str:
    """How a value is written: a scalar or an empty collection inline (``{}``, ``[]``);
    a non-empty dict or list as block lines, each starting with ``indent`` spaces, joined by
    ``\\n`` without a final line break (to follow ``key:`` and a line break)."""
    if _is_block(value):
        return "\n".join(_block(value, indent, _Style()))
    return _inline(value)


# --- composing with positions ----------------------------------------------------------------


class _Alias(ScalarNode):
    """Where an alias (``*name``) stands; never resolved, so it keeps its own marks."""


@dataclass
class _Doc:
    marker: int | None  # where its `---` is
    root: Node


class _Composer(yaml.SafeLoader):
    """PyYAML's composer that records each document's start event and anchored nodes."""

    def __init__(self, text: str) -> None:
        super().__init__(text)
        self.docs: list[_Doc] = []
        self.anchored: set[int] = set()

    def compose_document(self) -> Node:
        events: Any = self  # the parser's methods are untyped
        start = events.get_event()
        node = self.compose_node(None, None)
        assert node is not None  # a document always holds a node (an empty scalar at least)
        events.get_event()
        self.anchors = {}
        self.docs.append(_Doc(start.start_mark.index if start.explicit else None, node))
        return node

    def compose_node(self, parent: Node | None, index: Any) -> Node | None:
        events: Any = self
        if self.check_event(yaml.AliasEvent):
            event = events.get_event()
            return _Alias("alias", "*" + str(event.anchor), event.start_mark, event.end_mark)
        anchor = events.peek_event().anchor
        node = super().compose_node(parent, index)
        if anchor is not None:
            self.anchored.add(id(node))
        return node


def _is_null(node: Node) -> bool:
    return type(node) is ScalarNode and node.tag == "tag:yaml.org,2002:null"


def _is_flow(node: Node) -> bool:
    return isinstance(node, MappingNode | SequenceNode) and bool(node.flow_style)


def _compose(text: str) -> tuple[list[_Doc], set[int]]:
    loader = _Composer(text)
    try:
        while loader.check_node():
            loader.get_node()
    except yaml.YAMLError as exc:
        problem = getattr(exc, "problem", None) or str(exc).splitlines()[0]
        raise EditError(f"the YAML cannot be read: {problem}") from None
    finally:
        loader.dispose()
    return loader.docs, loader.anchored


def _values(text: str) -> list[Any]:
    try:
        return [doc.value for doc in read_documents(text)]
    except YamlError as exc:
        raise EditError(f"line {exc.line}: {exc.message}") from None


# --- the text and its nodes ------------------------------------------------------------------


class _Source:
    def __init__(self, text: str) -> None:
        self.text = text
        self.nl = "\r\n" if "\r\n" in text else "\n"
        self.docs, self.anchored = _compose(text)
        self.values = _values(text)
        self.content = [d for d in self.docs if not _is_null(d.root)]
        if len(self.content) != len(self.values):
            raise EditError("the file's documents cannot be matched to their nodes")
        self.style = self._style()
        self.doc = 0

    def select(self, doc: int) -> Node:
        if not 0 <= doc < len(self.content):
            raise EditError(f"the file has no document {doc} (it has {len(self.content)})")
        self.doc = doc
        return self.content[doc].root

    # positions
    def bol(self, i: int) -> int:
        return self.text.rfind("\n", 0, i) + 1

    def eol(self, i: int) -> int:
        """Where the line holding ``i`` ends (before its line break)."""
        j = self.text.find("\n", i)
        j = len(self.text) if j < 0 else j
        return j - 1 if j > i and self.text[j - 1] == "\r" else j

    def next_line(self, i: int) -> int:
        j = self.text.find("\n", i)
        return len(self.text) if j < 0 else j + 1

    def col(self, i: int) -> int:
        return i - self.bol(i)

    def first_on_line(self, i: int) -> bool:
        return self.text[self.bol(i) : i].strip() == ""

    def leaf(self, node: Node) -> Node:
        """The node a block collection's text ends with (its own end mark runs on over the
        comments after it)."""
        while isinstance(node, MappingNode | SequenceNode) and not node.flow_style and node.value:
            last = node.value[-1]
            node = last[1] if isinstance(node, MappingNode) else last
        return node

    def end(self, node: Node) -> int:
        """Where a node's text ends; a block scalar's at its last non-blank character."""
        node = self.leaf(node)
        end: int = node.end_mark.index
        if isinstance(node, ScalarNode) and node.style in ("|", ">"):
            while end > node.start_mark.index and self.text[end - 1] in " \t\r\n":
                end -= 1
        return end

    def inline(self, node: Node) -> bool:
        return (isinstance(node, ScalarNode) and node.style not in ("|", ">")) or _is_flow(node)

    def colon_end(self, key: Node) -> int:
        i = key.end_mark.index
        while self.text[i : i + 1] in (" ", "\t"):
            i += 1
        if self.text[i : i + 1] != ":":
            raise EditError(f"line {key.start_mark.line + 1}: cannot find the ':' after the key")
        return i + 1

    def dash(self, node: Node) -> int:
        i = node.start_mark.index - 1
        while i >= 0 and self.text[i] in " \t\r\n":
            i -= 1
        if i < 0 or self.text[i] != "-":
            raise EditError(f"line {node.start_mark.line + 1}: cannot find the list item's '-'")
        return i

    def _style(self) -> _Style:
        step = seq = None
        pending = [d.root for d in self.docs]
        while pending and (step is None or seq is None):
            node = pending.pop()
            if isinstance(node, SequenceNode):
                pending += node.value
            if not isinstance(node, MappingNode):
                continue
            for key, value in node.value:
                pending.append(value)
                if _is_flow(value) or not isinstance(value, MappingNode | SequenceNode):
                    continue
                offset = self.col(value.start_mark.index) - self.col(key.start_mark.index)
                if isinstance(value, MappingNode) and step is None and offset > 0:
                    step = offset
                if isinstance(value, SequenceNode) and seq is None and offset >= 0:
                    seq = offset
        return _Style(2 if step is None else step, 2 if seq is None else seq)

    # paths
    def walk(self, root: Node, path: Path) -> list[tuple[Node, Node | None]]:
        """(node, key node) along ``path`` as far as it exists, the root first."""
        steps: list[tuple[Node, Node | None]] = [(root, None)]
        for segment in path:
            node = steps[-1][0]
            found: list[tuple[Node, Node | None]] = []
            if isinstance(segment, str) and isinstance(node, MappingNode):
                found = [
                    (v, k) for k, v in node.value if type(k) is ScalarNode and k.value == segment
                ]
            elif isinstance(segment, int) and isinstance(node, SequenceNode):
                found = [(node.value[segment], None)] if 0 <= segment < len(node.value) else []
            if not found:
                break
            steps += found
        for i, (node, _) in enumerate(steps):
            if isinstance(node, _Alias) or id(node) in self.anchored:
                where = format_path(path[:i]) or "the document"
                raise EditError(f"{where} is a YAML anchor or alias; edit it by hand")
        return steps

    def plain_subtree(self, node: Node) -> None:
        pending = [node]
        while pending:
            node = pending.pop()
            if isinstance(node, _Alias) or id(node) in self.anchored:
                raise EditError("a flow collection with anchors or aliases cannot be rewritten")
            if isinstance(node, SequenceNode):
                pending += node.value
            elif isinstance(node, MappingNode):
                pending += [n for pair in node.value for n in pair]

    def flow_top(self, steps: list[tuple[Node, Node | None]]) -> int | None:
        return next((i for i, (node, _) in enumerate(steps) if _is_flow(node)), None)

    def reflow(self, steps: list[tuple[Node, Node | None]], path: Path, f: int, edit: Edit) -> Span:
        """Rewrite the flow collection at ``path[:f]`` as a whole with the edit applied."""
        self.plain_subtree(steps[f][0])
        old = self.values[self.doc]
        for segment in path[:f]:
            old = old[segment]
        return self.replace(steps[: f + 1], edit(old, path[f:]))

    # edits
    def replace(self, steps: list[tuple[Node, Node | None]], value: Any) -> Span:
        node, key = steps[-1]
        keep_flow = _is_flow(node) and bool(node.value)
        if keep_flow or not _is_block(value):
            new = _inline(value)
            if self.inline(node):
                empty = node.start_mark.index == node.end_mark.index  # `key:` or `-`
                return (node.start_mark.index, node.end_mark.index, " " * empty + new)
        end = self.end(node)
        if not self.inline(node):
            end = self.eol(end)  # a comment on the last line is inside the old block
        if key is None:  # a list item or the document itself: rewritten where it starts
            if keep_flow or not _is_block(value):
                return (node.start_mark.index, end, new)
            empty = node.start_mark.index == node.end_mark.index  # `-` and a null
            lines = _block(value, self.col(node.start_mark.index) + empty, self.style)
            lines[0] = " " * empty + lines[0].lstrip(" ")
            return (node.start_mark.index, end, self.nl.join(lines))
        start = self.colon_end(key)
        same_line = node.start_mark.index <= self.eol(start)
        rest = "" if same_line else self.text[start : self.eol(start)]  # `key:  # comment`
        if keep_flow or not _is_block(value):
            return (start, end, " " + new + rest)
        indent = self.col(key.start_mark.index)
        indent += self.style.step if isinstance(value, dict) else self.style.seq
        wanted = MappingNode if isinstance(value, dict) else SequenceNode
        if isinstance(node, wanted) and not node.flow_style:
            indent = self.col(node.start_mark.index)
        if same_line and self.inline(node):
            end = self.eol(end)
            rest = self.text[node.end_mark.index : end]  # `key: old  # comment` keeps it
        return (start, end, rest + self.nl + self.nl.join(_block(value, indent, self.style)))

    def insert(self, mapping: MappingNode, key: str, value: Any) -> Span:
        pos = self.next_line(self.end(mapping))
        leaf = self.leaf(mapping)
        header = re.match(r"[|>][0-9+-]*", self.text[leaf.start_mark.index :])
        if header and "+" in header.group():  # a kept block scalar's blank lines are its own
            pos = max(pos, self.bol(leaf.end_mark.index))
        lines = _entry(key, value, self.col(mapping.start_mark.index), self.style)
        if pos and self.text[pos - 1] == "\n":
            return (pos, pos, self.nl.join(lines) + self.nl)
        return (pos, pos, self.nl + self.nl.join(lines))

    def finish(self, span: Span, expected: list[Any]) -> str:
        start, end, new = span
        text = self.text
        out = text[:start] + new + text[end:]
        first, last = self.bol(start), self.eol(end)
        if out[:first] != text[:first] or out[len(out) - (len(text) - last) :] != text[last:]:
            raise EditError("the edit would change lines outside its span")
        try:
            got = _values(out)
        except EditError as exc:
            raise EditError(f"the edited text would not read back ({exc})") from None
        if len(got) != len(expected) or not all(map(json_equal, got, expected)):
            raise EditError("the edited text would not read back as intended")
        return out


def _setting(value: Any) -> Edit:
    def edit(old: Any, path: Path) -> Any:
        if not path:
            return copy.deepcopy(value)
        out = copy.deepcopy(old)
        node = out
        for segment in path[:-1]:
            if (node.get(segment) if isinstance(node, dict) else node[segment]) is None:
                node[segment] = {}
            node = node[segment]
        node[path[-1]] = copy.deepcopy(value)
        return out

    return edit


def _removing(old: Any, path: Path) -> Any:
    out = copy.deepcopy(old)
    node = out
    for segment in path[:-1]:
        node = node[segment]
    del node[path[-1]]
    return out


def _expected(src: _Source, edit: Edit, path: Path) -> list[Any]:
    values = list(src.values)
    values[src.doc] = edit(values[src.doc], path)
    return values


def set_value(text: str, doc: int, path: tuple[str | int, ...], value: Any) -> str:
    """Set the value at ``path`` in document ``doc``: replace it, add the key after its map's
    last entry, or create the missing maps on the way (a null value counts as missing)."""
    src = _Source(text)
    steps = src.walk(src.select(doc), path)
    found = len(steps) - 1
    node = steps[-1][0]
    missing = path[found:]
    edit = _setting(value)
    if not missing:
        old = src.values[doc]
        for segment in path:
            old = old[segment]
        if json_equal(old, value):
            return text
    elif any(isinstance(segment, int) for segment in missing):
        raise EditError(f"{format_path(path)}: the list index does not exist")
    elif not (isinstance(node, MappingNode) or _is_null(node)):
        raise EditError(f"{format_path(path[:found]) or 'the document'} is not a map")
    f = src.flow_top(steps if missing else steps[:-1])
    if f is not None and (f < found or (missing and node.value)):
        span = src.reflow(steps, path, f, edit)
    elif not missing:
        span = src.replace(steps, value)
    else:
        nested = value
        for segment in reversed(missing[1:]):
            nested = {segment: nested}
        if isinstance(node, MappingNode) and node.value and not node.flow_style:
            span = src.insert(node, str(missing[0]), nested)
        else:  # null, or an empty flow map
            span = src.replace(steps, {missing[0]: nested})
    return src.finish(span, _expected(src, edit, path))


def remove_value(text: str, doc: int, path: tuple[str | int, ...]) -> str:
    """Remove a map key (its whole entry) or a list item; the text unchanged when it is
    missing. Comments indented under the entry go with it; those above it or above the next
    entry stay. A collection left empty becomes ``{}`` or ``[]``."""
    if not path:
        raise EditError("an empty path names the whole document (remove the document)")
    src = _Source(text)
    steps = src.walk(src.select(doc), path)
    if len(steps) != len(path) + 1:
        return text
    f = src.flow_top(steps[:-1])
    parent = steps[-2][0]
    node, key = steps[-1]
    if f is not None:
        span = src.reflow(steps, path, f, _removing)
    elif len(parent.value) == 1:
        span = src.replace(steps[:-1], {} if isinstance(parent, MappingNode) else [])
    else:
        start = key.start_mark.index if key is not None else src.dash(node)
        after = src.next_line(src.end(node))
        while re.match(rf" {{{src.col(start) + 1},}}#", text[after : src.eol(after)]):
            after = src.next_line(after)  # a comment indented under the entry is inside it
        if src.first_on_line(start):
            span = (src.bol(start), after, "")
        else:  # the first entry shares its line (`- name: x`): up to the next entry
            while text[after : after + 1] in (" ", "\t"):  # or to a comment line before it
                after += 1
            span = (start, min(after, _entry_start(src, parent, path[-1])), "")
    return src.finish(span, _expected(src, _removing, path))


def _entry_start(src: _Source, parent: Node, last: str | int) -> int:
    index = [k.value for k, _ in parent.value].index(last) if isinstance(last, str) else last
    if index + 1 >= len(parent.value):
        raise EditError("cannot remove an entry that shares its line with another")
    following = parent.value[index + 1]
    if isinstance(parent, MappingNode):
        return int(following[0].start_mark.index)
    return src.dash(following)


def remove_document(text: str, doc: int) -> str:
    """Remove document ``doc`` with its own ``---`` (the first one's comments above it stay)."""
    src = _Source(text)
    src.select(doc)
    docs = src.docs
    i = next(i for i, d in enumerate(docs) if d is src.content[doc])

    def head(d: _Doc) -> int:
        return src.bol(d.root.start_mark.index if d.marker is None else d.marker)

    start = head(docs[i])
    end = head(docs[i + 1]) if i + 1 < len(docs) else len(text)
    marker = docs[i + 1].marker if i + 1 < len(docs) else None
    if docs[i].marker is None and marker is not None:  # the first document has no `---`
        if text[marker : src.eol(marker)].strip() == "---":
            end = src.next_line(marker)
    expected = src.values[:doc] + src.values[doc + 1 :]
    return src.finish((start, end, ""), expected)


def append_document(text: str, document_yaml: str) -> str:
    """Append a rendered document after the last one, with ``---`` when needed."""
    src = _Source(text)
    added = _values(document_yaml)
    if not added:
        raise EditError("the document to append is empty")
    body = document_yaml
    if src.nl == "\r\n" and "\r\n" not in body:
        body = body.replace("\n", "\r\n")
    if not body.endswith("\n"):
        body += src.nl
    prefix = src.nl if text and not text.endswith("\n") else ""
    new_docs, _ = _compose(document_yaml)
    if src.docs and new_docs[0].marker is None:
        prefix += "---" + src.nl
    return src.finish((len(text), len(text), prefix + body), src.values + added)
