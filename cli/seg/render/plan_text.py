"""The human plan, Terraform-style. Lines are built once, then written in one go: styled on a
colour terminal, plain everywhere else (CI logs, pipes, files)."""

from __future__ import annotations

from rich.console import Console
from rich.text import Text

from seg.engine.plan import Action, Plan
from seg.model.wording import plural
from seg.render.values import access_summary, describe, field_lines

__all__ = ["plan_lines", "render_plan_text", "summary_line", "write_lines"]

STYLES = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.DELETE: "red",
    Action.REPLACE: "magenta",
    Action.BLOCKED: "bold red",
}

Line = tuple[str, str]  # (style, text)


def summary_line(plan: Plan) -> str:
    line = f"Plan: {plan.to_add} to add, {plan.to_change} to change, {plan.to_destroy} to destroy."
    if plan.blocked:
        line += f" {plan.blocked} blocked."
    return line


def plan_lines(plan: Plan, comparison: bool = False) -> list[Line]:
    """The plan's lines; ``comparison`` (``seg diff``) names them differences, not actions."""
    if comparison and not plan.changes:
        return [("", f"No differences ({plan.workspace}, "
                     f"{plural(plan.resource_count, 'resource')}).")]  # fmt: skip
    if not plan.changes:
        return [("", f"No changes. Workspace {plan.workspace} matches the configuration "
                     f"({plural(plan.resource_count, 'resource')}).")]  # fmt: skip
    lines: list[Line] = []
    access = [c for c in plan.changes if c.kind.access]
    if access:
        lines.append(("bold red", f"Access changes ({len(access)}) — review these first:"))
        lines += [("bold red", f"  {access_summary(c)}") for c in access]
        lines.append(("", ""))
    heading = f"seg will perform the following actions on workspace {plan.workspace}:"
    lines.append(("", f"Differences ({plan.workspace}):" if comparison else heading))
    for change in plan.changes:
        style = STYLES[change.action]
        lines.append(("", ""))
        lines.append(("dim", f"  # {change.kind.name} {change.address} {describe(change)}"))
        lines.append((style, f"{change.action.symbol:>3} {change.kind.name} {change.address}"))
        if change.reason:
            lines.append((style, f"      reason: {change.reason}"))
        lines += [("", f"      {symbol} {text}") for symbol, text in field_lines(change)]
        if change.update_mask:
            lines.append(("dim", f"      update_mask: {', '.join(change.update_mask)}"))
        if change.unmanaged:
            lines.append(
                ("dim", f"      ({plural(change.unmanaged, 'unmanaged field')} left alone)")
            )
    lines += [("", ""), ("bold", summary_line(plan))]
    return lines


def write_lines(lines: list[Line], console: Console) -> None:
    if console.is_terminal and console.color_system:
        text = Text()
        for style, line in lines:
            text.append(line + "\n", style=style or None)
        console.print(text, end="", soft_wrap=True)
    else:
        console.file.write("".join(line + "\n" for _, line in lines))
        console.file.flush()


def render_plan_text(plan: Plan, console: Console, comparison: bool = False) -> None:
    write_lines(plan_lines(plan, comparison), console)
