"""Writing a live workspace as YAML (one way, Git-Sync style): a folder per kind, a file per
resource, stable key order, secrets as ``${env:…}`` placeholders, model queries as .sql files;
each YAML file in ``seg fmt``'s canonical form with a modeline pointing at ``.seg-schema/``.

Pure apart from the returned file contents: ``render_export`` maps the live resources to
``{relative path: text}``; the command writes them.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

import yaml

from seg.editor_schemas import modeline
from seg.kinds import KINDS
from seg.model.kinds import Kind
from seg.model.paths import AnyPath, format_path
from seg.model.resource import CurrentResource
from seg.model.secrets import is_digest
from seg.model.values import json_equal
from seg.workspace.canonical import FormatError, canonical_text

__all__ = ["Export", "render_export", "secret_variable", "secrets_listing"]


@dataclass
class Export:
    files: dict[str, str] = field(default_factory=dict)
    secrets: dict[str, str] = field(default_factory=dict)  # variable → address.path


def secret_variable(address: str, path: AnyPath) -> str:
    raw = "_".join(["SEG_SECRET", address, *map(str, path)])
    return re.sub(r"[^A-Za-z0-9]+", "_", raw).strip("_").upper()


def _file_stem(address: str) -> str:
    return address.replace("/", ".").replace(":", "=")


def _file_stems(addresses: Iterable[str], taken: Iterable[str] = ()) -> dict[str, str]:
    """Each address's file stem. Names are case-sensitive (labels, consent categories:
    ``Advertising`` and ``advertising`` are two), file systems may not be (macOS, Windows):
    stems equal but for case (to each other, or to a stem ``taken`` by a file the tree holds
    already) each gain a suffix naming the exact address (``.`` + 8 hex digits of its SHA-256;
    no name holds a ``.``), so no file overwrites another on a checkout. (A file of exactly
    the same name is left to the writer, which refuses to overwrite it.)"""
    stems = {address: _file_stem(address) for address in addresses}
    folded: dict[str, int] = {}
    for stem in stems.values():
        folded[stem.casefold()] = folded.get(stem.casefold(), 0) + 1
    cased = {t.casefold() for t in taken if t not in stems.values()}
    for address, stem in stems.items():
        if folded[stem.casefold()] > 1 or stem.casefold() in cased:
            digest = hashlib.sha256(address.encode()).hexdigest()[:8]
            stems[address] = f"{stem}.{digest}"
    return stems


def _spec(kind: Kind, res: CurrentResource, export: Export) -> dict[str, Any]:
    spec: dict[str, Any] = {}
    if kind.parent_field:
        spec[kind.parent_field] = res.address.rsplit("/", 1)[0]
    for fs in kind.fields:
        if fs.name not in res.fields or res.fields[fs.name] is None:
            continue
        value = res.fields[fs.name]
        if fs.closed:  # declared whole: what is left out is its default
            value = _without_defaults(value, kind.defaults.get(fs.name))
            if value == {}:
                continue
        if fs.export_suffix is None:  # values written to files of their own are not interpolated
            value = _placeholders(value, res.address, (fs.name,), export)
        if fs.ref and isinstance(value, str) and KINDS[fs.ref].parent is not None:
            value = value.rsplit("/", 1)[1]  # a reference under the same source, by name
        spec[fs.name] = value
    return spec


def _without_defaults(value: Any, default: Any) -> Any:
    """``value`` without the map keys whose value equals ``default``'s, at any depth."""
    if not isinstance(value, dict) or not isinstance(default, dict):
        return value
    return {key: _without_defaults(child, default.get(key)) for key, child in value.items()
            if key not in default or not json_equal(child, default[key])}  # fmt: skip


def _placeholders(value: Any, address: str, path: AnyPath, export: Export) -> Any:
    if isinstance(value, dict):
        return {k: _placeholders(value[k], address, (*path, k), export) for k in sorted(value)}
    if isinstance(value, list):
        return [_placeholders(v, address, (*path, i), export) for i, v in enumerate(value)]
    if is_digest(value):  # a secret at any depth becomes a placeholder at its leaf
        name = secret_variable(address, path)
        export.secrets[name] = f"{address} {format_path(path)}"
        return f"${{env:{name}}}"
    if isinstance(value, str) and "$" in value:
        return value.replace("$", "$$")
    return value


def render_export(workspace: str, resources: Iterable[CurrentResource],
                  with_config: bool = True, existing: Iterable[str] = ()) -> Export:  # fmt: skip
    """The files of ``resources``. ``existing``: the relative paths of the files the tree
    holds already (``--merge``, ``seg import``), whose names a new file must not equal but for
    case."""
    export = Export()
    taken: dict[str, list[str]] = {}
    for rel in existing:
        folder, _, file_name = rel.rpartition("/")
        taken.setdefault(folder, []).append(file_name.rsplit(".", 1)[0])
    if with_config:
        config = f"version: seg/v1\nworkspace: {workspace}\n"
        export.files["seg.yaml"] = modeline("seg.yaml") + config
    exported = [r for r in sorted(resources, key=lambda r: (r.kind.order, r.address))
                if r.address not in r.kind.system_names]  # fmt: skip
    stems = {name: _file_stems((r.address for r in exported if r.kind.name == name),
                               taken.get(KINDS[name].collection, ()))
             for name in {r.kind.name for r in exported}}  # fmt: skip
    for res in exported:
        kind = res.kind
        spec = _spec(kind, res, export)
        folder = kind.collection
        stem = stems[kind.name][res.address]
        for linked in kind.file_fields:  # Model query → <stem>.sql, exactly as stored
            value_spec = kind.field(linked.value_key)
            suffix = value_spec.export_suffix if value_spec is not None else None
            if suffix and isinstance(spec.get(linked.value_key), str):
                export.files[f"{folder}/{stem}.{suffix}"] = spec.pop(linked.value_key)
                spec[linked.file_key] = f"{stem}.{suffix}"
        doc: dict[str, Any] = {"kind": kind.name, "name": res.address.rsplit("/", 1)[-1]}
        if res.protect:
            doc["protect"] = True
        doc["spec"] = spec
        rel = f"{folder}/{stem}.yaml"
        text = modeline(rel) + yaml.safe_dump(doc, sort_keys=False, allow_unicode=True, width=100)
        export.files[rel] = _canonical(text)
    return export


def _canonical(text: str) -> str:
    """The file as ``seg fmt`` writes it; as dumped if a value cannot be kept exactly."""
    try:
        return canonical_text(text)
    except FormatError:
        return text


def secrets_listing(export: Export) -> str:
    lines = ["# Secrets the exported workspace reads from the environment (values not exported)"]
    lines += [f"{name}=  # {where}" for name, where in sorted(export.secrets.items())]
    return "\n".join(lines) + "\n"
