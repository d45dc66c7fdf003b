"""``seg.yaml``: the workspace file, and the choice of environment."""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seg.errors import WorkspaceInvalid
from seg.kinds import KINDS
from seg.kinds.names import DEFAULT_MANAGER
from seg.model.wording import did_you_mean
from seg.policy.models import ModelChangePolicy
from seg.workspace.diagnostics import Diagnostic
from seg.workspace.schema_check import check_against_schema
from seg.workspace.tree import FsTree, Tree
from seg.workspace.yamlpos import YamlDocument, YamlError, read_documents

__all__ = [
    "CONFIG_FILE",
    "CatalogFile",
    "DbtProjectConfig",
    "EVERY_SOURCE",
    "EventSamples",
    "WorkspaceConfig",
    "load_config",
    "read_config",
]

CONFIG_FILE = "seg.yaml"


@dataclass(frozen=True)
class CatalogFile:
    """A private catalog file ``seg.yaml`` lists under ``catalog:`` (a path relative to the
    workspace root), and where it is listed."""

    path: str
    line: int
    col: int


EVERY_SOURCE = "*"  # the ``events:`` key that sends a sample to every source


@dataclass(frozen=True)
class EventSamples:
    """A sample of events ``seg.yaml`` names under ``events:``: the source it is sent to
    (``EVERY_SOURCE``: every one), a path or glob pattern relative to the workspace root, and
    where it is named."""

    source: str
    pattern: str
    line: int
    col: int


@dataclass(frozen=True)
class DbtProjectConfig:
    """A dbt project ``seg.yaml`` names under ``dbt_projects``: a directory of this repository
    (``path``, relative to seg.yaml) or one of another git repository (``repository`` at
    ``ref``, ``project_path`` inside it), and where it is named."""

    name: str
    line: int
    col: int
    path: str | None = None
    repository: str | None = None
    ref: str | None = None
    project_path: str = ""
    manifest: str = "target/manifest.json"


@dataclass(frozen=True)
class WorkspaceConfig:
    """The resolved settings of a workspace for one environment."""

    root: Path
    workspace: str
    api_url: str = "embedded"
    model_change_policy: ModelChangePolicy = ModelChangePolicy.STRICT
    # The workspace's plan tier as the tree states it (None: unknown, tier rules skipped).
    plan_tier: str | None = None
    env: str | None = None
    vars: Mapping[str, str] = field(default_factory=dict)
    environments: tuple[str, ...] = ()
    # Ownership: who this tree is on the control plane, what to do with resources nobody
    # manages ("keep" or "delete"), and the (kind, address) of resources it refers to
    # without managing them.
    manager: str = DEFAULT_MANAGER
    unmanaged: str = "keep"
    external: frozenset[tuple[str, str]] = frozenset()
    # Private catalog files (their entries join the built-in catalog for validate).
    catalog: tuple[CatalogFile, ...] = ()
    dbt_projects: tuple[DbtProjectConfig, ...] = ()
    events: tuple[EventSamples, ...] = ()


def _vars(raw: Mapping[str, Any]) -> dict[str, str]:
    return {k: str(v).lower() if isinstance(v, bool) else str(v) for k, v in raw.items()}


def load_config(
    root: Path, tree: Tree, env: str | None, environ: Mapping[str, str]
) -> tuple[WorkspaceConfig | None, list[Diagnostic]]:
    shown = tree.display(CONFIG_FILE)
    try:
        text = tree.read(CONFIG_FILE)
    except FileNotFoundError:
        return None, [Diagnostic(shown, 1, 1, f"{CONFIG_FILE} not found in {root}", "config")]
    except (OSError, UnicodeDecodeError) as exc:
        return None, [Diagnostic(shown, 1, 1, f"cannot read file: {exc}", "io")]
    try:
        docs = list(read_documents(text))
    except YamlError as exc:
        return None, [Diagnostic(shown, exc.line, exc.col, exc.message, "yaml")]
    if len(docs) != 1 or not isinstance(docs[0].value, dict):
        return None, [Diagnostic(shown, 1, 1, f"{CONFIG_FILE} must hold one mapping", "config")]
    doc = docs[0]
    problems = check_against_schema(doc, (), "workspace.schema.json", shown)
    if problems:
        return None, problems
    data: dict[str, Any] = doc.value
    envs: dict[str, Any] = data.get("environments") or {}
    chosen: dict[str, Any] = {}
    if env is not None:
        if env not in envs:
            known = ", ".join(sorted(envs)) or "none"
            line, col = doc.key_mark(("environments",)) if envs else (doc.line, doc.col)
            message = f"unknown environment {env!r} (defined: {known})"
            return None, [Diagnostic(shown, line, col, message, "config/env")]
        chosen = envs[env] or {}
    external, problems = _external(doc, shown)
    if problems:
        return None, problems
    config = WorkspaceConfig(
        root=root,
        workspace=environ.get("SEG_WORKSPACE") or chosen.get("workspace") or data["workspace"],
        api_url=chosen.get("api_url") or data.get("api_url") or "embedded",
        model_change_policy=ModelChangePolicy(data.get("model_change_policy", "strict")),
        plan_tier=data.get("plan_tier"),
        env=env,
        vars=_vars({**(data.get("vars") or {}), **(chosen.get("vars") or {})}),
        environments=tuple(sorted(envs)),
        manager=data.get("manager", DEFAULT_MANAGER),
        unmanaged=data.get("unmanaged", "keep"),
        external=external,
        catalog=tuple(CatalogFile(str(path), *doc.mark(("catalog", index)))
                      for index, path in enumerate(data.get("catalog") or [])),
        dbt_projects=tuple(_dbt_project(doc, name, spec)
                           for name, spec in (data.get("dbt_projects") or {}).items()),
        events=tuple(_samples(doc)),
    )  # fmt: skip
    return config, []


def _samples(doc: YamlDocument) -> list[EventSamples]:
    out = []
    for source, patterns in (doc.value.get("events") or {}).items():
        if isinstance(patterns, str):
            out.append(EventSamples(source, patterns, *doc.mark(("events", source))))
        else:
            out += [EventSamples(source, pattern, *doc.mark(("events", source, index)))
                    for index, pattern in enumerate(patterns)]  # fmt: skip
    return out


def _dbt_project(doc: YamlDocument, name: str, spec: Mapping[str, Any]) -> DbtProjectConfig:
    line, col = doc.key_mark(("dbt_projects", name))
    return DbtProjectConfig(
        name, line, col, spec.get("path"), spec.get("repository"), spec.get("ref"),
        str(spec.get("project_path") or "").strip("/"),
        spec.get("manifest", "target/manifest.json"),
    )  # fmt: skip


def read_config(root: Path, env: str | None, environ: Mapping[str, str] | None = None
                ) -> WorkspaceConfig:  # fmt: skip
    """``seg.yaml`` alone (no resource file is read, no ``${env:…}`` is needed): for the
    commands that only talk to the control plane. Raises WorkspaceInvalid."""
    config, problems = load_config(root, FsTree(root), env, os.environ if environ is None
                                   else environ)  # fmt: skip
    if config is None:
        raise WorkspaceInvalid(problems)
    return config


def _external(doc: YamlDocument, shown: str) -> tuple[frozenset[tuple[str, str]], list[Diagnostic]]:
    """``external: [KIND/ADDRESS, …]`` as (kind, address) keys; unknown kinds and addresses
    that do not fit their kind are errors at the item."""
    out: set[tuple[str, str]] = set()
    problems: list[Diagnostic] = []
    for index, raw in enumerate(doc.value.get("external") or []):
        kind_name, address = str(raw).split("/", 1)
        kind = KINDS.get(kind_name)
        line, col = doc.mark(("external", index))
        if kind is None:
            message = f"unknown kind {kind_name!r} in external" + did_you_mean(kind_name, KINDS)
            problems.append(Diagnostic(shown, line, col, message, "config/external"))
        elif address.count("/") != len(kind.chain()) - 1:
            message = (f"external {raw!r}: a {kind_name} address has "
                       f"{len(kind.chain())} part(s) separated by '/'")  # fmt: skip
            problems.append(Diagnostic(shown, line, col, message, "config/external"))
        else:
            out.add((kind_name, address))
    return frozenset(out), problems
