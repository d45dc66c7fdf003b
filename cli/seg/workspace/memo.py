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
import secrets
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seg import localcache
from seg.kinds import KINDS
from seg.model.paths import get_path, replaced_at, set_path
from seg.model.resource import DesiredResource, Origin
from seg.workspace.cache import (
    MIN_GUARDED,
    EnvValues,
    LazyMarks,
    RecordingEnviron,
    secret_templates,
)
from seg.workspace.tree import Tree, recent

__all__ = ["Base", "Files", "Keeping", "LoadMemo", "Memoised", "RecordingEnviron", "Seen", "Stale",
           "Summary",
           "identities", "trusted"]

PURPOSE = "validate-memo"
ROWS_PURPOSE = "validate-memo-rows"
ROWS = ("validate", "memo-rows")  # shard N is memo-rows/N
MAX_SHARDS = 64
ROWS_PER_SHARD = 1_000
_UNREAD: Any = object()
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
    # each resource as a row of plain values (``_row``), row i in shard i % shards, each shard
    # a cache file of its own marked with the memo's generation (``_Rows``)
    shards: int
    generation: bytes
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
    counts: tuple[tuple[str, int], ...]  # resources by kind
    # the rows with JavaScript code (``seg validate``'s node check), kept here too: a summary
    # reads no shard
    javascript: tuple[tuple[int, tuple[Any, ...]], ...]
    # what checking a few edited files against the rest needs (``seg.workspace.delta``),
    # marshalled; None when the load could not say it
    sections: bytes | None


@dataclass(frozen=True)
class Summary:
    """What ``seg validate`` tells of a kept load, its resources left unread: the counts by
    kind, the warnings, the missing variables, the values to hide and the resources with
    JavaScript code."""

    counts: dict[str, int]
    warnings: tuple[Any, ...]
    missing: tuple[Any, ...]
    secret_values: frozenset[str]
    javascript: tuple[DesiredResource, ...]


class Base:
    """A kept load some of whose files changed since: what ``seg.workspace.delta`` checks an
    edit against. ``changed``: the files whose identity is not the kept one."""

    def __init__(self, root: Path, kept: _Kept, changed: set[str], env: EnvValues,
                 secret_values: frozenset[str]) -> None:  # fmt: skip
        self._kept = kept
        self._env = env
        self.changed = changed
        self.secret_values = secret_values
        self.counts = dict(kept.counts)
        self._rows = _Rows(root, kept.result, dict(kept.javascript))
        self._templates: dict[int, list[tuple[tuple[Any, ...], str]]] | None = None

    def sections(self) -> Any:
        assert self._kept.sections is not None
        return marshal.loads(self._kept.sections)

    def values_of(self, names: Iterable[str]) -> set[str]:
        """The values the variables ``names`` hold (those set and not empty)."""
        return {value for name in names if (value := self._env.value(name))}

    def _templates_of(self, row: int) -> list[tuple[tuple[Any, ...], str]]:
        if self._templates is None:
            self._templates = {}
            for index, path, template in self._kept.result.templates:
                self._templates.setdefault(index, []).append((path, template))
        return self._templates.get(row, [])

    def javascript(self) -> list[DesiredResource]:
        """The kept resources with JavaScript code."""
        return [self.resource(row) for row, _ in self._kept.javascript]

    def resource(self, row: int) -> DesiredResource:
        """The kept resource of ``row``, its values from the environment made again (raises
        ``Stale`` when another load rewrote the memo meanwhile)."""
        res = _restored_row(self._rows.row(row))
        for path, template in self._templates_of(row):
            set_path(res.fields, path, self._env.made(template))
        return res

    def fields(self, row: int) -> tuple[Mapping[str, Any], tuple[Any, ...]]:
        """The fields of the kept resource of ``row`` and its unknown paths, without making
        the resource (a rule reading every resource of a kind reads thousands)."""
        values = self._rows.row(row)
        fields = values[2]
        for path, template in self._templates_of(row):
            set_path(fields, path, self._env.made(template))
        return fields, values[9]  # tuples, as marshal gives them back

    def resources(self) -> list[DesiredResource]:
        """Every kept resource, in order (raises ``Stale`` as ``resource``)."""
        out = [_restored_row(row) for row in self._rows.every()]
        for index, path, template in self._kept.result.templates:
            set_path(out[index].fields, path, self._env.made(template))
        return out


class Stale(Exception):
    """A shard of rows is missing or of another generation of the memo (rewritten since)."""


class _Rows:
    """The kept rows, read a shard at a time: a few edited files need a few of them."""

    def __init__(self, root: Path, result: _Result, known: dict[int, tuple[Any, ...]]) -> None:
        self._root = root
        self._result = result
        self._known = known  # rows at hand
        self._shards: dict[int, list[tuple[Any, ...]]] = {}

    def _shard(self, number: int) -> list[tuple[Any, ...]]:
        rows = self._shards.get(number)
        if rows is None:
            payload = localcache.read(self._root, ROWS_PURPOSE, *ROWS, f"{number}")
            try:
                generation, rows = marshal.loads(payload) if payload is not None else (b"", [])
            except (ValueError, EOFError, TypeError) as exc:  # sealed by this code: a bug
                raise Stale from exc
            if generation != self._result.generation:
                raise Stale
            self._shards[number] = rows
        return rows

    def row(self, index: int) -> tuple[Any, ...]:
        if index in self._known:
            return self._known[index]
        shards = self._result.shards
        return self._shard(index % shards)[index // shards]

    def every(self) -> list[tuple[Any, ...]]:
        shards = self._result.shards
        parts = [self._shard(number) for number in range(shards)]
        total = sum(len(part) for part in parts)
        return [parts[index % shards][index // shards] for index in range(total)]


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
        self._kept: Any = _UNREAD

    def _read(self) -> _Kept | None:
        """The kept load, if it was made for these inputs and every variable it looked up
        holds the value it held."""
        if self._key is None:
            return None
        if self._kept is _UNREAD:  # read once: a summary that misses turns to the base
            self._kept = localcache.read_pickled(self._root, PURPOSE, *NAME)
        kept = self._kept
        if not isinstance(kept, _Kept) or kept.inputs != self._inputs:
            return None
        for name, mac in kept.env:
            if self._env.mac(self._environ.get(name)) != mac:
                return None
        return kept

    def _secret_values(self, kept: _Kept) -> frozenset[str]:
        secrets = {self._environ.get(name) for name in kept.secret_names}
        return frozenset(v for v in secrets if v)

    def lookup(self, tree: Tree, files: Files) -> Memoised | None:
        """The kept load, if every input it was made from is as it was; else None. A tree
        that records the digests of what it reads gets the load's (when the memo has them)."""
        kept = self._read()
        if kept is None or kept.files != files:
            return None
        recorded = getattr(tree, "digests", None)
        if recorded is not None and kept.digests is None:
            return None
        try:
            resources = Base(self._root, kept, set(), self._env, frozenset()).resources()
        except Stale:  # another load rewrote the memo meanwhile: load the files
            return None
        if recorded is not None and kept.digests is not None:
            recorded.update(kept.digests)
        result = kept.result
        return Memoised(tuple(resources), self._secret_values(kept), result.missing,
                        result.warnings, result.digest)  # fmt: skip

    def summary(self, files: Files) -> Summary | None:
        """``lookup``'s answer as ``seg validate`` needs it: only the resources with
        JavaScript code are read back."""
        kept = self._read()
        if kept is None or kept.files != files:
            return None
        base = Base(self._root, kept, set(), self._env, self._secret_values(kept))
        try:
            javascript = tuple(base.javascript())
        except Stale:
            return None
        return Summary(dict(kept.counts), kept.result.warnings, kept.result.missing,
                       base.secret_values, javascript)  # fmt: skip

    def base(self, files: Sequence[tuple[str, tuple[int, ...] | None]]) -> Base | None:
        """The kept load as the base of a few edited files: the same list of files, each
        identity that differs from the kept one (or is not trusted: None) marking its file
        as changed. None when there is no such load or it did not keep its sections."""
        kept = self._read()
        if kept is None or kept.sections is None or len(kept.files) != len(files):
            return None
        changed = set()
        for (rel, identity), (now_rel, now) in zip(kept.files, files, strict=True):
            if rel != now_rel:
                return None
            if now is None or now != identity:
                changed.add(rel)
        return Base(self._root, kept, changed, self._env, self._secret_values(kept))

    def keep(self, tree: Tree, files: Files, read: Iterable[str], environ: RecordingEnviron,
             done: Memoised, sections: bytes | None = None) -> bool:
        """Write the memo of ``done``: a valid load of the tree whose files showed ``files``
        (``identities``) before it started, which read ``read`` (beyond seg.yaml and the
        overlays, which are among them). The identities are those from before any read: a
        file written during the load has another change time ever after, so the memo can
        only be found while every file is as it was when the load began. False, and nothing
        written, when the next load could not prove it: a file read outside the listing, the
        environment iterated, a value from it that cannot be templated or is elsewhere in
        the result. ``sections``: what ``seg.workspace.delta`` needs, kept alongside.
        ``keeping`` is the same in two steps (the rows may be written by another process)."""
        keeping = self.keeping(tree, files, read, environ, done.resources, done.secret_values)
        return keeping is not None and keeping.write_rows() and keeping.finish(done, sections)

    def keeping(self, tree: Tree, files: Files, read: Iterable[str], environ: RecordingEnviron,
                resources: Sequence[DesiredResource], secret_values: frozenset[str]
                ) -> Keeping | None:  # fmt: skip
        """``keep`` begun for these resources (None: no memo can be kept): ``write_rows``
        (pure but for its files, so it may run in a forked child), then ``finish`` with the
        rest of the load's result once the rows are written."""
        if self._key is None or environ.iterated or not set(read) <= {rel for rel, _ in files}:
            return None
        values = {name: self._environ.get(name) or "" for name in environ.names}
        used = {name: value for name, value in values.items() if value}
        secret_names = tuple(sorted(n for n, v in used.items() if v in secret_values))
        if set(secret_values) - {used[n] for n in secret_names}:
            return None  # a value put in by a variable not seen here: cannot be templated
        templates = _templates(resources, used)
        if templates is None:
            return None
        for index, path, template in templates:  # each template gives its value back
            if self._env.made(template) != get_path(resources[index].fields, path):
                return None
        digests = getattr(tree, "digests", None)
        return Keeping(self, files, resources, used, secret_names, templates,
                       self._env.macs(environ.names),
                       dict(digests) if digests is not None else None)  # fmt: skip


class Keeping:
    """A memo being written (``LoadMemo.keeping``): its rows, then the memo that names them."""

    def __init__(self, memo: LoadMemo, files: Files, resources: Sequence[DesiredResource],
                 used: Mapping[str, str], secret_names: tuple[str, ...],
                 templates: tuple[Template, ...], env: tuple[tuple[str, bytes | None], ...],
                 digests: dict[str, str] | None) -> None:  # fmt: skip
        self._memo = memo
        self._files = files
        self._resources = resources
        self._templates = templates
        self._blanks: dict[int, list[tuple[Any, ...]]] = {}
        for index, path, _ in templates:
            self._blanks.setdefault(index, []).append(path)
        self._secret_names = secret_names
        self._env = env
        self._digests = digests
        self._guarded = [v.encode("utf-8", "surrogatepass") for v in used.values()
                         if len(v) >= MIN_GUARDED]  # fmt: skip
        self._shards = max(1, min(MAX_SHARDS, len(resources) // ROWS_PER_SHARD))
        self._generation = secrets.token_bytes(16)

    def _row(self, index: int) -> tuple[Any, ...]:
        """Resource ``index`` as a row of plain values, each templated value blanked."""
        res = self._resources[index]
        blank = self._blanks.get(index)
        return _row(res, res.fields if blank is None else replaced_at(res.fields, blank, None))

    def write_rows(self) -> bool:
        """Write the rows' shards; False (the memo must not be kept) when a value cannot be
        marshalled or one from the environment is in a row."""
        rows = [self._row(index) for index in range(len(self._resources))]
        try:
            payloads = [marshal.dumps((self._generation, rows[number::self._shards]))
                        for number in range(self._shards)]  # fmt: skip
        except ValueError:  # a value marshal does not know: no memo
            return False
        if any(value in blob for value in self._guarded for blob in payloads):
            return False  # a value from the environment is somewhere else too
        root = self._memo._root
        return all(localcache.write(root, ROWS_PURPOSE, payload, *ROWS, f"{number}")
                   for number, payload in enumerate(payloads))  # fmt: skip

    def finish(self, done: Memoised, sections: bytes | None) -> bool:
        """Write the memo of ``done`` naming the rows ``write_rows`` wrote (their success
        is the caller's to know)."""
        result = _Result(self._shards, self._generation, self._templates, done.missing,
                         done.warnings, done.digest)  # fmt: skip
        counts: dict[str, int] = {}
        javascript = []
        for index, res in enumerate(self._resources):
            counts[res.kind.name] = counts.get(res.kind.name, 0) + 1
            if res.kind.javascript_fields:
                javascript.append((index, self._row(index)))
        kept = _Kept(self._memo._inputs, self._files, self._env, self._secret_names, result,
                     self._digests, tuple(sorted(counts.items())), tuple(javascript),
                     sections)  # fmt: skip
        payload = pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL)
        if any(value in payload for value in self._guarded):
            return False  # a value from the environment is somewhere else too
        return localcache.write(self._memo._root, PURPOSE, payload, *NAME)


Seen = list[tuple[str, tuple[int, ...] | None]]  # each file with its identity, if it has one


def identities(tree: Tree, listing: list[str]) -> Seen | None:
    """Each file of ``listing`` with its identity (``FsTree.stat_identity``: None for a file
    that has none), however recent; None when the tree is not a directory on disk (or a
    recorder over one that ``trusts_identities``: a plan's, whose digests a hit gives back).
    ``trusted`` says whether they prove a memo."""
    identity = getattr(tree, "stat_identity", None)
    if identity is None and getattr(tree, "trusts_identities", False):
        identity = getattr(getattr(tree, "inner", None), "stat_identity", None)
    if identity is None:
        return None
    return [(rel, identity(rel)) for rel in listing]


def trusted(seen: Seen | None) -> Files | None:
    """``seen`` when every file has an identity that vouches for its content (none changed
    in the last two seconds); else None."""
    if seen is None or any(known is None or recent(known) for _, known in seen):
        return None
    return tuple(seen)  # type: ignore[arg-type]


Template = tuple[int, tuple[Any, ...], str]  # (row, path, template)


def _templates(resources: Sequence[DesiredResource], used: Mapping[str, str]
               ) -> tuple[Template, ...] | None:  # fmt: skip
    """The template of each value at a secret path (a row holds None there instead). None
    when a value from the environment is not a string (it cannot be templated)."""
    templates: list[Template] = []
    for index, res in enumerate(resources):
        found = secret_templates(res, used)
        if found is None:
            return None
        templates += ((index, path, template) for path, template in found)
    return tuple(templates)


def _row(res: DesiredResource, fields: Any) -> tuple[Any, ...]:
    origin = res.origin
    marks = res.marks
    blob = marks.__getstate__() if isinstance(marks, LazyMarks) else pickle.dumps(
        marks, protocol=pickle.HIGHEST_PROTOCOL)  # fmt: skip
    return (res.kind.name, res.address, fields, tuple(res.secret_paths), res.protect,
            None if origin is None else (origin.file, origin.line, origin.col), blob,
            res.attachments, dict(res.value_files), tuple(res.unknown_paths))  # fmt: skip


_NONE: frozenset[Any] = frozenset()


def _restored_row(row: tuple[Any, ...]) -> DesiredResource:
    (kind, address, fields, secret_paths, protect, origin, marks, attachments, value_files,
     unknown_paths) = row  # fmt: skip
    new = object.__new__
    res = new(DesiredResource)
    lazy = new(LazyMarks)
    lazy.__setstate__(marks)
    where = None
    if origin is not None:
        where = new(Origin)
        where.__dict__.update(file=origin[0], line=origin[1], col=origin[2])
    res.__dict__.update(
        kind=KINDS[kind], address=address, fields=fields,
        secret_paths=frozenset(secret_paths) if secret_paths else _NONE, protect=protect,
        origin=where, marks=lazy, attachments=attachments, value_files=value_files,
        unknown_paths=frozenset(unknown_paths) if unknown_paths else _NONE)  # fmt: skip
    return res


