"""The plan's "not managed" note: live resources nobody manages, which the plan leaves alone."""

from __future__ import annotations

from seg.engine.plan import Plan

__all__ = ["not_managed_lines", "not_managed_summary"]


def not_managed_summary(plan: Plan, listed: bool = False) -> str:
    """One line with the count ("" when there are none); ``listed``: the names follow."""
    count = len(plan.not_managed)
    if not count:
        return ""
    noun, verb = ("resource", "is") if count == 1 else ("resources", "are")
    line = f"{count} {noun} in workspace {plan.workspace} {verb} not managed by {plan.manager}"
    return f"{line}, left alone:" if listed else (
        f"{line} (left alone; seg plan --show-unmanaged lists them)")  # fmt: skip


def not_managed_lines(plan: Plan, show: bool) -> list[str]:
    """The summary line, and with ``show`` one line per resource (kind and address)."""
    head = not_managed_summary(plan, listed=show)
    if not head:
        return []
    names = [f"    {kind} {address}" for kind, address in plan.not_managed] if show else []
    return [head, *names]
