"""Edits made outside seg, for the drift and sync tests: a changed copy of a tree whose plan
is sent to the original tree's embedded control plane without an apply run, as a script or
the web app would write (no ``Seg-Apply``, so the audit trail counts them as outside)."""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from pathlib import Path

from seg.apply.executor import NullObserver, apply_plan
from seg.commands.session import Session, make_plan
from seg.embedded import open_embedded
from seg.workspace.loader import load_workspace

__all__ = ["edit_outside"]


def edit_outside(root: Path, slug: str, files: Mapping[str, str], tmp: Path,
                 environ: Mapping[str, str] | None = None) -> None:  # fmt: skip
    """Write ``files`` over a copy of ``root`` (in ``tmp``) and apply its plan to ``root``'s
    control plane outside any apply run; every change must apply (``environ``: the values
    the copy's ``${env:…}`` read)."""
    other = tmp / "elsewhere"
    shutil.rmtree(other, ignore_errors=True)
    shutil.copytree(root, other, ignore=shutil.ignore_patterns(".seg"))
    for rel, text in files.items():
        (other / rel).write_text(text)
    client = open_embedded(root, slug)
    try:
        session = Session(load_workspace(other, environ=dict(environ or {})), client, "embedded")
        result = apply_plan(make_plan(session), client, NullObserver())
        assert result.ok and result.results, [(r.step.change.address, r.error)
                                              for r in result.results]  # fmt: skip
    finally:
        client.close()
