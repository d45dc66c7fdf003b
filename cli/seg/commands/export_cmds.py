"""``seg export`` (the live workspace as YAML, one way) and ``seg import`` (adopt live
resources: their YAML into the tree). Both only read the control plane."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from seg.commands.console import err_console, handle_errors, out_console, write_document
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
from seg.commands.safe_write import NewFile, write_files
from seg.commands.schema_cmds import schema_files
from seg.commands.session import read_live
from seg.editor_schemas import SCHEMA_DIR
from seg.errors import ConfigError
from seg.kinds import KINDS
from seg.model.resource import CurrentResource
from seg.model.wording import did_you_mean, plural
from seg.workspace.config import WorkspaceConfig, read_config
from seg.workspace.export import Export, render_export, secrets_listing
from seg.workspace.loader import declared_addresses

__all__ = ["find_live", "register"]

SECRETS_FILE = "secrets.env.example"


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
    config, declared = _target(root, slug, env, merge)
    if not config.api_url and not (api_url or os.environ.get("SEG_API_URL")):
        raise ConfigError("exporting into an empty directory needs --api-url (or SEG_API_URL)")
    live = read_live(config, api_url, token)
    manager = config.manager
    # --merge: what the tree lacks that nobody manages or that is this tree's (which its plan
    # would delete); never another manager's
    missing = [r for r in live if (r.kind.name, r.address) not in declared
               and r.address not in r.kind.system_names
               and (not merge or r.manager in ("", manager))]  # fmt: skip
    export = render_export(config.workspace, missing, with_config=not (root / "seg.yaml").exists(),
                           existing=_tree_files(root))  # fmt: skip
    written = _write_export(root, export)
    if output is Output.json:
        write_document({"workspace": config.workspace, "directory": str(root),
                        "resources": len(missing), "files": sorted(written),
                        "secrets": sorted(export.secrets)})  # fmt: skip
        return
    files = plural(len(written), "file")
    out_console().print(f"Exported {plural(len(missing), 'resource')} of workspace "
                        f"{config.workspace} to {root} ({files}).")  # fmt: skip


def _tree_files(root: Path) -> list[str]:
    """The files in the kinds' folders of the tree (``sources/web.yaml``): names an export
    that adds to the tree must not equal but for case."""
    out = []
    for kind in KINDS.values():
        folder = root / kind.collection
        if folder.is_dir() and not folder.is_symlink():
            out += [f"{kind.collection}/{p.name}" for p in folder.iterdir()]
    return out


def _write_export(root: Path, export: Export) -> list[str]:
    """Write the files and the schemas their modelines point at, all or none and never
    through a symlink (``commands.safe_write``): an existing file is refused before anything
    is written, except the secrets listing, which is left as it is. Returns the files written
    (the schemas aside)."""
    files = [NewFile(rel, text) for rel, text in sorted(export.files.items())]
    if export.secrets:
        files.append(NewFile(SECRETS_FILE, secrets_listing(export), "skip"))
    written = write_files(root, [*files, *schema_files(SCHEMA_DIR)])
    written = [rel for rel in written if not rel.startswith(f"{SCHEMA_DIR}/")]
    if export.secrets:
        where = "listed in" if SECRETS_FILE in written else "not added to the existing"
        err_console().print(
            f"Secrets were not exported; set these variables ({where} {SECRETS_FILE}): "
            + ", ".join(sorted(export.secrets))
        )
    return written


@handle_errors
def import_cmd(
    addresses: Annotated[list[str], typer.Argument(
        help="Resources to adopt: ADDRESS (web/amplitude) or KIND/ADDRESS (Source/web).",
        show_default=False)],
    workspace: WorkspaceOpt = None,
    env: EnvOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    debug: DebugOpt = False,
) -> None:
    """Adopt existing resources: write their YAML into the tree; the next apply manages them."""
    root = workspace_dir(workspace)
    if not (root / "seg.yaml").is_file():
        raise ConfigError(f"{root} holds no seg.yaml: import adds to a workspace tree")
    config = read_config(root, env)
    declared, _ = declared_addresses(root)
    live = read_live(config, api_url, token)
    chosen = [_importable(config, declared, find_live(live, raw))
              for raw in dict.fromkeys(addresses)]  # fmt: skip
    export = render_export(config.workspace, chosen, with_config=False,
                           existing=_tree_files(root))  # fmt: skip
    written = len(_write_export(root, export))
    console = out_console()
    for res in chosen:
        console.print(f"imported {res.kind.name} {res.address}")
    for hint in _unresolved_parents(config, declared, chosen):
        err_console().print(hint)
    console.print(f"Wrote {plural(written, 'file')} to {root}. Next: seg plan (it shows the "
                  f"adoptions), then seg apply, which makes them managed by {config.manager}.")


def find_live(live: list[CurrentResource], raw: str) -> CurrentResource:
    """The live resource ``raw`` names (``ADDRESS`` or ``KIND/ADDRESS``), or a ConfigError
    with a did-you-mean."""
    head, _, rest = raw.partition("/")
    kind = next((k for k in KINDS if k.lower() == head.lower()), None) if rest else None
    matches = [r for r in live if (kind is None or r.kind.name == kind)
               and r.address == (rest if kind else raw)]  # fmt: skip
    if kind is None and len(matches) > 1:
        shown = ", ".join(f"{r.kind.name}/{r.address}" for r in matches)
        raise ConfigError(f"{raw!r} names more than one resource ({shown}); write KIND/ADDRESS")
    if matches:
        return matches[0]
    known = [r.address for r in live] + [f"{r.kind.name}/{r.address}" for r in live]
    suffix = did_you_mean(raw, known)
    raise ConfigError(f"no resource {raw!r} on the control plane{suffix}")


def _unresolved_parents(config: WorkspaceConfig, declared: set[tuple[str, str]],
                        chosen: list[CurrentResource]) -> list[str]:  # fmt: skip
    """A hint for each imported resource whose parent the tree neither declares, imports nor
    lists as external (validate would report it)."""
    known = declared | config.external
    known |= {(r.kind.name, r.address) for r in chosen}
    out = []
    for res in chosen:
        parent = res.kind.parent
        key = (parent, res.address.rsplit("/", 1)[0]) if parent else None
        if key is not None and key not in known:
            out.append(f"note: {res.kind.name} {res.address} sits under {key[0]} {key[1]}, which "
                       f"this tree does not declare: import it too (seg import {key[0]}/{key[1]})"
                       f", or list {key[0]}/{key[1]} under external: in seg.yaml")  # fmt: skip
    return out


def _importable(config: WorkspaceConfig, declared: set[tuple[str, str]], res: CurrentResource
                ) -> CurrentResource:  # fmt: skip
    """Refuse what cannot be adopted: built in, declared already, another manager's."""
    what = f"{res.kind.name} {res.address}"
    if res.address in res.kind.system_names:
        raise ConfigError(f"{what} is built in; refer to it without importing it")
    if (res.kind.name, res.address) in declared:
        raise ConfigError(f"{what} is declared already in {config.root}")
    if res.manager not in ("", config.manager):
        raise ConfigError(f"{what} is managed by {res.manager!r}, not by {config.manager!r}; "
                          "refer to it with external: in seg.yaml instead")  # fmt: skip
    return res


def register(app: typer.Typer) -> None:
    app.command("export")(export_cmd)
    app.command("import")(import_cmd)
