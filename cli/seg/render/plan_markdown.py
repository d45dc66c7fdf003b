"""The plan as a pull-request comment: summary table first, details folded, size-bounded."""

from __future__ import annotations

from collections import Counter

from seg.engine.plan import Plan
from seg.model.wording import plural
from seg.render.plan_text import summary_line
from seg.render.values import access_summary, describe, field_lines

__all__ = ["MAX_CHARS", "render_plan_markdown"]

MAX_CHARS = 60_000


def _summary_table(plan: Plan) -> list[str]:
    counts: Counter[tuple[str, str]] = Counter((c.kind.name, c.action.value) for c in plan.changes)
    kinds = sorted({k for k, _ in counts})
    lines = ["| kind | add | change | destroy | replace | blocked |", "|---|---|---|---|---|---|"]
    for kind in kinds:
        row = [str(counts[(kind, a)]) for a in ("create", "update", "delete", "replace", "blocked")]
        lines.append(f"| {kind} | " + " | ".join(row) + " |")
    return lines


def render_plan_markdown(plan: Plan, max_chars: int = MAX_CHARS, comparison: bool = False) -> str:
    head = [f"### seg {'diff' if comparison else 'plan'} for `{plan.workspace}`", ""]
    if not plan.changes:
        none = "No differences" if comparison else "No changes"
        verb = "matches" if plan.resource_count == 1 else "match"
        counted = plural(plan.resource_count, "resource")
        return "\n".join([*head, f"{none} ({counted} {verb})."]) + "\n"
    access = [c for c in plan.changes if c.kind.access]
    if access:
        head += [f"#### ⚠️ Access changes ({len(access)})", ""]
        head += [f"- `{access_summary(c)}`" for c in access]
        head += [""]
    head += [f"**{summary_line(plan)}**", "", *_summary_table(plan), ""]
    out = "\n".join(head)
    trimmed = 0
    for index, change in enumerate(plan.changes):
        summary = (
            f"<code>{change.action.symbol}</code> {change.kind.name} "
            f"<code>{change.address}</code> {describe(change)}"
        )
        body = [f"<details><summary>{summary}</summary>", "", "```diff"]
        if change.reason:
            body.append(f"! reason: {change.reason}")
        body += [f"{symbol} {text}" for symbol, text in field_lines(change)]
        if change.update_mask:
            body.append(f"# update_mask: {', '.join(change.update_mask)}")
        body += ["```", "</details>", ""]
        block = "\n".join(body) + "\n"
        if len(out) + len(block) > max_chars - 200:
            trimmed = len(plan.changes) - index
            break
        out += block
    if trimmed:
        out += (
            f"\n_… {plural(trimmed, 'more change')} not shown: the comment is limited to "
            f"{max_chars} characters. Run `seg plan` for the full plan._\n"
        )
    return out
