"""Running destination filters over an event, in the platform's order: every matching
filter's SAMPLE actions, then DROP, then DROP_PROPERTIES, then ALLOW_PROPERTIES.

Decisions: each filter's ``if`` is evaluated against the event as it arrived (before any
property is removed); sampling is deterministic — an event is kept when a hash of the value at
``path`` (or of the whole event) falls below ``percent`` — so a test run is reproducible.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from seg.fql.evaluate import compile_expr
from seg.fql.parser import parse

__all__ = ["Filter", "Outcome", "compile_filters", "run_filters"]


@dataclass(frozen=True)
class Filter:
    address: str
    condition: Callable[[Any], Any]
    actions: tuple[dict[str, Any], ...]


@dataclass
class Outcome:
    delivered: bool
    dropped_by: str | None = None
    removed: list[str] = field(default_factory=list)
    event: Any = None


def compile_filters(specs: Iterable[tuple[str, dict[str, Any]]]) -> list[Filter]:
    """(address, fields) of enabled filters → compiled filters (raises FqlError)."""
    return [
        Filter(address, compile_expr(parse(str(fields["if"]))), tuple(fields.get("actions", [])))
        for address, fields in specs
        if fields.get("enabled", True)
    ]


def _fraction(event: Any, path: str | None) -> float:
    value: Any = event
    if path:
        for key in path.split("."):
            value = value.get(key) if isinstance(value, dict) else None
    digest = hashlib.sha256(json.dumps(value, sort_keys=True).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


def _object_at(event: Any, path: str) -> Any:
    node = event
    for key in path.split(".") if path else ():
        node = node.get(key) if isinstance(node, dict) else None
    return node


def _drop(event: Any, path: str, keys: list[str], removed: list[str]) -> None:
    target = _object_at(event, path)
    prefix = f"{path}." if path else ""
    for key in keys:
        head, _, inner = key.partition(".")
        if inner and isinstance(target, dict) and isinstance(target.get(head), list):
            for element in target[head]:
                if isinstance(element, dict) and inner in element:
                    del element[inner]
                    removed.append(f"{prefix}{head}[].{inner}")
        elif isinstance(target, dict) and key in target:
            del target[key]
            removed.append(prefix + key)


def _allow(event: Any, path: str, keys: list[str], removed: list[str]) -> None:
    target = _object_at(event, path)
    if not isinstance(target, dict):
        return
    prefix = f"{path}." if path else ""
    for key in sorted(set(target) - set(keys)):
        del target[key]
        removed.append(prefix + key)


def run_filters(filters: list[Filter], event: Any) -> Outcome:
    matching = [f for f in filters if f.condition(event) is True]
    out = copy.deepcopy(event)
    removed: list[str] = []

    def actions(kind: str) -> list[tuple[Filter, dict[str, Any]]]:
        return [(f, a) for f in matching for a in f.actions if a.get("type") == kind]

    for flt, action in actions("SAMPLE"):
        if _fraction(event, action.get("path")) >= float(action["percent"]):
            return Outcome(False, flt.address, [], None)
    for flt, _ in actions("DROP"):
        return Outcome(False, flt.address, [], None)
    for _, action in actions("DROP_PROPERTIES"):
        for path, keys in action["fields"].items():
            _drop(out, path, keys, removed)
    for _, action in actions("ALLOW_PROPERTIES"):
        for path, keys in action["fields"].items():
            _allow(out, path, keys, removed)
    return Outcome(True, None, removed, out)
