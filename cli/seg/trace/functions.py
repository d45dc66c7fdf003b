"""What the delivery simulator asks of a function runtime, and what it gets back.

The pipeline (``seg.trace.pipeline``) is pure: it never starts a process. A command that can
run functions (Node.js is installed) passes a ``FunctionRunner`` (``seg.sandbox.node``); without
one, insert and destination functions are reported as not simulated.

The handler contract is the platform's (``config-resources.md`` §1.13): ``onTrack``,
``onIdentify``, ``onPage``, ``onScreen``, ``onGroup``, ``onAlias`` (``async function
onTrack(event, settings)``); a missing handler is ``EventNotSupported``; an insert function
returns the event to send (exactly one) and may throw ``DropEvent``; ``ValidationError`` and
``InvalidEventPayload`` reject the event, ``RetryError`` and a timeout would be retried.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

__all__ = ["MASK", "OUTCOMES", "FunctionCall", "FunctionResult", "FunctionRunner", "Outcome",
           "masked"]

Outcome = Literal["ok", "dropped", "not supported", "invalid", "retry", "error", "timeout",
                  "memory"]  # fmt: skip
OUTCOMES: tuple[Outcome, ...] = ("ok", "dropped", "not supported", "invalid", "retry", "error",
                                 "timeout", "memory")  # fmt: skip


@dataclass(frozen=True)
class FunctionCall:
    """One event through one function: ``kind`` insert (returns the event to send) or
    destination (sends it itself; its ``fetch`` calls are recorded, never made)."""

    kind: Literal["insert", "destination"]
    name: str  # the Function's address, for messages
    code: str
    event: Mapping[str, Any]
    settings: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class FunctionResult:
    """``outcome`` ok: an insert function's ``event`` (a JSON object) or a destination
    function's recorded ``requests`` (``{"url", "method", "headers", "body"}`` each);
    otherwise ``message`` says why (the error's name and message, or the limit hit)."""

    outcome: Outcome
    event: Mapping[str, Any] | None = None
    requests: tuple[Mapping[str, Any], ...] = ()
    message: str = ""
    logs: str = ""  # console output, at most 4 KB (the platform's test console limit)


class FunctionRunner(Protocol):
    def __call__(self, call: FunctionCall) -> FunctionResult: ...


MASK = "(secret)"


def masked(value: Any, secrets: Collection[str]) -> Any:
    """``value`` (JSON) with every string that holds one of ``secrets`` (values from the
    environment) replaced by ``MASK``, at any depth: what workspace code may be handed."""
    if not secrets:
        return value
    if isinstance(value, str):
        return MASK if any(secret and secret in value for secret in secrets) else value
    if isinstance(value, Mapping):
        return {key: masked(item, secrets) for key, item in value.items()}
    if isinstance(value, list):
        return [masked(item, secrets) for item in value]
    return value
