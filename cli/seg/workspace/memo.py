"""The whole-load memo: the last valid load of a directory, reused when nothing it was
computed from changed (``.seg/cache/validate/memo.pickle``).

The validate cache (``seg.workspace.cache``) saves each file's parse and checks, but a warm
load still rebuilds the workspace: every file's documents restored, the catalog's secrets, the
references and the rules' lookups run again over every resource. When not one input changed,
all of that gives what it gave last time, so the memo keeps that result and a load that can
prove nothing changed returns it. What it proves, all of it on every use:

- the same code (``seg.localcache``'s seal carries the code's fingerprint) and the same
  inputs the file cache is keyed by (seg.yaml's vars, the overlays, the display path), the same
  ``--env`` and the same choice of reading dbt projects;
- the same list of files in the tree, every file of it showing the identity it had before that
  load began (``FsTree.identity``: device, inode, size, modification and change times, and
  not changed in the last two seconds; any write changes the change time). A file without a
  trusted identity, or a load that read a file outside the list (a linked file under a
  dot-directory), means no memo;
- every environment variable the load looked up holding the same value (an HMAC under a key
  outside the tree); a load that iterated the environment is not kept.

Only a valid load is kept (warnings are), never one that read dbt projects (their files are
outside this tree's identities), and never one whose files the validate cache refused to keep
(a value the catalog marks secret written in clear). As in the file cache, no value from the
environment is written: every such value is stored as its ``${env:NAME}`` template and made
again on use, and a memo whose bytes would still hold one is not written.
"""

from __future__ import annotations

import hashlib
import marshal
import pickle
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seg import localcache
from seg.kinds import KINDS
from seg.model.paths import get_path, set_path
from seg.model.resource import DesiredResource, Origin
from seg.workspace.cache import MIN_GUARDED, EnvValues, LazyMarks, RecordingEnviron, template_of
from seg.workspace.tree import Tree

__all__ = ["Files", "LoadMemo", "Memoised", "RecordingEnviron", "identities"]

PURPOSE = "validate-memo"
NAME = ("validate", "memo.pickle")


@dataclass(frozen=True)
class Memoised:
    """What a load gave, ready for ``Workspace``: its resources in order, the values from the
    environment it put in (to hide), where a variable was missing, the warnings, the digest."""

    resources: tuple[DesiredResource, ...]
    secret_values: frozenset[str]
    missing: tuple[Any, ...]
    warnings: tuple[Any, ...]
    digest: str


@dataclass(frozen=True)
class _Result:
    rows: bytes  # each resource as a row of plain values (``_row``), marshalled
    templates: tuple[tuple[int, tuple[Any, ...], str], ...]  # (resource, path, template)
    missing: tuple[Any, ...]
    warnings: tuple[Any, ...]
    digest: str


Files = tuple[tuple[str, tuple[int, ...]], ...]  # each file of the tree, with its identity


@dataclass(frozen=True)
class _Kept:
    inputs: str
    files: Files
    env: tuple[tuple[str, bytes | None], ...]
    secret_names: tuple[str, ...]  # the variables whose values the load put in
    result: _Result
    # a plan's tree records the SHA-256 of each file read (a saved plan names them): the
    # load's, given back on a hit; None when the memo was made without them
    digests: dict[str, str] | None


class LoadMemo:
    """The memo of one directory for one set of inputs: ``lookup`` before a load, ``keep``
    after a valid one."""

    def __init__(self, root: Path, inputs: str, environ: Mapping[str, str],
                 variables: Mapping[str, str]) -> None:  # fmt: skip
        self._root = root
        self._environ = environ
        self._inputs = hashlib.sha256(inputs.encode("utf-8", "surrogatepass")).hexdigest()
        self._env = EnvValues("validate-memo-env", environ, variables)
        self._key = self._env.key

    def lookup(self, tree: Tree, files: Files) -> Memoised | None:
        """The kept load, if every input it was made from is as it was; else None. A tree
        that records the digests of what it reads gets the load's (when the memo has them)."""
        if self._key is None:
            return None
        kept = localcache.read_pickled(self._root, PURPOSE, *NAME)
        if not isinstance(kept, _Kept) or kept.inputs != self._inputs or kept.files != files:
            return None
        recorded = getattr(tree, "digests", None)
        if recorded is not None and kept.digests is None:
            return None
        for name, mac in kept.env:
            if self._env.mac(self._environ.get(name)) != mac:
                return None
        try:
            resources = _restored(kept.result.rows)
        except Exception:  # sealed by this code: only a bug lands here; load the files
            return None
        for index, path, template in kept.result.templates:
            set_path(resources[index].fields, path, self._env.made(template))
        if recorded is not None and kept.digests is not None:
            recorded.update(kept.digests)
        secrets = {self._environ.get(name) for name in kept.secret_names}
        result = kept.result
        return Memoised(tuple(resources), frozenset(v for v in secrets if v), result.missing,
                        result.warnings, result.digest)  # fmt: skip

    def keep(self, tree: Tree, files: Files, read: Iterable[str], environ: RecordingEnviron,
             done: Memoised) -> bool:
        """Write the memo of ``done``: a valid load of the tree whose files showed ``files``
        (``identities``) before it started, which read ``read`` (beyond seg.yaml and the
        overlays, which are among them). The identities are those from before any read: a
        file written during the load has another change time ever after, so the memo can
        only be found while every file is as it was when the load began. False, and nothing
        written, when the next load could not prove it: a file read outside the listing, the
        environment iterated, a value from it that cannot be templated or is elsewhere in
        the result."""
        if self._key is None or environ.iterated or not set(read) <= {rel for rel, _ in files}:
            return False
        values = {name: self._environ.get(name) or "" for name in environ.names}
        used = {name: value for name, value in values.items() if value}
        secret_names = tuple(sorted(n for n, v in used.items() if v in done.secret_values))
        if set(done.secret_values) - {used[n] for n in secret_names}:
            return False  # a value put in by a variable not seen here: cannot be templated
        rows, templates = _rows(done.resources, used)
        if rows is None:
            return False
        for index, path, template in templates:  # each template gives its value back
            if self._env.made(template) != get_path(done.resources[index].fields, path):
                return False
        env = self._env.macs(environ.names)
        result = _Result(rows, templates, done.missing, done.warnings, done.digest)
        digests = getattr(tree, "digests", None)
        kept = _Kept(self._inputs, files, env, secret_names, result,
                     dict(digests) if digests is not None else None)  # fmt: skip
        payload = pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL)
        if any(len(v) >= MIN_GUARDED and v.encode("utf-8", "surrogatepass") in payload
               for v in used.values()):  # fmt: skip
            return False  # a value from the environment is somewhere else too
        return localcache.write(self._root, PURPOSE, payload, *NAME)


def identities(tree: Tree, listing: list[str]) -> Files | None:
    """Each file of ``listing`` with its identity (``FsTree.identity``); None when one has
    none it can vouch for, or the tree is not a directory on disk (or a recorder over one that
    ``trusts_identities``: a plan's, whose digests a hit gives back)."""
    identity = getattr(tree, "identity", None)
    if identity is None and getattr(tree, "trusts_identities", False):
        identity = getattr(getattr(tree, "inner", None), "identity", None)
    if identity is None:
        return None
    out = []
    for rel in listing:
        known = identity(rel)
        if known is None:
            return None
        out.append((rel, known))
    return tuple(out)


def _rows(resources: tuple[DesiredResource, ...], used: Mapping[str, str]
          ) -> tuple[bytes | None, tuple[tuple[int, tuple[Any, ...], str], ...]]:  # fmt: skip
    """The resources as marshalled rows of plain values, each value at a secret path replaced
    by None, and the template of each such value. None when a value from the environment is
    not a string (it cannot be templated) or a value is not plain data."""
    rows: list[tuple[Any, ...]] = []
    templates: list[tuple[int, tuple[Any, ...], str]] = []
    for index, res in enumerate(resources):
        fields = res.fields
        if res.secret_paths:
            fields = _copied(res.fields, res.secret_paths)
            for path in sorted(res.secret_paths, key=repr):
                value = get_path(res.fields, path)
                if not isinstance(value, str):
                    if used:
                        return None, ()
                    continue
                templates.append((index, path, template_of(value, used)))
                set_path(fields, path, None)
        rows.append(_row(res, fields))
    try:
        return marshal.dumps(rows), tuple(templates)
    except ValueError:  # a value marshal does not know: no memo
        return None, ()


def _row(res: DesiredResource, fields: Any) -> tuple[Any, ...]:
    origin = res.origin
    marks = res.marks
    blob = marks.__getstate__() if isinstance(marks, LazyMarks) else pickle.dumps(
        marks, protocol=pickle.HIGHEST_PROTOCOL)  # fmt: skip
    return (res.kind.name, res.address, fields, tuple(res.secret_paths), res.protect,
            None if origin is None else (origin.file, origin.line, origin.col), blob,
            res.attachments, dict(res.value_files), tuple(res.unknown_paths))  # fmt: skip


_NONE: frozenset[Any] = frozenset()


def _restored(rows: bytes) -> list[DesiredResource]:
    out = []
    new = object.__new__
    for (kind, address, fields, secret_paths, protect, origin, marks, attachments, value_files,
         unknown_paths) in marshal.loads(rows):  # fmt: skip
        res = new(DesiredResource)
        lazy = new(LazyMarks)
        lazy.__setstate__(marks)
        if origin is not None:
            where = new(Origin)
            where.__dict__.update(file=origin[0], line=origin[1], col=origin[2])
        res.__dict__.update(
            kind=KINDS[kind], address=address, fields=fields,
            secret_paths=frozenset(secret_paths) if secret_paths else _NONE, protect=protect,
            origin=None if origin is None else where, marks=lazy, attachments=attachments,
            value_files=value_files,
            unknown_paths=frozenset(unknown_paths) if unknown_paths else _NONE)  # fmt: skip
        out.append(res)
    return out


def _copied(value: Any, paths: Iterable[tuple[Any, ...]]) -> Any:
    """``value`` with the dicts and lists along each path copied (the rest shared)."""
    top = _shallow(value)
    for path in paths:
        node = top
        for step in path[:-1]:
            try:
                child = node[step]
            except (KeyError, IndexError, TypeError):
                break
            if not isinstance(child, dict | list):
                break
            node[step] = copy = _shallow(child)
            node = copy
    return top


def _shallow(value: Any) -> Any:
    if isinstance(value, Mapping):
        return dict(value)
    return list(value) if isinstance(value, list) else value
