"""``check_dbt``: which dbt models a pull request of the dbt repository changes, and whether
the seg models linked to them are in use by active mappings (issue 16, ``seg check --dbt``).

Pure: it takes both revisions of the dbt project (``seg.policy.dbt.DbtProject``), the renames
git detected between them, and the live state of the control plane; it returns the findings
``seg check`` renders.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, replace
from typing import Any

from seg.ci.check import CheckResult, Finding
from seg.kinds.lookup import IndexLookup
from seg.kinds.model import NAME as MODEL
from seg.kinds.model import uses
from seg.model.resource import CurrentResource, Origin
from seg.policy.dbt import DbtModel, DbtProject, changed_aspects, judge_dbt_change
from seg.policy.models import ModelChangePolicy

__all__ = ["DBT_NOUN", "DbtChange", "LinkedModel", "check_dbt", "dbt_changes", "linked_models",
           "manifest_note"]  # fmt: skip

DBT_NOUN = "dbt model"
ADVICE = ("Disable the mappings named above in seg first (or point their models elsewhere), "
          "or revert the dbt model change.")  # fmt: skip


@dataclass(frozen=True)
class DbtChange:
    """One dbt model of the base revision that the head changes, removes or renames."""

    old: DbtModel
    new: DbtModel | None  # None: removed, or renamed to ``renamed_to``
    renamed_to: str | None = None
    aspects: tuple[str, ...] = ()

    @property
    def change(self) -> str:
        if self.new is not None:
            return "modified"
        return "renamed" if self.renamed_to else "removed"


@dataclass(frozen=True)
class LinkedModel:
    """A live seg model linked to a dbt model of this project."""

    address: str
    identifier: str
    fields: Mapping[str, Any]


def dbt_changes(base: DbtProject, head: DbtProject, renames: Mapping[str, str]
                ) -> list[DbtChange]:  # fmt: skip
    """The base's models the head changes. ``renames``: project-relative file path in the
    base → its path in the head, as git's rename detection found them; a model whose file
    was renamed to another model's file reads as renamed to that model."""
    unresolved = [m for m in map(head.unresolved, head.models) if m is not None]
    by_path = {model.path: model for model in unresolved}
    out = []
    for name in sorted(base.models):
        old, new = base.unresolved(name), head.unresolved(name)
        if old is None:
            continue
        if new is None:
            moved = by_path.get(renames.get(old.path, ""))
            out.append(DbtChange(old, None, moved.name if moved is not None else None))
            continue
        aspects = changed_aspects(old, new)
        if aspects:
            out.append(DbtChange(old, new, None, aspects))
    return out


def linked_models(live: Iterable[CurrentResource], project: str, dbt_model: str
                  ) -> list[LinkedModel]:  # fmt: skip
    """The live seg models whose ``dbt_model`` is ``dbt_model`` and whose ``dbt_project`` is
    ``project`` or left out (a left-out project matches any)."""
    out = []
    for res in live:
        if res.kind.name != MODEL or res.fields.get("dbt_model") != dbt_model:
            continue
        if str(res.fields.get("dbt_project") or "") not in ("", project):
            continue
        out.append(LinkedModel(res.address, str(res.fields.get("identifier_column", "")),
                               res.fields))  # fmt: skip
    return sorted(out, key=lambda m: m.address)


def _verdict(policy: ModelChangePolicy, change: DbtChange, linked: list[LinkedModel],
             lookup: IndexLookup) -> tuple[bool, str, tuple[str, ...]]:  # fmt: skip
    if not linked:
        return False, "not linked to a seg model", ()
    blocked: list[str] = []
    passing: list[str] = []
    mappings: list[str] = []
    for model in linked:
        in_use = uses(lookup, model.address)
        verdict = judge_dbt_change(policy, model.address, model.identifier, change.old,
                                   change.new, in_use, change.renamed_to)  # fmt: skip
        if verdict.blocked:
            blocked.append(verdict.message)
            mappings += [m for m in verdict.mappings if m not in mappings]
        elif in_use:
            names = ", ".join(u.address for u in in_use)
            how = f" (columns from {change.new.how})" if change.new and change.new.how else ""
            passing.append(f"model {model.address} is in use by {names}; the change keeps "
                           f"its identifier and mapped columns{how}")  # fmt: skip
        else:
            passing.append(f"linked to model {model.address}, not in use by an active "
                           "mapping")  # fmt: skip
    if blocked:
        return True, "; ".join(blocked), tuple(mappings)
    return False, "; ".join(passing), ()


def check_dbt(
    project: str,
    base: DbtProject,
    head: DbtProject,
    renames: Mapping[str, str],
    live: Iterable[CurrentResource],
    policy: ModelChangePolicy,
    display: Callable[[str], str] = str,
    notes: tuple[str, ...] = (),
) -> CheckResult:
    """Judge every dbt model the head changes against the live seg models linked to it
    (``project``: this dbt project's name in seg). ``display`` turns a project-relative path
    into the path the findings point at (relative to the repository)."""
    state = list(live)
    lookup = IndexLookup({(r.kind.name, r.address): r.fields for r in state})
    findings = []
    for change in dbt_changes(base, head, renames):
        linked = linked_models(state, project, change.old.name)
        if linked and change.new is not None:  # its columns are worked out only now
            change = replace(change, new=head.models[change.new.name])
        blocked, message, mappings = _verdict(policy, change, linked, lookup)
        path = change.new.path if change.new is not None else change.old.path
        if change.renamed_to:
            path = renames.get(change.old.path, path)
        if change.aspects and not blocked:
            message = f"{', '.join(change.aspects)} changed; {message}"
        elif change.new is None and not blocked:
            gone = f"renamed to {change.renamed_to}" if change.renamed_to else "removed"
            message = f"{gone}; {message}"
        findings.append(Finding(change.old.name, change.change, blocked, message, mappings,
                                Origin(display(path), 1, 1), noun=DBT_NOUN))  # fmt: skip
    return CheckResult(policy, tuple(findings), notes, DBT_NOUN, ADVICE)


def manifest_note(base: DbtProject, head: DbtProject) -> str | None:
    """One line when a revision was read without a manifest."""
    missing = [rev for rev, project in (("base", base), ("head", head))
               if not project.from_manifest]  # fmt: skip
    if not missing:
        return None
    which = " and ".join(missing)
    return (f"no manifest for the {which} revision{'s' if len(missing) > 1 else ''}: compiled "
            "SQL is not compared and macros are not expanded (columns are read from each "
            "model's SQL with ref() and source() rendered, else from its YAML); pass "
            "--base-manifest and --head-manifest from dbt compile")  # fmt: skip
