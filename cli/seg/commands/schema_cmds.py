"""``seg schema --write DIR``: the published JSON Schemas, for editors and check-jsonschema.

``seg init`` and ``seg export`` write the same files into the workspace's ``.seg-schema/``
(``SCHEMA_DIR``) and point each YAML file's modeline at them, relative to the file.
"""

from __future__ import annotations

from pathlib import Path, PurePosixPath
from typing import Annotated

import typer

from seg.commands.console import handle_errors, out_console
from seg.commands.options import DebugOpt
from seg.editor_schemas import ENVELOPE, WORKSPACE, published_schemas, render_schema
from seg.errors import ConfigError

__all__ = ["SCHEMA_DIR", "modeline", "register", "write_schemas"]

# Inside the workspace, committed with it: a dot-directory, so never read as resources.
SCHEMA_DIR = ".seg-schema"


def write_schemas(directory: Path) -> list[Path]:
    """Write every published schema into ``directory`` (created; existing files replaced)."""
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} exists and is not a directory")
    directory.mkdir(parents=True, exist_ok=True)
    written = []
    for name, schema in sorted(published_schemas().items()):
        path = directory / name
        if path.is_symlink():
            raise ConfigError(f"{path} is a symlink; not writing through it")
        path.write_text(render_schema(schema), encoding="utf-8")
        written.append(path)
    return written


def modeline(rel: str) -> str:
    """The yaml-language-server modeline for the workspace file ``rel`` (posix, relative to
    the root): the schema in ``.seg-schema/``, by a path relative to the file's directory."""
    depth = len(PurePosixPath(rel).parts) - 1
    schema = WORKSPACE if rel == "seg.yaml" else ENVELOPE
    return f"# yaml-language-server: $schema={'../' * depth}{SCHEMA_DIR}/{schema}\n"


@handle_errors
def schema_cmd(
    write: Annotated[
        Path, typer.Option("--write", help="Directory to write the schema files into.")
    ],
    debug: DebugOpt = False,
) -> None:
    """Write the JSON Schemas of seg.yaml and of every resource document (one per kind, the
    envelope that picks the kind, and the overlay schema) for editors and check-jsonschema."""
    written = write_schemas(write)
    out_console().print(f"Wrote {len(written)} schema files to {write}.")


def register(app: typer.Typer) -> None:
    app.command("schema")(schema_cmd)
