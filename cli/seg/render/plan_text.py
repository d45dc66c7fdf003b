"""The human plan, Terraform-style, on a rich Console."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape

from seg.engine.plan import Action, Plan
from seg.render.values import describe, field_lines

__all__ = ["render_plan_text", "summary_line"]

STYLES = {
    Action.CREATE: "green",
    Action.UPDATE: "yellow",
    Action.DELETE: "red",
    Action.REPLACE: "magenta",
    Action.BLOCKED: "bold red",
}


def summary_line(plan: Plan) -> str:
    line = f"Plan: {plan.to_add} to add, {plan.to_change} to change, {plan.to_destroy} to destroy."
    if plan.blocked:
        line += f" {plan.blocked} blocked."
    return line


def render_plan_text(plan: Plan, console: Console) -> None:
    if not plan.changes:
        console.print(
            f"No changes. Workspace [bold]{escape(plan.workspace)}[/] matches the configuration "
            f"({plan.resource_count} resources)."
        )
        return
    console.print(f"seg will perform the following actions on workspace {escape(plan.workspace)}:")
    for change in plan.changes:
        style = STYLES[change.action]
        console.print()
        console.print(f"  [dim]# {change.kind.name} {escape(change.address)} {describe(change)}[/]")
        head = f"{change.action.symbol:>3} {change.kind.name} {escape(change.address)}"
        console.print(f"[{style}]{head}[/]")
        if change.reason:
            console.print(f"      [{style}]reason: {escape(change.reason)}[/]")
        for symbol, text in field_lines(change):
            console.print(f"      {symbol} {escape(text)}")
        if change.update_mask:
            console.print(f"      [dim]update_mask: {escape(', '.join(change.update_mask))}[/]")
    console.print()
    console.print(f"[bold]{summary_line(plan)}[/]")
