"""Running destination filters over an event, in the platform's order: every matching
filter's SAMPLE actions, then DROP, then DROP_PROPERTIES, then ALLOW_PROPERTIES.

Decisions: each filter's ``if`` is evaluated against the event as it arrived (before any
property is removed); sampling is deterministic — an event is kept when a hash of the value at
``path`` (or of the whole event) falls below ``percent`` — so a test run is reproducible.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any

from seg.fql.evaluate import compile_expr
from seg.fql.parser import parse

__all__ = ["Filter", "Outcome", "apply_filters", "compile_filters", "compiled", "json_copy",
           "run_filters"]


@dataclass(frozen=True)
class Filter:
    address: str
    condition: Callable[[Any], Any]
    actions: tuple[dict[str, Any], ...]
    # the actions as canonical JSON: filters whose matching actions are alike do the same to
    # an event (a simulation applies them once per event)
    key: str = ""


@dataclass
class Outcome:
    delivered: bool
    dropped_by: str | None = None
    removed: list[str] = field(default_factory=list)
    event: Any = None


def compile_filters(specs: Iterable[tuple[str, Mapping[str, Any]]]) -> list[Filter]:
    """(address, fields) of enabled filters → compiled filters (raises FqlError)."""
    return [
        Filter(address, compiled(str(fields["if"])), tuple(fields.get("actions", [])),
               json.dumps(fields.get("actions", []), sort_keys=True, default=str))
        for address, fields in specs
        if fields.get("enabled", True)
    ]  # fmt: skip


@lru_cache(maxsize=4096)
def compiled(expression: str) -> Callable[[Any], Any]:
    """An FQL expression parsed and compiled once (a simulation runs thousands of events
    through the same few conditions); raises FqlError."""
    return compile_expr(parse(expression))


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
            # the list and its objects may be shared with the event as it arrived (``_owned``)
            target[head] = [dict(e) if isinstance(e, dict) else e for e in target[head]]
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


def json_copy(value: Any) -> Any:
    """A copy of JSON data (dicts, lists, scalars): what ``copy.deepcopy`` gives, without its
    memo (a simulation copies thousands of events)."""
    if isinstance(value, dict):
        return {key: json_copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [json_copy(item) for item in value]
    return value


def _owned(event: Any, paths: list[str]) -> Any:
    """``event`` with the objects at ``paths`` and those above them copied, shallowly: the
    rest is shared, so removing keys of those objects leaves ``event`` as it was (a caller
    that changes anything deeper copies first)."""
    if not isinstance(event, dict) or any(not path for path in paths):
        return json_copy(event)
    out = dict(event)
    for path in paths:
        node = out
        keys = path.split(".")
        for key in keys:
            child = node.get(key)
            if not isinstance(child, dict):
                break
            node[key] = dict(child)
            node = node[key]
    return out


def run_filters(filters: list[Filter], event: Any) -> Outcome:
    """The filters over ``event``; the delivered event is ``event`` itself when no property
    was removed (a copy otherwise): the caller copies before changing it."""
    return apply_filters([flt for flt in filters if flt.condition(event) is True], event)


def apply_filters(matched: list[Filter], event: Any) -> Outcome:
    """The actions of the filters whose conditions matched ``event`` (``run_filters``), in
    the platform's order."""
    by_type: dict[str, list[tuple[Filter, dict[str, Any]]]] = {}
    for flt in matched:
        for action in flt.actions:
            by_type.setdefault(str(action.get("type")), []).append((flt, action))
    if not by_type:
        return Outcome(True, None, [], event)
    for flt, action in by_type.get("SAMPLE", ()):
        if _fraction(event, action.get("path")) >= float(action["percent"]):
            return Outcome(False, flt.address, [], None)
    for flt, _ in by_type.get("DROP", ()):
        return Outcome(False, flt.address, [], None)
    drops, allows = by_type.get("DROP_PROPERTIES", []), by_type.get("ALLOW_PROPERTIES", [])
    if not drops and not allows:
        return Outcome(True, None, [], event)
    out = _owned(event, [path for _, a in (*drops, *allows) for path in a["fields"]])
    removed: list[str] = []
    for _, action in drops:
        for path, keys in action["fields"].items():
            _drop(out, path, keys, removed)
    for _, action in allows:
        for path, keys in action["fields"].items():
            _allow(out, path, keys, removed)
    return Outcome(True, None, removed, out)
