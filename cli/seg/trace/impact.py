"""A plan's delivery impact: sample events traced through the live configuration and through
the one the plan leaves, and per destination (or warehouse) what changes — events lost and
gained, properties removed and added, mappings newly firing or silenced — with counts and one
example each.

Only what a change can touch is traced twice: a source none of whose path changed (the source,
its tracking plan, its transformations, its destinations, their filters, mappings and
functions, the consent categories, its warehouses) is skipped, and so is each destination
whose own path is the same on both sides (``_Paths.signature``): by construction its
deliveries are the same. A plan without changes has no impact at all.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from seg.catalog import Catalog
from seg.kinds.lookup import IndexLookup
from seg.trace.functions import FunctionRunner
from seg.trace.pipeline import (
    CONSENT,
    DESTINATION,
    FILTER,
    FUNCTION,
    MAPPING,
    SOURCE,
    TO_DESTINATION,
    TO_WAREHOUSE,
    TRACKING_PLAN,
    TRANSFORMATION,
    WAREHOUSE,
    Delivery,
    at_source,
    deliver,
    leaf_values,
)

__all__ = ["DestinationImpact", "Example", "Sample", "delivery_impact"]

Key = tuple[str, str]
Fields = Mapping[str, Any]
Sample = tuple[str, int, Mapping[str, Any]]  # (source, line of its file, event)


@dataclass(frozen=True)
class Example:
    """One event that shows a change: its line in the sample file, its name, and why."""

    line: int
    event: str
    detail: str


@dataclass
class DestinationImpact:
    """What the plan changes for one destination over the sample."""

    destination: str
    kind: str = TO_DESTINATION  # or a warehouse
    lost: int = 0
    gained: int = 0
    lost_example: Example | None = None
    gained_example: Example | None = None
    # property path → how many events lose it (or gain it) on their way to this destination
    removed: dict[str, int] = field(default_factory=dict)
    added: dict[str, int] = field(default_factory=dict)
    modified: dict[str, int] = field(default_factory=dict)  # the same path, another value
    property_example: Example | None = None
    # mapping address → how many events it newly fires for (or no longer fires for)
    firing: dict[str, int] = field(default_factory=dict)
    silenced: dict[str, int] = field(default_factory=dict)
    mapping_example: Example | None = None
    unsimulated: set[str] = field(default_factory=set)  # steps not run (a function)

    @property
    def changed(self) -> bool:
        return bool(self.lost or self.gained or self.removed or self.added or self.modified
                    or self.firing or self.silenced)  # fmt: skip


def delivery_impact(before: Mapping[Key, Fields], after: Mapping[Key, Fields],
                    samples: Sequence[Sample], catalog: Catalog,
                    run: FunctionRunner | None = None) -> list[DestinationImpact]:  # fmt: skip
    """The impact of going from ``before`` (the live resources' fields) to ``after`` (those
    the plan leaves) on ``samples``, for every destination or warehouse whose deliveries
    change, by address (``run``: the functions' runtime)."""
    if before == after:
        return []
    old, new = IndexLookup(before, catalog), IndexLookup(after, catalog)
    paths_before, paths_after = _Paths(before), _Paths(after)
    found: dict[str, DestinationImpact] = {}
    for source in sorted({s for s, _, _ in samples}):
        changed = _changed_destinations(paths_before, paths_after, source)
        if not changed:
            continue
        # the source's own steps are run once when the plan leaves them as they are
        same_source = paths_before.source_part(source) == paths_after.source_part(source)
        for _, line, event in (s for s in samples if s[0] == source):
            staged = at_source(old, source, event)
            again = staged if same_source else at_source(new, source, event)
            was = {d.destination: d for d in deliver(old, staged, changed, run).deliveries}
            now = {d.destination: d for d in deliver(new, again, changed, run).deliveries}
            # alike destinations share payloads: each payload's leaves are listed once
            leaves: dict[int, dict[str, Any]] = {}
            for address in sorted(changed):
                kind = TO_DESTINATION if "/" in address else TO_WAREHOUSE
                impact = found.setdefault(address, DestinationImpact(address, kind))
                _compare(impact, line, event, was.get(address), now.get(address), leaves)
    return [impact for _, impact in sorted(found.items()) if impact.changed]


def _label(event: Mapping[str, Any]) -> str:
    return str(event.get("event") or event.get("name") or event.get("type") or "track")


def _compare(impact: DestinationImpact, line: int, event: Mapping[str, Any],
             was: Delivery | None, now: Delivery | None,
             known: dict[int, dict[str, Any]]) -> None:  # fmt: skip
    for delivery in (was, now):
        if delivery is not None:
            impact.unsimulated.update(delivery.unsimulated)
    delivered_before = was is not None and was.delivered
    delivered_now = now is not None and now.delivered
    if delivered_before and not delivered_now:
        impact.lost += 1
        why = (f"stopped at {now.stop.step}: {now.stop.reason}"
               if now is not None and now.stop is not None else f"the {impact.kind} is removed")
        impact.lost_example = impact.lost_example or Example(line, _label(event), why)
    elif delivered_now and not delivered_before:
        impact.gained += 1
        why = (f"was stopped at {was.stop.step}: {was.stop.reason}"
               if was is not None and was.stop is not None else f"the {impact.kind} is new")
        impact.gained_example = impact.gained_example or Example(line, _label(event), why)
    if not (delivered_before and delivered_now and was is not None and now is not None):
        return
    _compare_mappings(impact, line, event, was, now)
    old: dict[str, Any] = {}
    new: dict[str, Any] = {}
    if was.payload is not now.payload and was.payload != now.payload:
        old, new = _values_of(was.payload, known), _values_of(now.payload, known)
    # a mapping firing on both sides: its payload's fields, as "MAPPING:FIELD"
    sent = {fired.mapping: fired.payload for fired in now.fired}
    for fired in was.fired:
        if fired.mapping in sent and fired.payload != sent[fired.mapping]:
            old = {**old, **_prefixed(fired.mapping, fired.payload)}
            new = {**new, **_prefixed(fired.mapping, sent[fired.mapping])}
    gone = sorted(old.keys() - new.keys())
    came = sorted(new.keys() - old.keys())
    differ = sorted(path for path in old.keys() & new.keys() if old[path] != new[path])
    for counts, paths in ((impact.removed, gone), (impact.added, came), (impact.modified, differ)):
        for path in paths:
            counts[path] = counts.get(path, 0) + 1
    if (gone or came or differ) and impact.property_example is None:
        shown = [f"-{p}" for p in gone] + [f"+{p}" for p in came] + [f"~{p}" for p in differ]
        impact.property_example = Example(line, _label(event), ", ".join(shown[:5]))


def _compare_mappings(impact: DestinationImpact, line: int, event: Mapping[str, Any],
                      was: Delivery, now: Delivery) -> None:  # fmt: skip
    """Mappings that fire now and did not, or did and do not (a delivery both sides)."""
    old = {fired.mapping for fired in was.fired}
    new = {fired.mapping for fired in now.fired}
    for mapping in sorted(new - old):
        impact.firing[mapping] = impact.firing.get(mapping, 0) + 1
    for mapping in sorted(old - new):
        impact.silenced[mapping] = impact.silenced.get(mapping, 0) + 1
    if old != new and impact.mapping_example is None:
        shown = [f"+{m}" for m in sorted(new - old)] + [f"-{m}" for m in sorted(old - new)]
        impact.mapping_example = Example(line, _label(event), ", ".join(shown[:5]))


def _prefixed(mapping: str, payload: Mapping[str, Any]) -> dict[str, Any]:
    return {f"{mapping}:{path}": value for path, value in leaf_values(payload).items()}


def _values_of(payload: Any, known: dict[int, dict[str, Any]]) -> dict[str, Any]:
    """``leaf_values`` of a payload, listed once per event (payloads live as long as
    ``known``)."""
    found = known.get(id(payload))
    if found is None:
        found = known[id(payload)] = leaf_values(payload)
    return found


class _Paths:
    """One side's resources indexed for the paths of a source's destinations."""

    def __init__(self, resources: Mapping[Key, Fields]) -> None:
        self._resources = resources
        self._children: dict[tuple[str, str], list[tuple[str, Fields]]] = {}
        self._categories: dict[str, list[tuple[str, Fields]]] = {}
        self._warehouses: dict[str, list[tuple[str, Fields]]] = {}
        for (kind, address), fields in sorted(resources.items()):
            parent, sep, _ = address.rpartition("/")
            if sep:
                self._children.setdefault((kind, parent), []).append((address, fields))
            if kind == CONSENT:
                for listed in fields.get("destinations") or []:
                    self._categories.setdefault(str(listed), []).append((address, fields))
            if kind == WAREHOUSE:
                for listed in fields.get("sources") or []:
                    self._warehouses.setdefault(str(listed), []).append((address, fields))

    def warehouses(self, source: str) -> dict[str, Any]:
        """The source's warehouses: what their deliveries depend on, by name."""
        return {name: (fields.get("enabled"), (fields.get("selective_sync") or {}).get(source))
                for name, fields in self._warehouses.get(source, [])}  # fmt: skip

    def under(self, kind: str, parent: str) -> list[tuple[str, Fields]]:
        return self._children.get((kind, parent), [])

    def source_part(self, source: str) -> Any:
        """The source, its tracking plan and its source-scoped transformations."""
        fields = self._resources.get((SOURCE, source))
        plan = fields.get("tracking_plan") if fields is not None else None
        rules = [r for r in self.under(TRANSFORMATION, source) if not r[1].get("destination")]
        tracking = self._resources.get((TRACKING_PLAN, plan)) if isinstance(plan, str) else None
        return fields, tracking, rules

    def signature(self, source: str, address: str) -> Any:
        """Everything on ``address``'s path but the source's part: the destination, its
        filters, the consent categories that list it, the transformations scoped to it, its
        mappings and the functions it runs."""
        scoped = [r for r in self.under(TRANSFORMATION, source)
                  if r[1].get("destination") == address]  # fmt: skip
        fields = self._resources.get((DESTINATION, address)) or {}
        functions = [self._resources.get((FUNCTION, str(fields.get(key))))
                     for key in ("insert_function", "function")]  # fmt: skip
        return (fields, self.under(FILTER, address), self._categories.get(address, []), scoped,
                self.under(MAPPING, address), functions)  # fmt: skip


def _changed_destinations(before: _Paths, after: _Paths, source: str) -> set[str]:
    """The destinations and warehouses of ``source`` (on either side) whose deliveries may
    differ."""
    addresses = {address for paths in (before, after)
                 for address, _ in paths.under(DESTINATION, source)}  # fmt: skip
    old, new = before.warehouses(source), after.warehouses(source)
    if before.source_part(source) != after.source_part(source):
        return addresses | set(old) | set(new)
    return ({address for address in addresses
             if before.signature(source, address) != after.signature(source, address)}
            | {name for name in {*old, *new} if old.get(name) != new.get(name)})  # fmt: skip
