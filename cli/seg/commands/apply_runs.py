"""The apply run ``seg apply`` records on the control plane: started after the plan (under
the workspace lock), its writes tagged with it, finished with what they did — or as a no-op
when the plan had no change, which proves the control plane matched that revision."""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from rich.markup import escape

from seg.apply.executor import ApplyResult
from seg.commands.console import err_console
from seg.commands.session import PlanOptions, Session
from seg.engine.plan import Plan
from seg.errors import SegError

if TYPE_CHECKING:
    from seg.client.http import ControlPlaneClient

__all__ = ["RunFacts", "RunOutcome", "git_revision", "record_noop", "recorded_run",
           "run_facts"]

GIT_REVISION_VAR = "SEG_GIT_REVISION"
_COMMIT_ID = re.compile(r"[0-9a-fA-F]{40}|[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class RunFacts:
    """What an apply run records about itself when it starts."""

    manager: str
    environment: str | None
    git_revision: str | None
    plan_digest: str | None


def git_revision(root: Path, ignore: tuple[Path, ...] = ()) -> str | None:
    """The commit the tree at ``root`` is: ``$SEG_GIT_REVISION`` when it holds a commit id
    (40 or 64 hex digits), else the HEAD of the git repository holding ``root`` when nothing
    under ``root`` but ``ignore`` differs from it; None otherwise (outside git, or changed)."""
    given = os.environ.get(GIT_REVISION_VAR, "").strip()
    if _COMMIT_ID.fullmatch(given):
        return given.lower()
    from seg.ci.gittree import clean_revision  # gitpython loads only for seg apply

    return clean_revision(root, ignore)


def run_facts(session: Session, plan: Plan, options: PlanOptions, saved_digest: str | None,
              planfile: Path | None) -> RunFacts:  # fmt: skip
    """The run of applying ``plan``. A targeted or sub-directory plan applies part of the
    tree, so it records no git revision (the tree at that commit was not applied whole)."""
    config = session.workspace.config
    whole = not options.targets and not options.scope
    ignore = (planfile,) if planfile is not None else ()
    revision = git_revision(config.root, ignore) if whole else None
    return RunFacts(config.manager, config.env, revision,
                    saved_digest or plan.workspace_digest or None)  # fmt: skip


@dataclass
class RunOutcome:
    """What the apply inside ``recorded_run`` returned (None: it did not return)."""

    result: ApplyResult | None = None


def _start(client: ControlPlaneClient, facts: RunFacts) -> str | None:
    """The new run's id; None when this token may not record one (a read-only token) or the
    control plane records none (one older than apply runs)."""
    from seg.client.errors import NotFound, PermissionDenied

    try:
        run = client.start_apply(facts.manager, facts.git_revision, facts.plan_digest,
                                 facts.environment)  # fmt: skip
    except (PermissionDenied, NotFound):
        return None
    return str(run["id"])


def _finish(client: ControlPlaneClient, run_id: str, status: str,
            result: ApplyResult | None) -> None:  # fmt: skip
    """Record how the run ended; a failure to record it is a warning, never the command's
    error (the writes are done, or the apply's own error is on its way)."""
    counts = dict.fromkeys(("created", "updated", "deleted", "failed"), 0)
    failures: list[dict[str, str]] = []
    for done in result.results if result is not None else []:
        if done.status == "applied":
            counts[f"{done.step.op}d"] += 1  # created, updated, deleted
        elif done.status == "failed":
            counts["failed"] += 1
            change = done.step.change
            failures.append({"resource": f"{change.kind.name} {change.address}",
                             "error": done.error})  # fmt: skip
    try:
        client.finish_apply(run_id, status, counts, failures)
    except SegError as exc:
        err_console().print(escape(f"warning: the control plane did not record how apply run "
                                   f"{run_id} ended: {exc}"))  # fmt: skip


def record_noop(client: ControlPlaneClient, facts: RunFacts) -> None:
    """A plan without changes: a run started and finished ``noop`` at once, when the token
    may record one."""
    run_id = _start(client, facts)
    if run_id is not None:
        _finish(client, run_id, "noop", None)


@contextmanager
def recorded_run(client: ControlPlaneClient, facts: RunFacts) -> Iterator[RunOutcome]:
    """A run around the writes of an apply: they carry its id (``Seg-Apply``), and it is
    finished on the way out, ``applied`` when every step applied, else ``failed`` (an apply
    stopped early, or an error), with the counts of ``outcome.result``."""
    outcome = RunOutcome()
    run_id = _start(client, facts)
    if run_id is None:
        yield outcome
        return
    client.apply_run = run_id
    try:
        yield outcome
    finally:
        client.apply_run = None
        result = outcome.result
        ok = result is not None and result.ok and not result.stopped
        _finish(client, run_id, "applied" if ok else "failed", result)
