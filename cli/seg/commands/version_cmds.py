"""``seg <kind> versions NAME`` and ``seg <kind> restore NAME VERSION`` for every kind whose
control plane keeps versions (``Kind.versioning``: ``seg function …``)."""

# No ``from __future__ import annotations``: typer reads the parameters' annotations at run
# time, and their help names the kind of the enclosing factory.
import re
from collections.abc import Callable
from typing import Annotated, Any

import typer

from seg.commands.console import err_console, handle_errors, out_console, write_document
from seg.commands.options import (
    ApiUrlOpt,
    DebugOpt,
    EnvOpt,
    Output,
    OutputOpt,
    TokenOpt,
    WorkspaceOpt,
    workspace_dir,
)
from seg.commands.session import open_control
from seg.errors import ConfigError
from seg.kinds import kinds_in_order
from seg.model.kinds import Kind
from seg.model.printable import quote
from seg.model.wording import plural
from seg.render.plan_text import Line, write_lines

__all__ = ["register"]

LockTimeoutOpt = Annotated[
    float,
    typer.Option("--lock-timeout", metavar="SECONDS",
                 help="Seconds to wait for the workspace lock."),
]


def _address(kind: Kind, name: str) -> str:
    """The resource's address, refused in one line unless it is a valid name of ``kind``."""
    if not re.fullmatch(kind.name_pattern, name):
        raise ConfigError(f"{quote(name)} is not a {kind.noun} name (it must match "
                          f"{kind.name_pattern})")  # fmt: skip
    return name


def _version_lines(kind: Kind, name: str, versions: list[dict[str, Any]]) -> list[Line]:
    lines: list[Line] = [("bold", f"{kind.name} {name}: {plural(len(versions), 'version')}")]
    if not versions:
        return lines
    rows = [(f"v{v.get('version')}", str(v.get("create_time", "")), str(v.get("actor", "")),
             f"{v.get('size', 0)} B", ", ".join(map(str, v.get("labels") or ())))
            for v in versions]  # fmt: skip
    head = ("VERSION", "CREATED", "ACTOR", "SIZE", "LABELS")
    widths = [max(len(r[i]) for r in [head, *rows]) for i in range(len(head))]
    for row in [head, *rows]:
        text = "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True))
        lines.append(("dim" if row is head else "", "  " + text.rstrip()))
    return lines


def _versions_cmd(kind: Kind) -> Callable[..., None]:
    @handle_errors
    def versions_cmd(
        name: Annotated[str, typer.Argument(metavar="NAME", help=f"The {kind.noun}'s name.")],
        workspace: WorkspaceOpt = None,
        env: EnvOpt = None,
        api_url: ApiUrlOpt = None,
        token: TokenOpt = None,
        output: OutputOpt = Output.text,
        debug: DebugOpt = False,
    ) -> None:
        address = _address(kind, name)
        with open_control(workspace_dir(workspace), env, api_url, token) as client:
            versions = client.list_versions(kind, address)
            slug = client.workspace
        if output is Output.json:
            write_document({"workspace": slug, "kind": kind.name, "name": address,
                            "versions": versions})  # fmt: skip
            return
        write_lines(_version_lines(kind, address, versions), out_console())

    assert kind.versioning is not None
    versions_cmd.__doc__ = (
        f"The versions the control plane keeps of a {kind.noun}'s {kind.versioning.field}, "
        f"newest first: LATEST marks the newest, DEPLOYED the one its instances run."
    )
    return versions_cmd


def _restore_cmd(kind: Kind) -> Callable[..., None]:
    assert kind.versioning is not None
    field = kind.versioning.field

    @handle_errors
    def restore_cmd(
        name: Annotated[str, typer.Argument(metavar="NAME", help=f"The {kind.noun}'s name.")],
        version: Annotated[int, typer.Argument(metavar="VERSION", min=1,
                                               help="The version to restore.")],  # fmt: skip
        workspace: WorkspaceOpt = None,
        env: EnvOpt = None,
        api_url: ApiUrlOpt = None,
        token: TokenOpt = None,
        lock_timeout: LockTimeoutOpt = 0.0,
        output: OutputOpt = Output.text,
        debug: DebugOpt = False,
    ) -> None:
        from seg.client.lease import Lease, lease_info

        address = _address(kind, name)
        info = {**lease_info(f"restore {kind.key} {address} v{version}"),
                "holder": f"seg {kind.key} restore"}  # fmt: skip
        with open_control(workspace_dir(workspace), env, api_url, token) as client, \
                Lease(client, info, 60.0, lock_timeout):  # fmt: skip
            restored = client.restore_version(kind, address, version)
            slug = client.workspace
        if output is Output.json:
            write_document({"workspace": slug, "kind": kind.name, "name": address,
                            "restored": version, kind.key: restored})  # fmt: skip
            return
        latest, deployed = restored.get("latest_version"), restored.get("deployed_version")
        out_console().print(
            f"Restored {kind.name} {address} v{version} as v{latest} (deployed: v{deployed}).",
            markup=False, highlight=False,
        )  # fmt: skip
        err_console().print(
            f"note: the workspace files still hold the previous {field}: the next seg plan "
            f"shows the difference. Put v{version}'s {field} into the tree (git), or apply "
            "to go back.", markup=False, highlight=False,
        )  # fmt: skip

    restore_cmd.__doc__ = (
        f"Make an earlier version of a {kind.noun}'s {field} current again: the control plane "
        f"keeps it as a new version (deploy: latest deploys it). A write: it takes the "
        f"workspace lock like seg apply. Afterwards the tree's {field} differs from the "
        f"control plane: the next seg plan shows it; sync the files (git) or re-apply."
    )
    return restore_cmd


def register(app: typer.Typer) -> None:
    for kind in kinds_in_order():
        if kind.versioning is None:
            continue
        group = typer.Typer(help=f"The {kind.noun} versions the control plane keeps.",
                            no_args_is_help=True)  # fmt: skip
        group.command("versions")(_versions_cmd(kind))
        group.command("restore")(_restore_cmd(kind))
        app.add_typer(group, name=kind.key.replace("_", "-"))
