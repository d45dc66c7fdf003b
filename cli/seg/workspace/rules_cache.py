"""The incremental part of the cross-document checks: each resource's rule diagnostics and its
share of the workspace digest, reused while nothing they were computed from changed
(``.seg/cache/validate/rules.pickle``, sealed like every local cache).

A resource's *token* names its content: the file entry it was loaded from (``FileCache``: the
file's bytes, the files it links, the variables it uses) and its place in that file, with its
secret paths (the catalog's secrets are added after loading). A resource loaded without an
entry has no token and is always checked again.

The kinds' rules read other resources only through their ``Lookup``. A recording lookup keeps
what each resource's rules read — the token of each resource ``get`` returned (or its
absence), the tokens of the children ``under`` listed and of the resources of each kind
``every`` listed — and the next run re-runs a resource's rules when its own token or any of
these changed. Reading ``dbt`` (the dbt projects, read again on every run) always re-runs.
The catalog and the plan tier belong to the cache as a whole (``inputs``).
"""

from __future__ import annotations

import hashlib
import json
import pickle
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from seg import localcache
from seg.catalog import Catalog
from seg.model.kinds import DbtLinks, Lookup
from seg.model.resource import DesiredResource
from seg.workspace.diagnostics import Diagnostic
from seg.workspace.references import rule_diagnostics

__all__ = ["ResourceKey", "RulesCache", "Token", "resource_key"]

PURPOSE = "validate-rules"
NAME = ("validate", "rules.pickle")

ResourceKey = tuple[str, str, str, int, int]  # kind, address, and where it is declared
Token = bytes
Dep = tuple[str, ...]


def resource_key(res: DesiredResource) -> ResourceKey:
    origin = res.origin
    where = (origin.file, origin.line, origin.col) if origin is not None else ("", 0, 0)
    return (res.kind.name, res.address, *where)


@dataclass(frozen=True)
class _Record:
    token: Token
    deps: tuple[tuple[Dep, Token | None], ...]
    found: tuple[Diagnostic, ...]


class _RecordingLookup:
    """``inner`` with every read of another resource remembered (``Lookup``)."""

    def __init__(self, inner: Lookup) -> None:
        self._inner = inner
        self.deps: dict[Dep, None] = {}

    @property
    def memo_base(self) -> Lookup:
        """The snapshot this view records reads of (``seg.kinds.shared.per_lookup``)."""
        return self._inner

    def recorded(self, compute: Callable[[Lookup], Any]) -> tuple[Any, tuple[Dep, ...]]:
        """``compute`` on the snapshot, with what it read."""
        view = _RecordingLookup(self._inner)
        return compute(view), tuple(view.deps)

    def note(self, reads: Iterable[Dep]) -> None:
        """Reads made on this view's behalf (a value computed once for the snapshot)."""
        self.deps.update(dict.fromkeys(reads))

    def get(self, kind_name: str, address: str) -> Mapping[str, Any] | None:
        self.deps[("get", kind_name, address)] = None
        return self._inner.get(kind_name, address)

    def under(self, kind_name: str, parent_address: str
              ) -> Sequence[tuple[str, Mapping[str, Any]]]:  # fmt: skip
        self.deps[("under", kind_name, parent_address)] = None
        return self._inner.under(kind_name, parent_address)

    def every(self, kind_name: str) -> Iterable[tuple[str, Mapping[str, Any]]]:
        self.deps[("every", kind_name)] = None
        return self._inner.every(kind_name)

    @property
    def catalog(self) -> Catalog:
        return self._inner.catalog

    @property
    def plan_tier(self) -> str | None:
        return self._inner.plan_tier

    @property
    def dbt(self) -> DbtLinks | None:
        self.deps[("dbt",)] = None
        return self._inner.dbt


class RulesCache:
    """One run's rule and digest memo: ``prepare`` with the loaded resources and their file
    tokens, then ``rules`` (for ``check_references``), ``digest`` and ``save``."""

    def __init__(self, root: Path, inputs: str) -> None:
        self._root = root
        self._inputs = hashlib.sha256(inputs.encode("utf-8", "surrogatepass")).hexdigest()
        self._old_rules: dict[ResourceKey, _Record] = {}
        self._old_parts: dict[ResourceKey, tuple[Token, str]] = {}
        self._rules: dict[ResourceKey, _Record] = {}
        self._parts: dict[ResourceKey, tuple[Token, str]] = {}
        self._tokens: dict[ResourceKey, Token] = {}
        self._index: dict[tuple[str, str], Token | None] = {}
        self._groups: dict[Dep, Token | None] = {}
        self.reused = 0
        self._dbt = False
        self._changed = False
        found = localcache.read_pickled(root, PURPOSE, *NAME)
        if isinstance(found, tuple) and len(found) == 3 and found[0] == self._inputs:
            self._old_rules, self._old_parts = found[1], found[2]

    def prepare(self, resources: list[DesiredResource], tokens: Mapping[ResourceKey, Token],
                dbt: bool) -> None:  # fmt: skip
        """The resources as checked (catalog secrets added) and the token of each that came
        with one (file token and place); the first of a duplicate address is the one looked up,
        as ``check_references`` indexes them. ``dbt``: whether dbt projects were read (rules
        that read them run again)."""
        self._dbt = dbt
        for res in resources:
            key = resource_key(res)
            token = tokens.get(key)
            if token is not None:
                own = repr(sorted(map(repr, res.secret_paths))).encode()
                self._tokens[key] = hashlib.sha256(token + b"\0" + own).digest()[:16]
            self._index.setdefault((res.kind.name, res.address), token)

    def known(self, res: DesiredResource) -> list[Diagnostic] | None:
        """What the rules of ``res`` found last time, when the resource and all its rules
        read are as they were (then kept for this run); else None: ``fresh`` must run."""
        key = resource_key(res)
        token = self._tokens.get(key)
        old = self._old_rules.get(key)
        if token is None or old is None or old.token != token or not all(
                seen is not None and self._dep(dep) == seen for dep, seen in old.deps):  # fmt: skip
            return None
        self._rules[key] = old
        self.reused += 1
        return list(old.found)

    def fresh(self, res: DesiredResource, lookup: Lookup
              ) -> tuple[list[Diagnostic], tuple[Dep, ...] | None]:  # fmt: skip
        """``rule_diagnostics`` and what the rules read (None: the resource is not memoised,
        as it came without a token). Pure, so it may run in a forked child
        (``fan_out``); ``keep`` records its result here."""
        if resource_key(res) not in self._tokens:
            return rule_diagnostics(res, lookup), None
        recording = _RecordingLookup(lookup)
        found = rule_diagnostics(res, recording)
        return found, tuple(recording.deps)

    def keep(self, res: DesiredResource, found: list[Diagnostic], deps: tuple[Dep, ...]
             ) -> None:  # fmt: skip
        """Remember what ``fresh`` gave for ``res``, with the token of each thing it read."""
        key = resource_key(res)
        self._rules[key] = _Record(self._tokens[key], tuple((dep, self._dep(dep)) for dep in deps),
                                   tuple(found))  # fmt: skip
        self._changed = True

    def reads(self, res: DesiredResource) -> tuple[Dep, ...] | None:
        """What the rules of ``res`` read this run (None: they ran without a record)."""
        record = self._rules.get(resource_key(res))
        return None if record is None else tuple(dep for dep, _ in record.deps)

    def _dep(self, dep: Dep) -> Token | None:
        if dep[0] == "get":
            return self._index.get((dep[1], dep[2]), b"absent")
        if dep[0] == "dbt":
            return None if self._dbt else b"no dbt"
        if not self._groups:
            self._group_tokens()
        return self._groups.get(dep, b"empty")

    def _group_tokens(self) -> None:
        """The token of each list ``under`` and ``every`` give: of its members' tokens, in
        order (None when one has none)."""
        members: dict[Dep, list[Token | None]] = {}
        for (kind, address), token in self._index.items():
            members.setdefault(("every", kind), []).append(token)
            parent, sep, _ = address.rpartition("/")
            if sep:
                members.setdefault(("under", kind, parent), []).append(token)
        self._groups[("",)] = None  # built
        for dep, tokens in members.items():
            if any(t is None for t in tokens):
                self._groups[dep] = None
            else:
                self._groups[dep] = hashlib.sha256(b"".join(tokens)).digest()  # type: ignore[arg-type]

    def digest(self, resources: Iterable[DesiredResource],
               digest_part: Callable[[DesiredResource], Any]) -> str:  # fmt: skip
        """``loader._digest``: the SHA-256 of the JSON list of every resource's part, each
        part kept with the resource's token."""
        parts: list[str] = []
        for res in resources:
            key = resource_key(res)
            token = self._tokens.get(key)
            old = self._old_parts.get(key)
            if token is not None and old is not None and old[0] == token:
                part = old[1]
            else:
                part = json.dumps(digest_part(res), sort_keys=True)
            if token is not None:
                self._parts[key] = (token, part)
                self._changed |= old is None or old[0] != token
            parts.append(part)
        return hashlib.sha256(f"[{', '.join(parts)}]".encode()).hexdigest()

    def save(self) -> None:
        if not self._parts:  # the workspace was invalid: no digest made, keep the last parts
            self._parts = self._old_parts
        unchanged = not self._changed and len(self._rules) == len(self._old_rules)
        if unchanged and len(self._parts) == len(self._old_parts):
            return
        payload = pickle.dumps((self._inputs, self._rules, self._parts),
                               protocol=pickle.HIGHEST_PROTOCOL)  # fmt: skip
        localcache.write(self._root, PURPOSE, payload, *NAME)
