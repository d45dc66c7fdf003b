"""``seg show PLANFILE``: a saved plan in any format, without network or secrets."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from seg.commands.console import handle_errors, show_plan, write_json
from seg.commands.options import DebugOpt, Output, OutputOpt
from seg.commands.planfile import read_planfile, saved_plan

__all__ = ["register"]


@handle_errors
def show_cmd(
    planfile: Annotated[
        Path, typer.Argument(metavar="PLANFILE", help="A plan saved with seg plan --out.")
    ],
    output: OutputOpt = Output.text,
    debug: DebugOpt = False,
) -> None:
    """Show a saved plan as text, JSON (as saved) or markdown. Reads only the file."""
    saved = read_planfile(planfile)
    plan = saved_plan(planfile, saved)  # checked whole, whichever format is asked for
    if output is Output.json:
        write_json(saved.document)
    else:
        show_plan(plan, output.value)


def register(app: typer.Typer) -> None:
    app.command("show")(show_cmd)
