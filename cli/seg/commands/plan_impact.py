"""``seg plan --events [SOURCE=]FILE``: the sample read, and the plan's delivery impact over it
(``seg.trace.impact``) — the live resources the plan was diffed against, and the same with the
plan's changes applied."""

from __future__ import annotations

from pathlib import Path

from seg.commands.fql_cmds import read_event_objects
from seg.commands.session import Session
from seg.engine.plan import Plan, fields_after
from seg.errors import ConfigError, WorkspaceInvalid
from seg.kinds.lookup import IndexLookup
from seg.sandbox.runtime import functions_runtime
from seg.trace.functions import masked
from seg.trace.impact import DestinationImpact, Sample, delivery_impact
from seg.trace.pipeline import SOURCE
from seg.workspace.catalog_files import tree_catalog
from seg.workspace.config import EVERY_SOURCE
from seg.workspace.tree import FsTree

__all__ = ["EVERY_SOURCE", "plan_impact", "read_samples"]



def read_samples(specs: list[str]) -> list[Sample]:
    """Each ``[SOURCE=]FILE``'s events, each a JSON object (file:line otherwise); a sample
    without a source is sent to every source (``EVERY_SOURCE``)."""
    out: list[Sample] = []
    for spec in specs:
        source, sep, name = spec.partition("=")
        path = Path(name if sep else spec)
        for number, event in read_event_objects(path):
            out.append((source if sep else EVERY_SOURCE, number, event))
    return out


def plan_impact(session: Session, plan: Plan, samples: list[Sample]
                ) -> tuple[list[DestinationImpact], int]:  # fmt: skip
    """The impact of ``plan`` on ``samples`` and the sample's size; none for a plan without
    changes (the kept no-op plan reads no live state)."""
    if not plan.changes or session.live is None:
        return [], len(samples)
    # workspace code (functions) is never handed a secret: the live side's digests and the
    # declared values from the environment are masked
    secret_paths = {(r.kind.name, r.address): r.secret_paths for r in session.workspace.resources}
    before = {(r.kind.name, r.address): masked(r.fields, secret_paths.get((r.kind.name, r.address),
                                                                          ()))
              for r in session.live}  # fmt: skip
    after = {key: masked(fields, secret_paths.get(key, ()))
             for key, fields in fields_after(before, plan.changes).items()}  # fmt: skip
    sources = sorted({address for kind, address in (*before, *after) if kind == SOURCE})
    unknown = sorted({s for s, _, _ in samples if s != EVERY_SOURCE and s not in sources})
    if unknown:
        raise ConfigError(f"a sample (--events, or events: in seg.yaml) names a source "
                          "that neither the control plane nor the plan has: "
                          f"{', '.join(unknown)}")  # fmt: skip
    targeted = [(source, line, event) for s, line, event in samples
                for source in (sources if s == EVERY_SOURCE else [s])]  # fmt: skip
    config = session.workspace.config
    catalog, problems = tree_catalog(FsTree(config.root), config)
    if problems:
        raise WorkspaceInvalid(problems)
    with functions_runtime(IndexLookup(before, catalog), IndexLookup(after, catalog)) as run:
        return delivery_impact(before, after, targeted, catalog, run), len(samples)
