"""Writing live values back into the tree (``seg sync``): the edits, as new file texts.

Each value goes where it comes from: the environment's overlay (``envs/<env>/``) when that
overlay sets it, else the resource's own document; a ``*_file`` value (a model's query, a
function's code) into the file it was read from. Documents are edited by
``seg.workspace.yamledit``, which changes only the lines it must. A value the tree writes as
``${var:…}`` or ``${env:…}`` is never replaced by a literal: that edit is refused and reported.
Resources deleted on the control plane lose their document (and their overlays in every
environment, which would otherwise name nothing); new ones get files where ``seg export``
would put them. Pure apart from reading through the ``Tree``: the caller writes the texts.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from seg.kinds import KINDS
from seg.model.kinds import Kind
from seg.model.paths import MISSING, AnyPath
from seg.model.resource import CurrentResource, DesiredResource
from seg.workspace.export import render_export
from seg.workspace.linked import LinkedFileError, read_linked_file
from seg.workspace.loader import document_address
from seg.workspace.tree import Tree, is_resource_file
from seg.workspace.yamledit import (
    EditError,
    append_document,
    remove_document,
    remove_value,
    set_value,
)
from seg.workspace.yamlpos import YamlError, read_documents

__all__ = ["Refusal", "SetField", "WriteBack", "write_back"]

Key = tuple[str, str]
_ENV_REF = re.compile(r"\$\{env:([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True)
class SetField:
    """Set ``path`` of a declared resource to ``value`` (MISSING: remove it). ``meta``: the
    document's ``protect`` rather than a spec field."""

    kind: Kind
    address: str
    path: AnyPath
    value: Any
    meta: bool = False


@dataclass(frozen=True)
class Refusal:
    kind: Kind
    address: str
    path: AnyPath | None
    reason: str


@dataclass
class WriteBack:
    files: dict[str, str | None] = field(default_factory=dict)  # rel → text (None: remove)
    done: list[SetField | Key | CurrentResource] = field(default_factory=list)
    refused: list[Refusal] = field(default_factory=list)
    secrets: dict[str, str] = field(default_factory=dict)  # new ${env:…} → where


class _Files:
    """The texts being edited, read once each through the tree."""

    def __init__(self, tree: Tree) -> None:
        self.tree = tree
        self.texts: dict[str, str | None] = {}
        self._parsed: dict[str, tuple[str, list[Any]]] = {}  # rel → (the text, its documents)

    def text(self, rel: str) -> str | None:
        if rel not in self.texts:
            self.texts[rel] = self.tree.read(rel)
        return self.texts[rel]

    def docs(self, rel: str) -> list[Any]:
        text = self.text(rel)
        if text is None:
            return []
        known = self._parsed.get(rel)
        if known is not None and known[0] is text:  # read again only after an edit
            return known[1]
        try:
            docs = [d.value for d in read_documents(text)]
        except YamlError:
            docs = []
        self._parsed[rel] = (text, docs)
        return docs


def _index(files: _Files, rel: str, key: Key) -> int | None:
    for i, doc in enumerate(files.docs(rel)):
        if document_address(doc) == key:
            return i
    return None


def _overlay_value(spec: Any, path: AnyPath) -> bool:
    """Whether an overlay's spec sets the value at ``path`` (merged maps descend; anything
    else replaces what lies beneath it)."""
    node = spec
    for part in path:
        if not isinstance(node, dict):
            return True
        if part not in node:
            return False
        node = node[part]
    return True


def _interpolated(raw: Any) -> str | None:
    """``var`` or ``env`` when a string at or beneath ``raw`` holds such a reference."""
    if isinstance(raw, str):
        if "${var:" in raw:
            return "var"
        if "${env:" in raw:
            return "env"
        return None
    children = raw.values() if isinstance(raw, dict) else raw if isinstance(raw, list) else ()
    for child in children:
        found = _interpolated(child)
        if found:
            return found
    return None


def _above(doc: Any, path: AnyPath) -> Any:
    """Every raw value on the way to ``path`` that is not a map (a string replacing a map)."""
    node = doc
    for part in path:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            node = node[part]
        else:
            return MISSING
    return node


def _written(kind: Kind, path: AnyPath, value: Any) -> Any:
    """The live value as the tree writes it: ``$`` doubled (a literal, not a reference), a
    reference under the same parent by name (as ``seg export`` writes it)."""
    spec = kind.field(str(path[0])) if path else None
    if (spec is not None and spec.ref and len(path) == 1 and isinstance(value, str)
            and KINDS[spec.ref].parent is not None):  # fmt: skip
        value = value.rsplit("/", 1)[1]
    return _dollars(value)


def _dollars(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("$", "$$")
    if isinstance(value, dict):
        return {k: _dollars(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_dollars(v) for v in value]
    return value


class _Writer:
    def __init__(self, tree: Tree, resources: Iterable[DesiredResource], env: str | None
                 ) -> None:  # fmt: skip
        self.files = _Files(tree)
        self.out = WriteBack()
        listed = tree.files()
        self.by_display = {tree.display(rel): rel for rel in listed}
        self.declared = {(r.kind.name, r.address): r for r in resources}
        self.overlays = [rel for rel in listed if rel.startswith("envs/")
                         and rel.endswith((".yaml", ".yml"))]  # fmt: skip
        self.env_prefix = f"envs/{env}/" if env else None

    def refuse(self, kind: Kind, address: str, path: AnyPath | None, reason: str) -> None:
        self.out.refused.append(Refusal(kind, address, path, reason))

    def home(self, key: Key) -> tuple[str, int] | None:
        res = self.declared.get(key)
        if res is None or res.origin is None:
            return None
        rel = self.by_display.get(res.origin.file)
        if rel is None or not is_resource_file(rel):
            return None
        index = _index(self.files, rel, key)
        return None if index is None else (rel, index)

    def overlay(self, key: Key, path: AnyPath) -> tuple[str, int] | None:
        if self.env_prefix is None:
            return None
        for rel in self.overlays:
            if not rel.startswith(self.env_prefix):
                continue
            for i, doc in enumerate(self.files.docs(rel)):
                if document_address(doc) == key and _overlay_value(doc.get("spec"), path):
                    return rel, i
        return None

    def set(self, edit: SetField) -> None:
        key = (edit.kind.name, edit.address)
        place = None if edit.meta else self.overlay(key, edit.path)
        place = place or self.home(key)
        if place is None:
            self.refuse(edit.kind, edit.address, edit.path, "its document was not found")
            return
        rel, index = place
        doc = self.files.docs(rel)[index]
        path: AnyPath = edit.path if edit.meta else ("spec", *edit.path)
        if not edit.meta and self.linked(edit, rel, doc):
            return
        for depth in range(1, len(path) + 1):
            raw = _above(doc, path[:depth])
            found = _interpolated(raw) if depth == len(path) or isinstance(raw, str) else None
            if found:
                what = "a variable (${var:…})" if found == "var" else "the environment (${env:…})"
                self.refuse(edit.kind, edit.address, edit.path, f"{rel} takes it from {what}; "
                            "seg sync does not replace it with a literal")  # fmt: skip
                return
        text = self.files.text(rel) or ""
        try:
            if edit.value is MISSING or (edit.meta and edit.value is False):
                new = remove_value(text, index, path)
            else:
                new = set_value(text, index, path, _written(edit.kind, edit.path, edit.value))
        except EditError as exc:
            self.refuse(edit.kind, edit.address, edit.path, f"{rel}: {exc}")
            return
        self.files.texts[rel] = new
        self.out.done.append(edit)

    def linked(self, edit: SetField, rel: str, doc: dict[str, Any]) -> bool:
        """A value read from a ``*_file``: write that file (True: handled)."""
        for linked in edit.kind.file_fields:
            if edit.path != (linked.value_key,):
                continue
            named = (doc.get("spec") or {}).get(linked.file_key)
            if not isinstance(named, str):
                return False
            if not isinstance(edit.value, str):
                self.refuse(edit.kind, edit.address, edit.path,
                            f"{linked.file_key} names a file; the live value is not text")
                return True
            try:
                target = read_linked_file(self.files.tree, rel, named).rel
            except LinkedFileError as exc:
                self.refuse(edit.kind, edit.address, edit.path, f"{exc.shown}: {exc.reason}")
                return True
            self.files.texts[target] = edit.value
            self.out.done.append(edit)
            return True
        return False

    def remove(self, kind: Kind, address: str) -> None:
        key = (kind.name, address)
        place = self.home(key)
        if place is None:
            self.refuse(kind, address, None, "its document was not found")
            return
        rel, index = place
        try:
            self.drop(rel, index)
            for overlay in self.overlays:  # every environment's, or they would name nothing
                while (i := _index(self.files, overlay, key)) is not None:
                    self.drop(overlay, i)
        except EditError as exc:
            self.refuse(kind, address, None, f"{rel}: {exc}")
            return
        self.out.done.append(key)

    def drop(self, rel: str, index: int) -> None:
        new = remove_document(self.files.text(rel) or "", index)
        self.files.texts[rel] = new
        if not self.files.docs(rel) or all(d is None for d in self.files.docs(rel)):
            self.files.texts[rel] = None  # nothing but comments left

    def used_variables(self) -> frozenset[str]:
        """Every variable a YAML file of the tree names in ``${env:…}``."""
        texts = (self.files.text(rel) or "" for rel in self.by_display.values()
                 if rel.endswith((".yaml", ".yml")))  # fmt: skip
        return frozenset(name for text in texts for name in _ENV_REF.findall(text))

    def creatable(self, workspace: str, resources: list[CurrentResource],
                  taken: Iterable[str]) -> list[CurrentResource]:  # fmt: skip
        """The new resources that may be written (the others refused): those whose secrets'
        variables (named from address and path, as ``seg export`` names them) no other
        resource reads — the name is the API writer's choice (``web-amp``'s
        ``settings.api_key`` and ``web/amp``'s are one variable), and a shared one would make
        CI copy another resource's secret into this one — and whose files other than YAML
        (a model's query) do not exist yet: another model may read that file."""
        if not resources:
            return []
        alone = {id(res): render_export(workspace, [res], with_config=False)
                 for res in resources}  # fmt: skip
        named = {key: set(export.secrets) for key, export in alone.items()}
        counts: dict[str, int] = {}
        for names in named.values():
            for name in names:
                counts[name] = counts.get(name, 0) + 1
        used = self.used_variables() | frozenset(taken)
        kept = []
        listed = set(self.by_display.values())
        for res in resources:
            shared = sorted(n for n in named[id(res)] if n in used or counts[n] > 1)
            held = sorted(rel for rel in alone[id(res)].files
                          if rel in listed and not is_resource_file(rel))  # fmt: skip
            if held:  # a model's query file: another resource may read it
                self.refuse(res.kind, res.address, None, f"{held[0]} exists already; write "
                            "this one by hand")  # fmt: skip
            elif shared:
                self.refuse(res.kind, res.address, None, f"its secret's variable {shared[0]} "
                            "is read for another resource too; write this one by hand")
            else:
                kept.append(res)
        return kept

    def create(self, workspace: str, resources: list[CurrentResource]) -> None:
        existing = [rel for rel, text in self.files.texts.items() if text is not None]
        existing += [rel for rel in self.by_display.values() if rel not in self.files.texts]
        export = render_export(workspace, resources, with_config=False, existing=existing)
        self.out.secrets.update(export.secrets)
        for rel, text in export.files.items():
            if rel in self.files.texts and self.files.texts[rel] is None:
                self.files.texts[rel] = text  # a file emptied above, made again
            elif rel in self.by_display.values() or self.files.texts.get(rel) is not None:
                if not is_resource_file(rel):  # not a document's file: never appended to
                    for res in resources:
                        self.refuse(res.kind, res.address, None, f"{rel} exists already")
                    return
                try:  # a document for a file that exists: added after its last
                    self.files.texts[rel] = append_document(self.files.text(rel) or "",
                                                            _without_modeline(text))
                except EditError as exc:
                    for res in resources:
                        self.refuse(res.kind, res.address, None, f"{rel}: {exc}")
                    return
            else:
                self.files.texts[rel] = text
        self.out.done.extend(resources)


def _without_modeline(text: str) -> str:
    lines = text.splitlines(keepends=True)
    while lines and lines[0].startswith("#"):
        lines.pop(0)
    return "".join(lines)


def write_back(tree: Tree, workspace: str, resources: Iterable[DesiredResource],
               env: str | None, sets: Iterable[SetField], removals: Iterable[tuple[Kind, str]],
               created: Iterable[CurrentResource], taken_variables: Iterable[str] = ()
               ) -> WriteBack:  # fmt: skip
    """The files to write for these edits (``WriteBack.files``: only those that change);
    ``taken_variables``: names set in the environment besides those the tree reads, which
    a new resource's secret must not read either."""
    writer = _Writer(tree, resources, env)
    for edit in sets:
        writer.set(edit)
    for kind, address in removals:
        writer.remove(kind, address)
    new = writer.creatable(workspace, list(created), taken_variables)
    if new:
        writer.create(workspace, new)
    out = writer.out
    for rel, text in writer.files.texts.items():
        before = None if rel not in writer.by_display.values() else _read(tree, rel)
        if text != before:
            out.files[rel] = text
    return out


def _read(tree: Tree, rel: str) -> str | None:
    try:
        return tree.read(rel)
    except OSError:
        return None
