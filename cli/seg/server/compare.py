"""``secrets:compare``: whether values a client holds equal the secrets the server sealed.

The API returns secrets only as keyed digests (the key never leaves the server), so a client
cannot check its local value offline; it asks here, in batches of up to 1000. This is an online
oracle by design: any token that may read the resource may ask, each request is audited and
counts against the token's rate limit.
"""

from __future__ import annotations

import hmac
import math
from dataclasses import dataclass
from typing import Any

from seg.kinds.names import parse_resource_name
from seg.model.paths import format_path, get_path, parse_path
from seg.model.secrets import is_digest, is_legacy_digest
from seg.server import errors
from seg.server.crypto import SecretBox
from seg.store.base import ResourceRecord

__all__ = ["MAX_COMPARE", "Question", "answer", "read_questions"]

MAX_COMPARE = 1000


@dataclass(frozen=True)
class Question:
    resource: str  # full resource name
    path: str  # secret path, canonical form (settings.hosts[0])
    value: Any


def _question(workspace: str, index: int, item: Any) -> Question:
    where = f"secrets[{index}]"
    if not isinstance(item, dict) or set(item) != {"resource", "path", "value"}:
        raise errors.InvalidArgument(f"{where} must be an object with resource, path and value")
    resource, path = item["resource"], item["path"]
    if not isinstance(resource, str) or not isinstance(path, str):
        raise errors.InvalidArgument(f"{where}: resource and path must be strings")
    try:
        ws, _, _ = parse_resource_name(resource)
        canonical = format_path(parse_path(path))
    except ValueError as exc:
        raise errors.InvalidArgument(f"{where}: {exc}") from None
    if ws != workspace:
        raise errors.InvalidArgument(f"{where}: {resource!r} is not in workspace {workspace!r}")
    value = item["value"]
    if isinstance(value, float) and not math.isfinite(value):
        raise errors.InvalidArgument(f"{where}: value must be JSON")
    return Question(resource, canonical, value)


def read_questions(workspace: str, body: dict[str, Any]) -> list[Question]:
    """The body ``{"secrets": [{resource, path, value}, …]}`` (at most 1000)."""
    items = body.get("secrets")
    if not isinstance(items, list):
        raise errors.InvalidArgument("secrets must be a list of {resource, path, value}")
    if len(items) > MAX_COMPARE:
        raise errors.InvalidArgument(f"at most {MAX_COMPARE} secrets per request")
    questions = [_question(workspace, i, item) for i, item in enumerate(items)]
    seen: set[tuple[str, str]] = set()
    for index, q in enumerate(questions):
        if (q.resource, q.path) in seen:  # one guess per secret per request (see rate limits)
            raise errors.InvalidArgument(
                f"secrets[{index}]: {q.resource} {q.path} is asked about twice in one request"
            )
        seen.add((q.resource, q.path))
    return questions


def answer(
    questions: list[Question], records: dict[str, ResourceRecord], box: SecretBox
) -> tuple[list[bool], str]:
    """Per question: does the value equal the sealed secret at that path? Plus one keyed
    digest over every question (a saved plan's fingerprint of its secret values)."""
    opened: dict[str, dict[str, Any]] = {}
    out = []
    for q in questions:
        rec = records.get(q.resource)
        if rec is None or q.path not in rec.secret_paths:
            out.append(False)
            continue
        stored = get_path(rec.data, parse_path(q.path))
        if is_digest(stored) and not is_legacy_digest(stored):  # no need to open the seal
            out.append(hmac.compare_digest(stored, box.digest(q.resource, q.path, q.value)))
            continue
        if q.resource not in opened:
            opened[q.resource] = box.open(rec.secret_values)
        values = opened[q.resource]
        out.append(q.path in values and box.same(q.value, values[q.path]))
    # Only over what the caller may read and what exists: a digest over anything else would be
    # an oracle for values the server does not hold (a create's secret, a hidden resource's).
    digest = box.batch_digest(
        [(q.resource, q.path, q.value) for q in questions if q.resource in records]
    )
    return out, digest
