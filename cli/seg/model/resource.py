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
    ``${env:…}`` or that the catalog marks secret."""

    kind: Kind
    address: str
    fields: Mapping[str, Any]
    secret_paths: frozenset[Path] = frozenset()
    protect: bool = False
    origin: Origin | None = None
    marks: Mapping[Path, Origin] = field(default_factory=dict, compare=False, repr=False)
    # Other files the resource was read from (a model's query_file), for reports.
    attachments: tuple[str, ...] = ()

    @property
    def name(self) -> str:
        return self.address.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class CurrentResource:
    """A resource as the control plane returned it (secrets as digests)."""

    kind: Kind
    address: str
    fields: Mapping[str, Any]
    etag: str = ""
    update_time: str = ""
