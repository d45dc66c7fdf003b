"""The functions' runtime a simulation gets: a Node.js runner when the workspace has functions
and Node.js can run them, else none (the pipeline then reports them as not simulated). One
command's functions share a budget of time (``BUDGET_SECONDS``): a sample of thousands of
events through a function that always times out must not hold a CI job for hours."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager

from seg.kinds import function as function_kind
from seg.model.kinds import Lookup
from seg.sandbox.node import node_runner
from seg.trace.functions import FunctionCall, FunctionResult, FunctionRunner

__all__ = ["BUDGET_SECONDS", "Budgeted", "functions_runtime"]

BUDGET_SECONDS = 300.0


class Budgeted:
    """A runner that refuses calls once its calls took ``seconds`` in all."""

    def __init__(self, inner: FunctionRunner, seconds: float = BUDGET_SECONDS) -> None:
        self.inner, self.seconds, self.left = inner, seconds, seconds

    def __call__(self, call: FunctionCall) -> FunctionResult:
        if self.left <= 0:
            return FunctionResult("error", message=f"this run's functions took their budget of "
                                                   f"{self.seconds:g} s; not run")  # fmt: skip
        start = time.monotonic()
        try:
            return self.inner(call)
        finally:
            self.left -= time.monotonic() - start


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
        yield Budgeted(runner)
