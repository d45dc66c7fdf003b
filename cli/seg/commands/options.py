"""Options shared by the commands, as Annotated aliases."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from seg.workspace.cache import set_cache_enabled

__all__ = [
    "ApiUrlOpt",
    "DatabaseOpt",
    "DebugOpt",
    "EnvOpt",
    "EventsOpt",
    "MissingSecrets",
    "MissingSecretsOpt",
    "NoCacheOpt",
    "Output",
    "OutputOpt",
    "SlugOpt",
    "OldSlugOpt",
    "TokenOpt",
    "WorkspaceOpt",
    "TargetOpt",
    "MaxDeletesOpt",
    "ShowUnmanagedOpt",
    "default_database",
    "resolve_workspace",
    "pick_slug",
    "workspace_dir",
]


class Output(StrEnum):
    text = "text"
    json = "json"
    markdown = "markdown"


WorkspaceOpt = Annotated[
    Path | None,
    typer.Option(
        "--workspace",
        "-w",
        metavar="DIR",
        help="Workspace directory (default ./workspace, else .).",
    ),
]
EnvOpt = Annotated[
    str | None,
    typer.Option("--env", envvar="SEG_ENV", metavar="NAME", help="Environment from seg.yaml."),
]
ApiUrlOpt = Annotated[
    str | None,
    typer.Option(
        "--api-url", metavar="URL", help="Control-plane URL, or 'embedded' (overrides SEG_API_URL)."
    ),
]
TokenOpt = Annotated[
    str | None,
    typer.Option(
        "--token", metavar="TOKEN", help="API token (default: $SEG_TOKEN).", show_default=False
    ),
]
OutputOpt = Annotated[Output, typer.Option("--output", "-o", help="text, json or markdown.")]
SlugOpt = Annotated[str | None, typer.Option("--slug", metavar="SLUG", help="Workspace slug.")]
# ``--workspace SLUG`` of earlier releases on the commands that take a slug, not a directory:
# hidden, warned, removed in the next release (``--workspace`` means a directory everywhere).
OldSlugOpt = Annotated[
    str | None, typer.Option("--workspace", metavar="SLUG", hidden=True, help="Use --slug.")
]
TargetOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--target",
        metavar="ADDRESS",
        help="Only this address, what is beneath it, and the pending changes it depends on "
        "(repeatable; an address nothing has is an error).",
    ),
]
MaxDeletesOpt = Annotated[
    int | None,
    typer.Option(
        "--max-deletes", metavar="N", help="Block the plan if it destroys more than N resources."
    ),
]
EventsOpt = Annotated[
    Path, typer.Option("--events", metavar="FILE", help="A JSONL file of sample events.")
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
DebugOpt = Annotated[bool, typer.Option("--debug", help="Show tracebacks for internal errors.")]
DatabaseOpt = Annotated[
    str | None,
    typer.Option(
        "--database",
        metavar="URL",
        help="Database URL (default $SEG_DATABASE_URL or sqlite:///seg.db).",
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


def pick_slug(slug: str | None, old: str | None, required: bool = True) -> str | None:
    """``--slug``, or the deprecated ``--workspace SLUG`` (with a warning on stderr)."""
    from seg.commands.console import err_console
    from seg.errors import ConfigError

    if old is not None:
        if slug is not None and slug != old:
            raise ConfigError("give the workspace slug once, with --slug SLUG")
        err_console().print(
            "warning: --workspace SLUG is deprecated here and will be removed in the next "
            "release; use --slug SLUG (--workspace names a directory everywhere else)"
        )
        slug = slug or old
    if slug is None and required:
        raise ConfigError("name the workspace: --slug SLUG")
    return slug


def default_database(option: str | None) -> str:
    import os

    return option or os.environ.get("SEG_DATABASE_URL") or "sqlite:///seg.db"


def _no_cache(value: bool) -> bool:
    set_cache_enabled(not value)  # set on every run of a command that has the option
    return value


NoCacheOpt = Annotated[
    bool,
    typer.Option(
        "--no-cache",
        callback=_no_cache,
        help="Neither read nor write seg's local caches: the validate cache "
        "(.seg/cache/validate/) and the live state kept from the control plane "
        "(.seg/cache/state/); also SEG_NO_CACHE=1.",
    ),
]
