"""``seg export``: the live workspace as YAML, one way. It only reads the control plane."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from seg.commands.console import err_console, handle_errors, load, out_console, write_document
from seg.commands.options import (
    ApiUrlOpt,
    DebugOpt,
    EnvOpt,
    Output,
    OutputOpt,
    TokenOpt,
    WorkspaceOpt,
    workspace_dir,
)
from seg.commands.session import connect
from seg.errors import ConfigError
from seg.model.wording import plural
from seg.workspace.config import WorkspaceConfig
from seg.workspace.export import render_export, secrets_listing
from seg.workspace.loader import Workspace

__all__ = ["register"]


def _target(root: Path, slug: str | None, env: str | None, merge: bool) -> Workspace:
    if (root / "seg.yaml").is_file():
        ws = load(root, env)
        if not merge:
            raise ConfigError(
                f"{root} already holds a workspace; use --merge to add what is missing"
            )
        return ws
    if root.exists() and any(root.iterdir()):
        raise ConfigError(f"{root} is not empty and has no seg.yaml")
    slug = slug or os.environ.get("SEG_WORKSPACE")
    if not slug:
        raise ConfigError("name the workspace to export: --slug SLUG (or SEG_WORKSPACE)")
    return Workspace(WorkspaceConfig(root=root, workspace=slug, api_url=""), (), "")


@handle_errors
def export_cmd(
    workspace: WorkspaceOpt = None,
    slug: Annotated[
        str | None, typer.Option("--slug", metavar="SLUG", help="Workspace slug (empty dir).")
    ] = None,
    merge: Annotated[
        bool, typer.Option("--merge", help="Add only resources missing from the tree.")
    ] = False,
    env: EnvOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Write the live workspace as YAML (secrets become ${env:…} placeholders)."""
    root = workspace_dir(workspace)
    target = _target(root, slug, env, merge)
    if not target.config.api_url and not (api_url or os.environ.get("SEG_API_URL")):
        raise ConfigError("exporting into an empty directory needs --api-url (or SEG_API_URL)")
    client, _ = connect(target, api_url, token)
    try:
        live = client.read_state()
    finally:
        client.close()
    declared = {(r.kind.name, r.address) for r in target.resources}
    missing = [r for r in live if (r.kind.name, r.address) not in declared
               and r.address not in r.kind.system_names]  # fmt: skip
    export = render_export(target.config.workspace, missing, with_config=not target.resources
                           and not (root / "seg.yaml").exists())  # fmt: skip
    if export.secrets:
        export.files["secrets.env.example"] = secrets_listing(export)
    for rel, text in sorted(export.files.items()):
        path = root / rel
        if merge and path.exists():
            raise ConfigError(f"{path} exists; not overwriting it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    if output is Output.json:
        write_document({"workspace": target.config.workspace, "directory": str(root),
                        "resources": len(missing), "files": sorted(export.files),
                        "secrets": sorted(export.secrets)})  # fmt: skip
        return
    console = out_console()
    files = plural(len(export.files), "file")
    console.print(f"Exported {plural(len(missing), 'resource')} of workspace "
                  f"{target.config.workspace} to {root} ({files}).")  # fmt: skip
    if export.secrets:
        err_console().print(
            "Secrets were not exported; set these variables (listed in secrets.env.example): "
            + ", ".join(sorted(export.secrets))
        )


def register(app: typer.Typer) -> None:
    app.command("export")(export_cmd)
