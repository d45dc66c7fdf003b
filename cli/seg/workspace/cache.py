"""The incremental validate cache: each resource file's checked documents, reused while
nothing they were computed from changed (``.seg/cache/validate/files.pickle``).

An entry is trusted only for what it can prove:

- the whole cache is sealed by ``seg.localcache`` (a key outside the tree and the code's
  fingerprint): a file a pull request committed, another seg version's cache or a damaged one
  reads as absent, and the workspace is loaded from its files (and the cache rebuilt);
- the cache as a whole belongs to one set of inputs every document depends on (seg.yaml's
  vars, the environment's overlays, the path the files are shown under): when they differ,
  no entry is used;
- an entry lists every read its result came from — the file itself and each file it links
  (``query_file``, ``code_file``, ``json_schema_file``), by (path, limit) with a SHA-256 of
  the text or the error — and every environment variable its ``${env:…}`` looked up, with an
  HMAC of the value under a key derived from the cache key (kept outside the tree). The reads
  are made again on every run and the variables looked up again: one difference and the file
  is loaded again. A read of a regular file also keeps the file's identity as the kernel
  reports it (device, inode, size, modification and change times; ``FsTree.identity``), taken
  before and after the read and kept only when both agree and the file had not changed in the
  last two seconds; while the file still shows that identity its digest is not made again
  (as git trusts its index). Any write changes the change time, which no user can set.

No value from the environment is written: the values a file's ``${env:…}`` put in are stored
as the template that makes them (``${env:NAME}``) and interpolated again on use; an entry whose
values cannot be told apart that way, or whose bytes still hold such a value, is not stored.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import pickle
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from seg import localcache
from seg.kinds import KINDS
from seg.model.paths import get_path, replaced_at, set_path
from seg.model.resource import DesiredResource
from seg.workspace.diagnostics import Diagnostic
from seg.workspace.fanout import fan_out
from seg.workspace.interpolate import Interpolation, interpolate
from seg.workspace.tree import FsTree, Tree

__all__ = ["EnvValues", "FileCache", "FileResult", "LazyMarks", "RecordingEnviron", "RecordingTree",
           "cache_enabled", "cacheable", "template_of",
           "set_cache_enabled"]  # fmt: skip

PURPOSE = "validate-files"
NAME = ("validate", "files.pickle")
_UNMADE = object()
# Files to load before half of them go to a forked child (``load_all``): a few thousand
# resources' worth, as ``fanout.MIN_ITEMS`` counts resources.
MIN_FILES = 1_000
MIN_GUARDED = 3  # as ``scrub``: shorter values are in every text (and guessed anyway)

_enabled = True  # ``--no-cache`` turns it off for the command


def set_cache_enabled(enabled: bool) -> None:
    """``--no-cache`` (the option's callback sets it on each command that has it)."""
    global _enabled
    _enabled = enabled


def cache_enabled() -> bool:
    return _enabled and os.environ.get("SEG_NO_CACHE", "") not in ("1", "true", "yes")


@dataclass
class FileResult:
    """What loading one resource file gave: its resources (in document order), its problems,
    and what it added to the loader's shared sets (broken addresses, overlays used, values
    from the environment, missing variables)."""

    resources: list[DesiredResource] = field(default_factory=list)
    problems: list[Diagnostic] = field(default_factory=list)
    broken: set[tuple[str, str]] = field(default_factory=set)
    used: set[tuple[str, str]] = field(default_factory=set)
    env_values: set[str] = field(default_factory=set)
    missing: list[Any] = field(default_factory=list)
    # names the entry the resources came from (None: not cached); see ``rules_cache``
    token: bytes | None = None


Outcome = tuple[str, ...]
Identity = tuple[int, ...] | None


@dataclass(frozen=True)
class _Entry:
    reads: tuple[tuple[str, int | None, Outcome, Identity], ...]
    env: tuple[tuple[str, bytes | None], ...]
    blob: bytes  # the pickled _Stored (no value from the environment in it)
    token: bytes  # of blob and env: names the resources' content for ``rules_cache``


@dataclass(frozen=True)
class _Stored:
    # each resource's fields (kind by name), and the template of each value from ${env:…}
    resources: tuple[tuple[dict[str, Any], tuple[tuple[tuple[Any, ...], str], ...]], ...]
    problems: tuple[Diagnostic, ...]
    broken: frozenset[tuple[str, str]]
    used: frozenset[tuple[str, str]]
    missing: tuple[Any, ...]


class RecordingTree:
    """The loader's tree, remembering each read's outcome (text digest or error)."""

    def __init__(self, inner: Tree) -> None:
        self._inner = inner
        self.reads: dict[tuple[str, int | None], Outcome] = {}
        self.identities: dict[tuple[str, int | None], Identity] = {}

    def files(self) -> list[str]:
        return self._inner.files()

    def display(self, rel: str) -> str:
        return self._inner.display(rel)

    def read(self, rel: str, limit: int | None = None) -> str:
        text, outcome, self.identities[(rel, limit)] = _steady_read(self._inner, rel, limit)
        self.reads[(rel, limit)] = outcome
        if isinstance(text, BaseException):
            raise text
        return text


def _identity(tree: Tree, rel: str) -> Identity:
    """``FsTree.identity``; None for any other tree — a plan's ``ReadRecorder`` included: a
    saved plan names the digest of every file it was computed from, so each is read."""
    identity = getattr(tree, "identity", None)
    return identity(rel) if identity is not None else None


class RecordingEnviron(Mapping[str, str]):
    """The environment, remembering each name looked up (``interpolate`` uses ``get``) and
    whether it was iterated (then what a load depends on cannot be named: the whole-load
    memo keeps nothing)."""

    def __init__(self, inner: Mapping[str, str]) -> None:
        self._inner = inner
        self.names: set[str] = set()
        self.iterated = False

    def __getitem__(self, name: str) -> str:
        self.names.add(name)
        return self._inner[name]

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str):
            self.names.add(name)
        return name in self._inner

    def __iter__(self) -> Iterator[str]:
        self.iterated = True
        return iter(self._inner)

    def __len__(self) -> int:
        self.iterated = True
        return len(self._inner)


class EnvValues:
    """What the caches of a load ask of the environment: an HMAC of a variable's value
    (under a key derived for the cache, never the value) and the value a ``${env:…}``
    template makes now (made once per run: thousands of resources share one)."""

    def __init__(self, purpose: str, environ: Mapping[str, str],
                 variables: Mapping[str, str]) -> None:  # fmt: skip
        self.key = localcache.derived_key(purpose)
        self._environ = environ
        self._variables = variables
        self._made: dict[str, Any] = {}

    def mac(self, value: str | None) -> bytes | None:
        if value is None or self.key is None:
            return None
        return hmac.new(self.key, value.encode("utf-8", "surrogatepass"), "sha256").digest()

    def value(self, name: str) -> str | None:
        return self._environ.get(name)

    def macs(self, names: Iterable[str]) -> tuple[tuple[str, bytes | None], ...]:
        """Each variable (sorted) with the HMAC of its value now (None: not set)."""
        return tuple((name, self.mac(self._environ.get(name))) for name in sorted(names))

    def made(self, template: str) -> Any:
        made = self._made.get(template, _UNMADE)
        if made is _UNMADE:
            made = interpolate(template, (), self._variables, self._environ, Interpolation())
            if isinstance(made, str | int | float | bool | None):  # immutable: safe to share
                self._made[template] = made
        return made


def _digest(text: str) -> Outcome:
    return ("text", hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest())


def _error(exc: BaseException) -> Outcome:
    return ("error", type(exc).__name__, str(exc))


def _steady_read(tree: Tree, rel: str, limit: int | None
                 ) -> tuple[str | BaseException, Outcome, Identity]:  # fmt: skip
    """Read ``rel``: the text (or the error), its outcome, and the file's identity if it
    showed the same one before and after the read (else None: it may have changed between)."""
    before = _identity(tree, rel)
    text: str | BaseException
    try:
        read = tree.read(rel, limit)
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        text, outcome = exc, _error(exc)
    else:
        text, outcome = read, _digest(read)
    steady = before is not None and _identity(tree, rel) == before
    return text, outcome, before if steady else None


def cacheable(tree: Tree) -> bool:
    """A directory on disk (or the plan's recorder over one). A git revision's tree
    (``seg check``, ``seg diff --rev``) is read without the cache: one-off reads whose entries
    would only push out the working tree's."""
    return isinstance(tree, FsTree) or isinstance(getattr(tree, "inner", None), FsTree)


class FileCache:
    """The cache for one load: ``load`` answers a file from its entry when the entry still
    holds, else runs the loader and keeps what it gave; ``save`` writes what this run used."""

    def __init__(self, root: Path, inputs: str, environ: Mapping[str, str],
                 variables: Mapping[str, str]) -> None:  # fmt: skip
        self._root = root
        self._environ = environ
        self._variables = variables
        self._env = EnvValues("validate-env", environ, variables)
        self._key = self._env.key
        self._inputs = hashlib.sha256(inputs.encode("utf-8", "surrogatepass")).hexdigest()
        self.inputs = self._inputs  # what the later caches of the run depend on too
        self._old: dict[str, _Entry] = {}
        self._new: dict[str, _Entry] = {}
        self._changed = False
        self.hits = 0
        self.complete = True  # every file loaded has an entry (``seg.workspace.memo``)
        if self._key is None:
            return
        found = localcache.read_pickled(root, PURPOSE, *NAME)
        if isinstance(found, tuple) and len(found) == 2 and found[0] == self._inputs:
            self._old = found[1]
        self._changed = len(self._old) == 0

    def load_all(self, tree: Tree, rels: Sequence[str],
                 runner: Callable[[str], Callable[[Tree, Mapping[str, str]], FileResult]]
                 ) -> list[FileResult]:  # fmt: skip
        """The result of loading each of ``rels``, in order: from its entry when every read
        and variable it depends on is as it was, else from its runner (on recording views of
        tree and env). The files without a holding entry are
        shared with a forked child when there are enough of them (``fan_out``): the
        child sends each file's entry, from which the result is rebuilt here as it arrives,
        as a warm load rebuilds it (a file it could make no entry for is loaded here)."""
        results: list[FileResult | None] = []
        todo: list[int] = []
        for place, rel in enumerate(rels):
            results.append(self._hit(tree, rel))
            if results[-1] is None:
                todo.append(place)
        if todo:
            self._changed = True

        def fresh(place: int) -> tuple[FileResult | None, _Entry | None]:
            return self._fresh(tree, runner(rels[place]))

        def landed(entry: _Entry | None) -> tuple[FileResult | None, _Entry | None]:
            return (self._restore(entry) if entry is not None else None), entry

        made = fan_out(fresh, todo, MIN_FILES, ship=lambda done: done[1], land=landed)
        for place, (result, entry) in zip(todo, made, strict=True):
            if result is None:  # the child's, with no entry to rebuild it from: loaded here
                result, entry = self._fresh(tree, runner(rels[place]))
            if entry is not None:
                self._new[rels[place]] = entry
                result.token = entry.token
            else:
                self.complete = False
            results[place] = result
        return [result for result in results if result is not None]

    def _hit(self, tree: Tree, rel: str) -> FileResult | None:
        """``rel`` from its entry, when the entry still holds (then kept for this run)."""
        entry = self._old.get(rel)
        entry = self._holding(tree, entry) if entry is not None else None
        if entry is None:
            return None
        result = self._restore(entry)
        if result is not None:
            self._new[rel] = entry
            self.hits += 1
        return result

    def _fresh(self, tree: Tree, run: Callable[[Tree, Mapping[str, str]], FileResult]
               ) -> tuple[FileResult, _Entry | None]:  # fmt: skip
        """A file loaded by ``run`` (its runner) on recording views, and its entry (None: it
        cannot be kept). Pure: it may run in a forked child."""
        recording_tree, recording_env = RecordingTree(tree), RecordingEnviron(self._environ)
        result = run(recording_tree, recording_env)
        return result, self._entry(result, recording_tree, recording_env)

    def reads_of(self, rel: str) -> tuple[tuple[str, ...], tuple[str, ...]]:
        """The files the entry of ``rel`` read (itself and the files it links) and the
        environment variables it looked up."""
        entry = self._new.get(rel)
        if entry is None:
            return (), ()
        return tuple(read[0] for read in entry.reads), tuple(name for name, _ in entry.env)

    def read_paths(self) -> set[str]:
        """Every file the entries of this load read (theirs and the files they link)."""
        return {read[0] for entry in self._new.values() for read in entry.reads}

    def forget(self, rel: str) -> None:
        """Keep no entry for ``rel`` (its documents hold something the cache must not)."""
        self.complete = False
        if self._new.pop(rel, None) is not None or rel in self._old:
            self._changed = True

    def save(self) -> None:
        if self._key is None or not (self._changed or self._new.keys() != self._old.keys()):
            return
        payload = pickle.dumps((self._inputs, self._new), protocol=pickle.HIGHEST_PROTOCOL)
        localcache.write(self._root, PURPOSE, payload, *NAME)

    def _holding(self, tree: Tree, entry: _Entry) -> _Entry | None:
        """``entry`` if every variable and read it recorded gives the same answer (a file
        still showing its recorded identity is not read), with the identities of the files
        read again brought up to date; else None."""
        for name, mac in entry.env:
            if self._env.mac(self._environ.get(name)) != mac:
                return None
        reads: list[tuple[str, int | None, Outcome, Identity]] = []
        for rel, limit, seen, known in entry.reads:
            now = _identity(tree, rel)
            if known is not None and now == known:
                reads.append((rel, limit, seen, known))
                continue
            _, outcome, steady = _steady_read(tree, rel, limit)
            if outcome != seen:
                return None
            reads.append((rel, limit, seen, steady))
        if all(new[3] == old[3] for new, old in zip(reads, entry.reads, strict=True)):
            return entry
        self._changed = True
        return replace(entry, reads=tuple(reads))

    def _entry(self, result: FileResult, tree: RecordingTree, env: RecordingEnviron
               ) -> _Entry | None:  # fmt: skip
        values = {name: self._environ.get(name) or "" for name in env.names}
        used = {name: value for name, value in values.items() if value}
        stored = []
        for res in result.resources:
            templates = secret_templates(res, used)
            if templates is None or any(self._env.made(template) != get_path(res.fields, path)
                                        for path, template in templates):  # fmt: skip
                return None  # a value from the environment we cannot template
            resource_fields = {name: getattr(res, name) for name in _RESOURCE_FIELDS}
            resource_fields["kind"] = res.kind.name
            resource_fields["marks"] = LazyMarks(res.marks)
            resource_fields["fields"] = replaced_at(res.fields, [path for path, _ in templates],
                                                    None)  # fmt: skip
            stored.append((resource_fields, tuple(templates)))
        kept = _Stored(tuple(stored), tuple(result.problems), frozenset(result.broken),
                       frozenset(result.used), tuple(result.missing))  # fmt: skip
        blob = pickle.dumps(kept, protocol=pickle.HIGHEST_PROTOCOL)
        if any(len(v) >= MIN_GUARDED and v.encode("utf-8", "surrogatepass") in blob
               for v in used.values()):  # fmt: skip
            return None  # a value from the environment reached a problem or another field
        reads = tuple((rel, limit, seen, tree.identities.get((rel, limit)))
                      for (rel, limit), seen in tree.reads.items())  # fmt: skip
        env_macs = self._env.macs(env.names)
        token = hashlib.sha256(blob + repr(env_macs).encode()).digest()[:16]
        return _Entry(reads, env_macs, blob, token)

    def _restore(self, entry: _Entry) -> FileResult | None:
        try:
            stored = pickle.loads(entry.blob)
        except Exception:  # sealed by this code: only a bug lands here, so load the file
            return None
        out = FileResult(problems=list(stored.problems), broken=set(stored.broken),
                         used=set(stored.used), missing=list(stored.missing),
                         token=entry.token)  # fmt: skip
        for name, _ in entry.env:
            value = self._environ.get(name)
            if value:  # as interpolate: an empty value counts as not set
                out.env_values.add(value)
        for resource_fields, templates in stored.resources:
            values = dict(resource_fields)
            values["kind"] = KINDS[values["kind"]]
            res = DesiredResource(**values)
            for path, template in templates:
                set_path(res.fields, path, self._env.made(template))
            out.resources.append(res)
        return out


_RESOURCE_FIELDS = tuple(f.name for f in fields(DesiredResource))


class LazyMarks(Mapping[tuple[Any, ...], Any]):
    """A resource's marks (where each value was written), kept pickled until a diagnostic or
    a report asks for one: most cached resources never need theirs."""

    def __init__(self, marks: Mapping[tuple[Any, ...], Any]) -> None:
        self._blob: bytes | None = pickle.dumps(marks, protocol=pickle.HIGHEST_PROTOCOL)
        self._marks: Mapping[tuple[Any, ...], Any] | None = None

    def _loaded(self) -> Mapping[tuple[Any, ...], Any]:
        if self._marks is None:
            assert self._blob is not None
            self._marks, self._blob = pickle.loads(self._blob), None
        return self._marks

    def __getstate__(self) -> bytes:
        return self._blob if self._blob is not None else pickle.dumps(self._marks)

    def __setstate__(self, blob: bytes) -> None:
        self._blob, self._marks = blob, None

    def __getitem__(self, path: tuple[Any, ...]) -> Any:
        return self._loaded()[path]

    def __iter__(self) -> Iterator[tuple[Any, ...]]:
        return iter(self._loaded())

    def __len__(self) -> int:
        return len(self._loaded())


def secret_templates(res: DesiredResource, used: Mapping[str, str]
                     ) -> list[tuple[tuple[Any, ...], str]] | None:  # fmt: skip
    """The template (``template_of``) of each string value at a secret path of ``res``, in
    the order of their paths; None when a value from the environment is not a string (it
    cannot be templated). A non-string secret value with no variable in use is left as it is."""
    templates = []
    for path in sorted(res.secret_paths, key=repr) if res.secret_paths else ():
        value = get_path(res.fields, path)
        if not isinstance(value, str):
            if used:
                return None
            continue
        templates.append((path, template_of(value, used)))
    return templates


def template_of(value: str, used: Mapping[str, str]) -> str:
    """``value`` as a template: each place holding a variable's value as ``${env:NAME}``
    (longest value first), every other ``$`` doubled."""
    present = [(name, text) for name, text in used.items() if text in value]
    if not present:  # the common cases first: no variable's value in it, or one is all of it
        return value.replace("$", "$$")
    whole = sorted(name for name, text in present if text == value)
    if whole:
        return f"${{env:{whole[0]}}}"
    by_length = sorted(present, key=lambda item: (-len(item[1]), item[0]))
    out: list[str] = []
    i = 0
    while i < len(value):
        for name, text in by_length:
            if value.startswith(text, i):
                out.append(f"${{env:{name}}}")
                i += len(text)
                break
        else:
            out.append("$$" if value[i] == "$" else value[i])
            i += 1
    return "".join(out)
