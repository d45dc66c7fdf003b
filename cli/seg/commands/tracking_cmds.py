"""``seg tracking-plan check-events PLAN --events FILE.jsonl``."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from seg.commands.console import handle_errors, load, out_console, write_document
from seg.commands.fql_cmds import read_events
from seg.commands.options import (
    DebugOpt,
    EnvOpt,
    EventsOpt,
    NoCacheOpt,
    Output,
    OutputOpt,
    WorkspaceOpt,
    workspace_dir,
)
from seg.errors import ConfigError
from seg.model.wording import plural
from seg.render.plan_text import Line, write_lines

__all__ = ["register"]

tracking_app = typer.Typer(help="Tracking plan tools.", no_args_is_help=True)


@handle_errors
def check_events_cmd(
    plan: Annotated[
        str, typer.Argument(metavar="PLAN", help="The TrackingPlan's name in the workspace.")
    ],
    events: EventsOpt,
    workspace: WorkspaceOpt = None,
    env: EnvOpt = None,
    no_cache: NoCacheOpt = False,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Validate sample events against a tracking plan, as Protocols does. Exit 3 on violations."""
    from seg.kinds import tracking_plan
    from seg.tracking.events import check_event

    ws = load(workspace_dir(workspace), env)
    found = [r for r in ws.resources if r.kind is tracking_plan.KIND and r.address == plan]
    if not found:
        raise ConfigError(f"tracking plan {plan!r} is not declared in the workspace")
    rules: list[Any] = list(found[0].fields.get("rules", []))
    results = [(n, e, check_event(rules, e)) for n, e in read_events(events)]
    bad = sum(1 for _, _, v in results if v)
    if output is Output.json:
        checked = [{"line": n, "event": e.get("event") or e.get("name") or e.get("type"),
                    "violations": [v.__dict__ for v in vs]} for n, e, vs in results]  # fmt: skip
        summary = {"events": len(results), "valid": len(results) - bad, "with_violations": bad}
        write_document({"tracking_plan": plan, "events": checked, "summary": summary})
    else:
        lines: list[Line] = []
        for number, event, violations in results:
            label = event.get("event") or event.get("name") or event.get("type")
            if not violations:
                lines.append(("green", f"line {number} ({label}): valid"))
            for v in violations:
                lines.append(("red", f"line {number} ({label}): {v.kind} at {v.path}: "
                                     f"{v.message} [{v.rule}]"))  # fmt: skip
        lines.append(("bold", f"{plural(len(results), 'event')}: {len(results) - bad} valid, "
                              f"{bad} with violations."))  # fmt: skip
        write_lines(lines, out_console())
    if bad:
        raise typer.Exit(3)


def register(app: typer.Typer) -> None:
    tracking_app.command("check-events")(check_events_cmd)
    app.add_typer(tracking_app, name="tracking-plan")
