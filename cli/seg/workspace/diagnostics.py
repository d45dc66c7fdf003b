"""A problem found in the workspace, with the file, line and column it points at: an error
(the workspace is invalid) or a warning (shown, refusing nothing)."""

from __future__ import annotations

from dataclasses import dataclass

from seg.model.clip import clip_message

__all__ = ["Diagnostic"]


@dataclass(frozen=True, order=True)
class Diagnostic:
    file: str
    line: int
    col: int
    message: str
    rule: str = "invalid"
    severity: str = "error"  # or "warning"

    def __post_init__(self) -> None:  # the backstop: no message is echoed whole
        object.__setattr__(self, "message", clip_message(self.message))

    def __str__(self) -> str:
        return f"{self.file}:{self.line}:{self.col}: {self.severity}: {self.message} [{self.rule}]"

    @property
    def is_warning(self) -> bool:
        return self.severity == "warning"
