"""``seg fmt [--check]``: rewrite the workspace's YAML files in canonical form.

The files are the loader's: ``seg.yaml``, every resource file and the ``envs/`` overlays,
found and read through the workspace's ``FsTree`` (dot-directories skipped; a symlink that
leads outside the workspace is refused, one inside it is skipped: its target is formatted
where it lives). The rewrites go through ``commands.safe_write``: each to a temporary file
beside the original that then replaces it, none through a symlink, swapped in only once all
are written.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Annotated

import typer

from seg.commands.console import err_console, handle_errors, out_console
from seg.commands.options import DebugOpt, WorkspaceOpt, workspace_dir
from seg.commands.safe_write import NewFile, write_files
from seg.errors import ConfigError, WorkspaceInvalid
from seg.model.wording import plural
from seg.workspace.canonical import FormatError, canonical_text
from seg.workspace.config import CONFIG_FILE
from seg.workspace.diagnostics import Diagnostic
from seg.workspace.tree import FsTree

__all__ = ["register"]


def _yaml_files(tree: FsTree) -> list[str]:
    return [rel for rel in tree.files() if rel.endswith((".yaml", ".yml"))]


def _is_plain(root: Path, rel: str) -> bool:
    """``rel`` is a regular file reached without any symlink (so a write stays in place)."""
    path = root / rel
    real = os.path.realpath(path)
    return not path.is_symlink() and real == os.path.join(os.path.realpath(root), rel)


def _format(tree: FsTree, rel: str) -> tuple[str, str] | Diagnostic:
    """(before, after) for one file, or the reason it cannot be formatted."""
    shown = tree.display(rel)
    try:
        before = tree.read(rel)
        return before, canonical_text(before, config=rel == CONFIG_FILE)
    except FormatError as exc:
        return Diagnostic(shown, exc.line, exc.col, exc.message, "fmt")
    except (OSError, UnicodeDecodeError) as exc:
        return Diagnostic(shown, 1, 1, f"cannot read file: {exc}", "io")


@handle_errors
def fmt_cmd(
    workspace: WorkspaceOpt = None,
    check: Annotated[
        bool, typer.Option("--check", help="Write nothing; exit 1 listing files that would change.")
    ] = False,
    debug: DebugOpt = False,
) -> None:
    """Rewrite seg.yaml and every resource file in canonical form, keeping comments."""
    root = workspace_dir(workspace)
    if not (root / CONFIG_FILE).is_file():
        raise ConfigError(f"{root} holds no {CONFIG_FILE}: not a workspace")
    tree = FsTree(root)
    problems: list[Diagnostic] = []
    changed: list[str] = []
    rewrites: list[NewFile] = []
    for rel in _yaml_files(tree):
        if not _is_plain(root, rel):
            if not isinstance(result := _format(tree, rel), Diagnostic):
                continue  # a symlink inside the tree: its target is formatted where it lives
            problems.append(result)
            continue
        result = _format(tree, rel)
        if isinstance(result, Diagnostic):
            problems.append(result)
        elif result[0] != result[1]:
            changed.append(tree.display(rel))
            rewrites.append(NewFile(rel, result[1], "replace"))
    if not check:
        write_files(root, rewrites)
    _report(changed, check, clean=not problems)
    if problems:
        raise WorkspaceInvalid(problems)
    if check and changed:
        raise typer.Exit(1)


def _report(changed: list[str], check: bool, clean: bool) -> None:
    console = out_console()
    verb = "would reformat" if check else "reformatted"
    for shown in changed:
        console.print(f"{verb} {shown}")
    files = plural(len(changed), "file")
    if check and changed:
        err_console().print(f"{files} would be reformatted; run: seg fmt")
    elif changed:
        console.print(f"{files} reformatted.")
    elif clean:
        console.print("All files are formatted.")


def register(app: typer.Typer) -> None:
    app.command("fmt")(fmt_cmd)
