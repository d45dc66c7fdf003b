"""A problem found in the workspace, with the file, line and column it points at."""

from __future__ import annotations

from dataclasses import dataclass

__all__ = ["Diagnostic"]


@dataclass(frozen=True, order=True)
class Diagnostic:
    file: str
    line: int
    col: int
    message: str
    rule: str = "invalid"

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: error: {self.message} [{self.rule}]"
