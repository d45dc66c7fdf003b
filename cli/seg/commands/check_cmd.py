"""``seg check --base REF [--head REF]``: the CI guard for models in use (SPEC §7)."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from seg.commands.console import (
    handle_errors,
    load,
    out_console,
    write_json,
    write_out,
    write_text_file,
)
from seg.commands.dbt_check_cmd import DbtCheckOptions, run_dbt_check
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
from seg.commands.session import connect, read_live_and_policy
from seg.errors import ConfigError
from seg.model.resource import CurrentResource, DesiredResource
from seg.policy.models import stricter
from seg.workspace.loader import Workspace

if TYPE_CHECKING:
    from seg.ci.check import CheckResult
    from seg.ci.gittree import GitTree

__all__ = ["register"]


def _load(root: Path, tree: GitTree, env: str | None) -> Workspace | None:
    return load(root, env, tree=tree) if tree.exists else None


def _as_live(resources: tuple[DesiredResource, ...]) -> list[CurrentResource]:
    """The base revision standing in for the live state (``--offline``)."""
    return [CurrentResource(r.kind, r.address, {**r.kind.defaults, **r.fields}) for r in resources]


def _live(
    head: Workspace, api_url: str | None, token: str | None
) -> tuple[list[CurrentResource], str]:
    return read_live_and_policy(connect(head, api_url, token)[0])


def _publish_to_github(text_markdown: str, annotations: str) -> None:
    if os.environ.get("GITHUB_ACTIONS") != "true":
        return
    write_out(annotations)
    summary = os.environ.get("GITHUB_STEP_SUMMARY")
    if summary:
        write_text_file(Path(summary), text_markdown, "a")


@handle_errors
def check_cmd(
    base: Annotated[
        str, typer.Option("--base", metavar="REF", help="Base git revision (e.g. origin/main).")
    ],
    head: Annotated[str, typer.Option("--head", metavar="REF", help="Head git revision.")] = "HEAD",
    dbt: Annotated[
        Path | None,
        typer.Option(
            "--dbt",
            metavar="PROJECT_DIR",
            help="Check a dbt project's changes instead (in the dbt repository's CI).",
        ),
    ] = None,
    base_manifest: Annotated[
        Path | None,
        typer.Option(
            "--base-manifest",
            metavar="FILE",
            help="With --dbt: the base revision's manifest.json (dbt compile).",
        ),
    ] = None,
    head_manifest: Annotated[
        Path | None,
        typer.Option(
            "--head-manifest",
            metavar="FILE",
            help="With --dbt: the head revision's manifest.json (default: "
            "PROJECT_DIR/target/manifest.json).",
        ),
    ] = None,
    dbt_project: Annotated[
        str | None,
        typer.Option(
            "--dbt-project",
            metavar="NAME",
            help="With --dbt: the project's name in seg (default: dbt_project.yml's).",
        ),
    ] = None,
    workspace: WorkspaceOpt = None,
    env: EnvOpt = None,
    no_cache: NoCacheOpt = False,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    offline: Annotated[
        bool, typer.Option("--offline", help="Use the base revision instead of the live state.")
    ] = False,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Block changes to models that active Reverse ETL mappings depend on.

    With --dbt, run in the dbt repository: block changes to dbt models that seg models in
    use are linked to (the control plane: -w DIR's seg.yaml, else SEG_API_URL and
    SEG_WORKSPACE)."""
    from seg.ci.check import check_models  # gitpython and the policy load only here
    from seg.ci.gittree import GitTree, open_repo

    if dbt is not None:
        if offline:
            raise ConfigError("--offline does not apply to --dbt: the control plane says "
                              "which models are in use")  # fmt: skip
        options = DbtCheckOptions(dbt, base, head, base_manifest, head_manifest, dbt_project,
                                  workspace, env, api_url, token)  # fmt: skip
        _report(run_dbt_check(options), output)
        return
    if base_manifest or head_manifest or dbt_project:
        raise ConfigError("--base-manifest, --head-manifest and --dbt-project go with --dbt")
    root = workspace_dir(workspace)
    repo, subdir = open_repo(root)
    head_ws = _load(root, GitTree(repo, head, subdir), env)
    base_ws = _load(root, GitTree(repo, base, subdir), env)
    if head_ws is None:
        out_console().print(f"No seg workspace at {subdir or '.'} in {head}; nothing to check.")
        return
    policy = head_ws.config.model_change_policy
    base_resources = base_ws.resources if base_ws else ()
    if offline:
        live = _as_live(base_resources)
    else:
        live, server_policy = _live(head_ws, api_url, token)
        policy = stricter(policy, server_policy)
    _report(check_models(base_resources, head_ws.resources, live, policy), output)


def _report(result: CheckResult, output: Output) -> None:
    """The result in the chosen format (and on GitHub); exit 3 when anything is blocked."""
    from seg.render.check_view import (
        check_markdown,
        check_to_json,
        github_annotations,
        render_check_text,
    )

    _publish_to_github(check_markdown(result), github_annotations(result))
    if output is Output.json:
        write_json(check_to_json(result))
    elif output is Output.markdown:
        write_out(check_markdown(result))
    else:
        render_check_text(result, out_console())
    if result.blocked:
        raise typer.Exit(3)


def register(app: typer.Typer) -> None:
    app.command("check")(check_cmd)
