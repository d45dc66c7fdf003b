"""What a write did to a resource, value by value, as the audit trail keeps it: one entry per
changed value, ``{"path", "before", "after"}``, with ``before`` left out for a value that did
not exist and ``after`` for one that no longer does. Pure: the services hand over the stored
records on either side of the write.

The granularity is a plan's: the leaves of nested maps (an empty map is a leaf), a list one
value compared whole — except a tracking plan's rules (``FieldSpec.rule_items``), one entry
per rule changed (``tracking_plan.rules[TRACK 'Order Completed' v1]``), as its ``…/rules``
endpoint writes them and a plan shows them. Paths are ``seg.model.paths.format_path``'s,
under the kind's key (``destination.settings.apiKey``), as the trail's changed paths are;
the ownership metadata that changed comes last, as ``protect`` and ``manager``.

Secrets never show. A value at or under one of a record's secret paths (the stored data
holds its keyed digest there, the sealed value lives elsewhere), and any digest wherever it
is, reads ``"set"`` — inside a list too — and its entry carries ``"secret": true``. Equal
digests are the same value; a value the write sealed anew (``rewritten``: the secrets its
update mask wrote) is a change even when the digest cannot tell, ``"set"`` → ``"set"``.

Bounded, so that one write cannot bloat the trail: at most ``MAX_ENTRIES`` entries, then one
``{"path": "…", "more": N}``; a value whose compact JSON is longer than ``MAX_VALUE``
characters is ``{"truncated": <that length>}``.
"""

from __future__ import annotations

import json
import marshal
from collections.abc import Collection
from typing import Any

from seg.kinds import KINDS
from seg.model.paths import MISSING, AnyPath, format_path, parse_path
from seg.model.secrets import is_digest, is_legacy_digest
from seg.model.values import json_equal
from seg.store.base import ResourceRecord
from seg.tracking.rules import rule_label

__all__ = ["MAX_ENTRIES", "MAX_VALUE", "MORE_PATH", "SECRET_SHOWN", "field_changes"]

MAX_ENTRIES = 200  # entries per event; then one {"path": MORE_PATH, "more": N}
MAX_VALUE = 2000  # characters of a value's compact JSON; longer: {"truncated": length}
MORE_PATH = "…"  # the path of the entry that counts the entries left off
SECRET_SHOWN = "set"  # what a secret value reads as
# The ownership metadata an entry may name, and the value that stands for "none" (a create
# or a delete names it only when it is something else).
_OWNERSHIP: tuple[tuple[str, Any], ...] = (("protect", False), ("manager", ""))

# A changed value: its path's text, and on each side the value (MISSING: none) and its path
# in that side's data (None: not a field, ownership metadata), which says where its secrets are.
Found = tuple[str, Any, AnyPath | None, Any, AnyPath | None]


class _Secret:
    """A secret's place in a value: the digest stored there (compared, never shown) and
    whether the write sealed a new value there."""

    __slots__ = ("digest", "rewritten")

    def __init__(self, digest: Any, rewritten: bool = False) -> None:
        self.digest = digest
        self.rewritten = rewritten

    def __eq__(self, other: object) -> bool:
        """The same value: nothing sealed anew, and the same digest (a legacy digest is the
        one the write re-keyed, not a new value)."""
        if not isinstance(other, _Secret) or self.rewritten or other.rewritten:
            return False
        mine, theirs = self.digest, other.digest
        return is_legacy_digest(mine) or is_legacy_digest(theirs) or json_equal(mine, theirs)

    def __repr__(self) -> str:  # whatever prints it shows no digest
        return SECRET_SHOWN


def field_changes(before: ResourceRecord | None, after: ResourceRecord | None,
                  rewritten: Collection[str] = ()) -> list[dict[str, Any]]:  # fmt: skip
    """The entries of a write that turned ``before`` into ``after`` (None: a create, or a
    delete — every value is then an ``after``, or a ``before``); ``rewritten``: the secret
    paths of ``after`` whose value the write sealed anew."""
    rec = after or before
    if rec is None:
        return []
    kind = KINDS.get(rec.kind)
    diff = _Diff(rec.kind if kind is None else kind.key,
                 _paths(() if before is None else before.secret_paths),
                 _paths(() if after is None else after.secret_paths), _paths(rewritten))
    rules = set() if kind is None else {spec.name for spec in kind.fields if spec.rule_items}
    old = {} if before is None else before.data
    new = {} if after is None else after.data
    for name in sorted(old.keys() | new.keys()):
        was, now = old.get(name, MISSING), new.get(name, MISSING)
        if name not in rules or not diff.rules((name,), was, now):
            diff.walk((name,), was, now)
    diff.found += _ownership(before, after)
    entries = [diff.entry(*one) for one in diff.found[:MAX_ENTRIES]]
    if len(diff.found) > MAX_ENTRIES:
        entries.append({"path": MORE_PATH, "more": len(diff.found) - MAX_ENTRIES})
    return entries


def _paths(raw: Collection[str]) -> frozenset[AnyPath]:
    out = set()
    for text in raw:
        try:
            out.add(parse_path(text))
        except ValueError:
            continue
    return frozenset(out)


class _Diff:
    """One write's changed values, found by walking both sides' data once — the stored
    values, never copied: only what changed is looked at again (secrets hidden, bounded)."""

    def __init__(self, key: str, old: frozenset[AnyPath], new: frozenset[AnyPath],
                 rewritten: frozenset[AnyPath]) -> None:  # fmt: skip
        self.key = key
        self.old, self.new, self.rewritten = old, new, rewritten
        self.found: list[Found] = []

    def walk(self, rel: AnyPath, was: Any, now: Any) -> None:
        """The changed leaves between two values at ``rel``: maps key by key (sorted), a
        secret, a list or a scalar whole."""
        was = _leaf(was, rel, self.old, False)
        now = _leaf(now, rel, self.new, rel in self.rewritten)
        if isinstance(was, dict) and isinstance(now, dict):
            for key in sorted(was.keys() | now.keys()):
                self.walk((*rel, key), was.get(key, MISSING), now.get(key, MISSING))
        elif isinstance(was, dict) and was:  # a map removed, or replaced by a leaf
            if now is not MISSING:
                self.add(format_path((self.key, *rel)), MISSING, rel, now, rel)
            for key in sorted(was):
                self.walk((*rel, key), was[key], MISSING)
        elif isinstance(now, dict) and now:  # a map added, or in place of a leaf
            if was is not MISSING:
                self.add(format_path((self.key, *rel)), was, rel, MISSING, rel)
            for key in sorted(now):
                self.walk((*rel, key), MISSING, now[key])
        elif was is not MISSING or now is not MISSING:
            self.compare(format_path((self.key, *rel)), was, rel, now, rel)

    def rules(self, rel: AnyPath, was: Any, now: Any) -> bool:
        """One entry per rule added, removed or changed (``<path>[<rule's label>]``); False
        when the rules cannot be told apart by label (then the list is one value)."""
        old, new = _by_label(was), _by_label(now)
        if old is None or new is None:
            return False
        text = format_path((self.key, *rel))
        for label in sorted(old.keys() | new.keys()):
            (i, rule_was), (j, rule_now) = old.get(label, _NONE), new.get(label, _NONE)
            self.compare(f"{text}[{label}]", rule_was, (*rel, i), rule_now, (*rel, j))
        return True

    def compare(self, text: str, was: Any, was_at: AnyPath, now: Any, now_at: AnyPath) -> None:
        if (was is MISSING or now is MISSING or isinstance(was, _Secret)
                or isinstance(now, _Secret)):  # fmt: skip
            changed = was != now  # a secret is only ever its equal
        elif any(path[: len(now_at)] == now_at for path in self.rewritten):
            changed = True  # a secret inside it was sealed anew
        else:  # equal as stored, or equal but for a legacy digest the write re-keyed
            changed = not _same(was, now) and not json_equal(_wrapped(was, was_at, self.old),
                                                             _wrapped(now, now_at, self.new))
        if changed:
            self.add(text, was, was_at, now, now_at)

    def add(self, text: str, was: Any, was_at: AnyPath, now: Any, now_at: AnyPath) -> None:
        self.found.append((text, was, was_at, now, now_at))

    def entry(self, text: str, was: Any, was_at: AnyPath | None, now: Any,
              now_at: AnyPath | None) -> dict[str, Any]:  # fmt: skip
        entry: dict[str, Any] = {"path": text}
        secret = False
        for side, value, at, secrets in (("before", was, was_at, self.old),
                                         ("after", now, now_at, self.new)):  # fmt: skip
            if value is not MISSING:
                shown, hidden = _shown(_wrapped(value, at, secrets))
                entry[side] = _bounded(shown)
                secret = secret or hidden
        if secret:
            entry["secret"] = True
        return entry


_NONE: tuple[int, Any] = (0, MISSING)  # a rule on neither side


def _leaf(value: Any, at: AnyPath, secrets: frozenset[AnyPath], rewritten: bool) -> Any:
    """``value`` as a ``_Secret`` when it is one (at a secret path, or a digest)."""
    if value is not MISSING and (at in secrets or is_digest(value)):
        return _Secret(value, rewritten)
    return value


def _wrapped(value: Any, at: AnyPath | None, secrets: frozenset[AnyPath]) -> Any:
    """``value`` (at ``at`` in its data; None: not a field) with every secret in it, at any
    depth, as a ``_Secret``."""
    if value is MISSING or isinstance(value, _Secret):
        return value
    if (at is not None and at in secrets) or is_digest(value):
        return _Secret(value)
    if isinstance(value, dict):
        return {k: _wrapped(v, None if at is None else (*at, k), secrets)
                for k, v in value.items()}  # fmt: skip
    if isinstance(value, list):
        return [_wrapped(v, None if at is None else (*at, i), secrets)
                for i, v in enumerate(value)]  # fmt: skip
    return value


def _same(a: Any, b: Any) -> bool:
    """``json_equal``, fast for the usual case of equal stored values (a plan's thousands of
    rules): Python's equality is looser than JSON's (``True == 1``), never stricter, and
    values ``marshal`` writes alike are equal — its format 2 tells a bool from a number and
    writes no back-references, so equal values usually serialise alike (else
    ``json_equal`` decides)."""
    if a != b:
        return False
    return marshal.dumps(a, 2) == marshal.dumps(b, 2) or json_equal(a, b)


def _by_label(rules: Any) -> dict[str, tuple[int, Any]] | None:
    if rules is MISSING:
        return {}
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        return None
    labelled = {rule_label(r): (i, r) for i, r in enumerate(rules)}
    return labelled if len(labelled) == len(rules) else None


def _ownership(before: ResourceRecord | None, after: ResourceRecord | None) -> list[Found]:
    found: list[Found] = []
    for name, unset in _OWNERSHIP:
        was, now = (MISSING if rec is None else getattr(rec, name) for rec in (before, after))
        if before is None or after is None:  # a create or a delete names only what is set
            was, now = (MISSING if v is MISSING or json_equal(v, unset) else v
                        for v in (was, now))  # fmt: skip
        if was is MISSING and now is MISSING:
            continue
        if was is MISSING or now is MISSING or not json_equal(was, now):
            found.append((name, was, None, now, None))
    return found


def _shown(value: Any) -> tuple[Any, bool]:
    """``value`` with each secret as ``"set"``, and whether it held one."""
    if isinstance(value, _Secret):
        return SECRET_SHOWN, True
    if isinstance(value, dict):
        pairs = {k: _shown(v) for k, v in value.items()}
        return {k: v for k, (v, _) in pairs.items()}, any(h for _, h in pairs.values())
    if isinstance(value, list):
        items = [_shown(v) for v in value]
        return [v for v, _ in items], any(h for _, h in items)
    return value, False


def _bounded(value: Any) -> Any:
    if value is None or isinstance(value, bool | int | float):
        return value  # a scalar's JSON is short
    if isinstance(value, str) and len(value) * 6 + 2 <= MAX_VALUE:
        return value  # even escaped whole (\uXXXX) it fits
    text = json.dumps(value, separators=(",", ":"), ensure_ascii=False)
    return {"truncated": len(text)} if len(text) > MAX_VALUE else value
