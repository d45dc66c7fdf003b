"""A strict YAML reader that keeps positions.

It composes nodes with libyaml (when available), then builds Python values itself so that it
can: report duplicate keys, accept only the YAML 1.2 core schema (no ``!!python`` or custom
tags; ``yes``/``on`` stay strings), stop alias expansion past a sane size, and record the
line and column of every key and value.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from seg.model.clip import clip_repr
from seg.model.printable import UNSAFE

__all__ = ["MAX_DEPTH", "MAX_NODES", "YamlDocument", "YamlError", "read_documents"]

Path = tuple[Any, ...]
Mark = tuple[int, int]

MAX_NODES = 100_000
# Nesting past this is refused where it starts (the API accepts 64 levels in a request body;
# deeper YAML would crash the recursive builder long before libyaml's own limit).
MAX_DEPTH = 64

_T = "tag:yaml.org,2002:"
_PLAIN = "tag:seg:plain"
_WORDS = frozenset({"true", "True", "TRUE", "false", "False", "FALSE", "null", "Null", "NULL"})


class _Loader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """libyaml's parser; untagged scalars are resolved later by ``_scalar`` (YAML 1.2 core)."""

    def resolve(self, kind: type, value: Any, implicit: Any) -> str:  # noqa: ARG002
        if kind is yaml.ScalarNode:
            return _PLAIN if implicit[0] else _T + "str"
        return _T + ("seq" if kind is yaml.SequenceNode else "map")

    # ``resolve`` above never looks at the path: the path bookkeeping libyaml's composer asks
    # for around every node (two calls each) is skipped.
    def descend_resolver(self, current_node: Any, current_index: Any) -> None:  # noqa: ARG002
        return None

    def ascend_resolver(self) -> None:
        return None


_CORE_SCALARS = {_T + "str", _T + "int", _T + "float", _T + "bool", _T + "null"}
_NULL = re.compile(r"^(?:~|null|Null|NULL|)$")
_BOOL = re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$")
_INT = re.compile(r"^(?:[-+]?[0-9]+|0o[0-7]+|0x[0-9a-fA-F]+)$")
_FLOAT = re.compile(
    r"^(?:[-+]?(?:\.[0-9]+|[0-9]+(?:\.[0-9]*)?)(?:[eE][-+]?[0-9]+)?"
    r"|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN))$"
)


class YamlError(Exception):
    def __init__(self, message: str, line: int, col: int) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


@dataclass
class YamlDocument:
    value: Any
    line: int
    col: int
    value_marks: dict[Path, Mark] = field(default_factory=dict)
    key_marks: dict[Path, Mark] = field(default_factory=dict)

    def mark(self, path: Path) -> Mark:
        """Position of the value at ``path``, else of its nearest ancestor."""
        while path:
            if path in self.value_marks:
                return self.value_marks[path]
            path = path[:-1]
        return (self.line, self.col)

    def key_mark(self, path: Path) -> Mark:
        return self.key_marks.get(path) or self.mark(path)


def _pos(node: yaml.Node) -> Mark:
    return (node.start_mark.line + 1, node.start_mark.column + 1)


class _Builder:
    """Nodes → Python values, recording positions. Hot path: keep it lean."""

    def __init__(self, doc: YamlDocument) -> None:
        self.doc = doc
        self.marks = doc.value_marks
        self.count = 0

    def build(self, node: yaml.Node, path: Path) -> Any:
        self.count += 1
        if self.count > MAX_NODES:
            line, col = _pos(node)
            raise YamlError(
                f"document expands past {MAX_NODES} nodes (alias/anchor expansion too large)",
                line,
                col,
            )
        mark = node.start_mark
        self.marks[path] = (mark.line + 1, mark.column + 1)
        if len(path) > MAX_DEPTH:
            raise YamlError(f"the document nests deeper than {MAX_DEPTH} levels", *_pos(node))
        cls = node.__class__
        if cls is yaml.ScalarNode:
            text = node.value
            if node.tag == _PLAIN and text[:1].isalpha() and text not in _WORDS:
                return text
            return _scalar(node)
        if cls is yaml.MappingNode:
            return self._mapping(node, path)
        if node.tag != _T + "seq":
            raise YamlError(f"YAML tag {clip_repr(node.tag)} is not allowed", *_pos(node))
        return [self.build(child, (*path, i)) for i, child in enumerate(node.value)]

    def _mapping(self, node: yaml.Node, path: Path) -> dict[Any, Any]:
        if node.tag != _T + "map":
            raise YamlError(f"YAML tag {clip_repr(node.tag)} is not allowed", *_pos(node))
        out: dict[Any, Any] = {}
        key_marks = self.doc.key_marks
        marks = self.marks
        deep = len(path) + 1 > MAX_DEPTH
        for key_node, value_node in node.value:
            if key_node.__class__ is not yaml.ScalarNode:
                raise YamlError("mapping keys must be plain scalars", *_pos(key_node))
            if _is_merge_key(key_node):
                raise YamlError("YAML merge keys (<<) are not allowed", *_pos(key_node))
            key = key_node.value
            if key_node.tag != _PLAIN or not key[:1].isalpha() or key in _WORDS:
                key = _scalar(key_node)
                if not isinstance(key, str):
                    key = str(key_node.value)
            if key not in _SAFE_KEYS:
                if UNSAFE.search(key):  # no field or settings key holds one: views are spoofed
                    raise YamlError(
                        f"key {clip_repr(key)} holds a control, line-break or bidi character",
                        *_pos(key_node),
                    )
                if len(_SAFE_KEYS) < _MAX_SAFE_KEYS:
                    _SAFE_KEYS.add(key)
            key_path = (*path, key)
            if key in out:
                first = key_marks[key_path]
                raise YamlError(
                    f"duplicate key {clip_repr(key)} (first defined at line {first[0]})",
                    *_pos(key_node),
                )
            mark = key_node.start_mark
            key_marks[key_path] = (mark.line + 1, mark.column + 1)
            if value_node.__class__ is not yaml.ScalarNode or deep:
                out[key] = self.build(value_node, key_path)
                continue
            # ``build`` inlined for a scalar value (most nodes): the same checks, in order
            self.count += 1
            if self.count > MAX_NODES:
                raise YamlError(
                    f"document expands past {MAX_NODES} nodes (alias/anchor expansion too large)",
                    *_pos(value_node),
                )
            mark = value_node.start_mark
            marks[key_path] = (mark.line + 1, mark.column + 1)
            text = value_node.value
            if value_node.tag == _PLAIN and text[:1].isalpha() and text not in _WORDS:
                out[key] = text
            else:
                out[key] = _scalar(value_node)
        return out


# Keys already found free of unsafe characters (a workspace repeats a few hundred keys).
_SAFE_KEYS: set[str] = set()
_MAX_SAFE_KEYS = 10_000


def _is_merge_key(node: yaml.Node) -> bool:
    """``<<`` written plainly (the merge key of YAML 1.1) or tagged ``!!merge``; a quoted
    ``"<<"`` is an ordinary string key."""
    return node.tag == _T + "merge" or (node.tag == _PLAIN and node.value == "<<")


_EXPLICIT_TYPES: dict[str, tuple[type, ...]] = {
    _T + "null": (type(None),),
    _T + "bool": (bool,),
    _T + "int": (int,),
    _T + "float": (float, int),
}


def _scalar(node: yaml.Node) -> Any:
    tag, text = node.tag, node.value
    if tag == _PLAIN:
        return _core_plain(text)
    if tag in (_T + "str", _T + "timestamp"):
        return text
    if tag not in _CORE_SCALARS:
        message = f"YAML tag {clip_repr(tag)} is not allowed (only the core schema)"
        raise YamlError(message, *_pos(node))
    value = _core_plain(text)
    wanted = _EXPLICIT_TYPES[tag]
    if type(value) not in wanted:
        raise YamlError(f"{clip_repr(text)} is not a valid !!{tag[len(_T) :]}", *_pos(node))
    return float(value) if tag == _T + "float" else value


def _core_plain(text: str) -> Any:
    """An untagged plain scalar under the YAML 1.2 core schema."""
    if text[:1].isalpha() and text not in _WORDS:
        return text  # the common case: a word is a string
    if _NULL.match(text):
        return None
    if _BOOL.match(text):
        return text.lower() == "true"
    if _INT.match(text):
        return int(text, 0) if text[:2] in ("0o", "0x") else int(text)
    if _FLOAT.match(text):
        low = text.lower()
        return float(low.replace(".", "")) if low.lstrip("+-") in (".inf", ".nan") else float(text)
    return text


def read_documents(text: str) -> Iterator[YamlDocument]:
    """Every non-empty document in ``text``; raises YamlError with a 1-based position."""
    try:
        for node in yaml.compose_all(text, Loader=_Loader):
            if node is None:
                continue
            line, col = _pos(node)
            doc = YamlDocument(None, line, col)
            doc.value = _Builder(doc).build(node, ())
            if doc.value is None:
                continue
            yield doc
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise YamlError(f"YAML syntax error: {exc.problem or exc.context}", line, col) from None
    except yaml.YAMLError as exc:
        raise YamlError(f"YAML error: {exc}", 1, 1) from None
