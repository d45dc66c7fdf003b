"""Kinds typed by the catalog (``Kind.catalog_section``): the entry a resource's ``catalog``
names — a built-in or private entry, or ``function:<name>`` for a function's instance —, the
rule that checks its id and settings against it, and the settings it marks secret. Pure."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seg.catalog import (
    MAX_HINTS,
    Entry,
    Setting,
    check_settings,
    secret_setting_paths,
    unknown_entry,
)
from seg.kinds.shared import per_lookup
from seg.model.kinds import AnyPath, Kind, Lookup, Subject, Violation
from seg.model.paths import value_leaves
from seg.model.secrets import is_digest

__all__ = [
    "FUNCTION_PREFIX",
    "FUNCTION_TYPES",
    "catalog_id",
    "catalog_rule",
    "entry_for",
    "function_entry",
    "secret_paths",
]

FUNCTION_KIND = "Function"
FUNCTION_PREFIX = "function:"
# Which function type deploys as which catalog section.
FUNCTION_TYPES = {"source": "source", "destination": "destination"}
# A function's settings types and the catalog setting type each checks as.
FUNCTION_SETTING_TYPES = {"string": "string", "boolean": "boolean", "number": "number",
                          "array": "array", "map": "object"}  # fmt: skip


def catalog_id(fields: Mapping[str, Any]) -> str | None:
    """The catalog id a resource names: its ``catalog``, or ``function:<name>`` for a
    destination written with ``function: <name>``."""
    value = fields.get("catalog")
    if isinstance(value, str) and value:
        return value
    function = fields.get("function")
    if isinstance(function, str) and function:
        return FUNCTION_PREFIX + function
    return None


def function_entry(name: str, fields: Mapping[str, Any]) -> Entry:
    """The catalog entry a function stands for: its settings schema (``encrypted`` settings
    are secret) in the section its type deploys as."""
    settings: dict[str, Setting] = {}
    for item in fields.get("settings") or []:
        if not isinstance(item, Mapping) or not isinstance(item.get("name"), str):
            continue
        settings[item["name"]] = Setting(
            name=item["name"],
            type=FUNCTION_SETTING_TYPES.get(str(item.get("type", "string")), "string"),
            required=bool(item.get("required", False)),
            secret=bool(item.get("encrypted", False)),
            description=str(item.get("description", "")),
            label=str(item.get("label", "")),
        )
    section = FUNCTION_TYPES.get(str(fields.get("type")), "insert")
    return Entry(id=FUNCTION_PREFIX + name, section=section,
                 display_name=str(fields.get("display_name") or name), settings=settings,
                 category="function", private=True)  # fmt: skip


def entry_for(lookup: Lookup, section: str, entry_id: str) -> Entry | None:
    """The entry ``entry_id`` names in ``section``, or None when there is none (a function
    instance's function that does not exist, or is of another type, names none)."""
    if entry_id.startswith(FUNCTION_PREFIX):
        name = entry_id.removeprefix(FUNCTION_PREFIX)
        fields = lookup.get(FUNCTION_KIND, name)
        if fields is None:
            return None
        entry = function_entry(name, fields)
        return entry if entry.section == section else None
    return lookup.catalog.get(section, entry_id)


def _relative(paths: frozenset[AnyPath], prefix: str) -> set[AnyPath]:
    return {p[1:] for p in paths if p[:1] == (prefix,)}


@per_lookup
def _hint_budget(_lookup: Lookup) -> list[int]:
    return [MAX_HINTS]


def _take_hint(lookup: Lookup) -> bool:
    """Whether an unknown catalog id still gets a did-you-mean: the first ``MAX_HINTS`` of a
    lookup (one validate, one write) do, so thousands of unknown ids against hundreds of
    private entries cannot keep difflib busy for minutes."""
    budget = _hint_budget(lookup)
    budget[0] -= 1
    return budget[0] >= 0


def catalog_rule(subject: Subject, lookup: Lookup) -> list[Violation]:
    """The catalog id names an entry of the kind's section, and the settings fit its schema
    (unknown keys with a did-you-mean, required settings, types, enums)."""
    section = subject.kind.catalog_section
    entry_id = catalog_id(subject.fields)
    if section is None or entry_id is None or subject.is_unknown(("catalog",)):
        return []
    if is_digest(entry_id):
        return []  # a sealed id (from the environment) was checked in clear by validate
    entry = entry_for(lookup, section, entry_id)
    if entry is None:
        if entry_id.startswith(FUNCTION_PREFIX):
            return _function_problem(subject, lookup, section, entry_id)
        path = ("catalog",) if "catalog" in subject.fields else ("function",)
        if path in subject.secret_paths:  # never echo a value from the environment
            message = f"the {section} catalog id from the environment is not a catalog id"
        else:
            message = unknown_entry(section, entry_id, lookup.catalog, _take_hint(lookup))
        return [Violation(path, message, "catalog/unknown")]
    # Absent fields take the kind's defaults, as the control plane stores them (a Destination
    # starts disabled; no settings is an empty map, which may lack required ones).
    settings = subject.fields.get("settings", {})
    if not isinstance(settings, Mapping) or subject.is_unknown(("settings",)):
        return []
    enabled = subject.fields.get("enabled", subject.kind.defaults.get("enabled", True)) is not False
    problems = check_settings(entry, settings, _relative(subject.unknown_paths, "settings"),
                              _relative(subject.secret_paths, "settings"), enabled)  # fmt: skip
    return [Violation(("settings", *path), message, rule)
            for path, message, rule in problems]  # fmt: skip


def _function_problem(subject: Subject, lookup: Lookup, section: str, entry_id: str
                      ) -> list[Violation]:  # fmt: skip
    """A function instance whose function is missing (a reference error says so) or of
    another type."""
    name = entry_id.removeprefix(FUNCTION_PREFIX)
    fields = lookup.get(FUNCTION_KIND, name)
    if fields is None:
        return []  # the reference check names the missing function
    path = ("catalog",) if "catalog" in subject.fields else ("function",)
    kind = str(fields.get("type"))
    article = "an" if kind[:1] in "aeiou" else "a"
    message = (f"function {name!r} is {article} {kind} function; a {section} deploys "
               f"only a {section} function")  # fmt: skip
    return [Violation(path, message, "function/type")]


def secret_paths(kind: Kind, fields: Mapping[str, Any], lookup: Lookup) -> set[AnyPath]:
    """The paths of ``fields`` that are secret whatever the YAML wrote: every leaf of a
    ``FieldSpec.secret`` field, and the settings the kind's catalog entry marks secret (the
    key-name guess for entries without a schema and keys the schema does not know)."""
    out: set[AnyPath] = set()
    for spec in kind.fields:
        if spec.secret and fields.get(spec.name) is not None:
            out |= set(value_leaves(fields[spec.name], (spec.name,)))
    settings = fields.get("settings")
    if kind.catalog_section is None or not isinstance(settings, Mapping):
        return out
    entry_id = catalog_id(fields)
    entry = None
    if entry_id is not None:
        entry = entry_for(lookup, kind.catalog_section, entry_id)
    return out | {("settings", *p) for p in secret_setting_paths(entry, dict(settings))}
