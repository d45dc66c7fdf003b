"""The documented processing order (``config-resources.md`` §7) as one pure function: an
event sent to a source, and what each of the source's destinations receives.

``trace_event`` runs these steps, each recording why an event stopped:

1. the source: declared and enabled;
2. the source's schema controls: without a tracking plan the block list (``blocked_events``,
   track events); with one, Protocols' enforcement as the schema settings say — unplanned
   track events blocked, unplanned properties or traits omitted, events violating the plan
   blocked or their violating values omitted, the common JSON schema's action — the omitted
   names recorded in ``context.protocols`` as the docs show (``omitted``,
   ``omitted_on_violation``); a blocked event forwarded to another source is said so;
3. the source-scoped transformations (rename the event, rename properties or traits, set
   values, FQL-defined properties), in their declared order;
4. per destination: enabled; consent then the integrations object (the docs' reconciliation
   table, every row); the event types the catalog entry accepts; the destination filters in
   their order (sample, drop, drop properties, allow properties: ``seg.fql.filters``; not for
   storage destinations, as the docs say); the transformations scoped to the destination; the
   mapping triggers (an Actions destination, or one with mappings, sends only what an enabled
   mapping's trigger matches: "No matching mapping" otherwise); the insert function; the
   payload of each mapping that fires (its ``fields``: destination field → event path), or a
   destination function's requests;
5. per warehouse connected to the source: its selective sync (the source, the event's
   collection, the properties turned off). Warehouses skip consent, the integrations object,
   filters, destination-scoped transformations, mappings and insert functions.

Functions run through a ``FunctionRunner`` (``seg.trace.functions``) the caller passes; without
one (Node.js is not installed) the insert function or destination function is reported in the
delivery's ``unsimulated`` and the event passes it unchanged.

Decisions where the docs are silent or contradict themselves (README, "seg trace"):
- ``context.consent`` without ``categoryPreferences`` (or ``{}``) is no consent object: not
  enforced (the table's first row); ``categoryPreferences: {}`` is a consent object in which
  every category is false, so every mapped destination is blocked (rows two and four).
- A category missing from ``categoryPreferences`` is not consented; a disabled category is
  not enforced; a destination mapped to several categories needs all of them.
- The integrations object is keyed by the destination's catalog display name (the docs: "the
  destination name in the docs", case-sensitive), applies to every instance of that type, and
  ``All`` (default true) answers for the names it does not list; a value that is an object
  (settings for that destination) counts as true. ``All: false`` does not stop warehouses.
- Storage destinations (the catalog's ``storage`` entries: S3, data lakes) do not enforce
  consent.
- A mapping field's value is an event path, ``$.properties.total`` or ``properties.total``; a
  path the event does not have leaves the field out of the payload. The trigger sees the event
  before the insert function ("Segment sees the mapping trigger first"); the fields read the
  event the insert function returns.
- An insert function gets no settings (the model has none for it); a destination function
  gets its instance's ``settings``, secret ones masked: the simulator never hands a secret to
  workspace code.
- A warehouse's collection is the event's name in snake case for a track event, and
  ``identifies``, ``pages``, ``screens``, ``groups`` or ``aliases`` for the others; a property
  turned off is matched on its column name (snake case, nested keys joined by ``_``).
"""

from __future__ import annotations

import dataclasses
import json
import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, NamedTuple

from seg.catalog import Catalog, Entry
from seg.fql.filters import (
    Filter,
    Outcome,
    apply_filters,
    compile_filters,
    compiled,
    json_copy,
)
from seg.kinds import consent_category as consent_kind
from seg.kinds import destination as destination_kind
from seg.kinds import destination_filter as filter_kind
from seg.kinds import function as function_kind
from seg.kinds import mapping as mapping_kind
from seg.kinds import source as source_kind
from seg.kinds import tracking_plan as plan_kind
from seg.kinds import transformation as transformation_kind
from seg.kinds import warehouse as warehouse_kind
from seg.kinds.shared import per_lookup
from seg.model.kinds import Lookup
from seg.trace.functions import MASK, FunctionCall, FunctionResult, FunctionRunner
from seg.tracking.events import check_event, planned_fields

__all__ = ["AtSource", "Delivery", "Fired", "Stop", "Trace", "at_source", "deliver",
           "leaf_values", "trace_event", "warehouse_column"]

SOURCE, DESTINATION = source_kind.KIND.name, destination_kind.KIND.name
FILTER, TRANSFORMATION = filter_kind.KIND.name, transformation_kind.KIND.name
TRACKING_PLAN, CONSENT = plan_kind.KIND.name, consent_kind.KIND.name
MAPPING, FUNCTION = mapping_kind.KIND.name, function_kind.KIND.name
WAREHOUSE = warehouse_kind.KIND.name
# A delivery's ``kind``: what receives the event.
TO_DESTINATION, TO_WAREHOUSE = "destination", "warehouse"


@dataclass(frozen=True)
class Stop:
    """Where an event stopped (a step of the processing order) and why."""

    step: str
    reason: str


class Fired(NamedTuple):  # made per event and destination: a tuple is cheaper to make
    """A mapping that fires for the event, and the payload it sends (its fields' values)."""

    mapping: str  # address
    action: str
    payload: Mapping[str, Any]


class Delivery(NamedTuple):  # made per event and destination: a tuple is cheaper to make
    """What one destination (or warehouse: ``kind``) receives: the payload, or where the event
    stopped; the mappings that fire; a destination function's requests; the steps on the
    way that could not be simulated (a function without Node.js)."""

    destination: str
    stop: Stop | None
    payload: Any = None
    removed: tuple[str, ...] = ()  # properties or traits removed on the way (dotted paths)
    kind: str = TO_DESTINATION
    fired: tuple[Fired, ...] = ()
    requests: tuple[Mapping[str, Any], ...] = ()
    unsimulated: tuple[str, ...] = ()

    @property
    def delivered(self) -> bool:
        return self.stop is None


@dataclass(frozen=True)
class Trace:
    """One event through one source: a stop at the source (for every destination), or each
    destination's delivery; the payload after the source's schema controls."""

    source: str
    stop: Stop | None
    payload: Any
    deliveries: tuple[Delivery, ...] = ()
    notes: tuple[str, ...] = field(default=())


def trace_event(lookup: Lookup, source: str, event: Mapping[str, Any],
                only: Collection[str] | None = None,
                run: FunctionRunner | None = None) -> Trace:  # fmt: skip
    """``event`` sent to ``source`` as ``lookup`` configures the workspace (``only``: just
    these destinations and warehouses; ``run``: the functions' runtime). Sampling (a
    destination filter's ``sample``) keeps an event by a hash of it: a trace is
    reproducible."""
    return deliver(lookup, at_source(lookup, source, event), only, run)


@dataclass(frozen=True)
class AtSource:
    """An event after the source's steps (``at_source``): a stop for every destination, or
    the payload the destinations get and what was omitted on the way."""

    source: str
    stop: Stop | None
    payload: Any
    removed: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()


def at_source(lookup: Lookup, source: str, event: Mapping[str, Any]) -> AtSource:
    """The source's steps: declared and enabled, its schema controls, its source-scoped
    transformations."""
    fields = lookup.get(SOURCE, source)
    payload = json_copy(dict(event))
    if fields is None:
        return AtSource(source, Stop("source", f"source {source!r} is not declared"), payload)
    if fields.get("enabled", True) is False:
        return AtSource(source, Stop("source", f"source {source} is disabled"), payload)
    stop, removed, notes = _schema_controls(lookup, fields, payload)
    if stop is not None:
        return AtSource(source, stop, payload, (), notes)
    payload = _transform(_rules(lookup, source, None), payload)
    return AtSource(source, None, payload, tuple(removed), notes)


def deliver(lookup: Lookup, staged: AtSource, only: Collection[str] | None = None,
            run: FunctionRunner | None = None) -> Trace:  # fmt: skip
    """The per-destination steps of ``staged`` (``at_source``) for the source's destinations
    and warehouses (``only``: just these addresses). The same staged event may be delivered
    under another configuration whose source steps are the same (a plan's impact)."""
    if staged.stop is not None:
        return Trace(staged.source, staged.stop, staged.payload, (), staged.notes)
    removed = list(staged.removed)
    deliveries: list[Delivery] = []
    # destinations whose paths are alike (``_Prepared.key``) run the steps once per event
    alike: dict[str, tuple[Delivery, _Route]] = {}
    shared = _PerEvent(staged.payload)
    for route in _routes(lookup, staged.source):
        if only is not None and route.address not in only:
            continue
        if route.prepared is None:
            deliveries.append(route.disabled)
            continue
        seen = alike.get(route.prepared.key)
        if seen is None:
            delivery = _destination(lookup, route.address, route.fields, route.prepared,
                                    staged.payload, removed, run, shared)  # fmt: skip
            alike[route.prepared.key] = (delivery, route)
        else:
            delivery = _relabel(seen[0], seen[1], route)
        deliveries.append(delivery)
    deliveries += [_warehouse(name, fields, staged.source, staged.payload, removed)
                   for name, fields in _warehouses(lookup).get(staged.source, ())
                   if only is None or name in only]  # fmt: skip
    return Trace(staged.source, None, staged.payload, tuple(deliveries), staged.notes)


def _call(event: Mapping[str, Any]) -> str:
    return str(event.get("type", "track")).lower()


def _schema_controls(lookup: Lookup, source: Mapping[str, Any], payload: dict[str, Any]
                     ) -> tuple[Stop | None, list[str], tuple[str, ...]]:  # fmt: skip
    """The source's schema controls on ``payload`` (changed in place): a stop, the paths
    omitted, and notes (a blocked event's forwarding)."""
    settings = source.get("schema_settings") or {}
    call = _call(payload)
    forward = settings.get("forwarding_blocked_events_to")
    notes = (f"blocked events are forwarded to source {forward}",) if forward else ()
    plan_name = source.get("tracking_plan")
    plan = lookup.get(TRACKING_PLAN, plan_name) if isinstance(plan_name, str) else None
    if plan is None:
        blocked = settings.get("blocked_events") or []
        if call == "track" and payload.get("event") in blocked:
            why = (f"event {payload.get('event')!r} is blocked in the source's schema (no "
                   "destination, warehouses included)")  # fmt: skip
            return Stop("schema", why), [], notes
        return None, [], ()
    flags = settings.get(call) or {}
    rules = list(plan.get("rules") or [])
    own = [r for r in rules if r.get("type") != "COMMON"]
    found = check_event(own, payload)
    label = f"tracking plan {plan_name}"
    if any(v.kind == "unplanned event" for v in found):
        if flags.get("allow_unplanned_events", True) is False:
            return (Stop("tracking plan", f"unplanned event {payload.get('event')!r} is blocked "
                                          f"({label})"), [], notes)  # fmt: skip
        found = []
    violating = [v for v in found if v.kind not in ("unplanned property", "unplanned event")]
    if violating and call == "track" and flags.get("allow_event_on_violations", True) is False:
        first = violating[0]
        return (Stop("tracking plan", f"blocked for violating {label}: {first.kind} at "
                                      f"{first.path}"), [], notes)  # fmt: skip
    omitted: list[str] = []
    planned = planned_fields(own, payload)
    key = "allow_unplanned_event_properties" if call == "track" else "allow_unplanned_traits"
    if planned is not None and flags.get(key, True) is False:
        where, names = planned
        held = payload.get(where)
        extra = [n for n in held if n not in names] if isinstance(held, dict) else []
        omitted = _omit(payload, [f"{where}.{n}" for n in extra])
    on_violation: list[str] = []
    key = "allow_properties_on_violations" if call == "track" else "allow_traits_on_violations"
    if violating and flags.get(key, True) is False:
        on_violation = _omit(payload, [v.path for v in violating])
    common = [v for v in check_event([r for r in rules if r.get("type") == "COMMON"], payload)
              if v.kind != "unplanned event"]  # fmt: skip
    action = str(flags.get("common_event_on_violations", "ALLOW"))
    if common and action == "BLOCK":
        first = common[0]
        return (Stop("tracking plan", f"blocked for violating the common JSON schema of {label}: "
                                      f"{first.kind} at {first.path}"), [], notes)  # fmt: skip
    if common and action.startswith("OMIT"):
        on_violation += _omit(payload, [v.path for v in common])
    if omitted or on_violation:
        context = payload.setdefault("context", {})
        protocols = context.setdefault("protocols", {}) if isinstance(context, dict) else None
        if isinstance(protocols, dict):
            if omitted:
                protocols["omitted"] = [p.split(".", 1)[1] for p in omitted]
            if on_violation:
                protocols["omitted_on_violation"] = [p.split(".", 1)[1] for p in on_violation]
    return None, omitted + on_violation, ()


def _omit(payload: dict[str, Any], paths: Sequence[str]) -> list[str]:
    """Remove the properties or traits at ``paths`` (dotted, under ``properties`` or
    ``traits``); the paths removed."""
    removed: list[str] = []
    for path in paths:
        parts = path.split(".")
        if len(parts) < 2 or parts[0] not in ("properties", "traits"):
            continue
        holder: Any = payload
        for part in parts[:-1]:
            holder = holder.get(part) if isinstance(holder, dict) else None
        if isinstance(holder, dict) and parts[-1] in holder:
            del holder[parts[-1]]
            removed.append(path)
    return removed


@dataclass(frozen=True)
class _Prepared:
    """What the per-destination steps need of one destination, made once per workspace
    snapshot (thousands of events go through the same destinations)."""

    entry: Entry | None
    categories: tuple[str, ...]  # the enabled consent categories mapping it
    filters: list[Filter]
    transformations: tuple[Mapping[str, Any], ...]  # scoped to it, enabled, in order
    # (address, fields) of its enabled event-stream mappings, in order; None: it sends
    # without mappings (a classic destination with none declared)
    mappings: tuple[tuple[str, Mapping[str, Any]], ...] | None
    insert: tuple[str, str] | None  # the enabled insert function: its address and code
    function: tuple[str, str] | None  # the destination function it deploys: address, code
    # Everything above but the names of its filters and mappings: two destinations of a
    # source with the same key treat every event alike (``deliver`` runs the steps once).
    key: str = ""
    rest_key: str = ""  # the key of what follows the filters (the same steps after them)
    filter_names: tuple[str, ...] = ()
    mapping_names: tuple[str, ...] = ()
    # the steps not run because what they run holds a value from the environment (masked)
    hidden: tuple[str, ...] = ()


@per_lookup
def _prepared(_lookup: Lookup) -> dict[str, _Prepared]:
    return {}  # filled as destinations are met


@per_lookup
def _categories(lookup: Lookup) -> dict[str, tuple[str, ...]]:
    """Each destination's enabled consent categories."""
    out: dict[str, list[str]] = {}
    for name, category in lookup.every(CONSENT):
        if category.get("enabled", True) is not False:
            for address in category.get("destinations") or []:
                out.setdefault(str(address), []).append(name)
    return {address: tuple(names) for address, names in out.items()}


def _prepare(lookup: Lookup, address: str, fields: Mapping[str, Any]) -> _Prepared:
    known = _prepared(lookup)
    found = known.get(address)
    if found is None:
        entry = _entry(lookup, fields)
        specs = [(name, spec) for name, spec in lookup.under(FILTER, address)
                 if spec.get("enabled", True)]  # fmt: skip
        # a condition or trigger that holds a value from the environment is masked: not run
        hidden = [f"destination filter {name}{_HIDDEN}" for name, spec in specs
                  if spec.get("if") == MASK]  # fmt: skip
        specs = [(name, spec) for name, spec in specs if spec.get("if") != MASK]
        found = _Prepared(
            entry, _categories(lookup).get(address, ()), compile_filters(specs),
            _rules(lookup, address.split("/", 1)[0], address),
            _mappings(lookup, address, entry),
            (_code(lookup, fields.get("insert_function"))
             if fields.get("insert_function_enabled", True) is not False else None),
            _code(lookup, fields.get("function")))  # fmt: skip
        rest = json.dumps([
            entry.id if entry is not None else None,
            found.transformations, None if found.mappings is None else [
                (m.get("action"), m.get("trigger"), m.get("fields")) for _, m in found.mappings],
            found.insert, found.function,
            _unsecret(lookup, fields) if found.function is not None else None,
        ], sort_keys=True, default=str)  # fmt: skip
        key = json.dumps([rest, found.categories,
                          [(str(spec["if"]), spec.get("actions", [])) for _, spec in specs]])
        hidden += [f"mapping {name}{_HIDDEN}" for name, m in found.mappings or ()
                   if m.get("trigger") == MASK]  # fmt: skip
        hidden += [f"{what} {code[0]}{_HIDDEN}" for what, code in
                   (("insert function", found.insert), ("destination function", found.function))
                   if code is not None and code[1] == MASK]  # fmt: skip
        found = known[address] = dataclasses.replace(
            found, key=key, rest_key=rest, filter_names=tuple(f.address for f in found.filters),
            mapping_names=tuple(name for name, _ in found.mappings or ()),
            hidden=tuple(hidden))  # fmt: skip
    return found


def _mappings(lookup: Lookup, address: str, entry: Entry | None
              ) -> tuple[tuple[str, Mapping[str, Any]], ...] | None:  # fmt: skip
    declared = lookup.under(MAPPING, address)
    if not declared and (entry is None or not entry.actions):
        return None
    # in the order seg keeps them (by address): the platform's is its UI's order
    return tuple((name, fields) for name, fields in sorted(declared, key=lambda m: m[0])
                 if fields.get("enabled", False) is True
                 and isinstance(fields.get("trigger"), str))  # fmt: skip


def _code(lookup: Lookup, name: Any) -> tuple[str, str] | None:
    function = lookup.get(FUNCTION, name) if isinstance(name, str) else None
    code = function.get("code") if function is not None else None
    return (name, code) if isinstance(name, str) and isinstance(code, str) else None


@dataclass(frozen=True)
class _Route:
    """One destination of a source as ``deliver`` meets it: disabled (``prepared`` None:
    the constant ``disabled`` delivery), or its prepared steps."""

    address: str
    fields: Mapping[str, Any]
    prepared: _Prepared | None
    disabled: Delivery
    # another route's address → its filter and mapping names to this route's (``_relabel``)
    renames: dict[str, tuple[dict[str, str], dict[str, str]]] = field(default_factory=dict)


@per_lookup
def _source_routes(_lookup: Lookup) -> dict[str, tuple[_Route, ...]]:
    return {}  # filled as sources are met


def _routes(lookup: Lookup, source: str) -> tuple[_Route, ...]:
    known = _source_routes(lookup)
    found = known.get(source)
    if found is None:
        disabled = Stop("destination", "the destination is disabled")
        found = known[source] = tuple(
            _Route(address, fields, _prepare(lookup, address, fields)
                   if fields.get("enabled", False) is True else None,
                   Delivery(address, disabled))
            for address, fields in lookup.under(DESTINATION, source))  # fmt: skip
    return found


def _relabel(delivery: Delivery, like: _Route, route: _Route) -> Delivery:
    """Another destination's ``delivery`` for ``route``, whose path is alike (the same key):
    its own filter and mapping names in place of the other's, by position."""
    stop, fired = delivery.stop, delivery.fired
    if stop is not None and stop.step == "destination filter":
        filters = _renames(like, route)[0]
        dropped = stop.reason.removeprefix(_DROPPED)
        stop = Stop(stop.step, _DROPPED + filters.get(dropped, dropped))
    if fired:
        fired = _renamed(fired, _renames(like, route)[1])
    return delivery._replace(destination=route.address, stop=stop, fired=fired)


def _renamed(fired: tuple[Fired, ...], names: Mapping[str, str]) -> tuple[Fired, ...]:
    """Mappings another destination fired, under this destination's names (``names``)."""
    return tuple(f._replace(mapping=names[f.mapping]) for f in fired)


def _renames(like: _Route, route: _Route) -> tuple[dict[str, str], dict[str, str]]:
    found = route.renames.get(like.address)
    if found is None:
        assert like.prepared is not None and route.prepared is not None
        found = route.renames[like.address] = (
            dict(zip(like.prepared.filter_names, route.prepared.filter_names, strict=True)),
            dict(zip(like.prepared.mapping_names, route.prepared.mapping_names, strict=True)))
    return found


_DROPPED = "dropped by destination filter "
_HIDDEN = " (it holds a value from the environment, which workspace code is never handed)"


class _PerEvent:
    """What one event's destinations share (``deliver``): each condition's result (by its
    compiled function: ``compiled`` gives one per expression), and the outcome of each set of
    matching filters whose actions are alike (by their ``key``)."""

    __slots__ = ("after", "conditions", "integrations", "outcomes", "preferences")

    def __init__(self, payload: Mapping[str, Any]) -> None:
        # the event's consent preferences (None: no consent object, nothing enforced) and its
        # integrations object (None: none, or empty)
        context = payload.get("context")  # JSON: dicts, never another mapping
        consent = context.get("consent") if isinstance(context, dict) else None
        self.preferences: dict[str, Any] | None = None
        if isinstance(consent, dict) and "categoryPreferences" in consent:
            preferences = consent.get("categoryPreferences")
            self.preferences = preferences if isinstance(preferences, dict) else {}
        integrations = payload.get("integrations")
        self.integrations: dict[str, Any] | None = (
            integrations if isinstance(integrations, dict) and integrations else None)
        self.conditions: dict[Any, bool] = {}
        self.outcomes: dict[tuple[str, ...], tuple[Outcome, int]] = {}
        # (``_Prepared.rest_key``, the filtered event's id, the steps not run) → the delivery
        # made after the filters, and the mapping names it was made with
        self.after: dict[tuple[str, int, tuple[str, ...]], tuple[Delivery, tuple[str, ...]]] = {}


def _filtered(filters: list[Filter], payload: dict[str, Any], shared: _PerEvent) -> Outcome:
    """``run_filters``, sharing conditions and outcomes with the event's other destinations."""
    matched = []
    for flt in filters:
        hit = shared.conditions.get(flt.condition)
        if hit is None:
            hit = shared.conditions[flt.condition] = flt.condition(payload) is True
        if hit:
            matched.append(flt)
    if not matched:
        return Outcome(True, None, [], payload)
    key = tuple(flt.key for flt in matched)
    found = shared.outcomes.get(key)
    if found is None:
        outcome = apply_filters(matched, payload)
        index = next((i for i, flt in enumerate(matched) if flt.address == outcome.dropped_by),
                     -1)  # fmt: skip
        shared.outcomes[key] = (outcome, index)
        return outcome
    outcome, index = found
    # the same actions drop it by the filter at the same position, or remove the same paths
    return outcome if outcome.delivered else Outcome(False, matched[index].address, [], None)


def _destination(lookup: Lookup, address: str, fields: Mapping[str, Any], prepared: _Prepared,
                 payload: dict[str, Any], removed: list[str], run: FunctionRunner | None,
                 shared: _PerEvent) -> Delivery:  # fmt: skip
    """The per-destination steps for one enabled destination of the source."""
    stop = ((shared.preferences is not None and _consent(prepared, shared.preferences))
            or (shared.integrations is not None
                and _integrations(prepared.entry, shared.integrations))
            or _event_type(prepared.entry, payload)) or None  # fmt: skip
    if stop is not None:
        return Delivery(address, stop)
    # "Destination filters aren't available for, and don't prevent data from reaching your
    # warehouse(s) or S3 destinations" (the docs)
    filters = [] if prepared.entry is not None and prepared.entry.storage else prepared.filters
    outcome = _filtered(filters, payload, shared)  # the payload itself if nothing was removed
    if not outcome.delivered:
        return Delivery(address, Stop("destination filter", f"{_DROPPED}{outcome.dropped_by}"))
    # the same steps after the filters on the same filtered event: made once an event
    memo_key = (prepared.rest_key, id(outcome.event), prepared.hidden)
    made = shared.after.get(memo_key)
    if made is not None:
        delivery, names = made
        fired = delivery.fired
        if fired:
            fired = _renamed(fired, dict(zip(names, prepared.mapping_names, strict=True)))
        return delivery._replace(destination=address, fired=fired)
    delivery = _after_filters(lookup, address, fields, prepared, outcome, removed, run)
    shared.after[memo_key] = (delivery, prepared.mapping_names)
    return delivery


def _after_filters(lookup: Lookup, address: str, fields: Mapping[str, Any],
                   prepared: _Prepared, outcome: Outcome, removed: list[str],
                   run: FunctionRunner | None) -> Delivery:  # fmt: skip
    """The steps after the destination filters: destination-scoped transformations, mapping
    triggers, the insert function, mappings, a destination function."""
    # the filtered event shares objects with the payload (``run_filters``): copied before a
    # transformation changes it
    event = _transform(prepared.transformations, outcome.event, shared=True)
    gone = (*removed, *outcome.removed)
    matched = None
    if prepared.mappings is not None:
        matched = [(name, m) for name, m in prepared.mappings if _matches(m["trigger"], event)]
        if not matched:
            why = ("no enabled mapping's trigger matches the event (the platform discards it: "
                   "No matching mapping)")  # fmt: skip
            return Delivery(address, Stop("mapping triggers", why))
    unsimulated = list(prepared.hidden)
    if prepared.insert is not None and prepared.insert[1] != MASK:
        if run is None:
            unsimulated.append(f"insert function {prepared.insert[0]}")
        else:
            result = run(FunctionCall("insert", prepared.insert[0], prepared.insert[1], event))
            if result.outcome != "ok" or not isinstance(result.event, dict):
                return Delivery(address, _function_stop("insert function", prepared.insert[0],
                                                        result, event))  # fmt: skip
            # what the function removed counts as removed on the way
            kept = leaf_values(result.event)
            gone = (*gone, *(path for path in leaf_values(event) if path not in kept))
            event = result.event
    fired = tuple(Fired(name, str(m.get("action")), _mapped(m.get("fields"), event))
                  for name, m in matched or ())  # fmt: skip
    requests: tuple[Mapping[str, Any], ...] = ()
    if prepared.function is not None and prepared.function[1] != MASK:
        if run is None:
            unsimulated.append(f"destination function {prepared.function[0]}")
        else:
            settings = _unsecret(lookup, fields)
            result = run(FunctionCall("destination", prepared.function[0],
                                      prepared.function[1], event, settings))  # fmt: skip
            if result.outcome != "ok":
                return Delivery(address, _function_stop("destination function",
                                                        prepared.function[0], result,
                                                        event))  # fmt: skip
            requests = result.requests
    return Delivery(address, None, event, gone, fired=fired, requests=requests,
                    unsimulated=tuple(unsimulated))  # fmt: skip


def leaf_values(value: Any) -> dict[str, Any]:
    """The dotted paths of ``value``'s leaves and their values (a list is one leaf: its
    elements are not named), ``context.protocols`` left out (it records omissions already
    counted)."""
    out: dict[str, Any] = {}
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        prefix, node = stack.pop()
        if isinstance(node, dict) and node:
            stack += [(f"{prefix}.{key}" if prefix else str(key), item)
                      for key, item in node.items()
                      if (f"{prefix}.{key}" if prefix else key) != "context.protocols"]  # fmt: skip
        elif prefix:
            out[prefix] = node
    return out


def _matches(trigger: str, event: Mapping[str, Any]) -> bool:
    try:
        return compiled(trigger)(event) is True
    except Exception:  # an expression seg validate refuses never fires  # noqa: BLE001
        return False


def _mapped(fields: Any, event: Mapping[str, Any]) -> dict[str, Any]:
    """A mapping's payload: each field's event path's value (fields whose path the event
    does not have are left out)."""
    out: dict[str, Any] = {}
    for name, path in (fields or {}).items():
        text = str(path)
        text = text[2:] if text.startswith("$.") else text
        value: Any = event
        for key in text.split("."):
            value = value.get(key, _ABSENT) if isinstance(value, dict) else _ABSENT
        if value is not _ABSENT:
            out[str(name)] = value
    return out


# What the platform does with an event a function answers so (the function's outcome).
_FUNCTION_STOPS = {
    "dropped": "dropped by {what} {name}",
    "not supported": "{what} {name} does not handle {call} events",
    "invalid": "{what} {name} rejected the event",
    "retry": "{what} {name} asked for a retry (the platform retries for up to four hours)",
    "timeout": "{what} {name} timed out (the platform retries for up to four hours)",
    "memory": "{what} {name} ran out of memory",
}


def _function_stop(what: str, name: str, result: FunctionResult, event: Mapping[str, Any]
                   ) -> Stop:  # fmt: skip
    """Where a function's outcome other than ok (or an insert function's non-event) stops
    the event."""
    template = _FUNCTION_STOPS.get(result.outcome, "{what} {name} failed")
    if result.outcome == "ok":
        template = "{what} {name} returned no event"
    reason = template.format(what=what, name=name, call=_call(event))
    return Stop(what, f"{reason}: {result.message}" if result.message else reason)


def _unsecret(lookup: Lookup, fields: Mapping[str, Any]) -> dict[str, Any]:
    """A destination function instance's settings, the function's encrypted ones masked."""
    settings = dict(fields.get("settings") or {})
    function = lookup.get(FUNCTION, str(fields.get("function")))
    for item in (function or {}).get("settings") or []:
        if isinstance(item, Mapping) and item.get("encrypted") and item.get("name") in settings:
            settings[str(item["name"])] = MASK
    return settings


def _event_type(entry: Entry | None, payload: Mapping[str, Any]) -> Stop | None:
    """The event types the destination accepts (checked before destination filters)."""
    if entry is None or entry.event_types is None or _call(payload) in entry.event_types:
        return None
    return Stop("event type", f"{entry.display_name} does not accept {_call(payload)} events "
                              f"(only {', '.join(entry.event_types)})")  # fmt: skip


@per_lookup
def _warehouses(lookup: Lookup) -> dict[str, list[tuple[str, Mapping[str, Any]]]]:
    """Each source's warehouses, by name."""
    out: dict[str, list[tuple[str, Mapping[str, Any]]]] = {}
    for name, fields in sorted(lookup.every(WAREHOUSE), key=lambda item: item[0]):
        for source in fields.get("sources") or []:
            out.setdefault(str(source), []).append((name, fields))
    return out


_COLLECTIONS = {"identify": "identifies", "page": "pages", "screen": "screens",
                "group": "groups", "alias": "aliases"}  # fmt: skip
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")
_OTHER = re.compile(r"[^a-z0-9]+")


def warehouse_column(name: str) -> str:
    """A name as a warehouse table or column: snake case (``Order Completed``,
    ``orderCompleted`` → ``order_completed``)."""
    return _OTHER.sub("_", _CAMEL.sub("_", name).lower()).strip("_")


def _warehouse(name: str, fields: Mapping[str, Any], source: str, payload: dict[str, Any],
               removed: list[str]) -> Delivery:  # fmt: skip
    """A warehouse connected to the source: its selective sync."""
    if fields.get("enabled", True) is False:
        return Delivery(name, Stop("warehouse", "the warehouse is disabled"), kind=TO_WAREHOUSE)
    selective = (fields.get("selective_sync") or {}).get(source)
    selective = selective if isinstance(selective, dict) else {}
    if selective.get("enabled", True) is False:
        why = f"selective sync turns source {source} off"
        return Delivery(name, Stop("selective sync", why), kind=TO_WAREHOUSE)
    call = _call(payload)
    collection = (warehouse_column(str(payload.get("event", ""))) if call == "track"
                  else _COLLECTIONS.get(call, call))  # fmt: skip
    per = (selective.get("collections") or {}).get(collection)
    per = per if isinstance(per, dict) else {}
    if per.get("enabled", True) is False:
        why = f"selective sync turns collection {collection} off"
        return Delivery(name, Stop("selective sync", why), kind=TO_WAREHOUSE)
    off = {column for column, on in (per.get("properties") or {}).items() if on is False}
    where = "properties" if call in ("track", "page", "screen") else "traits"
    held = payload.get(where)
    held = held if isinstance(held, dict) else {}
    gone = [(key, f"{where}.{key}") for key, value in held.items() if _columns(key, value) & off]
    if not gone:
        return Delivery(name, None, payload, tuple(removed), kind=TO_WAREHOUSE)
    synced: dict[str, Any] = json_copy(payload)
    for key, _ in gone:
        del synced[where][key]
    return Delivery(name, None, synced, (*removed, *(path for _, path in gone)),
                    kind=TO_WAREHOUSE)  # fmt: skip


def _columns(key: str, value: Any) -> set[str]:
    """The warehouse columns a property becomes (an object's keys flattened with ``_``)."""
    column = warehouse_column(key)
    if isinstance(value, dict) and value:
        return {column} | {f"{column}_{inner}" for k, v in value.items()
                           for inner in _columns(k, v)}  # fmt: skip
    return {column}


def _rules(lookup: Lookup, source: str, destination: str | None
           ) -> tuple[Mapping[str, Any], ...]:  # fmt: skip
    """The source's enabled transformations of one scope (source scope: ``destination``
    None), in their declared order."""
    return tuple(rule for _, rule in lookup.under(TRANSFORMATION, source)
                 if rule.get("enabled", True) is not False
                 and rule.get("destination") == destination)  # fmt: skip


def _transform(rules: Sequence[Mapping[str, Any]], payload: dict[str, Any],
               shared: bool = False) -> dict[str, Any]:  # fmt: skip
    """The ``rules`` (``_rules``) that match the event, in order; ``shared``: ``payload``
    is another destination's too, copied before the first change."""
    if not rules:
        return payload
    call = _call(payload)
    for rule in rules:
        kind = rule.get("type")
        rule_call = (str(rule.get("event")) if kind == "rename_traits"
                     and rule.get("event") in ("identify", "group") else "track")  # fmt: skip
        if rule_call != call or (call == "track" and payload.get("event") != rule.get("event")):
            continue
        if shared:
            payload, shared = json_copy(payload), False
        prefix = "properties" if call == "track" else "traits"
        if kind == "rename_event" and isinstance(rule.get("new_event_name"), str):
            payload["event"] = rule["new_event_name"]
        for item in rule.get("property_renames") or []:
            found = _take(payload, _keys(item.get("from"), prefix))
            if found is not _ABSENT:
                _put(payload, _keys(item.get("to"), prefix), found)
        for item in rule.get("value_transforms") or []:
            for path in item.get("paths") or []:
                keys = _keys(path, prefix)
                if _take(payload, keys, remove=False) is not _ABSENT:
                    _put(payload, keys, item.get("value"))
        for item in rule.get("fql_defined_properties") or []:
            if item.get("fql") == MASK:  # holds a value from the environment: not run
                continue
            value = compiled(str(item.get("fql")))(payload)
            _put(payload, _keys(item.get("property"), prefix), value)
    return payload


_ABSENT: Any = object()


def _keys(path: Any, prefix: str) -> list[str]:
    """A transformation's path as keys from the event's top (``properties``/``traits``
    first, written or not)."""
    keys = transformation_kind.split_path(str(path))
    return keys if keys[0] == prefix and len(keys) > 1 else [prefix, *keys]


def _take(payload: dict[str, Any], keys: list[str], remove: bool = True) -> Any:
    holder: Any = payload
    for key in keys[:-1]:
        holder = holder.get(key) if isinstance(holder, dict) else None
    if not isinstance(holder, dict) or keys[-1] not in holder:
        return _ABSENT
    return holder.pop(keys[-1]) if remove else holder[keys[-1]]


def _put(payload: dict[str, Any], keys: list[str], value: Any) -> None:
    holder: Any = payload
    for key in keys[:-1]:
        if not isinstance(holder.get(key), dict):
            holder[key] = {}
        holder = holder[key]
    holder[keys[-1]] = value


def _entry(lookup: Lookup, fields: Mapping[str, Any]) -> Entry | None:
    catalog: Catalog = lookup.catalog
    entry_id = fields.get("catalog")
    return catalog.get("destination", entry_id) if isinstance(entry_id, str) else None


def _consent(prepared: _Prepared, preferences: Mapping[str, Any]) -> Stop | None:
    """Consent first (the docs' reconciliation table): a consent object with
    ``categoryPreferences`` (``preferences``: ``_PerEvent``) is enforced for the destinations
    mapped to enabled categories; every category of the destination must be true."""
    if prepared.entry is not None and prepared.entry.storage:
        return None  # storage destinations do not enforce consent
    refused = [name for name in prepared.categories if preferences.get(name) is not True]
    if not refused:
        return None
    return Stop("consent", "filtered by end user consent: no consent for "
                           + ", ".join(sorted(refused)))  # fmt: skip


def _integrations(entry: Entry | None, integrations: Mapping[str, Any]) -> Stop | None:
    """The integrations object (not empty: ``_PerEvent``), keyed by the destination's catalog
    name (every instance)."""
    name = entry.display_name if entry is not None else None
    if name is not None and name in integrations:
        value = integrations[name]
        on = value is not False
        why = f"the integrations object sets {name!r} to false"
    else:
        on = integrations.get("All", True) is not False
        why = f"the integrations object sets 'All' to false and does not name {name!r}"
    return None if on else Stop("integrations", why)
