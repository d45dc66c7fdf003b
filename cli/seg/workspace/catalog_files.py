"""Private catalog files: ``seg.yaml``'s ``catalog: [path, …]``.

Each file holds private catalog entries in the import format (``{"format_version": 1,
"entries": [...]}``, JSON or YAML). It is read like every ``*_file`` (``linked.py``: relative to
``seg.yaml``, inside the workspace, no symlink escape, at most 1 MiB) and its entries join the
built-in catalog that ``seg validate`` checks against. A file that cannot be read or parsed, or
that reuses a built-in id or another file's id, is one diagnostic at its ``catalog`` entry in
``seg.yaml``. The control plane knows only what was imported into it (``seg server catalog
import``): offline validation and the server each enforce their own catalog.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

from seg.catalog import MAX_PRIVATE_ENTRIES, Catalog, CatalogError, Entry, builtin, parse_entries
from seg.model.clip import clip_repr
from seg.model.printable import escape_line
from seg.workspace.config import CONFIG_FILE, CatalogFile, WorkspaceConfig
from seg.workspace.diagnostics import Diagnostic
from seg.workspace.linked import LinkedFileError, read_linked_file
from seg.workspace.tree import Tree
from seg.workspace.yamlpos import YamlError, read_documents

__all__ = ["catalog_file_paths", "read_catalog_document", "tree_catalog"]


def catalog_file_paths(config: WorkspaceConfig) -> set[str]:
    """The files ``seg.yaml`` names as catalog files (relative to the root): never resource
    files, whatever their extension."""
    return {posixpath.normpath(item.path) for item in config.catalog}


def _no_duplicates(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise CatalogError(f"duplicate key {clip_repr(key)}")
        out[key] = value
    return out


def _no_constant(name: str) -> Any:
    raise CatalogError(f"{name} is not a JSON number")


def read_catalog_document(text: str, json_text: bool) -> Any:
    """The one document of a catalog file: JSON (duplicate keys, NaN and Infinity refused)
    when ``json_text``, else strict YAML. Raises CatalogError naming the line and column."""
    if json_text:
        try:
            return json.loads(text, object_pairs_hook=_no_duplicates, parse_constant=_no_constant)
        except json.JSONDecodeError as exc:
            raise CatalogError(f"line {exc.lineno} column {exc.colno}: invalid JSON: "
                               f"{exc.msg}") from None  # fmt: skip
        except RecursionError:
            raise CatalogError("invalid JSON: nested too deeply") from None
    try:
        docs = list(read_documents(text))
    except YamlError as exc:
        raise CatalogError(f"line {exc.line} column {exc.col}: {exc.message}") from None
    if len(docs) != 1:
        raise CatalogError(f"a catalog file holds one document, not {len(docs)}")
    return docs[0].value


def _read(tree: Tree, item: CatalogFile) -> tuple[str, list[Entry]]:
    """The file's path (relative to the root) and its entries; LinkedFileError or
    CatalogError say why not."""
    linked = read_linked_file(tree, CONFIG_FILE, item.path)
    document = read_catalog_document(linked.text, linked.rel.lower().endswith(".json"))
    return linked.rel, parse_entries(document, private=True)


def tree_catalog(tree: Tree, config: WorkspaceConfig) -> tuple[Catalog, list[Diagnostic]]:
    """The built-in catalog with the entries of the tree's catalog files, and one diagnostic
    (at the file's ``catalog`` entry in ``seg.yaml``) per file that cannot be used."""
    shipped = builtin()
    shown = tree.display(CONFIG_FILE)
    entries: list[Entry] = []
    defined: dict[tuple[str, str], str] = {}
    problems: list[Diagnostic] = []
    for item in config.catalog:
        try:
            rel, found = _read(tree, item)
            reason = _clash(found, shipped, defined) or _too_many(len(entries) + len(found))
        except LinkedFileError as exc:
            rel, reason = exc.shown, exc.reason
        except CatalogError as exc:
            rel, reason = posixpath.normpath(item.path), str(exc)
        if reason:
            message = f"cannot use catalog file {clip_repr(rel)}: {escape_line(reason)}"
            problems.append(Diagnostic(shown, item.line, item.col, message, "catalog-file"))
            continue
        defined.update({(e.section, e.id): rel for e in found})
        entries += found
    return (shipped.with_entries(entries) if entries else shipped), problems


def _too_many(count: int) -> str:
    """Why the entries so far are too many ("" when they are not): a control plane holds at
    most ``MAX_PRIVATE_ENTRIES``, and every unknown catalog id is compared with each of them
    for its did-you-mean (thousands of entries times thousands of resources kept validate
    busy for minutes)."""
    if count <= MAX_PRIVATE_ENTRIES:
        return ""
    return (f"the catalog files hold more than {MAX_PRIVATE_ENTRIES} private entries "
            "(a control plane holds at most that many)")  # fmt: skip


def _clash(found: list[Entry], shipped: Catalog, defined: dict[tuple[str, str], str]) -> str:
    """Why a file's entries cannot join the catalog ("" when they can): an id a built-in
    entry or an earlier file has in the same section."""
    for entry in found:
        if shipped.get(entry.section, entry.id) is not None:
            return (f"{entry.section} {entry.id!r} is a built-in catalog entry; a private "
                    "entry needs an id of its own")  # fmt: skip
        other = defined.get((entry.section, entry.id))
        if other is not None:
            return f"{entry.section} {entry.id!r} is already defined in {clip_repr(other)}"
    return ""
