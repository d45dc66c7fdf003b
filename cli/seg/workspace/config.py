"""``seg.yaml``: the workspace file, and the choice of environment."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from seg.workspace.diagnostics import Diagnostic
from seg.workspace.schema_check import check_against_schema
from seg.workspace.tree import Tree
from seg.workspace.yamlpos import YamlError, read_documents

__all__ = ["CONFIG_FILE", "WorkspaceConfig", "load_config"]

CONFIG_FILE = "seg.yaml"


@dataclass(frozen=True)
class WorkspaceConfig:
    """The resolved settings of a workspace for one environment."""

    root: Path
    workspace: str
    api_url: str = "embedded"
    model_change_policy: str = "strict"
    env: str | None = None
    vars: Mapping[str, str] = field(default_factory=dict)
    environments: tuple[str, ...] = ()


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
    config = WorkspaceConfig(
        root=root,
        workspace=environ.get("SEG_WORKSPACE") or chosen.get("workspace") or data["workspace"],
        api_url=chosen.get("api_url") or data.get("api_url") or "embedded",
        model_change_policy=data.get("model_change_policy", "strict"),
        env=env,
        vars=_vars({**(data.get("vars") or {}), **(chosen.get("vars") or {})}),
        environments=tuple(sorted(envs)),
    )  # fmt: skip
    return config, []
