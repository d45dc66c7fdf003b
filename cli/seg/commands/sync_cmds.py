"""``seg drift`` and ``seg sync``: changes made on the control plane outside seg, found and
brought back into the tree.

Both read what ``seg plan`` reads (the tree, the live state), plus the last apply the control
plane recorded for this tree's manager (``GET …/applies``), the tree at that apply's git
revision (the base, through ``seg.ci.gittree``) and the audit trail's writes since then that
no apply made (one paged ``GET …/audit?after=``). ``seg.engine.drift`` tells drift from
pending git changes and conflicts; ``seg.workspace.writeback`` turns the drift into file
texts; this module writes them (``safe_write``, all or none, after the edited tree loads) and,
with ``--branch``/``--commit``, makes the branch and the commit.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Annotated, Any

import typer

from seg.commands.console import (
    err_console,
    handle_errors,
    hidden_in,
    load,
    out_console,
    write_document,
    write_out,
)
from seg.commands.options import (
    ApiUrlOpt,
    DebugOpt,
    EnvOpt,
    NoCacheOpt,
    Output,
    OutputOpt,
    TokenOpt,
    WorkspaceOpt,
    workspace_dir,
)
from seg.commands.safe_write import NewFile, write_files
from seg.commands.session import PlanOptions, Session, make_plan, open_session
from seg.engine.drift import (
    DriftReport,
    FieldDrift,
    OutsideEdit,
    ResourceDrift,
    Side,
    Since,
    What,
    find_drift,
)
from seg.errors import ConfigError, WorkspaceInvalid
from seg.kinds.names import parse_resource_name
from seg.model.paths import AnyPath, parse_path
from seg.model.printable import display_path, escape_line
from seg.model.resource import CurrentResource, DesiredResource
from seg.model.wording import plural
from seg.render.drift_view import (
    drift_json,
    drift_lines,
    drift_markdown,
    summary_line,
    value_text,
)
from seg.render.plan_text import write_lines
from seg.workspace.tree import FsTree, Tree
from seg.workspace.writeback import Refusal, SetField, WriteBack, write_back

__all__ = ["register"]

_METHODS = {"POST", "PATCH", "PUT", "DELETE"}
_DONE = ("applied", "noop")  # runs whose revision the control plane matched


def _last_apply(session: Session, env: str | None) -> dict[str, Any] | None:
    """The newest run of this tree's manager that finished (applied, or found nothing to do)."""
    manager = session.workspace.config.manager
    for run in session.client.list_applies(manager=manager):
        if run.get("status") in _DONE and (env is None or run.get("environment") in (None, env)):
            return run
    return None


def _base(root: Path, env: str | None, revision: str | None
          ) -> dict[tuple[str, str], DesiredResource] | None:  # fmt: skip
    """The tree's resources at ``revision`` (None: no revision, or it cannot be read here)."""
    if not revision:
        return None
    from seg.ci.gittree import GitTree, open_repo

    try:
        repo, subdir = open_repo(root)
        tree = GitTree(repo, revision, subdir)
        if not tree.exists:
            return None
        ws = load(root, env, tree=tree)
    except (ConfigError, WorkspaceInvalid, ValueError, OSError):
        return None
    except Exception as exc:  # gitpython's own errors: an unknown revision, a shallow clone
        if type(exc).__module__.startswith("git"):
            return None
        raise
    return {(r.kind.name, r.address): replace(r, unknown_paths=frozenset())
            for r in ws.resources}  # fmt: skip


def _edit_path(kind_key: str, raw: str) -> AnyPath | None:
    if raw in ("protect", "manager"):
        return (raw,)
    if not raw.startswith(kind_key + "."):
        return None
    try:
        return parse_path(raw[len(kind_key) + 1:])
    except ValueError:
        return None


def _outside_edits(session: Session, after: str | None) -> list[OutsideEdit]:
    """The audit trail's resource writes after the event ``after`` that no apply made."""
    workspace = session.workspace.config.workspace
    out = []
    for event in session.client.audit_events(after=after, apply="none"):
        method = str(event.get("method"))
        if event.get("apply") or method not in _METHODS:
            continue
        name = str(event.get("resource", ""))
        rules = name.endswith("/rules")  # a tracking plan's rules: a change of that field
        name = name.removesuffix("/rules")
        try:
            ws, kind, _ = parse_resource_name(name)
        except ValueError:
            continue
        address = session.client.address_of(kind, name)
        if ws != workspace or address is None:
            continue
        paths: tuple[AnyPath, ...]
        if rules:
            method, paths = "PATCH", (("rules",),)
        else:
            paths = tuple(p for p in (_edit_path(kind.key, str(raw))
                                      for raw in event.get("paths") or ()) if p)  # fmt: skip
        actor = event.get("actor") or {}
        who = str(actor.get("description") or actor.get("token_id") or "")
        out.append(OutsideEdit(str(event.get("id", "")), str(event.get("time", "")), who,
                               method, kind.name, address, paths))  # fmt: skip
    return out


def find(session: Session, root: Path, env: str | None, use_cache: bool) -> DriftReport:
    plan = make_plan(session, PlanOptions(missing_secrets="skip", use_cache=use_cache))
    live = session.live
    if live is None:  # the kept no-op plan answered: resources nobody manages need their fields
        live = session.client.read_state() if plan.not_managed else []
    run = _last_apply(session, env)
    revision = str(run["git_revision"]) if run and run.get("git_revision") else None
    base = _base(root, env, revision)
    since = Since(str(run["id"]) if run else None, str(run.get("finished") or run.get("started"))
                  if run else None, revision, base is not None)  # fmt: skip
    edits = _outside_edits(session, str(run["audit_from"]) if run else None)
    return find_drift(plan, live, base, edits, since)


def _show(report: DriftReport, output: Output) -> None:
    if output is Output.json:
        write_document(drift_json(report))
    elif output is Output.markdown:
        write_out(drift_markdown(report))
    else:
        write_lines([("", line) for line in drift_lines(report)], out_console())


@handle_errors
def drift_cmd(
    workspace: WorkspaceOpt = None,
    env: EnvOpt = None,
    no_cache: NoCacheOpt = False,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """What changed on the control plane outside seg since this tree's last apply: per
    resource and field, the live and the declared value, who changed it and when. Exit 2 when
    there is drift."""
    root = workspace_dir(workspace)
    with open_session(root, env, api_url, token, "skip") as session:
        report = find(session, root, env, not no_cache)
    _show(report, output)
    if report.has_drift:
        raise typer.Exit(2)


@dataclass
class _Synced:
    report: DriftReport
    back: WriteBack
    written: list[str]
    removed: list[str]
    refused: list[Refusal]


def _edits(report: DriftReport) -> tuple[list[SetField], list[Refusal]]:
    sets: list[SetField] = []
    refused: list[Refusal] = []
    for res in report.of(Side.DRIFT):
        if res.what is not What.CHANGED:
            continue
        for f in res.fields:
            if f.side is not Side.DRIFT:
                continue
            if f.sensitive:
                refused.append(Refusal(res.kind, res.address, f.path, "a secret: set the "
                                       "variable that holds it instead"))  # fmt: skip
                continue
            sets.append(SetField(res.kind, res.address, f.path, f.live, f.meta))
    return sets, refused


class _Edited:
    """The tree with the new texts in place (to load it before anything is written)."""

    def __init__(self, tree: FsTree, texts: dict[str, str | None]) -> None:
        self._tree = tree
        self._texts = texts

    def files(self) -> list[str]:
        listed = [rel for rel in self._tree.files() if self._texts.get(rel, "") is not None]
        return sorted(set(listed) | {r for r, t in self._texts.items() if t is not None})

    def read(self, rel: str, limit: int | None = None) -> str:
        if rel in self._texts:
            text = self._texts[rel]
            if text is None:
                raise FileNotFoundError(rel)
            return text
        return self._tree.read(rel, limit)

    def display(self, rel: str) -> str:
        return self._tree.display(rel)


def _sync(session: Session, root: Path, env: str | None, use_cache: bool) -> _Synced:
    report = find(session, root, env, use_cache)
    sets, refused = _edits(report)
    removals = [(r.kind, r.address) for r in report.of(Side.DRIFT) if r.what is What.DELETED]
    created: list[CurrentResource] = [r.live for r in report.of(Side.DRIFT)
                                      if r.what is What.CREATED and r.live is not None]
    tree = FsTree(root)
    back = write_back(tree, session.workspace.config.workspace, session.workspace.resources,
                      env, sets, removals, created, os.environ)  # fmt: skip
    refused += back.refused
    if not back.files:
        return _Synced(report, back, [], [], refused)
    edited: Tree = _Edited(tree, back.files)
    try:  # the edited tree must load, or nothing is written
        load(root, env, tree=edited)
    except WorkspaceInvalid as exc:
        first = exc.diagnostics[0] if exc.diagnostics else None
        where = f": {first.file}:{first.line}:{first.col}: {first.message}" if first else ""
        raise ConfigError(f"the synced tree would not be valid{where}; nothing written"
                          ) from None  # fmt: skip
    new = [NewFile(rel, text, "replace") for rel, text in sorted(back.files.items())
           if text is not None]  # fmt: skip
    gone = sorted(rel for rel, text in back.files.items() if text is None)
    written = write_files(root, new, gone)
    return _Synced(report, back, written, gone, refused)


def _change_lines(synced: _Synced) -> list[str]:
    """One line per change written, with who made it: the commit message's body."""
    lines = []
    refused = {(r.kind.name, r.address, r.path) for r in synced.refused}
    for res in synced.report.of(Side.DRIFT, Side.CONFLICT):
        by = f" (by {res.who} at {res.when})" if res.who else ""
        name = f"{res.kind.key} {res.address}"
        if res.what is What.CREATED:
            if (res.kind.name, res.address, None) not in refused:
                lines.append(f"- {name}: created outside seg{by}")
        elif res.what is What.DELETED:
            if res.side is Side.DRIFT and (res.kind.name, res.address, None) not in refused:
                lines.append(f"- {name}: deleted outside seg{by}")
        else:
            for f in res.fields:
                if f.side is Side.DRIFT and (res.kind.name, res.address, f.path) not in refused:
                    fby = f" (by {f.who} at {f.when})" if f.who else by
                    lines.append(f"- {name}: {display_path(f.path)} = "
                                 f"{value_text(f.live, f.sensitive)}{fby}")  # fmt: skip
    return [escape_line(line) for line in lines]


def _git_author(root: Path, revision: str | None, res: ResourceDrift) -> str:
    """Who changed the resource's file in git since ``revision``: `` (by NAME in SHA)``, or
    `` (not committed yet)``; empty when git cannot say."""
    origin = res.desired.origin if res.desired is not None else None
    if not revision or origin is None:
        return ""
    try:
        from seg.ci.gittree import open_repo

        repo, _ = open_repo(root)
        top = Path(repo.working_tree_dir or ".").resolve()
        rel = str(Path(origin.file).resolve().relative_to(top))
        if repo.is_dirty(path=rel):
            return " (not committed yet)"
        for commit in repo.iter_commits(f"{revision}..HEAD", paths=rel, max_count=1):
            return f" (by {commit.author.name} in {commit.hexsha[:12]})"
    except Exception:  # noqa: BLE001 - an author is a courtesy: no git, a shallow clone, …
        return ""
    return ""


def _conflicts(synced: _Synced, root: Path) -> list[str]:
    lines = []
    revision = synced.report.since.git_revision
    for res, f in synced.report.conflicts:
        name = f"{res.kind.key} {res.address}"
        git_by = _git_author(root, revision, res)
        if f is None:
            lines.append(f"{name}: deleted on the control plane{_by(res)}, changed in the "
                         f"tree{git_by}")  # fmt: skip
        else:
            lines.append(f"{name}: {display_path(f.path)}: the tree has "
                         f"{value_text(f.declared, f.sensitive)}{git_by} (was "
                         f"{value_text(f.base, f.sensitive)}), the control plane "
                         f"{value_text(f.live, f.sensitive)}{_by_field(f)}")  # fmt: skip
    for r in synced.refused:
        where = f" {display_path(r.path)}" if r.path else ""
        lines.append(f"{r.kind.key} {r.address}{where}: not written: {r.reason}")
    return [escape_line(line) for line in lines]


def _by(res: ResourceDrift) -> str:
    return f" by {res.who} at {res.when}" if res.who else ""


def _by_field(f: FieldDrift) -> str:
    return f" by {f.who} at {f.when}" if f.who else ""


def _commit(root: Path, synced: _Synced, branch: str | None, commit: bool) -> str | None:
    """Switch to ``branch`` (made or reset at the current commit) and commit the written
    files; returns the commit's hexsha (None: nothing committed)."""
    import git

    from seg.ci.gittree import open_repo

    repo, _ = open_repo(root)
    top = Path(repo.working_tree_dir or ".").resolve()
    paths = [str((root / rel).resolve().relative_to(top)) for rel in synced.written]
    paths += [str((root.resolve() / rel).relative_to(top)) for rel in synced.removed]
    if branch:
        repo.git.checkout("-B", branch)
    if not commit or not paths:
        return None
    repo.git.add("-A", "--", *paths)
    count = len(_change_lines(synced))
    subject = f"seg sync: adopt {plural(count, 'change')} made outside git"
    body = "\n".join(_change_lines(synced))
    message = hidden_in(f"{subject}\n\nWorkspace {synced.report.workspace}.\n\n{body}\n")
    actor = None  # the repository's identity; a fixed one where it has none
    if not repo.config_reader().has_option("user", "email"):
        actor = git.Actor("seg sync", "seg-sync@localhost")
    return str(repo.index.commit(message, author=actor, committer=actor).hexsha)


def _clean(root: Path) -> None:
    from seg.ci.gittree import open_repo

    repo, subdir = open_repo(root)
    if repo.is_dirty(untracked_files=True, path=subdir or None):
        raise ConfigError("the workspace has uncommitted changes; commit or stash them before "
                          "seg sync --branch/--commit")  # fmt: skip


BranchOpt = Annotated[
    str | None,
    typer.Option("--branch", metavar="NAME",
                 help="Write on this git branch (made, or reset to the current commit)."),
]
CommitOpt = Annotated[
    bool, typer.Option("--commit", help="Commit what was written; the message lists each "
                       "change with its author from the audit trail.")
]


@handle_errors
def sync_cmd(
    workspace: WorkspaceOpt = None,
    env: EnvOpt = None,
    no_cache: NoCacheOpt = False,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    branch: BranchOpt = None,
    commit: CommitOpt = False,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Write what changed on the control plane outside seg back into the tree: only the
    affected keys (comments and untouched lines kept byte for byte), new resources as new
    files, deleted ones removed, secrets as ${env:…} placeholders. A field changed in git and
    on the control plane is a conflict: nothing is written for it, and the exit code is 3."""
    root = workspace_dir(workspace)
    if branch or commit:
        _clean(root)
    with open_session(root, env, api_url, token, "skip") as session:
        synced = _sync(session, root, env, not no_cache)
    sha = _commit(root, synced, branch, commit) if (branch or commit) else None
    conflicts = _conflicts(synced, root)
    if output is Output.json:
        write_document({
            **drift_json(synced.report),
            "written": synced.written,
            "removed": synced.removed,
            "secrets": sorted(synced.back.secrets),
            "conflicts": conflicts,
            "branch": branch,
            "commit": sha,
        })  # fmt: skip
    else:
        console = out_console()
        lines = [f"wrote {rel}" for rel in synced.written]
        lines += [f"removed {rel}" for rel in synced.removed]
        lines += _change_lines(synced)
        if synced.back.secrets:
            lines.append("new secrets to set: " + ", ".join(sorted(synced.back.secrets)))
        if sha:
            lines.append(f"committed {sha[:12]}" + (f" on {branch}" if branch else ""))
        if not synced.written and not synced.removed:
            lines.append(summary_line(synced.report) if not conflicts else "Nothing written.")
        write_lines([("", escape_line(line)) for line in lines], console)
        if conflicts:
            err = err_console()
            write_lines([("", f"conflict: {line}") for line in conflicts], err)
    if conflicts:
        raise typer.Exit(3)


def register(app: typer.Typer) -> None:
    app.command("drift")(drift_cmd)
    app.command("sync")(sync_cmd)
