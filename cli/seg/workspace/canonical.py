"""The canonical form of a workspace YAML file (``seg fmt``), keeping its comments.

Canonical means:

- a resource document's top-level keys in the order ``kind``, ``name``, ``protect``,
  ``spec`` (then any others as written); ``seg.yaml``'s in the order of its schema
  (``version``, ``workspace``, ``api_url``, ``model_change_policy``, ``vars``,
  ``environments``, then any others); keys inside ``spec`` stay as written;
- two-space indentation for maps, and sequences indented under their key (``  - item``);
- plain scalars wherever YAML allows, else single quotes (double quotes only for what needs
  escapes); strings a YAML 1.1 reader would take for booleans (``yes``, ``on``, ``n``…) are
  quoted, though seg reads them as strings either way;
- flow (``{a: b}``) and block style, block scalars (``|``), anchors and number spellings
  (``0x1F``, ``1.50``) stay as written; lines are never re-wrapped;
- documents separated by ``---``; exactly one newline at the end.

Pure: ``canonical_text`` maps a file's text to its canonical text. It refuses (``FormatError``
with a 1-based line and column) what seg's own reader refuses, and never returns a text whose
values (read by seg's reader) or comments differ from the input's.
"""

from __future__ import annotations

import io
import json
import re
from functools import cache
from typing import Any

from seg.workspace.yamlpos import YamlError, read_documents

__all__ = ["CONFIG_ORDER", "DOCUMENT_ORDER", "FormatError", "canonical_text"]

DOCUMENT_ORDER = ("kind", "name", "protect", "spec")
CONFIG_ORDER = ("version", "workspace", "api_url", "model_change_policy", "vars", "environments")
_ENVIRONMENT_ORDER = ("workspace", "api_url", "vars")
_WIDTH = 1 << 20  # never fold a long line
_UNREADABLE = object()


class FormatError(Exception):
    def __init__(self, message: str, line: int = 1, col: int = 1) -> None:
        super().__init__(message)
        self.message = message
        self.line = line
        self.col = col


def canonical_text(text: str, config: bool = False) -> str:
    """``text`` in canonical form (``config``: it is ``seg.yaml``)."""
    before = _values(text)
    if not before:
        return text  # nothing but comments (or nothing): left as written
    formatted = _dump(_load(text), config)
    try:
        after = _values(formatted)
    except FormatError:
        after = [_UNREADABLE]
    if _comparable(after) != _comparable(before):
        raise FormatError("formatting would change a value; the file is left as written")
    if _comments(formatted) != _comments(text):
        raise FormatError("formatting would lose a comment; the file is left as written")
    return formatted


def _values(text: str) -> list[Any]:
    """The values seg reads from ``text`` (its strict reader)."""
    try:
        return [doc.value for doc in read_documents(text)]
    except YamlError as exc:
        raise FormatError(exc.message, exc.line, exc.col) from None


def _comparable(values: list[Any]) -> str:
    """Key order carries no meaning; anything else does (1 is not 1.0, lists keep order)."""
    return json.dumps(values, sort_keys=True, default=repr)


# Strings YAML 1.1 readers (PyYAML, many tools) take for booleans, or refuse plain (libyaml
# reads no plain scalar starting with ``?`` or ``:``): always quoted.
_YAML11_WORDS = re.compile(r"^(?:y|Y|yes|Yes|YES|n|N|no|No|NO|on|On|ON|off|Off|OFF)$|^[?:]")


@cache
def _yaml_classes() -> tuple[type, type]:
    """ruamel's round-trip constructor and representer, with floats written back exactly as
    they were read (ruamel re-formats some, e.g. 1.57183077317824e-13 loses its last digit)."""
    from ruamel.yaml.constructor import RoundTripConstructor
    from ruamel.yaml.representer import RoundTripRepresenter

    class Float(float):
        text = ""

    def construct(constructor: Any, node: Any) -> Float:
        value = Float(RoundTripConstructor.construct_yaml_float(constructor, node))
        value.text = node.value
        return value

    def represent(representer: Any, data: Float) -> Any:
        return representer.represent_scalar("tag:yaml.org,2002:float", data.text)

    class Constructor(RoundTripConstructor):
        pass

    class Representer(RoundTripRepresenter):
        pass

    Constructor.add_constructor("tag:yaml.org,2002:float", construct)
    Representer.add_representer(Float, represent)
    return Constructor, Representer


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip: keeps comments, flow style, anchors, number spellings
    yaml.Constructor, yaml.Representer = _yaml_classes()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = _WIDTH
    return yaml


def _quote_words(node: Any) -> None:
    """Quote every string value a YAML 1.1 reader would misread (``'yes'``, ``'?x'``)."""
    from ruamel.yaml.scalarstring import SingleQuotedScalarString

    items = node.items() if isinstance(node, dict) else enumerate(node)
    for key, value in list(items):
        if type(value) is str and _YAML11_WORDS.match(value):
            node[key] = SingleQuotedScalarString(value)
        elif isinstance(value, dict | list):
            _quote_words(value)


def _load(text: str) -> list[Any]:
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    try:
        return list(_yaml().load_all(text))
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line, col = (mark.line + 1, mark.column + 1) if mark else (1, 1)
        raise FormatError(f"cannot format: {exc.problem or exc.context}", line, col) from None
    except YAMLError as exc:
        raise FormatError(f"cannot format: {exc}") from None


def _dump(docs: list[Any], config: bool) -> str:
    for doc in docs:
        if isinstance(doc, dict | list):
            _quote_words(doc)
        if config:
            _reorder(doc, CONFIG_ORDER)
            envs = doc.get("environments") if isinstance(doc, dict) else None
            for env in envs.values() if isinstance(envs, dict) else ():
                _reorder(env, _ENVIRONMENT_ORDER)
        else:
            _reorder(doc, DOCUMENT_ORDER)
    out = io.StringIO()
    try:
        _yaml().dump_all(docs, out)
    except Exception as exc:  # ruamel cannot write back what it read: say so, keep the file
        raise FormatError(f"cannot format: {type(exc).__name__}: {exc}") from None
    return out.getvalue().rstrip("\n") + "\n"


def _reorder(node: Any, order: tuple[str, ...]) -> None:
    """Move ``order``'s keys to the front of a map (comments travel with their keys)."""
    if not hasattr(node, "move_to_end"):
        return
    for key in reversed(order):
        if key in node:
            node.move_to_end(key, last=False)


def _comments(text: str) -> list[str]:
    """Every comment's text, in order: what is left once every token's span (scalars of every
    style, indicators, tags, anchors) is blanked out, so a ``#`` inside a value never counts.
    Indentation and the blanks before a comment do not count."""
    import yaml

    masked = list(text)
    for token in yaml.scan(text, Loader=yaml.SafeLoader):
        for index in range(token.start_mark.index, token.end_mark.index):
            if masked[index] != "\n":
                masked[index] = " "
    found = []
    lines = text.split("\n")
    for number, line in enumerate("".join(masked).split("\n")):
        column = line.find("#")
        if column >= 0:
            found.append(lines[number][column:].rstrip())
    return found
