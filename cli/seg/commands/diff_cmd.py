"""``seg diff``: workspace against workspace, with the same engine as ``seg plan``.

- ``--base REF [--head REF]``: two git revisions (read with gitpython), no server.
- ``--env A --env B``: two environments' live state, as a promotion preview (A onto B).
"""

from __future__ import annotations

import copy
from dataclasses import replace
from pathlib import Path
from typing import Annotated

import typer

from seg.commands.console import handle_errors, load, show_plan
from seg.commands.options import (
    ApiUrlOpt,
    DebugOpt,
    Output,
    OutputOpt,
    TokenOpt,
    WorkspaceOpt,
    workspace_dir,
)
from seg.commands.session import read_live
from seg.engine.diff import compute_plan
from seg.engine.plan import Plan
from seg.engine.secrets import SecretKey, secret_questions
from seg.errors import ConfigError
from seg.model.paths import MISSING, format_path, get_path, set_path
from seg.model.resource import CurrentResource, DesiredResource
from seg.model.secrets import DIGEST_PREFIX, holds_digest
from seg.model.values import json_equal
from seg.policy.models import ModelChangePolicy
from seg.workspace.config import read_config

__all__ = ["register"]


def _as_current(res: DesiredResource) -> CurrentResource:
    """A declared resource standing in for live state: secrets as (opaque) digests, every
    declared path managed (so a field removed in the head shows as cleared)."""
    fields = copy.deepcopy(dict(res.fields))
    for path in res.secret_paths:
        if get_path(fields, path) not in (MISSING, None):
            set_path(fields, path, DIGEST_PREFIX + "base")
    managed = frozenset(format_path(p) for p in res.declared_paths())
    return CurrentResource(res.kind, res.address, fields, "", "", managed, res.protect)


def _local_matches(
    base: list[DesiredResource], head: list[DesiredResource], current: list[CurrentResource]
) -> frozenset[SecretKey]:
    """Without a server, the base revision's own values answer the secret questions."""
    known = {(r.kind.name, r.address): r for r in base}
    out = set()
    for q in secret_questions(head, current):
        res = known.get((q.kind, q.address))
        if res is not None and json_equal(get_path(res.fields, q.path), q.value):
            out.add(q.key)
    return frozenset(out)


def _as_desired(res: CurrentResource) -> DesiredResource:
    """Live state as the desired side: secrets (digests) are left out, they cannot compare
    (a list holding one is left out whole: lists are compared whole)."""

    def keep(value: object) -> bool:
        return isinstance(value, dict) or not holds_digest(value)

    def clean(value: object) -> object:
        if isinstance(value, dict):
            return {k: clean(v) for k, v in value.items() if keep(v)}
        return value

    fields = {k: clean(v) for k, v in res.fields.items() if keep(v)}
    return DesiredResource(res.kind, res.address, fields, frozenset(), res.protect)


def _known(resources: tuple[DesiredResource, ...]) -> list[DesiredResource]:
    """Both revisions are read in one environment: a ``${env:…}`` that is not set keeps its
    reference's text on both sides, so the diff compares references where it has no
    values (a renamed variable is a change, shown as (sensitive) like any secret)."""
    return [replace(r, unknown_paths=frozenset()) for r in resources]


def _revisions(root: Path, base: str, head: str, env: str | None) -> Plan:
    from seg.ci.gittree import GitTree, open_repo

    repo, subdir = open_repo(root)
    trees = [GitTree(repo, rev, subdir) for rev in (base, head)]
    loaded = [load(root, env, tree=t) if t.exists else None for t in trees]
    if loaded[1] is None:
        raise ConfigError(f"no seg workspace at {subdir or '.'} in {head}")
    declared = _known(loaded[0].resources) if loaded[0] else []
    before = [_as_current(r) for r in declared]
    ws = loaded[1]
    desired = _known(ws.resources)
    matched = _local_matches(declared, desired, before)
    return compute_plan(ws.config.workspace, desired, before, ws.digest,
                        ws.config.model_change_policy, matched)  # fmt: skip


def _environments(root: Path, envs: list[str], api_url: str | None, token: str | None) -> Plan:
    # live state only: seg.yaml is all it reads
    source, target = (read_live(read_config(root, env), api_url, token, env) for env in envs)
    desired = [_as_desired(r) for r in source if r.address not in r.kind.system_names]
    # Compare values only: ownership (what seg manages in each) is not a difference.
    current = [replace(r, managed=frozenset()) for r in target]
    return compute_plan(f"{envs[0]} → {envs[1]}", desired, current, "", ModelChangePolicy.BREAKING)


@handle_errors
def diff_cmd(
    base: Annotated[
        str | None, typer.Option("--base", metavar="REF", help="Base git revision.")
    ] = None,
    head: Annotated[str, typer.Option("--head", metavar="REF", help="Head git revision.")] = "HEAD",
    env: Annotated[
        list[str] | None,
        typer.Option(
            "--env",
            metavar="NAME",
            help="With --base: the environment both revisions are read in. Without: two "
            "environments to compare live, --env dev --env prod.",
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """What differs between two revisions, or between two environments' live state."""
    root = workspace_dir(workspace)
    if base is not None:
        if env and len(env) > 1:
            raise ConfigError("with --base, give at most one --env: the environment both "
                              "revisions are read in")  # fmt: skip
        plan = _revisions(root, base, head, env[0] if env else None)
    elif env and len(env) == 2:
        plan = _environments(root, env, api_url, token)
    else:
        raise ConfigError("give --base REF [--head REF] [--env NAME], or --env A --env B")
    show_plan(plan, output.value, comparison=True)
    if plan.has_changes:
        raise typer.Exit(2)


def register(app: typer.Typer) -> None:
    app.command("diff")(diff_cmd)
