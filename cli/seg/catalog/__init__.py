"""The catalog: the source, destination and warehouse types a workspace may use, each with
its settings as a schema (type, required, default, enum, secret), its connection modes and,
for Actions destinations, its actions (fields and default trigger).

The built-in catalog ships in the wheel (``seg/catalog/data/*.json``); a control plane adds a
workspace's private entries (``seg server catalog import FILE``) and a workspace names its
own in ``seg.yaml`` (``catalog:`` files) so that ``seg validate`` knows them offline. Reading
and checking are pure; the checks return ``(path, message, rule)`` problems that the kinds'
rules turn into violations for the CLI and the control plane alike.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from importlib import resources
from typing import Any

from seg.model.paths import value_leaves
from seg.model.secrets import is_digest, names_credential
from seg.model.wording import did_you_mean

__all__ = [
    "EVENT_TYPES",
    "FORMAT_VERSION",
    "SECTIONS",
    "MAX_HINTS",
    "MAX_PRIVATE_ENTRIES",
    "Action",
    "Catalog",
    "CatalogError",
    "Entry",
    "Problem",
    "Setting",
    "builtin",
    "check_fields",
    "check_settings",
    "parse_entries",
    "secret_setting_paths",
    "unknown_entry",
]

FORMAT_VERSION = 1
# Catalog sections: which kind of resource an entry types.
SECTIONS = ("source", "destination", "warehouse")
# The event types (calls) of the Segment spec.
EVENT_TYPES = ("track", "identify", "page", "screen", "group", "alias")
SETTING_TYPES = ("string", "boolean", "integer", "number", "array", "object")
ID_PATTERN = re.compile(r"^[a-z][a-z0-9-]{0,62}$")
_MAX_ENTRIES = 2000  # per import file
_MAX_SETTINGS = 200  # per entry (and fields per action)
MAX_PRIVATE_ENTRIES = 500  # per workspace, on a control plane and in a tree's catalog files
MAX_HINTS = 20  # unknown keys of one resource that get a did-you-mean (difflib is slow)

Path = tuple[str | int, ...]
Problem = tuple[tuple[str, ...], str, str]  # (field path, message, rule)


class CatalogError(ValueError):
    """A catalog file or entry that does not have the documented shape."""


@dataclass(frozen=True)
class Setting:
    """One setting of a catalog entry (or of a function's settings schema)."""

    name: str
    type: str = "string"
    required: bool = False
    default: Any = None
    enum: tuple[Any, ...] | None = None
    secret: bool = False
    description: str = ""
    label: str = ""

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.type, "required": self.required,
                               "secret": self.secret}  # fmt: skip
        if self.default is not None:
            out["default"] = self.default
        if self.enum is not None:
            out["enum"] = list(self.enum)
        if self.description:
            out["description"] = self.description
        if self.label:
            out["label"] = self.label
        return out


@dataclass(frozen=True)
class Action:
    """An Actions destination's action: its fields (name → required) and default trigger."""

    id: str
    name: str
    fields: Mapping[str, bool]  # field name → required
    default_trigger: str = ""
    description: str = ""
    # Custom fields the destination accepts beyond the listed ones (Salesforce ``*__c``).
    custom_fields: str = ""

    def accepts(self, name: str) -> bool:
        return name in self.fields or bool(
            self.custom_fields and re.fullmatch(self.custom_fields, name)
        )

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "description": self.description,
            "default_trigger": self.default_trigger,
            "fields": {name: {"required": required} for name, required in self.fields.items()},
        }
        if self.custom_fields:
            out["custom_fields"] = self.custom_fields
        return out


@dataclass(frozen=True)
class Entry:
    """A catalog entry. ``settings`` is None for an entry without a settings schema (any keys
    are accepted; secrets are guessed from key names)."""

    id: str
    section: str
    display_name: str
    settings: Mapping[str, Setting] | None
    connection_modes: tuple[str, ...] = ("cloud",)
    actions: Mapping[str, Action] = field(default_factory=dict)
    category: str = ""
    description: str = ""
    # Storage destinations (S3, data lakes) and warehouses take no insert function.
    storage: bool = False
    private: bool = False
    # The event types (track, identify, ...) a destination accepts; None: every type. The
    # delivery simulator stops the others before destination filters, as the platform does.
    event_types: tuple[str, ...] | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id,
            "section": self.section,
            "display_name": self.display_name,
            "category": self.category,
            "description": self.description,
            "connection_modes": list(self.connection_modes),
            "storage": self.storage,
            "private": self.private,
            "settings": None
            if self.settings is None
            else {name: s.to_json() for name, s in self.settings.items()},
        }
        if self.actions:
            out["actions"] = {key: a.to_json() for key, a in self.actions.items()}
        if self.event_types is not None:
            out["event_types"] = list(self.event_types)
        return out


class Catalog:
    """Entries by section and id: the built-in ones, then private ones (which may not reuse a
    built-in id)."""

    def __init__(self, entries: Iterable[Entry] = ()) -> None:
        self._entries: dict[tuple[str, str], Entry] = {}
        for entry in entries:
            self._entries[(entry.section, entry.id)] = entry

    def get(self, section: str, entry_id: str) -> Entry | None:
        return self._entries.get((section, entry_id))

    def ids(self, section: str) -> list[str]:
        return sorted(i for s, i in self._entries if s == section)

    def entries(self, section: str | None = None) -> Iterator[Entry]:
        for key in sorted(self._entries):
            if section is None or key[0] == section:
                yield self._entries[key]

    def with_entries(self, entries: Iterable[Entry]) -> Catalog:
        return Catalog([*self._entries.values(), *entries])

    def __len__(self) -> int:
        return len(self._entries)


# --- reading ----------------------------------------------------------------------------


def _require(cond: bool, where: str, message: str) -> None:
    if not cond:
        raise CatalogError(f"{where}: {message}")


def _setting(where: str, name: Any, raw: Any) -> Setting:
    _require(isinstance(name, str) and 0 < len(name) <= 128, where, "a setting name is a string")
    _require(isinstance(raw, dict), f"{where}.{name}", "a setting is an object")
    known = {"type", "required", "default", "enum", "secret", "description", "label"}
    extra = sorted(set(raw) - known)
    _require(not extra, f"{where}.{name}", f"unknown key {extra[0]!r}" if extra else "")
    kind = raw.get("type", "string")
    _require(kind in SETTING_TYPES, f"{where}.{name}.type", f"one of {', '.join(SETTING_TYPES)}")
    enum = raw.get("enum")
    _require(enum is None or (isinstance(enum, list) and bool(enum)), f"{where}.{name}.enum",
             "a non-empty list")  # fmt: skip
    for key in ("required", "secret"):
        _require(isinstance(raw.get(key, False), bool), f"{where}.{name}.{key}", "a boolean")
    for key in ("description", "label"):
        _require(isinstance(raw.get(key, ""), str), f"{where}.{name}.{key}", "a string")
    return Setting(
        name=name,
        type=kind,
        required=raw.get("required", False),
        default=raw.get("default"),
        enum=tuple(enum) if enum is not None else None,
        secret=raw.get("secret", False),
        description=raw.get("description", ""),
        label=raw.get("label", ""),
    )


def _action(where: str, key: Any, raw: Any) -> Action:
    _require(isinstance(key, str) and bool(re.fullmatch(r"[A-Za-z][A-Za-z0-9_-]{0,127}", key)),
             where, "an action id is a name")  # fmt: skip
    _require(isinstance(raw, dict), f"{where}.{key}", "an action is an object")
    fields = raw.get("fields", {})
    _require(isinstance(fields, dict) and len(fields) <= _MAX_SETTINGS, f"{where}.{key}.fields",
             f"an object of at most {_MAX_SETTINGS} fields")  # fmt: skip
    parsed: dict[str, bool] = {}
    for name, spec in fields.items():
        _require(isinstance(spec, dict) and isinstance(spec.get("required", False), bool),
                 f"{where}.{key}.fields.{name}", "an object with a boolean 'required'")  # fmt: skip
        parsed[str(name)] = spec.get("required", False)
    for text in ("name", "default_trigger", "description", "custom_fields"):
        _require(isinstance(raw.get(text, ""), str), f"{where}.{key}.{text}", "a string")
    custom = raw.get("custom_fields", "")
    try:
        re.compile(custom)
    except re.error:
        raise CatalogError(f"{where}.{key}.custom_fields: not a regular expression") from None
    _require(_linear(custom), f"{where}.{key}.custom_fields",
             f"a pattern without groups or '|' and with at most {MAX_REPEATS} repetitions "
             "(*, +, ?, {}), so matching a field name takes no exponential time")  # fmt: skip
    return Action(key, raw.get("name") or key, parsed, raw.get("default_trigger", ""),
                  raw.get("description", ""), custom)  # fmt: skip


MAX_REPEATS = 2  # repetitions in an action's custom_fields pattern (matching stays quadratic)


def _linear(pattern: str) -> bool:
    """Whether matching ``pattern`` cannot backtrack exponentially: Python's regular
    expressions have no time limit, and a private entry's pattern comes from a catalog file a
    pull request may add (or an import); ``^(a+)+$`` would hang validate and the server on a
    field name like ``aaaa…!``. Counted over the whole text (a quantifier character inside a
    class counts too): conservative, and enough for ``^[A-Za-z][A-Za-z0-9_]*__c$``."""
    repeats = sum(pattern.count(c) for c in "*+?{")
    return not any(c in pattern for c in "(|") and repeats <= MAX_REPEATS


def parse_entry(raw: Any, where: str, private: bool = False) -> Entry:
    """One entry from its JSON form; CatalogError names what is wrong."""
    _require(isinstance(raw, dict), where, "an entry is an object")
    known = {"id", "section", "display_name", "category", "description", "connection_modes",
             "settings", "actions", "storage", "private", "event_types"}  # fmt: skip
    extra = sorted(set(raw) - known)
    _require(not extra, where, f"unknown key {extra[0]!r}" if extra else "")
    entry_id = raw.get("id")
    _require(isinstance(entry_id, str) and bool(ID_PATTERN.fullmatch(entry_id)), f"{where}.id",
             "a catalog id (lowercase letters, digits and hyphens)")  # fmt: skip
    where = f"{where} ({entry_id})"
    section = raw.get("section")
    _require(section in SECTIONS, f"{where}.section", f"one of {', '.join(SECTIONS)}")
    settings_raw = raw.get("settings", {})
    settings: dict[str, Setting] | None = None
    if settings_raw is not None:
        _require(isinstance(settings_raw, dict) and len(settings_raw) <= _MAX_SETTINGS,
                 f"{where}.settings", f"an object of at most {_MAX_SETTINGS} settings")  # fmt: skip
        settings = {n: _setting(f"{where}.settings", n, s) for n, s in settings_raw.items()}
    modes = raw.get("connection_modes", ["cloud"])
    _require(isinstance(modes, list) and bool(modes)
             and all(mode in ("cloud", "device") for mode in modes),
             f"{where}.connection_modes", "a list of cloud and device")  # fmt: skip
    actions_raw = raw.get("actions", {})
    _require(isinstance(actions_raw, dict), f"{where}.actions", "an object")
    _require(section == "destination" or not actions_raw, f"{where}.actions",
             "only destinations have actions")  # fmt: skip
    for text in ("display_name", "category", "description"):
        _require(isinstance(raw.get(text, ""), str), f"{where}.{text}", "a string")
    for flag in ("storage", "private"):
        _require(isinstance(raw.get(flag, False), bool), f"{where}.{flag}", "a boolean")
    types = raw.get("event_types")
    _require(types is None or (isinstance(types, list) and bool(types)
                               and all(t in EVENT_TYPES for t in types)),
             f"{where}.event_types", f"a list of {', '.join(EVENT_TYPES)}")  # fmt: skip
    return Entry(
        id=entry_id,
        section=section,
        display_name=raw.get("display_name") or entry_id,
        settings=settings,
        connection_modes=tuple(modes),
        actions={k: _action(f"{where}.actions", k, a) for k, a in actions_raw.items()},
        category=raw.get("category", ""),
        description=raw.get("description", ""),
        storage=raw.get("storage", False) or section == "warehouse",
        private=private,
        event_types=None if types is None else tuple(dict.fromkeys(types)),
    )


def parse_entries(document: Any, private: bool = False) -> list[Entry]:
    """The entries of a catalog file (``{"format_version": 1, "entries": [...]}``)."""
    _require(isinstance(document, dict), "catalog", "a catalog file holds one object")
    version = document.get("format_version", FORMAT_VERSION)
    _require(version == FORMAT_VERSION and not isinstance(version, bool), "format_version",
             f"must be {FORMAT_VERSION}")  # fmt: skip
    raw = document.get("entries")
    _require(isinstance(raw, list) and len(raw) <= _MAX_ENTRIES, "entries",
             f"a list of at most {_MAX_ENTRIES} entries")  # fmt: skip
    entries = [parse_entry(item, f"entries[{i}]", private) for i, item in enumerate(raw)]
    seen: set[tuple[str, str]] = set()
    for entry in entries:
        key = (entry.section, entry.id)
        _require(key not in seen, "entries", f"{entry.section} {entry.id!r} appears twice")
        seen.add(key)
    return entries


@cache
def builtin() -> Catalog:
    """The catalog shipped in the wheel."""
    entries: list[Entry] = []
    for name in ("sources.json", "destinations.json", "warehouses.json"):
        text = resources.files(__name__).joinpath("data", name).read_text("utf-8")
        entries += parse_entries(json.loads(text))
    return Catalog(entries)


# --- checking ---------------------------------------------------------------------------

_PY_TYPES: dict[str, tuple[type, ...]] = {
    "string": (str,),
    "boolean": (bool,),
    "integer": (int,),
    "number": (int, float),
    "array": (list,),
    "object": (dict,),
}


def _fits(setting: Setting, value: Any) -> bool:
    if isinstance(value, bool) and setting.type in ("integer", "number"):
        return False
    return isinstance(value, _PY_TYPES[setting.type])


def unknown_entry(section: str, entry_id: str, catalog: Catalog, hint: bool = True) -> str:
    """The message for a catalog id the catalog does not hold, with a did-you-mean (unless
    ``hint`` is false: the caller's budget of suggestions is spent)."""
    suggestion = did_you_mean(entry_id, catalog.ids(section), limit=64) if hint else ""
    return (f"unknown {section} catalog id {entry_id!r}{suggestion}"
            f" (seg catalog list --section {section} shows them)")  # fmt: skip


def check_settings(entry: Entry, settings: Mapping[str, Any], unknown: Iterable[Path] = (),
                   secret: Iterable[Path] = (), enabled: bool = True) -> list[Problem]:  # fmt: skip
    """``settings`` against the entry's settings schema: unknown keys (did-you-mean),
    wrong types, values outside an enum and — for an ``enabled`` resource, as the platform
    enables nothing whose required settings are missing — missing required settings.
    ``unknown``: paths whose value a variable leaves unknown (not judged); ``secret``: paths
    whose value is never echoed. Sealed values (digests) are not judged either."""
    if entry.settings is None:
        return []
    schema = entry.settings
    problems: list[Problem] = []
    unknown_paths, secret_paths = set(unknown), set(secret)
    what = f"{entry.section} {entry.id!r}"
    for key in settings:
        if key not in schema:
            hint = _hint(str(key), schema, len(problems))
            problems.append(((str(key),), f"unknown setting {key!r} for {what}{hint}",
                             "catalog/setting"))  # fmt: skip
    for name, setting in schema.items():
        path: tuple[str, ...] = (name,)
        if name not in settings:
            if enabled and setting.required and setting.default is None:
                problems.append((path, f"{what} requires the setting {name!r} to be enabled",
                                 "catalog/required"))  # fmt: skip
            continue
        if path in unknown_paths:
            continue
        value = settings[name]
        if is_digest(value):
            continue  # a sealed value was checked in clear
        shown = "the value from the environment" if path in secret_paths else repr(value)
        if not _fits(setting, value):
            article = "an" if setting.type[0] in "aeiou" else "a"
            problems.append((path, f"setting {name!r} of {what} is {article} {setting.type}, "
                             f"not {shown}", "catalog/type"))  # fmt: skip
        elif setting.enum is not None and value not in setting.enum:
            allowed = ", ".join(repr(v) for v in setting.enum)
            problems.append((path, f"setting {name!r} of {what} is one of {allowed}, "
                             f"not {shown}", "catalog/enum"))  # fmt: skip
    return problems


def _hint(key: str, choices: Iterable[str], shown: int) -> str:
    """The did-you-mean of an unknown key, for the first ``MAX_HINTS`` of a resource only:
    thousands of unknown keys against a private entry's 200 settings would keep difflib busy
    for minutes (a hang in CI, a busy worker on the control plane)."""
    return did_you_mean(key, choices, limit=128) if shown < MAX_HINTS else ""


def check_fields(entry: Entry, action_id: str, fields: Mapping[str, Any]) -> list[Problem]:
    """A mapping's ``action`` and ``fields`` against an Actions destination's actions."""
    if not entry.actions:
        return []
    action = entry.actions.get(action_id)
    if action is None:
        hint = did_you_mean(action_id, entry.actions, limit=128)
        return [(("action",), f"destination {entry.id!r} has no action {action_id!r}{hint}",
                 "catalog/action")]  # fmt: skip
    problems: list[Problem] = []
    for key in fields:
        if not action.accepts(str(key)):
            hint = _hint(str(key), action.fields, len(problems))
            problems.append((("fields", str(key)),
                             f"action {action_id!r} of {entry.id!r} has no field {key!r}{hint}",
                             "catalog/field"))  # fmt: skip
    for name, required in action.fields.items():
        if required and name not in fields:
            problems.append((("fields",), f"action {action_id!r} of {entry.id!r} requires "
                             f"the field {name!r}", "catalog/field"))  # fmt: skip
    return problems


def secret_setting_paths(entry: Entry | None, settings: Any) -> set[Path]:
    """The paths under ``settings`` (relative to it) that hold secrets: the settings the entry
    marks secret (their whole value, at every leaf); without an entry or a schema, and for
    keys the schema does not know, settings whose key names a credential (at any depth)."""
    if not isinstance(settings, dict):
        return set()
    out: set[Path] = set()
    schema = entry.settings if entry is not None else None
    for key, value in settings.items():
        setting = schema.get(key) if schema is not None else None
        if setting is not None:
            if setting.secret:
                out |= set(value_leaves(value, (key,)))
            continue
        out |= {p for p in value_leaves(value, (key,))
                if any(map(names_credential, p))}  # fmt: skip
    return out
