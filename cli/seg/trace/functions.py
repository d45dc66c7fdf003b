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

from seg.model.secrets import is_digest, is_legacy_digest

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
# What may be in a resource's fields that workspace code must never be handed: a value from
# ``${env:…}`` (at a path the loader records) or the control plane's digest of a secret.
Path = tuple[str | int, ...]


def masked(fields: Mapping[str, Any], paths: Collection[Path] = ()) -> Mapping[str, Any]:
    """``fields`` with the value at each of ``paths`` (values from the environment, secret
    settings) and every secret digest the control plane returns replaced by ``MASK``, at any
    depth: what the simulator hands to workspace code. Unchanged fields are returned as
    they are."""
    out: Any = _without_digests(fields)
    for path in paths:
        out = _mask_at(out, path)
    return out  # type: ignore[no-any-return]


def _without_digests(value: Any) -> Any:
    if isinstance(value, str):
        return MASK if is_digest(value) or is_legacy_digest(value) else value
    if isinstance(value, Mapping):
        items = {key: _without_digests(item) for key, item in value.items()}
        return value if all(items[k] is value[k] for k in items) else items
    if isinstance(value, list):
        copied = [_without_digests(item) for item in value]
        return value if all(a is b for a, b in zip(copied, value, strict=True)) else copied
    return value


def _mask_at(value: Any, path: Path) -> Any:
    """``value`` with what is at ``path`` masked (copied along the path only)."""
    if not path:
        return MASK
    head, rest = path[0], path[1:]
    if isinstance(value, Mapping) and isinstance(head, str) and head in value:
        return {**value, head: _mask_at(value[head], rest)}
    if isinstance(value, list) and isinstance(head, int) and 0 <= head < len(value):
        return [*value[:head], _mask_at(value[head], rest), *value[head + 1:]]
    return value
