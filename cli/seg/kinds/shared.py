"""Rule makers several kinds share: FQL that must parse, a cap on children per parent, and a
reference that must be cleared before it is switched. Pure."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar
from weakref import WeakKeyDictionary

from seg.model.kinds import Code, Kind, Lookup, Rule, Subject, Violation
from seg.model.secrets import is_digest
from seg.model.wording import plural

__all__ = ["fql_rule", "per_lookup", "per_parent_limit", "readable_names", "reconnect_rule"]

T = TypeVar("T")


def per_lookup(compute: Callable[[Lookup], T]) -> Callable[[Lookup], T]:
    """``compute`` once per lookup: a lookup is one snapshot (the declared workspace, or one
    write's transaction), so a workspace-wide count made for one subject holds for the next,
    and validating N resources stays linear instead of counting N times.

    A view that records one resource's reads (``seg.workspace.rules_cache``) names the
    snapshot it views (``memo_base``): the value is computed once for that snapshot, on a
    recording of its own (``recorded``), and every view that uses it is told what it read
    (``note``), so a cached rule result still knows what it depends on."""
    cache: WeakKeyDictionary[Lookup, tuple[T, Any]] = WeakKeyDictionary()

    def cached(lookup: Lookup) -> T:
        base: Lookup | None = getattr(lookup, "memo_base", None)
        key = lookup if base is None else base
        try:
            entry: tuple[T, Any] | None = cache[key]
        except (KeyError, TypeError):  # TypeError: a lookup that takes no weak reference
            entry = None
        # a view needs the reads: a value made on the snapshot itself (for a resource without
        # a cache entry) is made again on a recording
        if entry is None or (base is not None and entry[1] is None):
            if base is None:
                entry = (compute(lookup), None)
            else:
                entry = lookup.recorded(compute)  # type: ignore[attr-defined]
            try:
                cache[key] = entry
            except TypeError:
                pass
        if base is not None:
            lookup.note(entry[1])  # type: ignore[attr-defined]
        return entry[0]

    return cached


def fql_rule(field: str) -> Rule:
    """The value of ``field`` must parse as FQL (the platform drops every event when it does
    not); a secret value is never echoed, and a sealed one was checked in clear."""

    def rule(subject: Subject, _lookup: Lookup) -> list[Violation]:
        text = subject.fields.get(field)
        if not isinstance(text, str) or is_digest(text) or subject.is_unknown((field,)):
            return []
        from seg.fql.parser import FqlError, parse  # lark loads only for FQL

        try:
            parse(text)
        except FqlError as exc:
            where = f"{subject.kind.key}.{field}"
            if (field,) in subject.secret_paths:
                problem = "the value from the environment (a secret) is not valid FQL"
            else:
                problem = f"invalid FQL: {exc}"
            return [Violation((field,), f"{where}: {problem}", "fql")]
        return []

    return rule


def per_parent_limit(limit: int, noun: str) -> Rule:
    """At most ``limit`` resources of the subject's kind under its parent (a destination)."""

    def rule(subject: Subject, lookup: Lookup) -> list[Violation]:
        parent_kind = subject.kind.parent_kind
        if parent_kind is None:
            return []
        parent = subject.address.rsplit("/", 1)[0]
        count = len(lookup.under(subject.kind.name, parent))
        if count <= limit:
            return []
        message = f"{parent_kind.noun} {parent!r} has {count} {noun}; the limit is {limit}"
        path = (subject.kind.parent_field or parent_kind.key,)
        return [Violation(path, message, f"{subject.kind.key}/limit", Code.FAILED_PRECONDITION)]

    return rule


def reconnect_rule(field: str, what: str) -> Rule:
    """A reference that holds one value at a time: switching it needs a clear first."""

    def rule(subject: Subject, _lookup: Lookup) -> list[Violation]:
        new = subject.fields.get(field)
        old = (subject.before or {}).get(field)
        if not new or not old or old == new:
            return []
        message = (
            f"the {subject.kind.noun} is already connected to {what} {old}; a "
            f"{subject.kind.noun} has at most one {what}, so disconnect it first"
        )
        return [Violation((field,), message, f"{subject.kind.key}/reconnect",
                          Code.FAILED_PRECONDITION)]  # fmt: skip

    return rule


def readable_names(subject: Subject, found: list[tuple[str, str, str]], noun: str) -> str:
    """What a refusal names: the text of each of ``found`` (kind name, address, text) the
    caller may read, then how many others there are (``2 sources you may not read``)."""
    shown = [text for kind, address, text in found if subject.visible(kind, address)]
    hidden = len(found) - len(shown)
    if hidden:
        shown.append(f"{plural(hidden, noun)} you may not read")
    return ", ".join(shown)


def parent_property(parent: Kind, description: str) -> dict[str, Any]:
    """The spec schema of a child kind's parent field: the parent's address, each segment
    matching the name pattern of its kind in the chain (``source/destination``)."""
    segments = [kind.name_pattern.removeprefix("^").removesuffix("$") for kind in parent.chain()]
    return {
        "type": "string",
        "pattern": "^" + "/".join(segments) + "$",
        "description": description,
        "x-seg-parent": True,
    }
