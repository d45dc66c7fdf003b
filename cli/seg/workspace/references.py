"""Rules across documents: unique addresses, parents and references that exist (generic),
and each kind's rules (``Kind.rules``, limits included) over the declared resources — the CLI
adapter of the rules the control plane runs too: violations become diagnostics at the
file:line:col of the value they name."""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from dataclasses import replace
from typing import Any, Protocol

from seg.catalog import Catalog
from seg.kinds import KINDS
from seg.kinds.catalogs import secret_paths
from seg.kinds.lookup import IndexLookup
from seg.kinds.refs import references
from seg.model.kinds import DbtLinks, Lookup, Subject, Violation
from seg.model.paths import get_path
from seg.model.resource import DesiredResource, Origin
from seg.model.wording import did_you_mean
from seg.workspace.diagnostics import Diagnostic
from seg.workspace.fanout import fan_out

__all__ = ["check_references", "fields_without", "links", "rule_diagnostics",
           "with_catalog_secrets", "without_unknown"]


Index = dict[tuple[str, str], DesiredResource]


def _at(res: DesiredResource, path: tuple[str, ...], message: str, rule: str,
        warning: bool = False) -> Diagnostic:  # fmt: skip
    origin = res.marks.get(path) or res.origin or Origin("?", 1, 1)
    return Diagnostic(origin.file, origin.line, origin.col, message, rule,
                      "warning" if warning else "error")  # fmt: skip


def _missing(res: DesiredResource, path: tuple[str, ...], kind: str, target: str,
             index: Mapping[tuple[str, str], Any]) -> Diagnostic:  # fmt: skip
    declared = [a for (k, a) in index if k == kind]
    suffix = did_you_mean(target, declared)
    message = (
        f"{res.kind.name} {res.address!r} refers to {kind.lower()} {target!r}, "
        f"which is not declared{suffix}"
    )
    return _at(res, path, message, "reference")


def _duplicates(resources: list[DesiredResource], index: Index) -> list[Diagnostic]:
    problems = []
    for res in resources:
        key = (res.kind.name, res.address)
        if key in index:
            message = (
                f"duplicate address {res.address!r} ({res.kind.name}); "
                f"first declared at {index[key].origin}"
            )
            problems.append(_at(res, ("__name__",), message, "duplicate-address"))
        else:
            index[key] = res
    return problems


def links(res: DesiredResource, index: Mapping[tuple[str, str], Any],
          broken: set[tuple[str, str]] | frozenset[tuple[str, str]],
          targets: list[tuple[str, str]] | None = None) -> list[Diagnostic]:  # fmt: skip
    """A missing parent or referenced resource of ``res``; ``targets`` (when given) gets
    every (kind, address) it links to."""
    problems = []
    if res.kind.parent and res.kind.parent_field:
        parent = res.address.rsplit("/", 1)[0]
        if targets is not None:
            targets.append((res.kind.parent, parent))
        if (res.kind.parent, parent) not in index and (res.kind.parent, parent) not in broken:
            problems.append(_missing(res, (res.kind.parent_field,), res.kind.parent, parent, index))
    for kind, target, path in references(res.kind.name, res.fields):
        if res.is_unknown(path):
            continue  # its variable is not set: nothing to look up
        if targets is not None:
            targets.append((kind, target))
        known = (kind, target) in index or (kind, target) in broken
        if not known and target not in KINDS[kind].system_names:
            problems.append(_missing(res, path, kind, target, index))
    return problems


def without_unknown(res: DesiredResource) -> Mapping[str, Any]:
    """The fields others see: values whose variable is unset are left out (not judged)."""
    return fields_without(res.fields, res.unknown_paths)


def fields_without(fields: Mapping[str, Any], unknown: Iterable[tuple[str | int, ...]]
                   ) -> Mapping[str, Any]:  # fmt: skip
    """``fields`` without the values at ``unknown`` (a copy when there are any)."""
    if not unknown:
        return fields
    out = copy.deepcopy(dict(fields))
    for path in unknown:
        holder = get_path(out, path[:-1])
        if isinstance(holder, dict):
            holder.pop(path[-1], None)
    return out


def _mark_path(res: DesiredResource, path: tuple[str, ...]) -> tuple[str, ...]:
    """Where a value read from a ``*_file`` key was written: at that key."""
    if path in res.marks or not path:
        return path
    for linked in res.kind.file_fields:
        if path[0] == linked.value_key:
            return (linked.file_key, *path[1:])
    spec = res.kind.field(path[0])
    if spec is not None and spec.item_file is not None and path[-1] == spec.item_file.value_key:
        return (*path[:-1], spec.item_file.file_key)
    return path


def rule_diagnostics(res: DesiredResource, lookup: Lookup) -> list[Diagnostic]:
    """The kind's rules on one declared resource, as diagnostics at the values they name."""
    subject = Subject(res.kind, res.address, res.fields, None, res.unknown_paths,
                      res.secret_paths)  # fmt: skip
    found = [v for rule in (*res.kind.value_rules, *res.kind.rules) for v in rule(subject, lookup)]
    return [_inside(res, v)
            or _at(res, _mark_path(res, v.path), v.message, v.rule, v.warning)
            for v in found]  # fmt: skip


def _inside(res: DesiredResource, found: Violation) -> Diagnostic | None:
    """A problem at a line of a value read from a file (a function's code_file), at that
    line and column of the file."""
    if found.at is None or len(found.path) != 1 or found.path[0] not in res.value_files:
        return None
    return Diagnostic(res.value_files[found.path[0]], *found.at, found.message, found.rule,
                      "warning" if found.warning else "error")  # fmt: skip


def with_catalog_secrets(resources: list[DesiredResource], catalog: Catalog,
                         lookup: Lookup | None = None) -> list[DesiredResource]:  # fmt: skip
    """``resources`` with the settings their catalog entry marks secret added to their secret
    paths (a function instance's entry is its function's settings schema, so every document
    is loaded first). ``lookup``: where the other documents are (default: ``resources``)."""
    if lookup is None:
        lookup = IndexLookup({(r.kind.name, r.address): r.fields for r in resources}, catalog)
    out = []
    for res in resources:
        found = frozenset(secret_paths(res.kind, res.fields, lookup)) - res.secret_paths
        out.append(replace(res, secret_paths=res.secret_paths | found) if found else res)
    return out


class RuleMemo(Protocol):
    """What ``check_references`` needs of the validate cache's rule memo (``RulesCache``)."""

    def known(self, res: DesiredResource) -> list[Diagnostic] | None: ...

    def fresh(self, res: DesiredResource, lookup: Lookup
              ) -> tuple[list[Diagnostic], tuple[tuple[str, ...], ...] | None]: ...  # fmt: skip

    def keep(self, res: DesiredResource, found: list[Diagnostic],
             deps: tuple[tuple[str, ...], ...]) -> None: ...  # fmt: skip


Judged = tuple[list[Diagnostic], list[Diagnostic], list[tuple[str, str]],
               tuple[tuple[str, ...], ...] | None]  # fmt: skip


def check_references(
    resources: list[DesiredResource], broken: set[tuple[str, str]] | None = None,
    catalog: Catalog | None = None, plan_tier: str | None = None, dbt: DbtLinks | None = None,
    memo: RuleMemo | None = None,
    each: list[tuple[list[Diagnostic], list[tuple[str, str]]]] | None = None,
) -> list[Diagnostic]:  # fmt: skip
    """Cross-document problems; references to documents that failed to load are skipped.
    ``plan_tier``: the workspace's tier as seg.yaml states it (None: tier rules skipped).
    ``memo``: the validate cache's rule memo (the rules of a resource as it was are not run
    again). ``each`` (when given) gets, for each resource in order, what its rules found
    (before problems told by an earlier resource are dropped) and what it links to."""
    index: Index = {}
    problems = _duplicates(resources, index)
    lookup = IndexLookup({key: without_unknown(res) for key, res in index.items()}, catalog,
                         plan_tier, dbt)  # fmt: skip
    seen: set[tuple[str, str]] = set()  # a limit counted from each resource is told once

    def judge(item: tuple[DesiredResource, list[Diagnostic] | None]) -> Judged:
        res, known = item
        targets: list[tuple[str, str]] = []
        found = links(res, index, broken or set(), targets if each is not None else None)
        if known is not None:
            return found, known, targets, None
        if memo is None:
            return found, rule_diagnostics(res, lookup), targets, None
        judged, deps = memo.fresh(res, lookup)
        return found, judged, targets, deps

    # what the memo knows is taken here; the rest may split across a forked child, whose
    # results (and what each resource's rules read) the memo keeps here, in order
    items = [(res, memo.known(res) if memo is not None else None) for res in resources]
    judged_all = fan_out(judge, items)
    for (res, _), (linked, judged, targets, deps) in zip(items, judged_all, strict=True):
        problems += linked
        if memo is not None and deps is not None:
            memo.keep(res, judged, deps)
        if each is not None:
            each.append((judged, targets))
        for found in judged:
            if (found.rule, found.message) not in seen:
                seen.add((found.rule, found.message))
                problems.append(found)
    return problems
