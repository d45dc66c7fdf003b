"""``seg check --dbt DIR``: the I/O of the check the dbt repository's pull requests run — both
revisions of the dbt project from git, their manifests, and the live state of the control
plane (``seg.ci.dbt_check`` judges)."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from seg.commands.session import connect_config, read_live_and_policy
from seg.errors import ConfigError
from seg.kinds import destination, kinds_in_order, model, source
from seg.model.resource import CurrentResource
from seg.policy.models import stricter
from seg.workspace.config import WorkspaceConfig, read_config

if TYPE_CHECKING:
    import git

    from seg.ci.check import CheckResult
    from seg.ci.gittree import GitTree
    from seg.policy.dbt import DbtProject

__all__ = ["DbtCheckOptions", "run_dbt_check"]

MANIFEST = "target/manifest.json"
# The kinds that say whether a model is in use (their live state is read, nothing else).
STATE_KINDS = (source.KIND.name, destination.KIND.name, model.NAME, model.MAPPING)


@dataclass(frozen=True)
class DbtCheckOptions:
    project_dir: Path
    base: str
    head: str
    base_manifest: Path | None = None
    head_manifest: Path | None = None
    dbt_project: str | None = None  # the project's name in seg (default: dbt_project.yml's)
    workspace: Path | None = None  # a seg workspace (seg.yaml) naming the control plane
    env: str | None = None
    api_url: str | None = None
    token: str | None = None


def _manifest_file(path: Path, option: str) -> str:
    from seg.workspace.dbt_project import MAX_MANIFEST

    try:
        if not path.is_file():
            raise ConfigError(f"{option} {path}: no such file")
        if path.stat().st_size > MAX_MANIFEST:
            raise ConfigError(f"{option} {path}: larger than {MAX_MANIFEST >> 20} MB")
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{option} {path}: {str(exc).splitlines()[0]}") from None


def _read(tree: GitTree, manifest_text: str | None, rev: str, committed: bool = True
          ) -> DbtProject:  # fmt: skip
    """The project at one revision (its committed manifest, if ``committed``, unless one is
    given)."""
    from seg.workspace.dbt_project import DbtProjectError, read_dbt_project

    try:
        return read_dbt_project(tree, MANIFEST if committed else None, manifest_text)
    except DbtProjectError as exc:
        raise ConfigError(f"dbt project at {rev}: {exc}") from None


def _working_manifest(project_dir: Path, head: GitTree) -> str | None:
    """The manifest ``dbt compile`` left in the project's ``target/``: not a link out of the
    project, and not the one the head commits (its author's word, not dbt's)."""
    path = project_dir / MANIFEST
    if not path.is_file():
        return None
    if not path.resolve().is_relative_to(project_dir.resolve()):
        raise ConfigError(f"the head's manifest {path}: it leads outside the project")
    text = _manifest_file(path, "the head's manifest")
    try:
        committed = head.read(MANIFEST, len(text.encode("utf-8")) + 1)
    except (OSError, UnicodeDecodeError, ValueError):
        return text
    return None if committed == text else text


def _empty(name: str) -> DbtProject:
    from seg.policy.dbt import DbtProject

    return DbtProject(name, {}, True)


def _renames(repo: git.Repo, base: GitTree, head: GitTree, subdir: str) -> dict[str, str]:
    """Files git's rename detection pairs between the revisions, relative to the project."""
    prefix = f"{subdir}/" if subdir else ""
    out: dict[str, str] = {}
    diffs = base.commit.diff(head.commit, paths=[subdir] if subdir else None, M=True)
    for diff in diffs:
        old, new = diff.rename_from, diff.rename_to
        if not diff.renamed_file or not old or not new:
            continue
        if old.startswith(prefix) and new.startswith(prefix):
            out[old[len(prefix) :]] = new[len(prefix) :]
    return out


def _config(options: DbtCheckOptions) -> WorkspaceConfig:
    """seg.yaml's settings when ``-w`` names a workspace, else the environment's: one clear
    line when neither names a control plane."""
    if options.workspace is not None:
        from seg.commands.options import workspace_dir

        return read_config(workspace_dir(options.workspace), options.env)
    url = options.api_url or os.environ.get("SEG_API_URL")
    slug = os.environ.get("SEG_WORKSPACE")
    if not url or not slug:
        raise ConfigError("no control plane to ask which dbt models are in use: pass -w DIR "
                          "(a seg workspace with seg.yaml), or set SEG_API_URL and "
                          "SEG_WORKSPACE (and SEG_TOKEN, a read token)")  # fmt: skip
    if url == "embedded":
        raise ConfigError("the embedded control plane lives in a seg workspace: pass -w DIR")
    return WorkspaceConfig(root=Path.cwd(), workspace=slug, api_url=url)


def _live(config: WorkspaceConfig, options: DbtCheckOptions
          ) -> tuple[list[CurrentResource], str]:  # fmt: skip
    client, _ = connect_config(config, options.api_url, options.token, options.env)
    return read_live_and_policy(client, [k for k in kinds_in_order() if k.name in STATE_KINDS])


def run_dbt_check(options: DbtCheckOptions) -> CheckResult:
    """Read both revisions, ask the control plane, judge."""
    from seg.ci.dbt_check import check_dbt, manifest_note
    from seg.ci.gittree import GitTree, open_repo
    from seg.workspace.dbt_project import PROJECT_FILE

    if not options.project_dir.is_dir():
        raise ConfigError(f"--dbt {options.project_dir}: not a directory")
    config = _config(options)  # before any reading: a missing control plane fails first
    repo, subdir = open_repo(options.project_dir)
    head_tree = GitTree(repo, options.head, subdir)
    base_tree = GitTree(repo, options.base, subdir)
    if PROJECT_FILE not in head_tree.files():
        raise ConfigError(f"no {PROJECT_FILE} in {subdir or '.'} at {options.head}")
    head_text: str | None
    if options.head_manifest is not None:
        head_text = _manifest_file(options.head_manifest, "--head-manifest")
    else:  # the head's dbt compile in the working tree
        head_text = _working_manifest(options.project_dir, head_tree)
    base_text = None
    if options.base_manifest is not None:
        base_text = _manifest_file(options.base_manifest, "--base-manifest")
    # a manifest the pull request commits says what its author wants: never the head's
    head = _read(head_tree, head_text, options.head, committed=False)
    base = (_read(base_tree, base_text, options.base)
            if PROJECT_FILE in base_tree.files() else _empty(head.name))  # fmt: skip
    # seg's models link to the project by the name it had before this change: a pull request
    # renaming it in dbt_project.yml must not unlink them
    name = options.dbt_project or base.name
    live, server_policy = _live(config, options)
    policies = [server_policy, *([config.model_change_policy] if options.workspace else [])]
    policy = stricter(*policies)
    notes = [note for note in (manifest_note(base, head),) if note]
    for rev, project in (("base", base), ("head", head)):
        notes += [f"{rev}: {n}" for n in project.notes if not n.startswith("no manifest")]
    if head.name != base.name:
        notes.append(f"the dbt project is renamed from {base.name} to {head.name}: seg.yaml "
                     f"and the dbt_project of seg's models must follow")  # fmt: skip
    renames = _renames(repo, base_tree, head_tree, subdir)
    return check_dbt(name, base, head, renames, live, policy, head_tree.display, tuple(notes))
