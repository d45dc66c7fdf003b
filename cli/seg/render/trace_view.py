"""``seg trace``'s output: each event through the source, per destination delivered or
stopped (at which step and why) and what was removed on the way; as text lines, a JSON
document or a markdown table."""

from __future__ import annotations

import html
from collections.abc import Sequence
from typing import Any

from seg.model.printable import escape_line
from seg.model.wording import plural
from seg.render.plan_text import Line
from seg.trace.impact import DestinationImpact, Example
from seg.trace.pipeline import TO_WAREHOUSE, Delivery, Stop, Trace

__all__ = ["impact_lines", "impact_markdown", "impact_to_json", "trace_lines", "trace_markdown",
           "trace_to_json"]

Traced = Sequence[tuple[int, Any, Trace]]  # (line of the events file, event, trace)


def _label(event: Any) -> str:
    if not isinstance(event, dict):
        return "?"
    return str(event.get("event") or event.get("name") or event.get("type") or "track")


def _stop(stop: Stop) -> str:
    return f"stopped at {stop.step}: {stop.reason}"


def _result(delivery: Delivery) -> str:
    if delivery.stop is not None:
        return _stop(delivery.stop)
    notes = []
    if delivery.removed:
        notes.append(f"removed {', '.join(delivery.removed)}")
    if delivery.fired:
        notes.append("mappings " + ", ".join(f"{f.mapping.rsplit('/', 1)[-1]} ({f.action})"
                                             for f in delivery.fired))  # fmt: skip
    if delivery.requests:
        notes.append(plural(len(delivery.requests), "request"))
    if delivery.unsimulated:
        notes.append(f"not simulated: {', '.join(delivery.unsimulated)}")
    return "delivered" + (f" ({'; '.join(notes)})" if notes else "")


def _target(delivery: Delivery) -> str:
    return (f"warehouse {delivery.destination}" if delivery.kind == TO_WAREHOUSE
            else delivery.destination)  # fmt: skip


def unsimulated(steps: Sequence[str]) -> str:
    """The closing line on steps not run ("" when every step ran)."""
    if not steps:
        return ""
    return (f"Not simulated (Node.js is not installed): {', '.join(sorted(set(steps)))}; the "
            "event passed them unchanged.")  # fmt: skip


def _unsimulated(traced: Traced) -> list[str]:
    return sorted({step for _, _, t in traced for d in t.deliveries for step in d.unsimulated})


def _counts(traced: Traced) -> tuple[int, int]:
    deliveries = [d for _, _, t in traced for d in t.deliveries]
    delivered = sum(1 for d in deliveries if d.delivered)
    stopped = len(deliveries) - delivered + sum(1 for _, _, t in traced if t.stop is not None)
    return delivered, stopped


def trace_lines(traced: Traced) -> list[Line]:
    lines: list[Line] = []
    for number, event, trace in traced:
        head = f"line {number} ({_label(event)}) → source {trace.source}"
        if trace.stop is not None:
            lines.append(("red", f"{head}: {_stop(trace.stop)}"))
        else:
            lines.append(("bold", head))
            if not trace.deliveries:
                lines.append(("", "  the source has no destination"))
            width = max((len(_target(d)) for d in trace.deliveries), default=0)
            for delivery in trace.deliveries:
                style = "green" if delivery.delivered else "red"
                lines.append((style, f"  {_target(delivery):<{width}}  {_result(delivery)}"))
        lines += [("dim", f"  note: {note}") for note in trace.notes]
    delivered, stopped = _counts(traced)
    lines.append(("bold", f"{plural(len(traced), 'event')}: {delivered} delivered, "
                          f"{stopped} stopped."))  # fmt: skip
    closing = unsimulated(_unsimulated(traced))
    if closing:
        lines.append(("dim", closing))
    return lines


def _stop_json(stop: Stop | None) -> dict[str, str] | None:
    return None if stop is None else {"step": stop.step, "reason": stop.reason}


def trace_to_json(traced: Traced) -> dict[str, Any]:
    delivered, stopped = _counts(traced)
    events = [{
        "line": number, "event": _label(event), "source": trace.source,
        "stopped": _stop_json(trace.stop), "notes": list(trace.notes),
        "deliveries": [{"destination": d.destination, "kind": d.kind,
                        "delivered": d.delivered, "stopped": _stop_json(d.stop),
                        "removed": list(d.removed), "payload": d.payload,
                        "mappings": [{"mapping": f.mapping, "action": f.action,
                                      "payload": f.payload} for f in d.fired],
                        "requests": list(d.requests), "not_simulated": list(d.unsimulated)}
                       for d in trace.deliveries],
    } for number, event, trace in traced]  # fmt: skip
    return {"events": events, "not_simulated": _unsimulated(traced),
            "summary": {"events": len(traced), "delivered": delivered, "stopped": stopped}}


def _cell(text: str) -> str:
    """Sample or workspace text in a markdown table cell: controls and line breaks escaped,
    HTML escaped (a ``<!--`` in an event name cannot hide the rest of a pull-request
    comment), ``|`` escaped."""
    return html.escape(escape_line(text)).replace("|", "\\|")


def trace_markdown(traced: Traced) -> str:
    rows = ["| line | event | destination | result |", "|---|---|---|---|"]
    for number, event, trace in traced:
        label = _cell(_label(event))
        if trace.stop is not None:
            rows.append(f"| {number} | {label} | (source {_cell(trace.source)}) | "
                        f"{_cell(_stop(trace.stop))} |")  # fmt: skip
        for d in trace.deliveries:
            rows.append(f"| {number} | {label} | {_cell(_target(d))} | {_cell(_result(d))} |")
    delivered, stopped = _counts(traced)
    rows += ["", f"{plural(len(traced), 'event')}: {delivered} delivered, {stopped} stopped. "
                 f"{unsimulated(_unsimulated(traced))}".rstrip()]  # fmt: skip
    return "\n".join(rows) + "\n"


# -- a plan's delivery impact (``seg plan --events``) --------------------------------------


def _example(example: Example | None) -> str:
    if example is None:
        return ""
    return f" (e.g. line {example.line}, {example.event}: {example.detail})"


def _properties(counts: dict[str, int], sign: str) -> list[str]:
    return [f"{sign}{path} ({plural(n, 'event')})" for path, n in sorted(counts.items())]


def impact_lines(impacts: Sequence[DestinationImpact], events: int) -> list[Line]:
    """The plan's "Delivery impact" section (text)."""
    lines: list[Line] = [("", ""), ("bold", f"Delivery impact ({plural(events, 'sample event')}):")]
    if not impacts:
        lines.append(("", "  no destination receives anything different."))
    for impact in impacts:
        lines.append(("bold", f"  {_impact_target(impact)}"))
        if impact.lost:
            lines.append(("red", f"    loses {plural(impact.lost, 'event')}"
                                 f"{_example(impact.lost_example)}"))  # fmt: skip
        if impact.gained:
            lines.append(("green", f"    gains {plural(impact.gained, 'event')}"
                                   f"{_example(impact.gained_example)}"))  # fmt: skip
        changed = (_properties(impact.removed, "-") + _properties(impact.added, "+")
                   + _properties(impact.modified, "~"))  # fmt: skip
        if changed:
            lines.append(("yellow", f"    properties: {', '.join(changed)}"
                                    f"{_example(impact.property_example)}"))  # fmt: skip
        mappings = _mappings(impact)
        if mappings:
            lines.append(("yellow", f"    mappings: {', '.join(mappings)}"
                                    f"{_example(impact.mapping_example)}"))  # fmt: skip
    closing = unsimulated(sorted({s for i in impacts for s in i.unsimulated}))
    if closing:
        lines.append(("dim", f"  {closing}"))
    return lines


def _impact_target(impact: DestinationImpact) -> str:
    return (f"warehouse {impact.destination}" if impact.kind == TO_WAREHOUSE
            else impact.destination)  # fmt: skip


def _mappings(impact: DestinationImpact) -> list[str]:
    return ([f"+{m} fires ({plural(n, 'event')})" for m, n in sorted(impact.firing.items())]
            + [f"-{m} silenced ({plural(n, 'event')})"
               for m, n in sorted(impact.silenced.items())])  # fmt: skip


def _example_json(example: Example | None) -> dict[str, Any] | None:
    return None if example is None else {"line": example.line, "event": example.event,
                                         "detail": example.detail}  # fmt: skip


def impact_to_json(impacts: Sequence[DestinationImpact], events: int) -> dict[str, Any]:
    return {"events": events,
            "not_simulated": sorted({s for i in impacts for s in i.unsimulated}),
            "destinations": [{
        "destination": i.destination, "kind": i.kind, "lost": i.lost, "gained": i.gained,
        "lost_example": _example_json(i.lost_example),
        "gained_example": _example_json(i.gained_example),
        "properties_removed": dict(sorted(i.removed.items())),
        "properties_added": dict(sorted(i.added.items())),
        "properties_changed": dict(sorted(i.modified.items())),
        "property_example": _example_json(i.property_example),
        "mappings_firing": dict(sorted(i.firing.items())),
        "mappings_silenced": dict(sorted(i.silenced.items())),
        "mapping_example": _example_json(i.mapping_example),
    } for i in impacts]}  # fmt: skip


def impact_markdown(impacts: Sequence[DestinationImpact], events: int) -> str:
    lost = sum(i.lost for i in impacts)
    head = (f"#### ⚠️ Delivery impact: {plural(lost, 'delivery')} lost" if lost
            else "#### Delivery impact")  # fmt: skip
    rows = [head, "", f"{plural(events, 'sample event')} traced through the live and the "
                      "planned configuration.", ""]  # fmt: skip
    if not impacts:
        return "\n".join([*rows, "No destination receives anything different.", ""])
    rows += ["| destination | lost | gained | properties | mappings | example |",
             "|---|---|---|---|---|---|"]  # fmt: skip
    for i in impacts:
        changed = ", ".join(_properties(i.removed, "-") + _properties(i.added, "+")
                            + _properties(i.modified, "~")) or "—"
        mappings = ", ".join(_mappings(i)) or "—"
        example = i.lost_example or i.gained_example or i.property_example or i.mapping_example
        shown = f"line {example.line}, {example.event}: {example.detail}" if example else "—"
        rows.append(f"| {_cell(_impact_target(i))} | {i.lost} | {i.gained} | {_cell(changed)} "
                    f"| {_cell(mappings)} | {_cell(shown)} |")  # fmt: skip
    closing = unsimulated(sorted({s for i in impacts for s in i.unsimulated}))
    return "\n".join([*rows, *(["", closing] if closing else []), ""])
