"""Files a document names in a ``*_file`` field (``query_file``, ``json_schema_file``, …).

Every such field is read through ``read_linked_file``: the path is relative to the document,
must stay inside the workspace root after resolving symlinks (the tree enforces that for its
own kind of symlink), must name a regular file and is read only up to ``MAX_LINKED_FILE_BYTES``.
A refused file is never opened, so its content cannot reach a plan or an error.
"""

from __future__ import annotations

import posixpath
import re
from dataclasses import dataclass

from seg.workspace.tree import FileRefused, Tree

__all__ = ["MAX_LINKED_FILE_BYTES", "LinkedFile", "LinkedFileError", "read_linked_file"]

MAX_LINKED_FILE_BYTES = 1 << 20  # 1 MiB; a query's own limit (65,535 characters) is checked later

_ABSOLUTE = re.compile(r"^(?:/|\\|[A-Za-z]:[/\\])")  # posix, UNC-ish, or a drive letter


@dataclass(frozen=True)
class LinkedFile:
    rel: str  # posix path relative to the workspace root
    text: str


class LinkedFileError(Exception):
    """Why a ``*_file`` value cannot be read; ``shown`` is the path to name in the message."""

    def __init__(self, shown: str, reason: str) -> None:
        super().__init__(reason)
        self.shown = shown
        self.reason = reason


def read_linked_file(tree: Tree, document: str, value: str) -> LinkedFile:
    """The file ``value`` names, relative to ``document`` (a path relative to the root)."""
    if _ABSOLUTE.match(value):
        raise LinkedFileError(value, "it is an absolute path; give a path relative to the document")
    rel = posixpath.normpath(posixpath.join(posixpath.dirname(document), value))
    if rel == ".." or rel.startswith("../"):
        raise LinkedFileError(value, "it leads outside the workspace")
    try:
        return LinkedFile(rel, tree.read(rel, MAX_LINKED_FILE_BYTES))
    except FileRefused as exc:
        raise LinkedFileError(rel, str(exc)) from None
    except FileNotFoundError:
        raise LinkedFileError(rel, "no such file") from None
    except UnicodeDecodeError:
        raise LinkedFileError(rel, "it is not UTF-8 text") from None
    except ValueError:  # a NUL byte in the path
        raise LinkedFileError(value, "it is not a valid path") from None
    except OSError as exc:
        raise LinkedFileError(rel, exc.strerror or type(exc).__name__) from None
