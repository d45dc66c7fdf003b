"""Which local secret values the plan must ask the control plane about.

The API returns secrets as keyed digests that only the server can check, so the session asks
the server (one batched ``secrets:compare`` request per 1000 values) and passes the matching
paths into ``compute_plan`` as data: the engine itself never does I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from seg.model.paths import MISSING, AnyPath, get_path
from seg.model.resource import CurrentResource, DesiredResource
from seg.model.secrets import is_digest

__all__ = ["SecretKey", "SecretQuestion", "secret_questions"]

# (kind name, address, field path): one secret leaf of one resource.
SecretKey = tuple[str, str, AnyPath]


@dataclass(frozen=True)
class SecretQuestion:
    """Does the control plane's secret at ``path`` of this resource equal ``value``?"""

    kind: str
    address: str
    path: AnyPath
    value: Any

    @property
    def key(self) -> SecretKey:
        return (self.kind, self.address, self.path)


def _digests(want: Any, have: Any, path: AnyPath) -> Iterator[tuple[AnyPath, Any]]:
    """Paths where the live value is a digest and the desired side declares a value."""
    if is_digest(have):
        yield path, want
    elif isinstance(want, dict) and isinstance(have, dict):
        for key, value in want.items():
            if key in have:
                yield from _digests(value, have[key], (*path, key))
    elif isinstance(want, list) and isinstance(have, list):
        for i, (a, b) in enumerate(zip(want, have, strict=False)):
            yield from _digests(a, b, (*path, i))


def secret_questions(
    desired: Iterable[DesiredResource], current: Iterable[CurrentResource]
) -> list[SecretQuestion]:
    """Every declared secret leaf, plus every declared leaf whose live value is a digest:
    the first tell a saved plan whether a secret changed, the second decide the diff."""
    have = {(r.kind.name, r.address): r for r in current}
    found: dict[SecretKey, SecretQuestion] = {}
    for res in desired:
        for path in sorted(res.secret_paths, key=repr):
            if res.is_unknown(path):
                continue  # its variable is not set: there is no value to ask about
            value = get_path(res.fields, path)
            if value is not MISSING and value is not None:
                q = SecretQuestion(res.kind.name, res.address, path, value)
                found[q.key] = q
        live = have.get((res.kind.name, res.address))
        if live is None:
            continue
        for name, value in res.fields.items():
            for path, want in _digests(value, live.fields.get(name), (name,)):
                if res.is_unknown(path):
                    continue
                q = SecretQuestion(res.kind.name, res.address, path, want)
                found.setdefault(q.key, q)
    return list(found.values())
