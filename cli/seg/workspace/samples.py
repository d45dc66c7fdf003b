"""Sample events: JSON lines read from a file named on the command line, or from the files
``seg.yaml``'s ``events:`` names inside the workspace (``tree_samples``), each event a JSON
object at most ``MAX_EVENT_DEPTH`` deep. A bad line is one error naming ``FILE:LINE``."""

from __future__ import annotations

import fnmatch
import json
import posixpath
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from seg.errors import ConfigError, WorkspaceInvalid
from seg.workspace.config import CONFIG_FILE, EVERY_SOURCE, WorkspaceConfig
from seg.workspace.diagnostics import Diagnostic
from seg.workspace.tree import FileRefused, TooLarge, Tree

__all__ = ["MAX_EVENT_DEPTH", "MAX_SAMPLE_BYTES", "event_lines", "event_objects", "load_event",
           "nesting", "read_event_file", "tree_samples"]  # fmt: skip

MAX_EVENT_DEPTH = 100  # nesting of a sample event; evaluating and copying recurse per level
MAX_SAMPLE_BYTES = 64 * 1024 * 1024  # every sample file seg.yaml names, together

Numbered = list[tuple[int, Any]]


def nesting(value: Any) -> int:
    """How many objects and lists nest on the deepest path of ``value``, without recursion."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        node, level = stack.pop()
        if isinstance(node, dict | list):
            deepest = max(deepest, level)
            children = node.values() if isinstance(node, dict) else node
            stack.extend((child, level + 1) for child in children)
    return deepest


def load_event(text: str) -> Any:
    """A JSON event; ValueError when it is not JSON or nests too deeply."""
    try:
        event = json.loads(text)
    except RecursionError:
        raise ValueError(f"nests deeper than {MAX_EVENT_DEPTH} levels") from None
    if nesting(event) > MAX_EVENT_DEPTH:
        raise ValueError(f"nests deeper than {MAX_EVENT_DEPTH} levels")
    return event


def event_lines(text: str, shown: str) -> Numbered:
    """The JSON value on each non-blank line, by line number (``shown:LINE`` on an error)."""
    out = []
    for number, line in enumerate(text.splitlines(), 1):
        if line.strip():
            try:
                out.append((number, load_event(line)))
            except ValueError as exc:
                raise ConfigError(f"{shown}:{number}: not a JSON event: {exc}") from None
    return out


def event_objects(events: Numbered, shown: str) -> list[tuple[int, dict[str, Any]]]:
    """``events``, every one a JSON object (``shown:LINE`` otherwise): what a simulation
    sends to a source."""
    for number, event in events:
        if not isinstance(event, dict):
            raise ConfigError(f"{shown}:{number}: an event is a JSON object")
    return events


def read_event_file(path: Path) -> Numbered:
    """A sample file named on the command line (the caller's own file)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot read {path}: {exc}") from None
    return event_lines(text, str(path))


def tree_samples(tree: Tree, config: WorkspaceConfig, source: str | None = None
                 ) -> list[tuple[str, int, Mapping[str, Any]]]:  # fmt: skip
    """The events of the files ``events:`` names (only those sent to ``source`` when given),
    as (source or ``EVERY_SOURCE``, line, event). A pattern leading outside the workspace or
    matching no file is a problem at its place in ``seg.yaml``; files are read through the
    tree, so a symlink never leads outside it."""
    shown = tree.display(CONFIG_FILE)
    files = None
    out: list[tuple[str, int, Mapping[str, Any]]] = []
    problems: list[Diagnostic] = []
    seen: set[tuple[str, str]] = set()  # (source, file): a file named twice is read once
    budget = MAX_SAMPLE_BYTES  # for every file together
    for item in config.events:
        if source is not None and item.source not in (source, EVERY_SOURCE):
            continue
        pattern = posixpath.normpath(item.pattern)
        if pattern.startswith(("/", "../")) or pattern == "..":
            message = f"events: {item.pattern!r} leads outside the workspace"
            problems.append(Diagnostic(shown, item.line, item.col, message, "config/events"))
            continue
        files = tree.files() if files is None else files
        # a dot file (credentials a CI step wrote, say) only when the pattern names one
        dots = posixpath.basename(pattern).startswith(".")
        matched = [rel for rel in files if fnmatch.fnmatchcase(rel, pattern)
                   and (dots or not posixpath.basename(rel).startswith("."))]  # fmt: skip
        if not matched:
            message = f"events: {item.pattern!r} matches no file of the workspace"
            problems.append(Diagnostic(shown, item.line, item.col, message, "config/events"))
        for rel in matched:
            if (item.source, rel) in seen:
                continue
            seen.add((item.source, rel))
            try:
                text = tree.read(rel, budget)
            except (OSError, UnicodeDecodeError) as exc:
                reason = str(exc) if isinstance(exc, FileRefused) else type(exc).__name__
                if isinstance(exc, TooLarge):
                    reason = f"the samples hold more than {MAX_SAMPLE_BYTES:,} bytes in all"
                message = f"events: cannot read {rel}: {reason}"
                problems.append(Diagnostic(shown, item.line, item.col, message, "config/events"))
                continue
            budget -= len(text.encode())
            display = tree.display(rel)
            events = event_objects(event_lines(text, display), display)
            out += [(item.source, number, event) for number, event in events]
    if problems:
        raise WorkspaceInvalid(problems)
    return out
