"""``seg init``, ``seg validate``, ``seg plan``, ``seg apply``."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape

from seg.apply.executor import ApplyResult, apply_plan
from seg.apply.schedule import DEFAULT_PARALLELISM, MAX_PARALLELISM
from seg.commands.console import (
    check,
    err_console,
    handle_errors,
    out_console,
    show_plan,
    write_document,
    write_json,
)
from seg.commands.options import (
    ApiUrlOpt,
    DebugOpt,
    EnvOpt,
    MaxDeletesOpt,
    MissingSecrets,
    MissingSecretsOpt,
    NoCacheOpt,
    OldSlugOpt,
    Output,
    OutputOpt,
    ShowUnmanagedOpt,
    SlugOpt,
    TargetOpt,
    TokenOpt,
    WorkspaceOpt,
    pick_slug,
    resolve_workspace,
    workspace_dir,
)
from seg.commands.plan_impact import plan_impact, read_samples
from seg.commands.planfile import (
    ReadRecorder,
    check_files,
    check_fresh,
    check_options,
    check_target,
    read_planfile,
    refuse_incomplete,
    scope_key,
    write_planfile,
)
from seg.commands.saved_plan import SavedOptions, SavedPlan
from seg.commands.scaffold import scaffold
from seg.commands.session import PlanOptions, Session, make_plan, open_session
from seg.engine.plan import owner_only_changes
from seg.errors import ApplyFailed, ConfigError, PlanBlocked, WorkspaceInvalid
from seg.model.wording import plural
from seg.render.apply_view import HumanApplyView, apply_to_json, render_apply_summary
from seg.render.diagnostics import diagnostics_to_json, render_warnings
from seg.render.plan_text import render_plan_text
from seg.workspace.diagnostics import Diagnostic
from seg.workspace.loader import Checked
from seg.workspace.node_check import node_diagnostics
from seg.workspace.samples import tree_samples
from seg.workspace.tree import FsTree

__all__ = ["register"]

InitDirArg = Annotated[Path, typer.Argument(metavar="DIR", help="Directory to scaffold.")]


@handle_errors
def init_cmd(
    directory: InitDirArg = Path("."),
    slug: SlugOpt = None,
    workspace: OldSlugOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Scaffold a workspace: seg.yaml (dev and prod environments), one source, a README.
    The slug defaults to the directory's name."""
    written = scaffold(directory, pick_slug(slug, workspace, required=False))
    console = out_console()
    for path in written:
        console.print(f"wrote {path}")
    console.print(f"Next: seg plan -w {directory}")


@handle_errors
def validate_cmd(
    workspace: WorkspaceOpt = None,
    env: EnvOpt = None,
    no_cache: NoCacheOpt = False,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Parse, schema-check and resolve references. No network. With -o json, the result (or
    every diagnostic) is JSON on stdout."""
    root = workspace_dir(workspace)
    try:
        ws = check(root, env)
        problems = node_diagnostics(ws.javascript, root=root)  # when Node.js is on PATH
        if problems:
            raise WorkspaceInvalid(problems)
    except WorkspaceInvalid as exc:
        if output is not Output.json:
            raise
        write_document(_validation_json(root, None, exc.diagnostics))
        raise typer.Exit(exc.exit_code) from None
    if output is Output.json:
        write_document(_validation_json(root, ws, list(ws.warnings)))
        return
    render_warnings(ws.warnings, err_console())
    detail = ", ".join(plural(n, k) for k, n in sorted(ws.counts.items())) or "no resources"
    out_console().print(
        f"Workspace {ws.config.workspace} is valid: {plural(ws.total, 'resource')} "
        f"({detail})."
    )
    if ws.missing:
        values = plural(len(ws.missing), "value")
        out_console().print(
            f"Not set: {', '.join(ws.missing_variables)}. {values} from the environment checked "
            "for place and type only (seg plan and seg apply need every value)."
        )


def _validation_json(
    root: Path, ws: Checked | None, diagnostics: list[Diagnostic]
) -> dict[str, Any]:
    """``seg validate -o json``: the counts when valid, else every diagnostic."""
    return {
        "valid": ws is not None,
        "workspace": ws.config.workspace if ws else None,
        "directory": str(root),
        "resources": ws.total if ws else 0,
        "kinds": dict(ws.counts) if ws else {},
        "missing_variables": list(ws.missing_variables) if ws else [],
        "diagnostics": diagnostics_to_json(diagnostics),
    }


@handle_errors
def plan_cmd(
    workspace: WorkspaceOpt = None,
    env: EnvOpt = None,
    no_cache: NoCacheOpt = False,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    output: OutputOpt = Output.text,
    out: Annotated[
        Path | None, typer.Option("--out", metavar="FILE", help="Save the plan for seg apply.")
    ] = None,
    detailed_exitcode: Annotated[
        bool, typer.Option("--detailed-exitcode", help="Exit 2 when there are changes.")
    ] = False,
    target: TargetOpt = None,
    max_deletes: MaxDeletesOpt = None,
    missing_secrets: MissingSecretsOpt = MissingSecrets.fail,
    show_unmanaged: ShowUnmanagedOpt = False,
    events: Annotated[
        list[str] | None,
        typer.Option("--events", metavar="[SOURCE=]FILE",
                     help="Sample events (JSONL) traced through the live and the planned "
                     "configuration: the plan gets a Delivery impact section. SOURCE=FILE "
                     "sends them to that source, FILE to every source. Repeatable. Without "
                     "it, the samples seg.yaml names under events: are used."),
    ] = None,
    fail_on_loss: Annotated[
        bool, typer.Option("--fail-on-loss",
                           help="Exit 3 when the delivery impact loses a delivery.")
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """Diff the workspace against the control plane and show what would change."""
    root, scope = resolve_workspace(workspace)
    options = PlanOptions(tuple(target or ()), str(scope) if scope else None, max_deletes,
                          missing_secrets.value, use_cache=not no_cache)  # fmt: skip
    # a saved plan names the bytes it was computed from (from the memo when it answers)
    reads = ReadRecorder(FsTree(root), trusts_identities=True)
    with open_session(root, env, api_url, token, options.missing_secrets, tree=reads) as session:
        render_warnings(session.workspace.warnings, err_console())  # as seg validate does
        # a bad sample fails before any request
        samples = (read_samples(events) if events
                   else tree_samples(reads, session.workspace.config))  # fmt: skip
        plan = make_plan(session, options)
        impact = (plan_impact(session, plan, samples)
                  if events or session.workspace.config.events else None)  # fmt: skip
        if out is not None:
            recorded = SavedOptions(options.targets, scope_key(root, scope), max_deletes,
                                    options.missing_secrets)  # fmt: skip
            write_planfile(out, SavedPlan.of(plan, session.api_url, env, recorded, reads.digests))
        needs_owner = owner_only_changes(plan.applicable)
        if needs_owner and session.client.get_workspace().get("caller_is_owner") is False:
            err_console().print(escape(
                f"warning: only workspace owners may change {', '.join(needs_owner)}; this "
                "token is not an owner's, so seg apply with it will be refused for those"
            ))  # fmt: skip
    show_plan(plan, output.value, show_unmanaged, impact=impact)
    if out is not None and output is Output.text:
        err_console().print(f"Saved the plan to {out}; apply it with: seg apply {out}")
    if plan.blocked:
        raise typer.Exit(3)
    if fail_on_loss and impact is not None and any(i.lost for i in impact[0]):
        lost = sum(i.lost for i in impact[0])
        err_console().print(f"error: the plan loses {plural(lost, 'delivery')} of the sample "
                            "(--fail-on-loss)")  # fmt: skip
        raise typer.Exit(3)
    if detailed_exitcode and plan.has_changes:
        raise typer.Exit(2)


def _confirm(auto_approve: bool, err: bool = False) -> None:
    if auto_approve:
        return
    if not sys.stdin.isatty():
        raise ConfigError("refusing to apply without confirmation: pass --auto-approve")
    answer = typer.prompt("Apply these changes? Only 'yes' is accepted", default="", err=err)
    if answer.strip() != "yes":
        raise ConfigError("apply cancelled")


@handle_errors
def apply_cmd(
    planfile: Annotated[
        Path | None, typer.Argument(metavar="PLANFILE", help="A plan saved with seg plan --out.")
    ] = None,
    workspace: WorkspaceOpt = None,
    env: EnvOpt = None,
    no_cache: NoCacheOpt = False,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    auto_approve: Annotated[
        bool, typer.Option("--auto-approve", help="Do not ask for confirmation.")
    ] = False,
    target: TargetOpt = None,
    max_deletes: MaxDeletesOpt = None,
    lock_timeout: Annotated[
        float,
        typer.Option(
            "--lock-timeout", metavar="SECONDS", help="Seconds to wait for the workspace lock."
        ),
    ] = 0.0,
    parallelism: Annotated[
        int,
        typer.Option(
            "--parallelism", metavar="N", min=1, max=MAX_PARALLELISM, envvar="SEG_PARALLELISM",
            help="Changes sent at once, in dependency order (1: one at a time).",
        ),
    ] = DEFAULT_PARALLELISM,
    show_unmanaged: ShowUnmanagedOpt = False,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Make the control plane match the workspace (or apply a saved plan). With -o json the
    result is JSON on stdout and everything else goes to stderr."""
    saved = read_planfile(planfile) if planfile is not None else None
    if saved is not None:
        refuse_incomplete(saved)
    root, scope = resolve_workspace(workspace)
    options = PlanOptions(tuple(target or ()), str(scope) if scope else None, max_deletes,
                          use_cache=not no_cache)  # fmt: skip
    if saved is not None:  # the plan file never chooses: this command line must say the same
        given = SavedOptions(options.targets, scope_key(root, scope), max_deletes)
        check_options(saved, given, env)
    from seg.client.lease import Lease, lease_info

    as_json = output is Output.json
    console = err_console() if as_json else out_console()  # -o json: stdout holds only JSON
    ttl = float(os.environ.get("SEG_LOCK_TTL", "60"))
    reads = ReadRecorder(FsTree(root))
    with open_session(root, env, api_url, token, "apply", tree=reads) as session:
        if saved is not None:  # before the lock: the reviewed tree, the same control plane
            check_files(saved, reads.digests)
            check_target(saved, session.api_url)
        label = planfile.name if planfile else session.workspace.digest[:12]
        with Lease(session.client, lease_info(label), ttl, lock_timeout) as lease:
            result = _plan_and_apply(session, options, saved, auto_approve, console,
                                     show_unmanaged, parallelism, planfile)  # fmt: skip
    if as_json:
        write_json(apply_to_json(session.workspace.config.workspace, result))
    if result is None:
        return
    render_apply_summary(result, console)
    if result.stopped:
        undone = len(result.results) - len(result.with_status("applied"))
        raise ApplyFailed(
            f"{result.stopped}; stopped before the next write: "
            f"{len(result.with_status('applied'))} applied, {undone} not applied (listed above)"
        )
    if lease.lost:
        err_console().print("warning: the workspace lock was lost after the last write")
    if not result.ok:
        raise ApplyFailed("some changes were not applied (see above)")


def _plan_and_apply(
    session: Session,
    options: PlanOptions,
    saved: SavedPlan | None,
    auto_approve: bool,
    console: Console,
    show_unmanaged: bool = False,
    parallelism: int = 1,
    planfile: Path | None = None,
) -> ApplyResult | None:
    """Plan (under the lock), check a saved plan, confirm, apply. None: nothing to apply.
    The control plane records the apply run (``commands/apply_runs.py``): a plan without
    changes as a no-op run, else a run its writes belong to, finished however they end."""
    from seg.commands.apply_runs import record_noop, recorded_run, run_facts

    plan = make_plan(session, options)
    if saved is not None:
        check_fresh(saved, plan, session.client.last_actors)
    else:
        render_plan_text(plan, console, show_unmanaged)
    digest = saved.workspace_digest if saved is not None else None
    if not plan.has_changes:
        if saved is not None:
            console.print("No changes. Nothing to apply.")
        record_noop(session.client, run_facts(session, plan, options, digest, planfile))
        return None
    if plan.blocked:
        raise PlanBlocked(
            f"{plural(plan.blocked, 'change')} blocked by policy; nothing was applied"
        )
    if saved is None:
        _confirm(auto_approve, err=console.stderr)
    with recorded_run(session.client, run_facts(session, plan, options, digest, planfile)) as run:
        view = HumanApplyView(console)
        try:
            run.result = apply_plan(plan, session.client, view, parallelism=parallelism)
        finally:
            view.close()
    return run.result


def register(app: typer.Typer) -> None:
    app.command("init")(init_cmd)
    app.command("validate")(validate_cmd)
    app.command("plan")(plan_cmd)
    app.command("apply")(apply_cmd)
