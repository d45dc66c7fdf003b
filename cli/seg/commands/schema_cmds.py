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
from seg.commands.safe_write import NewFile, write_files
from seg.editor_schemas import published_files

__all__ = ["register", "schema_files", "write_schemas"]


def schema_files(directory: str = "") -> list[NewFile]:
    """Every published schema as a file to write (replacing one there) in ``directory``, a
    posix path relative to the writer's root (its root when empty)."""
    prefix = f"{directory}/" if directory else ""
    return [NewFile(prefix + name, text, "replace")
            for name, text in sorted(published_files().items())]  # fmt: skip


def write_schemas(directory: Path) -> list[Path]:
    """Write every published schema into ``directory`` (created; existing files replaced,
    never through a symlink: ``commands.safe_write``)."""
    return [directory / rel for rel in write_files(directory, schema_files())]


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
