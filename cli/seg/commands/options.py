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
    "EventsOpt",
    "MissingSecrets",
    "MissingSecretsOpt",
    "Output",
    "OutputOpt",
    "TokenOpt",
    "WorkspaceOpt",
    "TargetOpt",
    "MaxDeletesOpt",
    "ShowUnmanagedOpt",
    "default_database",
    "resolve_workspace",
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
TargetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--target",
        help="Only this address, what is beneath it, and the pending changes it depends on "
        "(repeatable; an address nothing has is an error).",
    ),
]
MaxDeletesOpt = Annotated[
    int | None,
    typer.Option("--max-deletes", help="Block the plan if it destroys more than N resources."),
]


class MissingSecrets(StrEnum):
    fail = "fail"
    skip = "skip"


MissingSecretsOpt = Annotated[
    MissingSecrets,
    typer.Option(
        "--missing-secrets",
        help="A ${env:…} that is not set: fail (default), or skip: plan the rest and mark "
        "those values not compared (such a plan cannot be applied).",
    ),
]
ShowUnmanagedOpt = Annotated[
    bool,
    typer.Option("--show-unmanaged", help="List the resources nobody manages (left alone)."),
]
EventsOpt = Annotated[Path, typer.Option("--events", help="A JSONL file of sample events.")]
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks for internal errors.")]
DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database", help="Database URL (default $SEG_DATABASE_URL or sqlite:///seg.db)."
    ),
]


def workspace_dir(option: Path | None) -> Path:
    return resolve_workspace(option)[0]


def resolve_workspace(option: Path | None) -> tuple[Path, Path | None]:
    """(workspace root, sub-directory scope). ``-w`` may name a directory inside a workspace:
    the root is the nearest parent holding ``seg.yaml`` and the plan is scoped to the
    sub-directory."""
    if option is None:
        default = Path("workspace")
        return (default if (default / "seg.yaml").is_file() else Path(".")), None
    if (option / "seg.yaml").is_file() or not option.is_dir():
        return option, None
    for parent in option.resolve().parents:
        if (parent / "seg.yaml").is_file():
            return parent, option
    return option, None


def default_database(option: str | None) -> str:
    import os

    return option or os.environ.get("SEG_DATABASE_URL") or "sqlite:///seg.db"
