"""The functions' runtime a simulation gets: a Node.js runner when the workspace has functions
and Node.js can run them, else none (the pipeline then reports them as not simulated)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from seg.kinds import function as function_kind
from seg.model.kinds import Lookup
from seg.sandbox.node import node_runner
from seg.trace.functions import FunctionRunner

__all__ = ["functions_runtime"]


@contextmanager
def functions_runtime(*lookups: Lookup) -> Iterator[FunctionRunner | None]:
    """A runner for the functions of the workspaces ``lookups`` show, closed on exit; None
    without a function (no process is started) or without a usable Node.js."""
    name = function_kind.KIND.name
    if not any(True for lookup in lookups for _ in lookup.every(name)):
        yield None
        return
    runner = node_runner()
    if runner is None:
        yield None
        return
    with runner:
        yield runner
