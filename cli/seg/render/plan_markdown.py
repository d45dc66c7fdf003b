"""The plan as a pull-request comment: summary table first, details folded, size-bounded."""

from __future__ import annotations

import html
import re
from collections import Counter

from seg.engine.plan import Change, Plan
from seg.model.printable import display_path_text, escape_line
from seg.model.wording import plural
from seg.render.graph_view import MARKS, graph_mermaid
from seg.render.not_managed import not_managed_lines
from seg.render.plan_text import not_compared_note, summary_line, targeted
from seg.render.values import (
    access_summary,
    code_diff,
    describe,
    field_lines,
    included_note,
    not_compared_line,
    notice_lines,
)

__all__ = ["MAX_CHARS", "render_plan_markdown"]

MAX_CHARS = 60_000
MAX_LISTED = 200  # resources not managed, listed by name in a comment


def _summary_table(plan: Plan) -> list[str]:
    counts: Counter[tuple[str, str]] = Counter(
        (c.kind.name, "adopt" if c.only_adopts else c.action.value) for c in plan.changes
    )
    kinds = sorted({k for k, _ in counts})
    columns = ["create", "update", "delete", "replace", "blocked"]
    titles = ["add", "change", "destroy", "replace", "blocked"]
    if plan.to_adopt:  # only then, so plans without adoptions keep their table
        columns, titles = ["adopt", *columns], ["adopt", *titles]
    lines = ["| kind | " + " | ".join(titles) + " |", "|---" * (len(columns) + 1) + "|"]
    for kind in kinds:
        row = [str(counts[(kind, a)]) for a in columns]
        lines.append(f"| {kind} | " + " | ".join(row) + " |")
    return lines


def _not_compared(plan: Plan) -> list[str]:
    """The values left out by --missing-secrets=skip (after a blank line), if any."""
    if not plan.not_compared:
        return []
    lines = ["", f"**{not_compared_note(plan)}**", ""]
    # a settings key may hold anything: escaped, it cannot break out into the comment
    return lines + [f"- <code>{_html(address)}</code> <code>{_html(display_path_text(path))}"
                    "</code>: not compared" for address, path in plan.not_compared]  # fmt: skip


def _html(text: str) -> str:
    """Text placed outside a code fence: controls escaped, then HTML-escaped (a ``<!--`` in a
    key cannot open a comment that hides the rest)."""
    return html.escape(escape_line(text))


def _not_managed(plan: Plan, show: bool) -> list[str]:
    """The count on one line; with ``show``, the names folded beneath it."""
    lines = not_managed_lines(plan, show)
    if not lines:
        return []
    if not show:
        return [f"_{lines[0]}_", ""]
    names = [f"- {_html(line.strip())}" for line in lines[1 : MAX_LISTED + 1]]
    if len(lines) > MAX_LISTED + 1:  # the comment has a size limit; seg plan lists them all
        names.append(f"- … and {len(lines) - 1 - MAX_LISTED} more (seg plan --show-unmanaged)")
    return [f"<details><summary>{lines[0]}</summary>", "", *names, "", "</details>", ""]


def _code_block(change: Change) -> list[str]:
    """A versioned field's unified diff as a ``diff`` block of its own, fenced with more
    backticks than any run in it (so code cannot close the fence)."""
    diff = code_diff(change)
    if not diff:
        return []
    longest = max((len(run) for line in diff for run in re.findall(r"`+", line)), default=0)
    fence = "`" * max(3, longest + 1)
    return [f"{fence}diff", *(line.rstrip() for line in diff), fence]


def _picture(plan: Plan) -> str:
    """The changed resources and their direct neighbours as a Mermaid diagram (GitHub draws
    it), each change marked by its action, folded open; nothing unless the plan is small
    enough to draw (``Plan.drawn``: at most 20 changes and 60 nodes)."""
    graph = plan.drawn
    if graph is None:
        return ""
    marks = {c.key: c.action.value for c in plan.changes}
    others = len(graph.nodes) - len(marks)
    title = f"Graph: {plural(len(marks), 'changed resource')}"
    title += f" and {plural(others, 'neighbour')}" if others else ""
    used = [f"<code>{symbol}</code> {mark}" for mark, (symbol, _) in MARKS.items()
            if mark in marks.values()]  # fmt: skip
    legend = (f"<sub>{', '.join(used)}; solid arrows: parent → child, dashed: a reference "
              "(labelled with its field).</sub>")  # fmt: skip
    lines = ["", f"<details open><summary>{title}</summary>", "", "```mermaid",
             graph_mermaid(graph, marks).rstrip("\n"), "```", "", legend, "", "</details>", ""]
    return "\n".join(lines) + "\n"


def _details(plan: Plan, budget: int) -> tuple[str, int]:
    """Each change folded in ``<details>``, as many as fit in ``budget`` characters; the text
    and how many did not fit."""
    out = ""
    for index, change in enumerate(plan.changes):
        summary = (
            f"<code>{change.action.symbol}</code> {change.kind.name} "
            f"<code>{_html(change.address)}</code>{' (adopt)' if change.adopt else ''} "
            f"{describe(change)}"
            + (f" <i>{_html(included_note(change))}</i>" if change.included_by else "")
        )
        body = [f"<details><summary>{summary}</summary>", "", "```diff"]
        lines = [f"! reason: {change.reason}"] if change.reason else []
        lines += [f"{symbol} {text}" for symbol, text in field_lines(change, diff_inline=False)]
        if change.update_mask:
            lines.append(f"# update_mask: {', '.join(map(display_path_text, change.update_mask))}")
        if change.not_compared and change.action.value == "update":
            lines.append(f"# {not_compared_line(change)}")
        # inside the fence: never a raw line break (it could close the fence early)
        body += [escape_line(line, keep_tab=False) for line in lines]
        body += ["```", *_code_block(change), "</details>", ""]
        block = "\n".join(body) + "\n"
        if len(out) + len(block) > budget:
            return out, len(plan.changes) - index
        out += block
    return out, 0


def render_plan_markdown(plan: Plan, max_chars: int = MAX_CHARS, show_unmanaged: bool = False,
                         comparison: bool = False) -> str:  # fmt: skip
    head = [f"### seg {'diff' if comparison else 'plan'} for `{plan.workspace}`", ""]
    unmanaged = _not_managed(plan, show_unmanaged)
    if not plan.changes:
        none = "No differences" if comparison else "No changes"
        verb = "matches" if plan.resource_count == 1 else "match"
        counted = plural(plan.resource_count, "resource")
        line = (f"{none}{targeted(plan)}: the targets match." if plan.targets
                else f"{none} ({counted} {verb}).")  # fmt: skip
        return "\n".join([*head, line, *_not_compared(plan), "", *unmanaged]).rstrip("\n") + "\n"
    access = [c for c in plan.changes if c.kind.access]
    if access:
        head += [f"#### ⚠️ Access changes ({len(access)})", ""]
        head += [f"- <code>{_html(access_summary(c))}</code>" for c in access]
        head += [""]
    dropping = notice_lines(plan.changes)
    if dropping:
        head += [f"#### ⚠️ Changes that drop data ({len(dropping)})", ""]
        head += [f"- <code>{_html(line)}</code>" for line in dropping]
        head += [""]
    head += [f"**{summary_line(plan)}**", "", *unmanaged, *_summary_table(plan), ""]
    if plan.not_compared:
        head += [*_not_compared(plan)[1:], ""]
    out = "\n".join(head)
    # the picture goes only where it pushes no change's details out of the size limit
    picture = _picture(plan)
    details, trimmed = _details(plan, max_chars - 200 - len(out) - len(picture))
    if picture and trimmed:
        picture = ""
        details, trimmed = _details(plan, max_chars - 200 - len(out))
    out += picture + details
    if trimmed:
        out += (
            f"\n_… {plural(trimmed, 'more change')} not shown: the comment is limited to "
            f"{max_chars} characters. Run `seg plan` for the full plan._\n"
        )
    return out
