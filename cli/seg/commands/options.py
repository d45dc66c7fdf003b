"""Options shared by the commands, as Annotated aliases."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

__all__ = [
    "ApiUrlOpt",
    "DatabaseOpt",
    "DebugOpt",
    "EnvOpt",
    "Output",
    "OutputOpt",
    "TokenOpt",
    "WorkspaceOpt",
    "default_database",
    "workspace_dir",
]


class Output(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


WorkspaceOpt = Annotated[
    Path | None,
    typer.Option("--workspace", "-w", help="Workspace directory (default ./workspace, else .)."),
]
EnvOpt = Annotated[
    str | None, typer.Option("--env", envvar="SEG_ENV", help="Environment from seg.yaml.")
]
ApiUrlOpt = Annotated[
    str | None,
    typer.Option("--api-url", help="Control-plane URL, or 'embedded' (overrides SEG_API_URL)."),
]
TokenOpt = Annotated[
    str | None, typer.Option("--token", help="API token (default: $SEG_TOKEN).", show_default=False)
]
OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="text, json or markdown.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks for internal errors.")]
DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database", help="Database URL (default $SEG_DATABASE_URL or sqlite:///seg.db)."
    ),
]


def workspace_dir(option: Path | None) -> Path:
    if option is not None:
        return option
    default = Path("workspace")
    return default if (default / "seg.yaml").is_file() else Path(".")


def default_database(option: str | None) -> str:
    import os

    return option or os.environ.get("SEG_DATABASE_URL") or "sqlite:///seg.db"
