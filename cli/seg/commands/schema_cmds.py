"""``seg schema --write DIR``: the published JSON Schemas, for editors and check-jsonschema.

``seg init`` and ``seg export`` write the same files into the workspace's ``.seg-schema/``
(``seg.editor_schemas.SCHEMA_DIR``) and point each YAML file's modeline at them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seg.commands.console import handle_errors, out_console
from seg.commands.options import DebugOpt
from seg.editor_schemas import published_files
from seg.errors import ConfigError

__all__ = ["register", "write_schemas"]


def write_schemas(directory: Path) -> list[Path]:
    """Write every published schema into ``directory`` (created; existing files replaced)."""
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, text in sorted(published_files().items()):
        path = directory / name
        if path.is_symlink():
            raise ConfigError(f"{path} is a symlink; not writing through it")
        path.write_text(text, encoding="utf-8")
        written.append(path)
    return written


@handle_errors
def schema_cmd(
    write: Annotated[
        Path,
        typer.Option("--write", metavar="DIR", help="Directory to write the schema files into."),
    ],
    debug: DebugOpt = False,
) -> None:
    """Write the JSON Schemas for editors and check-jsonschema.

    seg.yaml's, one per kind, the envelope (any resource file) and the overlay (envs/)."""
    written = write_schemas(write)
    out_console().print(f"Wrote {len(written)} schema files to {write}.")


def register(app: typer.Typer) -> None:
    app.command("schema")(schema_cmd)
