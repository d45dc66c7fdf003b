"""Apply progress and summary: a progress bar on a terminal, one line per step otherwise;
and the machine-readable result of ``seg apply -o json``."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape as escape_markup
from rich.progress import Progress, TaskID

from seg.apply.executor import ApplyResult, StepResult
from seg.model.printable import escape_line

__all__ = ["APPLY_FORMAT_VERSION", "HumanApplyView", "apply_to_json", "render_apply_summary"]

APPLY_FORMAT_VERSION = "1.0"
STATUSES = ("applied", "failed", "skipped", "not_attempted")

VERBS = {"create": "created", "update": "updated", "delete": "deleted"}


def escape(text: str) -> str:
    """User text (an address, a server's error naming a key) for a console line: controls and
    bidi characters escaped, then rich markup."""
    return escape_markup(escape_line(text, keep_tab=False))


class HumanApplyView:
    """An ApplyObserver that reports to a console."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.progress: Progress | None = None
        self.task = TaskID(0)

    def started(self, total: int) -> None:
        if self.console.is_terminal and total > 1:
            self.progress = Progress(console=self.console, transient=True)
            self.progress.start()
            self.task = self.progress.add_task("Applying", total=total)

    def step_finished(self, result: StepResult) -> None:
        step = result.step
        what = f"{step.change.kind.name} {escape(step.change.address)}"
        if result.status == "applied":
            verb = "adopted" if step.change.adopt and step.op == "update" else VERBS[step.op]
            line = f"[green]{verb}[/] {what}"
        elif result.status == "failed":
            line = f"[red]failed[/] to {step.op} {what}: {escape(result.error)}"
        else:
            line = f"[yellow]skipped[/] {step.op} {what}: {escape(result.error)}"
        if self.progress is not None:
            self.progress.advance(self.task)
            if result.status != "applied":
                self.progress.console.print(line)
        else:
            self.console.print(line)

    def close(self) -> None:
        if self.progress is not None:
            self.progress.stop()


def render_apply_summary(result: ApplyResult, console: Console) -> None:
    if result.stopped:
        _render_stopped(result, console)
        return
    applied, failed, skipped = (
        len(result.with_status(s)) for s in ("applied", "failed", "skipped")
    )
    style = "green" if not failed and not skipped else "red"
    console.print(
        f"[bold {style}]{_headline(result)}: {applied} applied, {failed} failed, "
        f"{skipped} skipped.[/]"
    )
    if failed or skipped:
        console.print(
            "Re-run `seg apply` after fixing the failures; it converges without duplicates."
        )


def _headline(result: ApplyResult) -> str:
    """Complete, failed (nothing applied) or partly applied."""
    if result.ok:
        return "Apply complete"
    return "Apply failed" if not result.with_status("applied") else "Apply partly failed"


def apply_status(result: ApplyResult | None) -> str:
    """One word for the outcome: no_changes, applied, failed, partial or stopped."""
    if result is None:
        return "no_changes"
    if result.stopped:
        return "stopped"
    if result.ok:
        return "applied"
    return "partial" if result.with_status("applied") else "failed"


def apply_to_json(workspace: str, result: ApplyResult | None) -> dict[str, Any]:
    """``seg apply -o json``: every write with its status and error, the counts, and why the
    apply stopped (null when it did not)."""
    results = result.results if result else []
    return {
        "format_version": APPLY_FORMAT_VERSION,
        "workspace": workspace,
        "status": apply_status(result),
        "stopped": (result.stopped or None) if result else None,
        "summary": {s: sum(1 for r in results if r.status == s) for s in STATUSES},
        "changes": [
            {
                "address": r.step.change.address,
                "kind": r.step.change.kind.name,
                "action": r.step.change.action.value,
                "operation": r.step.op,
                "status": r.status,
                "error": r.error or None,
            }
            for r in results
        ],
    }


def _render_stopped(result: ApplyResult, console: Console) -> None:
    """One line saying what happened and what was left, then the changes left undone."""
    applied, failed, skipped, left = (
        len(result.with_status(s)) for s in ("applied", "failed", "skipped", "not_attempted")
    )
    console.print(
        f"[bold red]Apply stopped: {escape(result.stopped)}. {applied} applied, {failed} failed, "
        f"{skipped} skipped, {left} not attempted.[/]"
    )
    for outcome in result.with_status("not_attempted"):
        change = outcome.step.change
        console.print(f"  not attempted: {outcome.step.op} {change.kind.name} "
                      f"{escape(change.address)}")  # fmt: skip
    console.print("Re-run `seg apply` once the cause is gone; it converges without duplicates.")
