"""One call of a function through a ``FunctionRunner``, as the runtime and sandbox tests make
it."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seg.trace.functions import FunctionCall, FunctionResult, FunctionRunner


def call(runner: FunctionRunner, code: str, event: Mapping[str, Any] | None = None, *,
         kind: str = "insert", settings: Mapping[str, Any] | None = None, name: str = "f",
         default: Mapping[str, Any] | None = None) -> FunctionResult:  # fmt: skip
    """``code`` as function ``name`` of ``kind`` over ``event`` (``default`` when None)."""
    chosen = event if event is not None else (default or {"type": "track"})
    return runner(FunctionCall(kind=kind, name=name, code=code, event=chosen,  # type: ignore[arg-type]
                               settings=settings or {}))  # fmt: skip
