"""The human plan, Terraform-style. Lines are built once, then written in one go: styled on a
colour terminal, plain everywhere else (CI logs, pipes, files)."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from seg.engine.plan import Action, Plan
from seg.model.printable import display_path_text, escape_line
from seg.model.wording import plural
from seg.render.not_managed import not_managed_lines
from seg.render.values import (
    access_summary,
    describe,
    field_lines,
    included_note,
    not_compared_line,
    notice_lines,
)

__all__ = [
    "not_compared_note",
    "plan_lines",
    "render_plan_text",
    "summary_line",
    "targeted",
    "write_lines",
]

STYLES = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.DELETE: "red",
    Action.REPLACE: "magenta",
    Action.BLOCKED: "bold red",
}

Line = tuple[str, str]  # (style, text)


def targeted(plan: Plan) -> str:
    """`` (targeted: a, b)`` for a plan narrowed with --target, else empty."""
    return f" (targeted: {', '.join(plan.targets)})" if plan.targets else ""


def not_compared_note(plan: Plan) -> str:
    """What a plan made with --missing-secrets=skip left out, in one sentence."""
    if not plan.not_compared:
        return ""
    names = ", ".join(plan.missing_variables)
    return (f"{plural(len(plan.not_compared), 'value')} not compared (not set: {names}); "
            "this plan cannot be applied.")  # fmt: skip


def summary_line(plan: Plan) -> str:
    line = (f"Plan{targeted(plan)}: {plan.to_add} to add, {plan.to_change} to change, "
            f"{plan.to_destroy} to destroy.")  # fmt: skip
    if plan.to_adopt:
        head = f"Plan{targeted(plan)}: "
        line = f"{head}{plan.to_adopt} to adopt, " + line.removeprefix(head)
    if plan.blocked:
        line += f" {plan.blocked} blocked."
    if plan.not_compared:
        line += " " + not_compared_note(plan)
    return line


def _not_compared_lines(plan: Plan) -> list[Line]:
    if not plan.not_compared:
        return []
    lines: list[Line] = [("", ""), ("bold", f"Not compared (--missing-secrets=skip; not set: "
                                            f"{', '.join(plan.missing_variables)}):")]  # fmt: skip
    lines += [("", f"  {address}: {display_path_text(path)}")
              for address, path in plan.not_compared]  # fmt: skip
    return lines


def _no_changes(plan: Plan) -> list[Line]:
    if plan.targets:
        line = f"No changes{targeted(plan)}. The targets match the configuration."
    else:
        line = (f"No changes. Workspace {plan.workspace} matches the configuration "
                f"({plural(plan.resource_count, 'resource')}).")  # fmt: skip
    lines = [("", line), *_not_compared_lines(plan)]
    if plan.not_compared:
        lines.append(("bold", not_compared_note(plan)))
    return lines


def plan_lines(plan: Plan, show_unmanaged: bool = False, comparison: bool = False
               ) -> list[Line]:  # fmt: skip
    """The plan's lines; ``comparison`` (``seg diff``) names them differences, not actions."""
    unmanaged: list[Line] = [("dim", line) for line in not_managed_lines(plan, show_unmanaged)]
    if comparison and not plan.changes:
        return [("", f"No differences ({plan.workspace}, "
                     f"{plural(plan.resource_count, 'resource')}).")]  # fmt: skip
    if not plan.changes:
        return _no_changes(plan) + unmanaged
    lines: list[Line] = []
    access = [c for c in plan.changes if c.kind.access]
    if access:
        lines.append(("bold red", f"Access changes ({len(access)}) — review these first:"))
        lines += [("bold red", f"  {access_summary(c)}") for c in access]
        lines.append(("", ""))
    dropping = notice_lines(plan.changes)
    if dropping:
        lines.append(("bold yellow", f"Changes that drop data ({len(dropping)}) — review these:"))
        lines += [("bold yellow", f"  {line}") for line in dropping]
        lines.append(("", ""))
    heading = f"seg will perform the following actions on workspace {plan.workspace}:"
    lines.append(("", f"Differences ({plan.workspace}):" if comparison else heading))
    for change in plan.changes:
        style = STYLES[change.action]
        lines.append(("", ""))
        lines.append(("dim", f"  # {change.kind.name} {change.address} {describe(change)}"))
        adopt = " (adopt)" if change.adopt else ""
        lines.append((style, f"{change.action.symbol:>3} {change.kind.name} {change.address}"
                             f"{adopt}"))  # fmt: skip
        if change.included_by:
            lines.append(("dim", f"      {included_note(change)}"))
        if change.reason:
            lines.append((style, f"      reason: {escape_line(change.reason)}"))
        lines += [("", f"      {symbol} {text}") for symbol, text in field_lines(change)]
        if change.update_mask:
            mask = ", ".join(map(display_path_text, change.update_mask))
            lines.append(("dim", f"      update_mask: {mask}"))
        if change.unmanaged:
            lines.append(
                ("dim", f"      ({plural(change.unmanaged, 'unmanaged field')} left alone)")
            )
        if change.not_compared and change.action.value == "update":
            lines.append(("dim", f"      {not_compared_line(change)}"))
    lines += _not_compared_lines(plan)
    lines += [("", ""), *unmanaged, ("bold", summary_line(plan))]
    return lines


def write_lines(lines: list[Line], console: Console) -> None:
    """Write ``lines``; any control, line-break or bidi character left in one (a key or value
    a view did not escape itself) is escaped here, so each line stays one visible line."""
    lines = [(style, escape_line(line)) for style, line in lines]
    if console.is_terminal and console.color_system:
        text = Text()
        for style, line in lines:
            text.append(line + "\n", style=style or None)
        console.print(text, end="", soft_wrap=True)
    else:
        console.file.write("".join(line + "\n" for _, line in lines))
        console.file.flush()


def render_plan_text(plan: Plan, console: Console, show_unmanaged: bool = False,
                     comparison: bool = False) -> None:  # fmt: skip
    write_lines(plan_lines(plan, show_unmanaged, comparison), console)
