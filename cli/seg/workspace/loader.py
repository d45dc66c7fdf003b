"""``load_workspace``: a directory of YAML → a validated, resolved ``Workspace``."""

from __future__ import annotations

import difflib
import hashlib
import json
import os
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seg.errors import WorkspaceInvalid
from seg.model.kinds import KINDS
from seg.model.resource import DesiredResource, Origin
from seg.model.secrets import is_catalog_secret
from seg.workspace.config import CONFIG_FILE, WorkspaceConfig, load_config
from seg.workspace.diagnostics import Diagnostic
from seg.workspace.interpolate import Interpolation, interpolate
from seg.workspace.schema_check import check_against_schema
from seg.workspace.yamlpos import YamlDocument, YamlError, read_documents

__all__ = ["Workspace", "discover_files", "load_workspace"]


@dataclass(frozen=True)
class Workspace:
    """A loaded workspace: its settings and its resources in apply order."""

    config: WorkspaceConfig
    resources: tuple[DesiredResource, ...]
    digest: str


class SpecMarks(Mapping[tuple[str, ...], Origin]):
    """Where each value under ``spec`` was written (looked up on demand)."""

    def __init__(self, file: str, value_marks: dict[tuple[Any, ...], tuple[int, int]]) -> None:
        self._file = file
        self._marks = value_marks

    def __getitem__(self, path: tuple[str, ...]) -> Origin:
        line, col = self._marks[("spec", *path)]
        return Origin(self._file, line, col)

    def __iter__(self) -> Iterator[tuple[str, ...]]:
        return (tuple(str(k) for k in p[1:]) for p in self._marks if p[:1] == ("spec",))

    def __len__(self) -> int:
        return sum(1 for _ in self)


def discover_files(root: Path) -> list[Path]:
    """Resource files under ``root``: ``*.yaml``/``*.yml`` except ``seg.yaml`` and dot-dirs."""
    found = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if name.endswith((".yaml", ".yml")) and not (
                Path(dirpath) == root and name == CONFIG_FILE
            ):
                found.append(Path(dirpath) / name)
    return found


def display_path(path: Path) -> str:
    rel = os.path.relpath(path)
    return path.as_posix() if rel.startswith("..") else Path(rel).as_posix()


def load_workspace(
    root: Path, env: str | None = None, environ: Mapping[str, str] | None = None
) -> Workspace:
    """Load and validate ``root``; raises WorkspaceInvalid with every problem found."""
    environ = os.environ if environ is None else environ
    config, problems = load_config(root, env, environ)
    if config is None:
        raise WorkspaceInvalid(problems)
    resources: list[DesiredResource] = []
    for path in discover_files(root):
        problems += _load_file(path, config, environ, resources)
    problems += _check_addresses(resources)
    if problems:
        raise WorkspaceInvalid(sorted(problems))
    resources.sort(key=lambda r: (r.kind.order, r.address))
    return Workspace(config, tuple(resources), _digest(resources))


def _load_file(
    path: Path, config: WorkspaceConfig, environ: Mapping[str, str], out: list[DesiredResource]
) -> list[Diagnostic]:
    shown = display_path(path)
    try:
        docs = list(read_documents(path.read_text(encoding="utf-8")))
    except YamlError as exc:
        return [Diagnostic(shown, exc.line, exc.col, exc.message, "yaml")]
    except (OSError, UnicodeDecodeError) as exc:
        return [Diagnostic(shown, 1, 1, f"cannot read file: {exc}", "io")]
    problems: list[Diagnostic] = []
    for doc in docs:
        resource, found = _load_document(doc, shown, config, environ)
        problems += found
        if resource is not None:
            out.append(resource)
    return problems


def _load_document(
    doc: YamlDocument, shown: str, config: WorkspaceConfig, environ: Mapping[str, str]
) -> tuple[DesiredResource | None, list[Diagnostic]]:
    if not isinstance(doc.value, dict):
        message = "a resource document must be a mapping with kind, name and spec"
        return None, [Diagnostic(shown, doc.line, doc.col, message, "schema/type")]
    problems = check_against_schema(doc, (), "envelope.schema.json", shown, what="kind")
    if problems:
        return None, problems
    kind = KINDS[doc.value["kind"]]
    result = Interpolation()
    spec = interpolate(doc.value["spec"], ("spec",), config.vars, environ, result)
    for bad_path, message in result.problems:
        line, col = doc.mark(bad_path)
        problems.append(Diagnostic(shown, line, col, message, "interpolation"))
    if problems:
        return None, problems
    hidden = frozenset(result.secret_paths)
    problems = check_against_schema(doc, ("spec",), kind.schema_file, shown, "", spec, hidden)
    if problems:
        return None, problems
    name = doc.value["name"]
    address = f"{spec[kind.parent_field]}/{name}" if kind.parent_field else name
    fields = {k: v for k, v in spec.items() if k != kind.parent_field}
    secrets = {tuple(str(k) for k in p[1:]) for p in result.secret_paths}
    secrets |= {p for p in _leaves(fields.get("settings"), ("settings",)) if is_catalog_secret(p)}
    marks = SpecMarks(shown, doc.value_marks)
    resource = DesiredResource(
        kind=kind,
        address=address,
        fields=fields,
        secret_paths=frozenset(secrets),
        protect=bool(doc.value.get("protect", False)),
        origin=Origin(shown, *doc.mark(("name",))),
        marks=marks,
    )
    return resource, []


def _leaves(value: Any, prefix: tuple[str, ...]) -> Iterable[tuple[str, ...]]:
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _leaves(child, (*prefix, str(key)))
    elif value is not None:
        yield prefix


def _check_addresses(resources: list[DesiredResource]) -> list[Diagnostic]:
    problems: list[Diagnostic] = []
    seen: dict[tuple[str, str], DesiredResource] = {}
    for res in resources:
        key = (res.kind.name, res.address)
        if key in seen:
            assert res.origin is not None
            message = (
                f"duplicate address {res.address!r} ({res.kind.name}); "
                f"first declared at {seen[key].origin}"
            )
            problems.append(Diagnostic(res.origin.file, res.origin.line, res.origin.col,
                                       message, "duplicate-address"))  # fmt: skip
        else:
            seen[key] = res
    for res in resources:
        if not res.kind.parent:
            continue
        parent_kind = KINDS[res.kind.parent]
        parent = res.address.rsplit("/", 1)[0]
        if (parent_kind.name, parent) in seen:
            continue
        declared = [a for (k, a) in seen if k == parent_kind.name]
        hint = difflib.get_close_matches(parent, declared, n=1)
        suffix = f" (did you mean {hint[0]!r}?)" if hint else ""
        origin = res.marks.get((res.kind.parent_field or "",)) or res.origin
        assert origin is not None
        message = (
            f"{res.kind.name} {res.address!r} refers to {parent_kind.name.lower()} {parent!r}, "
            f"which is not declared{suffix}"
        )
        problems.append(Diagnostic(origin.file, origin.line, origin.col, message, "reference"))
    return problems


def _digest(resources: list[DesiredResource]) -> str:
    blob = [
        [r.kind.name, r.address, r.fields, sorted(map(list, r.secret_paths)), r.protect]
        for r in resources
    ]
    return hashlib.sha256(json.dumps(blob, sort_keys=True).encode()).hexdigest()
