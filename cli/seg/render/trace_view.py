"""``seg trace``'s output: each event through the source, per destination delivered or
stopped (at which step and why) and what was removed on the way; as text lines, a JSON
document or a markdown table."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from seg.model.wording import plural
from seg.render.plan_text import Line
from seg.trace.impact import DestinationImpact, Example
from seg.trace.pipeline import NOT_SIMULATED, Delivery, Stop, Trace

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
    removed = f" (removed {', '.join(delivery.removed)})" if delivery.removed else ""
    return f"delivered{removed}"


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
            width = max((len(d.destination) for d in trace.deliveries), default=0)
            for delivery in trace.deliveries:
                style = "green" if delivery.delivered else "red"
                lines.append((style, f"  {delivery.destination:<{width}}  {_result(delivery)}"))
        lines += [("dim", f"  note: {note}") for note in trace.notes]
    delivered, stopped = _counts(traced)
    lines.append(("bold", f"{plural(len(traced), 'event')}: {delivered} delivered, "
                          f"{stopped} stopped."))  # fmt: skip
    lines.append(("dim", f"Not simulated yet: {', '.join(NOT_SIMULATED)}."))
    return lines


def _stop_json(stop: Stop | None) -> dict[str, str] | None:
    return None if stop is None else {"step": stop.step, "reason": stop.reason}


def trace_to_json(traced: Traced) -> dict[str, Any]:
    delivered, stopped = _counts(traced)
    events = [{
        "line": number, "event": _label(event), "source": trace.source,
        "stopped": _stop_json(trace.stop), "notes": list(trace.notes),
        "deliveries": [{"destination": d.destination, "delivered": d.delivered,
                        "stopped": _stop_json(d.stop), "removed": list(d.removed),
                        "payload": d.payload} for d in trace.deliveries],
    } for number, event, trace in traced]  # fmt: skip
    return {"events": events, "not_simulated": list(NOT_SIMULATED),
            "summary": {"events": len(traced), "delivered": delivered, "stopped": stopped}}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def trace_markdown(traced: Traced) -> str:
    rows = ["| line | event | destination | result |", "|---|---|---|---|"]
    for number, event, trace in traced:
        label = _cell(_label(event))
        if trace.stop is not None:
            rows.append(f"| {number} | {label} | (source {_cell(trace.source)}) | "
                        f"{_cell(_stop(trace.stop))} |")  # fmt: skip
        for d in trace.deliveries:
            rows.append(f"| {number} | {label} | {_cell(d.destination)} | {_cell(_result(d))} |")
    delivered, stopped = _counts(traced)
    rows += ["", f"{plural(len(traced), 'event')}: {delivered} delivered, {stopped} stopped. "
                 f"Not simulated yet: {', '.join(NOT_SIMULATED)}."]  # fmt: skip
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
        lines.append(("bold", f"  {impact.destination}"))
        if impact.lost:
            lines.append(("red", f"    loses {plural(impact.lost, 'event')}"
                                 f"{_example(impact.lost_example)}"))  # fmt: skip
        if impact.gained:
            lines.append(("green", f"    gains {plural(impact.gained, 'event')}"
                                   f"{_example(impact.gained_example)}"))  # fmt: skip
        changed = _properties(impact.removed, "-") + _properties(impact.added, "+")
        if changed:
            lines.append(("yellow", f"    properties: {', '.join(changed)}"
                                    f"{_example(impact.property_example)}"))  # fmt: skip
    lines.append(("dim", f"  Not simulated yet: {', '.join(NOT_SIMULATED)}."))
    return lines


def _example_json(example: Example | None) -> dict[str, Any] | None:
    return None if example is None else {"line": example.line, "event": example.event,
                                         "detail": example.detail}  # fmt: skip


def impact_to_json(impacts: Sequence[DestinationImpact], events: int) -> dict[str, Any]:
    return {"events": events, "not_simulated": list(NOT_SIMULATED), "destinations": [{
        "destination": i.destination, "lost": i.lost, "gained": i.gained,
        "lost_example": _example_json(i.lost_example),
        "gained_example": _example_json(i.gained_example),
        "properties_removed": dict(sorted(i.removed.items())),
        "properties_added": dict(sorted(i.added.items())),
        "property_example": _example_json(i.property_example),
    } for i in impacts]}  # fmt: skip


def impact_markdown(impacts: Sequence[DestinationImpact], events: int) -> str:
    lost = sum(i.lost for i in impacts)
    head = (f"#### ⚠️ Delivery impact: {plural(lost, 'delivery')} lost" if lost
            else "#### Delivery impact")  # fmt: skip
    rows = [head, "", f"{plural(events, 'sample event')} traced through the live and the "
                      "planned configuration.", ""]  # fmt: skip
    if not impacts:
        return "\n".join([*rows, "No destination receives anything different.", ""])
    rows += ["| destination | lost | gained | properties | example |", "|---|---|---|---|---|"]
    for i in impacts:
        changed = ", ".join(_properties(i.removed, "-") + _properties(i.added, "+")) or "—"
        example = i.lost_example or i.gained_example or i.property_example
        shown = f"line {example.line}, {example.event}: {example.detail}" if example else "—"
        rows.append(f"| {_cell(i.destination)} | {i.lost} | {i.gained} | {_cell(changed)} | "
                    f"{_cell(shown)} |")  # fmt: skip
    return "\n".join([*rows, ""])
