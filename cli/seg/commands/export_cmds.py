"""``seg export``: the live workspace as YAML, one way. It only reads the control plane."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from seg.commands.console import err_console, handle_errors, out_console
from seg.commands.options import ApiUrlOpt, DebugOpt, EnvOpt, TokenOpt, WorkspaceOpt, workspace_dir
from seg.commands.schema_cmds import write_schemas
from seg.commands.session import connect_config
from seg.editor_schemas import SCHEMA_DIR
from seg.errors import ConfigError
from seg.workspace.config import WorkspaceConfig, read_config
from seg.workspace.export import render_export, secrets_listing
from seg.workspace.loader import declared_addresses

__all__ = ["register"]


def _target(root: Path, slug: str | None, env: str | None, merge: bool
            ) -> tuple[WorkspaceConfig, set[tuple[str, str]]]:  # fmt: skip
    """The workspace to export into and what it declares already. Only seg.yaml is loaded,
    and resource files are read for their addresses alone: exporting needs no secret and
    no valid tree."""
    if (root / "seg.yaml").is_file():
        config = read_config(root, env)
        if not merge:
            raise ConfigError(
                f"{root} already holds a workspace; use --merge to add what is missing"
            )
        declared, unread = declared_addresses(root)
        for problem in unread:
            where = f"{problem.file}:{problem.line}:{problem.col}"
            err_console().print(escape(f"warning: {where}: not read ({problem.message}); what "
                                       "it declares may be exported again"))  # fmt: skip
        return config, declared
    if root.exists() and any(root.iterdir()):
        raise ConfigError(f"{root} is not empty and has no seg.yaml")
    slug = slug or os.environ.get("SEG_WORKSPACE")
    if not slug:
        raise ConfigError("name the workspace to export: --slug SLUG (or SEG_WORKSPACE)")
    return WorkspaceConfig(root=root, workspace=slug, api_url=""), set()


@handle_errors
def export_cmd(
    workspace: WorkspaceOpt = None,
    slug: Annotated[str | None, typer.Option("--slug", help="Workspace slug (empty dir).")] = None,
    merge: Annotated[
        bool, typer.Option("--merge", help="Add only resources missing from the tree.")
    ] = False,
    env: EnvOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Write the live workspace as YAML (secrets become ${env:…} placeholders)."""
    root = workspace_dir(workspace)
    config, declared = _target(root, slug, env, merge)
    if not config.api_url and not (api_url or os.environ.get("SEG_API_URL")):
        raise ConfigError("exporting into an empty directory needs --api-url (or SEG_API_URL)")
    client, _ = connect_config(config, api_url, token)
    try:
        live = client.read_state()
    finally:
        client.close()
    missing = [r for r in live if (r.kind.name, r.address) not in declared
               and r.address not in r.kind.system_names]  # fmt: skip
    export = render_export(config.workspace, missing, with_config=not (root / "seg.yaml").exists())
    if export.secrets:
        export.files["secrets.env.example"] = secrets_listing(export)
    for rel, text in sorted(export.files.items()):
        path = root / rel
        if merge and path.exists():
            raise ConfigError(f"{path} exists; not overwriting it")
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
    write_schemas(root / SCHEMA_DIR)  # what the files' modelines point at
    console = out_console()
    console.print(f"Exported {len(missing)} resources of workspace {config.workspace} "
                  f"to {root} ({len(export.files)} files).")  # fmt: skip
    if export.secrets:
        err_console().print(
            "Secrets were not exported; set these variables (listed in secrets.env.example): "
            + ", ".join(sorted(export.secrets))
        )


def register(app: typer.Typer) -> None:
    app.command("export")(export_cmd)
