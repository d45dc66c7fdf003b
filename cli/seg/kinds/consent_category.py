"""ConsentCategory: a consent category of the workspace (``Advertising``) and the destinations
it is mapped to. An event whose ``context.consent.categoryPreferences`` does not consent to
every category a destination is mapped to does not reach that destination; destinations no
category maps receive every event. The YAML name is the category id, the key in
``categoryPreferences``: case-sensitive, so ``Advertising`` and ``advertising`` are two
categories. Only workspace owners create, edit, disable or delete categories (IAM)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seg.kinds import destination
from seg.kinds.catalogs import catalog_id, entry_for
from seg.kinds.shared import parent_property, per_lookup
from seg.model.kinds import (
    AccessScope,
    Code,
    FieldSpec,
    Kind,
    Lookup,
    Ref,
    Subject,
    Violation,
    warns_only,
)
from seg.model.wording import plural

__all__ = [
    "CATEGORY_PATTERN",
    "KIND",
    "MAX_CATEGORIES",
    "MAX_DESTINATIONS",
]

NAME = "ConsentCategory"
DESTINATION = destination.KIND.name
# The category id: case-sensitive, not starting with a digit, fewer than 35 characters (the
# docs); letters, digits, '_' and '-' (it is also part of URLs and file names).
CATEGORY_PATTERN = r"^[A-Za-z][A-Za-z0-9_-]{0,33}$"
NAME_HINT = (
    "is not a consent category id: it must start with a letter (not a digit), hold only "
    "letters, digits, '_' and '-', and have fewer than 35 characters (ids are case-sensitive)"
)
# Bounds of ours (the docs give none): a category maps at most this many destinations, and a
# workspace holds at most this many categories.
MAX_DESTINATIONS = 200
MAX_CATEGORIES = 50


def _destinations(fields: Mapping[str, Any]) -> list[str]:
    value = fields.get("destinations")
    return [d for d in value if isinstance(d, str)] if isinstance(value, list) else []


def _references(fields: Mapping[str, Any]) -> list[Ref]:
    """Each mapped destination must exist (and is deleted only after the mapping goes)."""
    return [(DESTINATION, address, ("destinations",)) for address in _destinations(fields)]


def _type_of(fields: Mapping[str, Any]) -> str | None:
    return catalog_id(fields)


@per_lookup
def _by_type(lookup: Lookup) -> dict[str, list[str]]:
    """The workspace's destinations by type, read once per lookup: a category naming many
    types (and every category of a workspace) does not read every destination per type."""
    found: dict[str, list[str]] = {}
    for address, fields in lookup.every(DESTINATION):
        kind = _type_of(fields)
        if kind is not None:
            found.setdefault(kind, []).append(address)
    return found


@warns_only
def _every_instance(subject: Subject, lookup: Lookup) -> list[Violation]:
    """A mapping applies to every instance of a destination type (the docs): mapping one
    Amplitude destination maps every Amplitude destination of the workspace. A warning names
    the other instances the category does not list, so the YAML says what happens."""
    if subject.is_unknown(("destinations",)):
        return []
    listed = _destinations(subject.fields)
    named = set(listed)
    seen: set[str] = set()
    out = []
    for index, address in enumerate(listed):
        fields = lookup.get(DESTINATION, address)
        kind = _type_of(fields) if fields is not None else None
        if kind is None or kind in seen:
            continue
        seen.add(kind)
        others = sorted(other for other in _by_type(lookup).get(kind, ()) if other not in named)
        if not others:
            continue
        shown = ", ".join(others[:10]) + (f" and {len(others) - 10} more" if len(others) > 10
                                          else "")  # fmt: skip
        message = (f"a consent category applies to every destination of a type: mapping "
                   f"{address} ({kind}) also maps {plural(len(others), 'other destination')} "
                   f"of that type ({shown}); list them too so the YAML says so")  # fmt: skip
        out.append(Violation(("destinations", str(index)), message, "consent/every-instance",
                             warning=True))  # fmt: skip
    return out


@warns_only
def _storage(subject: Subject, lookup: Lookup) -> list[Violation]:
    """Storage destinations (AWS S3, data lakes) do not enforce consent: a warning."""
    out = []
    for index, address in enumerate(_destinations(subject.fields)):
        fields = lookup.get(DESTINATION, address)
        kind = _type_of(fields) if fields is not None else None
        entry = entry_for(lookup, "destination", kind) if kind is not None else None
        if entry is not None and entry.storage:
            message = (f"{address} ({entry.display_name}) is a storage destination: storage "
                       "destinations do not enforce consent, it receives every event")  # fmt: skip
            out.append(Violation(("destinations", str(index)), message, "consent/not-enforced",
                                 warning=True))  # fmt: skip
    return out


@per_lookup
def _category_count(lookup: Lookup) -> int:
    return sum(1 for _ in lookup.every(NAME))


def _limit(_subject: Subject, lookup: Lookup) -> list[Violation]:
    """At most ``MAX_CATEGORIES`` categories per workspace (a bound of ours)."""
    count = _category_count(lookup)
    if count <= MAX_CATEGORIES:
        return []
    message = (f"a workspace has at most {MAX_CATEGORIES} consent categories; it would have "
               f"{count}")  # fmt: skip
    return [Violation((), message, "consent/limit", Code.FAILED_PRECONDITION)]


def _enforced(fields: Mapping[str, Any] | None, enabled: bool) -> set[str]:
    return set(_destinations(fields)) if fields is not None and enabled else set()


def _notices(before: Mapping[str, Any] | None, after: Mapping[str, Any] | None) -> list[str]:
    """A category that starts enforcing consent on a destination (mapped to it, or enabled)
    drops that destination's events from users who do not consent: plans list it first.
    ``after`` holds what the YAML declares (an absent field stays as it was)."""
    if after is None:
        return []
    merged = {**(before or {}), **after}  # what the YAML leaves undeclared stays as it is
    was_on = before is not None and before.get("enabled", True) is not False
    now_on = merged.get("enabled", True) is not False
    new = sorted(_enforced(merged, now_on) - _enforced(before, was_on))
    if not new:
        return []
    shown = ", ".join(new[:10]) + (f" and {len(new) - 10} more" if len(new) > 10 else "")
    return [f"events that do not consent to this category stop reaching {shown}"]


# The spec as seg validate and the control plane check it (after interpolation);
# schemas/resolved/ and the published schemas are generated from it.
SPEC_SCHEMA: dict[str, Any] = {
    "title": "ConsentCategory spec",
    "description": (
        "A consent category; the document's name is the category id, the key in "
        "context.consent.categoryPreferences (case-sensitive, starts with a letter, fewer than "
        "35 characters). Only workspace owners create, edit, disable or delete categories."
    ),
    "type": "object",
    "required": ["display_name"],
    "additionalProperties": False,
    "properties": {
        "display_name": {"type": "string", "minLength": 1, "maxLength": 200},
        "destinations": {
            "type": "array",
            "uniqueItems": True,
            "maxItems": MAX_DESTINATIONS,
            "description": (
                "Addresses (source/destination) of the destinations this category is mapped "
                "to (order carries no meaning). A mapping applies to every destination of the "
                f"same type. At most {MAX_DESTINATIONS}."
            ),
            "items": {
                "type": "string",
                "pattern": parent_property(destination.KIND, "")["pattern"],
            },
        },
        "enabled": {
            "type": "boolean",
            "default": True,
            "description": "Whether consent is enforced for this category's destinations.",
        },
    },
}

KIND = Kind(
    name=NAME,
    key="consent_category",
    collection="consent-categories",
    order=48,
    fields=(
        FieldSpec("display_name", "string"),
        FieldSpec("destinations", "array", unordered=True),
        FieldSpec("enabled", "boolean"),
    ),
    defaults={"display_name": "", "destinations": [], "enabled": True},
    name_pattern=CATEGORY_PATTERN,
    name_hint=NAME_HINT,
    owner_only=True,
    access_scope=AccessScope.OWNER,
    rules=(_limit, _every_instance, _storage),
    references=_references,
    notices=_notices,
    spec_schema=SPEC_SCHEMA,
)
