"""Models in use (SPEC §7): which active mappings depend on a model, and whether a change to
the model may go ahead under the workspace's policy.

The CLI (plan and check) and the control plane (PATCH/DELETE) call the same functions.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

from seg.policy.sql import SqlError, output_columns

__all__ = [
    "POLICIES",
    "MappingUse",
    "ModelChangePolicy",
    "MappingView",
    "ModelState",
    "Verdict",
    "active_uses",
    "judge_model_change",
    "mapped_column",
    "mapped_columns",
    "stricter",
]

class ModelChangePolicy(StrEnum):
    """What may change in a model that active mappings use. The wire format, seg.yaml and
    the database hold the values (``strict``, ``breaking``)."""

    STRICT = "strict"  # any change to the query is blocked
    BREAKING = "breaking"  # only changes that break a mapping are blocked

    @classmethod
    def of(cls, value: object) -> ModelChangePolicy | None:
        """The policy a sent or stored value names; None for anything else."""
        return next((p for p in cls if p.value == value), None) if isinstance(value, str) else None


POLICIES = tuple(p.value for p in ModelChangePolicy)  # the names, for messages


def stricter(*policies: str) -> ModelChangePolicy:
    """The strictest of several policies (strict wins)."""
    strict = any(p == ModelChangePolicy.STRICT for p in policies)
    return ModelChangePolicy.STRICT if strict else ModelChangePolicy.BREAKING


@dataclass(frozen=True)
class ModelState:
    address: str
    query: str
    identifier_column: str
    enabled: bool = True
    dialect: str | None = None
    # A dbt-linked model names a dbt model (and its project) instead of holding SQL.
    dbt: tuple[str, str] | None = None

    @property
    def link(self) -> str:
        """The model's source of rows, for messages: its dbt model or "its SQL"."""
        if self.dbt is None:
            return "its SQL"
        project, model = self.dbt
        return f"dbt model {model}" + (f" of project {project}" if project else "")


@dataclass(frozen=True)
class MappingView:
    """A mapping as far as "in use" cares."""

    address: str
    destination: str
    model: str | None
    enabled: bool
    fields: Mapping[str, Any]


@dataclass(frozen=True)
class MappingUse:
    """An active mapping of a model and the model columns it reads."""

    address: str
    columns: tuple[str, ...]


@dataclass(frozen=True)
class Verdict:
    blocked: bool
    reasons: tuple[str, ...] = ()
    mappings: tuple[str, ...] = ()

    @property
    def message(self) -> str:
        return "; ".join(self.reasons)


def mapped_column(value: Any) -> str:
    """The model column a mapping field reads: its value ``col`` or ``col.path``, lower-case
    ("" for an empty value)."""
    return str(value).split(".", 1)[0].strip().lower()


def mapped_columns(fields: Mapping[str, Any]) -> tuple[str, ...]:
    """Model columns a mapping reads: each field's value (``col`` or ``col.path``)."""
    return tuple(sorted({mapped_column(v) for v in fields.values() if str(v).strip()}))


def active_uses(
    model_address: str,
    mappings: Iterable[MappingView],
    destination_enabled: Callable[[str], bool],
) -> list[MappingUse]:
    """Mappings that make the model in use: enabled, naming it, on an enabled destination."""
    uses = []
    for mapping in mappings:
        active = mapping.enabled and destination_enabled(mapping.destination)
        if mapping.model == model_address and active:
            uses.append(MappingUse(mapping.address, mapped_columns(mapping.fields)))
    return sorted(uses, key=lambda u: u.address)


def judge_model_change(
    policy: ModelChangePolicy, old: ModelState, new: ModelState | None, uses: list[MappingUse]
) -> Verdict:
    """May ``old`` become ``new`` (None = deleted) while ``uses`` depend on it?"""
    if not uses:
        return Verdict(False)
    names = tuple(u.address for u in uses)
    who = ", ".join(names)
    if new is None:
        return Verdict(True, (f"model {old.address} is deleted while in use by {who}",), names)
    if old.enabled and not new.enabled:
        return Verdict(True, (f"model {old.address} is disabled while in use by {who}",), names)
    reasons: list[str] = []
    if not _same_link(old.dbt, new.dbt):
        # The control plane cannot see a dbt project's columns: a new link is never judged
        # harmless, whatever the policy.
        reasons.append(f"it would read {new.link} instead of {old.link}")
    if new.identifier_column.lower() != old.identifier_column.lower():
        reasons.append(
            f"identifier column changes ({old.identifier_column} → {new.identifier_column})"
        )
    if policy == ModelChangePolicy.STRICT:
        if _normalise(new.query) != _normalise(old.query):
            reasons.append("the query changes (policy strict blocks any change)")
    elif new.dbt is None and old.dbt is None and (
            _normalise(new.query) != _normalise(old.query) or reasons):
        reasons += _breaking_reasons(old, new, uses)
    if not reasons:
        return Verdict(False)
    message = f"model {old.address} is in use by {who}: " + "; ".join(reasons)
    return Verdict(True, (message,), names)


def _breaking_reasons(old: ModelState, new: ModelState, uses: list[MappingUse]) -> list[str]:
    try:
        output_columns(old.query, old.dialect)
        columns = output_columns(new.query, new.dialect)
    except SqlError as exc:
        return [f"the SQL cannot be parsed, so seg fails closed ({exc})"]
    if columns is None:
        return [
            "the new query's output columns cannot be determined (SELECT *), so seg fails closed"
        ]
    reasons = []
    if new.identifier_column.lower() not in columns:
        reasons.append(
            f"identifier column {new.identifier_column} is not in the new query's output"
        )
    for use in uses:
        missing = [c for c in use.columns if c not in columns]
        if missing:
            reasons.append(
                f"{use.address} maps {', '.join(missing)}, which the new query no longer returns"
            )
    return reasons


def _same_link(old: tuple[str, str] | None, new: tuple[str, str] | None) -> bool:
    """Whether two dbt links name the same model of the same project. A project left out
    stands for seg.yaml's only one, which the control plane cannot see: leaving it out or
    naming it is a new link too (else a model could move, one step at a time, from project
    a to none to project b, or to a project a pull request adds beside the only one)."""
    return old == new


def _normalise(query: str) -> str:
    return " ".join(query.split())
