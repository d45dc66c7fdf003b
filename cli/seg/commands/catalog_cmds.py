"""``seg catalog list`` and ``seg catalog show ID``: the catalog of the workspace's control
plane (the built-in entries and the workspace's private ones); a read token is enough."""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any

import typer

from seg.commands.console import handle_errors, out_console, write_document
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
from seg.commands.session import open_control
from seg.errors import ConfigError
from seg.model.clip import clip_repr
from seg.model.wording import did_you_mean
from seg.render.catalog_view import entry_lines, list_lines, summary
from seg.render.plan_text import write_lines

__all__ = ["register"]

catalog_app = typer.Typer(help="The catalog of source, destination and warehouse types.",
                          no_args_is_help=True)  # fmt: skip


class Section(StrEnum):
    source = "source"
    destination = "destination"
    warehouse = "warehouse"


SectionOpt = Annotated[
    Section | None,
    typer.Option("--section", metavar="SECTION",
                 help="source, destination or warehouse (default: every section)."),
]  # fmt: skip


def _sections(section: Section | None) -> list[str]:
    return [section.value] if section is not None else [s.value for s in Section]


@handle_errors
def list_cmd(
    section: SectionOpt = None,
    workspace: WorkspaceOpt = None,
    env: EnvOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """List catalog entries: id, section, display name, connection modes, private or not."""
    with open_control(workspace_dir(workspace), env, api_url, token,
                      sync_catalog=True) as client:
        entries = [e for name in _sections(section) for e in client.list_catalog(name)]
        slug = client.workspace
    if output is Output.json:
        write_document({"workspace": slug, "entries": [summary(e) for e in entries]})
        return
    write_lines(list_lines(entries), out_console())


@handle_errors
def show_cmd(
    entry_id: Annotated[str, typer.Argument(metavar="ID", help="The catalog id (amplitude).")],
    section: SectionOpt = None,
    workspace: WorkspaceOpt = None,
    env: EnvOpt = None,
    api_url: ApiUrlOpt = None,
    token: TokenOpt = None,
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Show an entry: its settings (type, required, default, enum, secret) and, for an Actions
    destination, each action with its fields and default trigger."""
    with open_control(workspace_dir(workspace), env, api_url, token,
                      sync_catalog=True) as client:
        sections = _sections(section)
        found = [e for name in sections if (e := client.get_catalog_entry(name, entry_id))]
        if not found:
            known = [str(e["id"]) for name in sections for e in client.list_catalog(name)]
            where = f"{section.value} " if section is not None else ""
            raise ConfigError(f"no {where}catalog entry {clip_repr(entry_id)}"
                              f"{did_you_mean(entry_id, known, limit=64)}")  # fmt: skip
        slug = client.workspace
    if len(found) > 1:
        raise ConfigError(
            f"catalog id {clip_repr(entry_id)} is in several sections "
            f"({', '.join(str(e['section']) for e in found)}); pass --section SECTION"
        )
    entry: dict[str, Any] = found[0]
    if output is Output.json:
        write_document({"workspace": slug, "entry": entry})
        return
    write_lines(entry_lines(entry), out_console())


def register(app: typer.Typer) -> None:
    catalog_app.command("list")(list_cmd)
    catalog_app.command("show")(show_cmd)
    app.add_typer(catalog_app, name="catalog")
