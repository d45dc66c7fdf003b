"""Resources as seg sees them: desired (from YAML) and current (from the control plane)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from seg.model.kinds import Kind

__all__ = ["CurrentResource", "DesiredResource", "Origin"]

Path = tuple[str, ...]


@dataclass(frozen=True)
class Origin:
    """Where a resource (or one of its values) was declared."""

    file: str
    line: int
    col: int

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}"


@dataclass(frozen=True)
class DesiredResource:
    """A resource declared in the workspace. ``fields`` holds API fields only (the parent
    reference is part of the address); ``secret_paths`` are values that came from
    ``${env:…}`` or that the catalog marks secret (an ``int`` segment is a list index);
    ``unknown_paths`` are those whose variable is not set."""

    kind: Kind
    address: str
    fields: Mapping[str, Any]
    secret_paths: frozenset[tuple[str | int, ...]] = frozenset()
    protect: bool = False
    origin: Origin | None = None
    marks: Mapping[Path, Origin] = field(default_factory=dict, compare=False, repr=False)
    # Other files the resource was read from (a model's query_file), for reports.
    attachments: tuple[str, ...] = ()
    # The file each ``*_file`` value was read from (``code`` → ``functions/x.js``), so that
    # a problem at a line of the value points into that file.
    value_files: Mapping[str, str] = field(default_factory=dict, compare=False, repr=False)
    # Secret paths whose ${env:…} variable is not set: the value there is only a placeholder
    # (the reference's text), so it is neither checked nor compared nor sent.
    unknown_paths: frozenset[tuple[str | int, ...]] = frozenset()

    def is_unknown(self, path: tuple[str | int, ...]) -> bool:
        """Whether a value at, beneath or above ``path`` is unknown (its variable not set)."""
        return any(u[: len(path)] == path or path[: len(u)] == u for u in self.unknown_paths)

    @property
    def name(self) -> str:
        return self.address.rsplit("/", 1)[-1]

    def declared_paths(self) -> list[Path]:
        """The leaf paths this resource manages: each declared field, and each declared key
        (recursively) of map fields such as ``settings``."""
        out: list[Path] = []
        for name, value in self.fields.items():
            spec = self.kind.field(name)
            if spec is not None and spec.map_like and isinstance(value, dict) and value:
                out += _leaves(value, (name,))
            else:
                out.append((name,))
        return out


def _leaves(value: dict[str, Any], prefix: Path) -> list[Path]:
    out: list[Path] = []
    for key, child in value.items():
        if isinstance(child, dict) and child:
            out += _leaves(child, (*prefix, str(key)))
        else:
            out.append((*prefix, str(key)))
    return out


@dataclass(frozen=True)
class CurrentResource:
    """A resource as the control plane returned it (secrets as digests)."""

    kind: Kind
    address: str
    fields: Mapping[str, Any]
    etag: str = ""
    update_time: str = ""
    # Paths seg managed at its last write (dotted, mask syntax) and the remembered protect flag.
    managed: frozenset[str] = frozenset()
    protect: bool = False
    # Which seg.yaml manages it (``manager:``); "" when nobody does (made through the API).
    manager: str = ""
    # Kinds with ``versioning``: the newest version the control plane keeps (0: none known).
    latest_version: int = 0
