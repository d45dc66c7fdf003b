"""``check_models``: which models a change set modifies, and whether active mappings block it.

Pure: it takes the base and head workspaces and the live state, and returns findings.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from seg.engine.guards import mapping_states, uses_of
from seg.kinds.model import NAME as MODEL
from seg.kinds.model import SOURCE, model_state
from seg.model.resource import CurrentResource, DesiredResource, Origin
from seg.model.values import json_equal
from seg.policy.models import ModelChangePolicy, ModelState, judge_model_change

__all__ = ["CheckResult", "Finding", "check_models"]

Key = tuple[str, str]


@dataclass(frozen=True)
class Finding:
    """One changed model and the verdict on it."""

    model: str
    change: str  # "modified", "deleted"
    blocked: bool
    message: str
    mappings: tuple[str, ...]
    origin: Origin | None
    files: tuple[str, ...] = ()
    noun: str = MODEL  # what ``model`` names: a seg Model, or a dbt model (seg check --dbt)


@dataclass(frozen=True)
class CheckResult:
    policy: ModelChangePolicy
    findings: tuple[Finding, ...] = field(default_factory=tuple)
    notes: tuple[str, ...] = ()  # what the check could not look at (one line each)
    noun: str = "model"  # what the findings are, in the summary ("dbt model")
    advice: str = ("Disable or remove the mappings named above in the same change, "
                   "or revert the model change.")  # fmt: skip

    @property
    def blocked(self) -> tuple[Finding, ...]:
        return tuple(f for f in self.findings if f.blocked)


def _state(res: DesiredResource, catalog: str | None) -> ModelState:
    return model_state(res.address, res.fields, catalog)


def _catalog(address: str, *indexes: dict[Key, DesiredResource]) -> str | None:
    for index in indexes:
        source = index.get((SOURCE, address.split("/", 1)[0]))
        if source is not None:
            return str(source.fields.get("catalog"))
    return None


def _origin(res: DesiredResource) -> Origin | None:
    for path in (("query_file",), ("query",), ("dbt_model",), ("identifier_column",)):
        origin = res.marks.get(path)
        if origin is not None:
            return origin
    return res.origin


def check_models(
    base: Iterable[DesiredResource],
    head: Iterable[DesiredResource],
    live: Iterable[CurrentResource],
    policy: ModelChangePolicy,
) -> CheckResult:
    """Judge every model the head changes (query, query file, identifier, disabled, deleted).

    A mapping counts when it is active in the live state and still active in the head: a
    change set that disables the mapping in the same commit is allowed.
    """
    old = {(r.kind.name, r.address): r for r in base}
    new = {(r.kind.name, r.address): r for r in head}
    have = {(r.kind.name, r.address): r for r in live}
    before, after = mapping_states(new, have)
    findings = []
    for key in sorted(k for k in old if k[0] == MODEL):
        was, now = old[key], new.get(key)
        if now is not None and _same_model(was, now):
            continue
        catalog = _catalog(key[1], new, old)
        still = uses_of(after, key[1])
        uses = [still[a] for a in uses_of(before, key[1]) if a in still]
        verdict = judge_model_change(
            policy, _state(was, catalog), _state(now, catalog) if now else None, uses
        )
        shown = now or was
        findings.append(Finding(
            key[1], "deleted" if now is None else "modified", verdict.blocked,
            verdict.message or "not in use by an active mapping", verdict.mappings,
            _origin(shown), shown.attachments,
        ))  # fmt: skip
    return CheckResult(policy, tuple(findings))


def _same_model(a: DesiredResource, b: DesiredResource) -> bool:
    keys = ("query", "dbt_model", "dbt_project", "identifier_column", "enabled")
    return all(json_equal(a.fields.get(k), b.fields.get(k)) for k in keys)
