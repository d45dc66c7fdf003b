"""``seg validate`` after an edit of a few files: those files checked against the last valid
load (``seg.workspace.memo``), the other files left unread.

At 100,000 resources a full load costs seconds even from the validate cache: every file's
documents restored, every resource's rules consulted. An edit changes a few files; what the
rest gave is in the memo, and what depends on the edit is known from the last load:

- each resource file's *section* (``sections``): where its resources' rows are in the memo,
  their (kind, address), the overlays it used, every file it read (itself and the files it
  links), its warnings and missing variables, and the raw findings of each resource's rules;
- what each resource's rules read (``RulesCache.reads``): a ``get`` of one resource, the
  children ``under`` a parent, ``every`` resource of a kind; and every (kind, address)
  something links to.

``check`` loads the touched files (those whose identity changed, and those that read them)
and runs: the duplicate and link checks of their resources, the rules of their resources and
of every resource whose rules read a resource that changed (its fields as the rules see
them, or its presence), on a lookup that reads the other resources from the memo only when
asked. The warnings, missing variables and counts are the sections' with the touched files'
replaced. Whatever it cannot answer exactly it does not answer (None: the caller loads the
whole tree, which also reports every problem in full): a problem that is not a warning, a
removed resource something linked to, an address declared twice, a changed overlay, a changed
file no section read (seg.yaml, a catalog file), more than ``MAX_FILES`` touched files, and
an edited Function (its settings schema is its instances' catalog entry: their secret paths
may change).
"""

from __future__ import annotations

import marshal
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from seg.catalog import Catalog
from seg.kinds.catalogs import FUNCTION_KIND
from seg.model.resource import DesiredResource
from seg.workspace.cache import FileResult
from seg.workspace.diagnostics import Diagnostic
from seg.workspace.memo import Base
from seg.workspace.references import (
    fields_without,
    links,
    rule_diagnostics,
    with_catalog_secrets,
    without_unknown,
)

__all__ = ["MAX_FILES", "Outcome", "check", "sections"]

MAX_FILES = 100  # beyond this many touched files the whole load is as quick

Key = tuple[str, str]
Place = tuple[str, int]  # a resource file and a resource's place in it


@dataclass(frozen=True)
class Outcome:
    """A valid workspace as ``check`` found it: counts by kind, every warning (values from
    the environment not yet hidden), the missing variables as (name, file, line, col), the
    values from the environment and the resources with JavaScript code."""

    counts: dict[str, int]
    warnings: list[Diagnostic]
    missing: list[tuple[str, str, int, int]]
    env_values: set[str]
    javascript: tuple[DesiredResource, ...]


def _plain(found: Iterable[Diagnostic]) -> tuple[tuple[Any, ...], ...]:
    return tuple((d.file, d.line, d.col, d.message, d.rule, d.severity) for d in found)


def _diagnostics(rows: Iterable[Sequence[Any]]) -> list[Diagnostic]:
    return [Diagnostic(*row) for row in rows]


def sections(files: Sequence[tuple[str, FileResult, tuple[tuple[str, ...], tuple[str, ...]]]],
             resources: Sequence[DesiredResource], rows: Mapping[int, int],
             each: Sequence[tuple[list[Diagnostic], list[Key]]],
             reads: Callable[[DesiredResource], tuple[tuple[str, ...], ...] | None],
             extra: Sequence[Diagnostic], hide: Callable[[list[Diagnostic]], list[Diagnostic]],
             ) -> bytes | None:  # fmt: skip
    """What ``check`` needs of a valid load, marshalled: ``files``, each resource file in
    listing order with its result, the files it read and the variables it looked up;
    ``resources`` in load order (their
    catalog secrets added), ``rows`` the memo row of each (by ``id``), ``each`` what their
    rules found and what they link to (``check_references``), ``reads`` what their rules
    read; ``extra`` the warnings of no file (seg.yaml, the catalog); ``hide`` hides values
    from the environment. None when a resource's reads are not known."""
    out_files: dict[str, tuple[Any, ...]] = {}
    problems: dict[str, tuple[Any, ...]] = {}
    missing: dict[str, tuple[Any, ...]] = {}
    findings: dict[str, dict[int, tuple[Any, ...]]] = {}
    dependants: dict[tuple[str, ...], list[Place]] = {}
    referred: set[Key] = set()
    at = 0
    for rel, result, (read, names) in files:
        count = len(result.resources)
        mine = resources[at:at + count]
        out_files[rel] = (tuple(rows[id(res)] for res in mine),
                          tuple((res.kind.name, res.address) for res in mine),
                          tuple(sorted(result.used)), read, names)  # fmt: skip
        if result.problems:
            problems[rel] = _plain(hide(list(result.problems)))
        if result.missing:
            missing[rel] = tuple((m.name, m.file, m.line, m.col) for m in result.missing)
        for place, res in enumerate(mine):
            found, targets = each[at + place]
            referred.update(targets)
            if found:
                findings.setdefault(rel, {})[place] = _plain(hide(list(found)))
            deps = reads(res)
            if deps is None:
                return None
            for dep in deps:
                dependants.setdefault(dep, []).append((rel, place))
        at += count
    if at != len(resources):
        return None
    return marshal.dumps({
        "files": out_files, "order": tuple(out_files), "problems": problems,
        "missing": missing, "findings": findings,
        "dependants": {dep: tuple(places) for dep, places in dependants.items()},
        "referred": tuple(sorted(referred)), "extra": _plain(hide(list(extra))),
    })  # fmt: skip


class _View:
    """The workspace as the edit left it: the touched files' new resources, every other
    resource read from the memo when first asked for."""

    def __init__(self, base: Base, files: Mapping[str, Any], order: Sequence[str],
                 index: Mapping[Key, Place], touched: Mapping[str, list[DesiredResource]]
                 ) -> None:  # fmt: skip
        self._base = base
        self._files = files
        self._order = order
        self.index = index
        self._touched = touched
        self.new = {(r.kind.name, r.address): r for rs in touched.values() for r in rs}
        self._read: dict[Place, DesiredResource] = {}
        self._shaped: dict[tuple[Key, bool], Mapping[str, Any] | None] = {}
        self._members: dict[tuple[str, ...], list[Key]] | None = None

    def old(self, place: Place) -> DesiredResource:
        """The resource the memo holds at ``place``."""
        res = self._read.get(place)
        if res is None:
            rel, at = place
            res = self._read[place] = self._base.resource(self._files[rel][0][at])
        return res

    def declared(self, key: Key) -> bool:
        if key in self.new:
            return True
        place = self.index.get(key)
        return place is not None and place[0] not in self._touched

    def fields(self, key: Key, seen: bool) -> Mapping[str, Any] | None:
        """The fields of ``key`` (None: not declared), as the rules see them (``seen``:
        without the values whose variable is unset) or as written."""
        if (key, seen) in self._shaped:
            return self._shaped[(key, seen)]
        found: Mapping[str, Any] | None = None
        if key in self.new:
            res = self.new[key]
            found = without_unknown(res) if seen else res.fields
        else:
            place = self.index.get(key)
            if place is not None and place[0] not in self._touched:
                rel, at = place
                if place in self._read:  # made already: its fields are these
                    res = self._read[place]
                    found = without_unknown(res) if seen else res.fields
                else:
                    fields, unknown = self._base.fields(self._files[rel][0][at])
                    found = fields_without(fields, unknown) if seen else fields
        self._shaped[(key, seen)] = found
        return found

    def keys(self) -> list[Key]:
        """Every declared (kind, address), in load order."""
        return [key for rel in self._order for key in self._keys_of(rel)]

    def _keys_of(self, rel: str) -> Sequence[Key]:
        if rel in self._touched:
            return [(r.kind.name, r.address) for r in self._touched[rel]]
        keys: Sequence[Key] = self._files[rel][1]  # tuples, as marshal gives them back
        return keys

    def members(self, group: tuple[str, ...]) -> list[Key]:
        """The keys of a kind (``(kind,)``) or under a parent (``(kind, parent)``), in load
        order (as ``IndexLookup`` keeps them)."""
        if self._members is None:
            members: dict[tuple[str, ...], list[Key]] = {}
            for key in self.keys():
                kind, address = key
                members.setdefault((kind,), []).append(key)
                parent, sep, _ = address.rpartition("/")
                if sep:
                    members.setdefault((kind, parent), []).append(key)
            self._members = members
        return self._members.get(group, [])


class _Lookup:
    """A ``Lookup`` over a ``_View``: the fields as the rules see them (``seen``), or as
    written (for the catalog's secret paths)."""

    def __init__(self, view: _View, seen: bool, catalog: Catalog, plan_tier: str | None
                 ) -> None:  # fmt: skip
        self._view = view
        self._seen = seen
        self.catalog = catalog
        self.plan_tier = plan_tier
        self.dbt = None  # a tree with dbt projects keeps no memo

    def get(self, kind_name: str, address: str) -> Mapping[str, Any] | None:
        return self._view.fields((kind_name, address), self._seen)

    def _entries(self, group: tuple[str, ...]) -> list[tuple[str, Mapping[str, Any]]]:
        out = []
        for key in self._view.members(group):
            fields = self._view.fields(key, self._seen)
            if fields is not None:
                out.append((key[1], fields))
        return out

    def under(self, kind_name: str, parent_address: str
              ) -> Sequence[tuple[str, Mapping[str, Any]]]:  # fmt: skip
        return tuple(self._entries((kind_name, parent_address)))

    def every(self, kind_name: str) -> Iterator[tuple[str, Mapping[str, Any]]]:
        return iter(self._entries((kind_name,)))


class _Keys(Mapping[Key, Any]):
    """The declared (kind, address) pairs after the edit, for ``links``."""

    def __init__(self, view: _View) -> None:
        self._view = view

    def __getitem__(self, key: Key) -> Any:
        if not self._view.declared(key):
            raise KeyError(key)
        return key

    def __contains__(self, key: object) -> bool:
        return isinstance(key, tuple) and self._view.declared(key)

    def __iter__(self) -> Iterator[Key]:  # a did-you-mean's candidates
        return iter(self._view.keys())

    def __len__(self) -> int:
        return sum(1 for _ in self)


def check(base: Base, load_file: Callable[[str], FileResult], catalog: Catalog,
          plan_tier: str | None, external: frozenset[Key]) -> Outcome | None:  # fmt: skip
    """The edit ``base.changed`` made, checked against ``base``; None when only a whole load
    can answer (see the module's documentation)."""
    kept = base.sections()
    files: dict[str, Any] = kept["files"]
    order: tuple[str, ...] = kept["order"]
    changed = base.changed
    touched_files = [rel for rel in order
                     if rel in changed or not changed.isdisjoint(files[rel][3])]  # fmt: skip
    if len(touched_files) > MAX_FILES:
        return None
    covered = set(touched_files).union(*(files[rel][3] for rel in touched_files))
    if not changed <= covered:
        return None  # seg.yaml, a catalog file, an overlay, a file read by no section
    results = {rel: load_file(rel) for rel in touched_files}
    for rel, result in results.items():
        if result.broken or any(not p.is_warning for p in result.problems):
            return None
        if set(result.used) != {tuple(key) for key in files[rel][2]}:
            return None
    index: dict[Key, Place] = {}
    for rel in order:
        for place, key in enumerate(files[rel][1]):
            index[key] = (rel, place)
    old_keys = {key: (rel, place) for rel in touched_files
                for place, key in enumerate(files[rel][1])}  # fmt: skip
    new_keys: set[Key] = set()
    for result in results.values():
        for res in result.resources:
            key = (res.kind.name, res.address)
            if key in new_keys or (key in index and key not in old_keys) or key in external:
                return None  # declared twice, or also listed as external
            new_keys.add(key)
    if any(key[0] == FUNCTION_KIND for key in (*old_keys, *new_keys)):
        return None
    referred = set(kept["referred"])
    if any(key in referred for key in old_keys.keys() - new_keys):
        return None  # a removed resource something links to: a reference error
    view = _View(base, files, order, index, {rel: r.resources for rel, r in results.items()})
    fresh = [res for rel in touched_files for res in results[rel].resources]
    secured = with_catalog_secrets(fresh, catalog, _Lookup(view, False, catalog, plan_tier))
    touched = {}
    at = 0
    for rel in touched_files:
        count = len(results[rel].resources)
        touched[rel] = secured[at:at + count]
        at += count
    view = _View(base, files, order, index, touched)
    rerun = _dependants(view, kept["dependants"], old_keys, set(touched))
    lookup = _Lookup(view, True, catalog, plan_tier)
    keys = _Keys(view)
    found: dict[Place, list[Diagnostic]] = {}
    for rel, mine in touched.items():
        for place, res in enumerate(mine):
            if links(res, keys, external):
                return None
            found[(rel, place)] = rule_diagnostics(res, lookup)
    for other in sorted(rerun):
        found[other] = rule_diagnostics(view.old(other), lookup)
    if any(not d.is_warning for ds in found.values() for d in ds):
        return None
    return _outcome(base, kept, view, results, touched, found)


def _dependants(view: _View, dependants: Mapping[tuple[str, ...], Sequence[Place]],
                old_keys: Mapping[Key, Place], touched: set[str]) -> set[Place]:  # fmt: skip
    """The places outside the touched files whose rules read a resource the edit changed
    (added, removed, or its fields as the rules see them)."""
    out: set[Place] = set()
    for key in old_keys.keys() | view.new.keys():
        before = without_unknown(view.old(old_keys[key])) if key in old_keys else None
        after = view.new.get(key)
        if before is not None and after is not None and before == without_unknown(after):
            continue
        kind, address = key
        groups: list[tuple[str, ...]] = [("get", kind, address), ("every", kind)]
        parent, sep, _ = address.rpartition("/")
        if sep:
            groups.append(("under", kind, parent))
        for dep in groups:
            out.update((rel, at) for rel, at in dependants.get(dep, ()) if rel not in touched)
    return out


def _outcome(base: Base, kept: Mapping[str, Any], view: _View,
             results: Mapping[str, FileResult], touched: Mapping[str, list[DesiredResource]],
             found: Mapping[Place, list[Diagnostic]]) -> Outcome:  # fmt: skip
    """The sections' warnings, missing variables and counts with the touched files'."""
    files, order = kept["files"], kept["order"]
    problems, missing_by_file, findings = kept["problems"], kept["missing"], kept["findings"]
    # the few files with something to say, in load order (most have nothing)
    position = {rel: at for at, rel in enumerate(order)}
    speaking = sorted({*results, *problems, *missing_by_file, *findings,
                       *(rel for rel, _ in found)}, key=position.__getitem__)  # fmt: skip
    warnings = _diagnostics(kept["extra"])
    missing: list[tuple[str, str, int, int]] = []
    for rel in speaking:
        if rel in results:
            warnings += results[rel].problems
            missing += [(m.name, m.file, m.line, m.col) for m in results[rel].missing]
        else:
            warnings += _diagnostics(problems.get(rel, ()))
            missing += [(m[0], m[1], m[2], m[3]) for m in missing_by_file.get(rel, ())]
    per_file: dict[str, dict[int, list[Diagnostic]]] = {}
    for rel, places in findings.items():
        if rel not in touched:
            per_file[rel] = {at: _diagnostics(rows) for at, rows in places.items()}
    for (rel, at), diagnostics in found.items():
        per_file.setdefault(rel, {})[at] = diagnostics
    seen: set[tuple[str, str]] = set()  # as check_references: a finding told once
    for rel in speaking:
        for at in sorted(per_file.get(rel, {})):
            for diagnostic in per_file[rel][at]:
                if (diagnostic.rule, diagnostic.message) not in seen:
                    seen.add((diagnostic.rule, diagnostic.message))
                    warnings.append(diagnostic)
    counts = dict(base.counts)
    javascript = []
    for rel in touched:
        for kind, _ in files[rel][1]:
            counts[kind] -= 1
    for mine in touched.values():
        for res in mine:
            counts[res.kind.name] = counts.get(res.kind.name, 0) + 1
            if res.kind.javascript_fields:
                javascript.append(res)
    javascript += [res for res in base.javascript() if not _in(res, view, touched)]
    # the values the other files put in (as their entries in the file cache give them back)
    names = {name for rel in order if rel not in results for name in files[rel][4]}
    env_values = base.values_of(names).union(*(r.env_values for r in results.values()))
    return Outcome({k: n for k, n in counts.items() if n}, warnings, missing, env_values,
                   tuple(javascript))  # fmt: skip


def _in(res: DesiredResource, view: _View, touched: Mapping[str, Any]) -> bool:
    place = view.index.get((res.kind.name, res.address))
    return place is not None and place[0] in touched
