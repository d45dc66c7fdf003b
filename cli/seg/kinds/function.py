"""Function: custom JavaScript the platform runs — a source function (a webhook that makes
events), a destination function (a cloud-mode destination) or an insert function (transforms
or drops events before a destination). Its code is versioned by the control plane; instances
are Sources (``catalog: function:<name>``) and Destinations (``function: <name>``), and insert
functions attach to destinations (``insert_function: <name>``)."""

from __future__ import annotations

from collections import Counter
from collections.abc import Mapping
from typing import Any

from seg.kinds.shared import per_lookup, readable_names
from seg.model.kinds import (
    AccessScope,
    Code,
    FieldSpec,
    FileField,
    Kind,
    Lookup,
    Subject,
    Versioning,
    Violation,
)
from seg.model.secrets import is_digest
from seg.policy.javascript import read_javascript

__all__ = ["KIND", "MAX_FUNCTIONS", "MAX_INSERT_DISPLAY_NAME", "NAME", "instances"]

NAME = "Function"
MAX_FUNCTIONS = 25  # per workspace, source + destination + insert
MAX_INSERT_DISPLAY_NAME = 120
MAX_CODE_CHARS = 262_144  # the spec's maxLength of code
SETTING_TYPES = ("string", "boolean", "number", "array", "map")
# Source functions may not call the platform's own functions endpoint (loop protection).
LOOP_URL = "https://fn.segmentapis.com"
SINGLE_EVENT_HANDLERS = ("onIdentify", "onTrack", "onPage", "onScreen", "onGroup", "onAlias",
                         "onDelete")  # fmt: skip


@per_lookup
def _count(lookup: Lookup) -> int:
    return sum(1 for _ in lookup.every(NAME))


def _limit(_subject: Subject, lookup: Lookup) -> list[Violation]:
    """At most 25 functions per workspace (source, destination and insert together)."""
    count = _count(lookup)
    if count <= MAX_FUNCTIONS:
        return []
    message = f"the workspace has {count} functions; the limit is {MAX_FUNCTIONS}"
    return [Violation(("type",), message, "function/limit", Code.FAILED_PRECONDITION)]


def _display_name(subject: Subject, _lookup: Lookup) -> list[Violation]:
    """An insert function's display name is at most 120 characters."""
    name = subject.fields.get("display_name")
    if subject.fields.get("type") != "insert" or not isinstance(name, str):
        return []
    if len(name) <= MAX_INSERT_DISPLAY_NAME:
        return []
    message = (f"an insert function's display name has at most {MAX_INSERT_DISPLAY_NAME} "
               f"characters (this one has {len(name)})")  # fmt: skip
    return [Violation(("display_name",), message, "function/display-name")]


def _settings(subject: Subject, _lookup: Lookup) -> list[Violation]:
    """Setting names are unique (instances fill them in by name)."""
    items = subject.fields.get("settings")
    if not isinstance(items, list):
        return []
    names = [i.get("name") for i in items if isinstance(i, Mapping)]
    seen = Counter(n for n in names if isinstance(n, str))
    out, told = [], set()
    for index, name in enumerate(names):
        if isinstance(name, str) and seen[name] > 1 and name not in told:
            told.add(name)
            message = f"setting {name!r} is declared {seen[name]} times; names are unique"
            out.append(Violation(("settings", str(index), "name"), message, "function/settings"))
    return out


def _code(subject: Subject, _lookup: Lookup) -> list[Violation]:
    """The code parses as JavaScript and defines the handlers its type needs; a source
    function does not call the functions endpoint."""
    code, kind = subject.fields.get("code"), subject.fields.get("type")
    if not isinstance(code, str) or is_digest(code) or subject.is_unknown(("code",)):
        return []
    if len(code) > MAX_CODE_CHARS:
        message = f"the code has {len(code)} characters; the limit is {MAX_CODE_CHARS} (256 KiB)"
        return [Violation(("code",), message, "function/size")]
    facts = read_javascript(code)
    if facts.error is not None:
        error = facts.error
        message = (f"the code is not valid JavaScript: line {error.line}, column {error.col}: "
                   f"{error.reason}")  # fmt: skip
        return [Violation(("code",), message, "function/javascript",
                          at=(error.line, error.col))]  # fmt: skip
    return [Violation(("code",), message, rule) for message, rule in _handler_problems(
        str(kind), facts.handlers, code)]  # fmt: skip


def _handler_problems(kind: str, handlers: frozenset[str], code: str) -> list[tuple[str, str]]:
    out = []
    single = sorted(handlers & set(SINGLE_EVENT_HANDLERS))
    if kind == "source":
        if "onRequest" not in handlers:
            out.append(("a source function defines onRequest(request, settings) at the top "
                        "level", "function/handlers"))  # fmt: skip
        if "onBatch" in handlers:
            out.append(("onBatch is for destination and insert functions only; a source "
                        "function handles requests in onRequest", "function/handlers"))  # fmt: skip
        if LOOP_URL in code.lower():
            out.append((f"a source function may not call {LOOP_URL} (loop protection)",
                        "function/loop"))  # fmt: skip
    elif kind in ("destination", "insert") and not single:
        events = ", ".join(SINGLE_EVENT_HANDLERS)
        also = " (onBatch needs one too)" if "onBatch" in handlers else ""
        out.append((f"{_a(kind)} function defines at least one of {events} at the top "
                    f"level{also}", "function/handlers"))  # fmt: skip
    return out


def _a(word: str) -> str:
    return f"an {word}" if word[:1] in "aeiou" else f"a {word}"


def _uses(lookup: Lookup, name: str) -> list[tuple[str, str, str]]:
    """The resources that run function ``name``: (kind name, address, how) for each source
    and destination deploying it and each destination it is the insert function of."""
    out = []
    for address, fields in lookup.every("Source"):
        if fields.get("catalog") == f"function:{name}":
            out.append(("Source", address, "deploys it"))
    for address, fields in lookup.every("Destination"):
        if fields.get("function") == name:
            out.append(("Destination", address, "deploys it"))
        if fields.get("insert_function") == name:
            out.append(("Destination", address, "uses it as insert function"))
    return out


def _in_use(subject: Subject, lookup: Lookup) -> list[Violation]:
    """A function with instances (sources, destinations, insert attachments) stays."""
    found = _uses(lookup, subject.address)
    if not found:
        return []
    named = readable_names(subject, [(kind, address, f"{kind.lower()} {address} ({how})")
                                     for kind, address, how in found], "instance")  # fmt: skip
    message = f"function {subject.address} is in use by {named}; remove them first"
    return [Violation((), message, "function/in-use", Code.FAILED_PRECONDITION)]


# The spec as seg validate and the control plane check it (after interpolation);
# schemas/resolved/ and the published schemas are generated from it.
SPEC_SCHEMA: dict[str, Any] = {
    "title": "Function spec",
    "description": "A source, destination or insert function: its code and settings schema.",
    "type": "object",
    "required": ["type"],
    "additionalProperties": False,
    "x-seg-message": "give exactly one of code or code_file",
    "oneOf": [
        {"required": ["code"], "not": {"required": ["code_file"]}},
        {"required": ["code_file"], "not": {"required": ["code"]}},
    ],
    "properties": {
        "type": {
            "enum": ["source", "destination", "insert"],
            "description": "source, destination or insert (immutable: a change replaces it).",
            "x-seg-immutable": True,
        },
        "display_name": {"type": "string", "maxLength": 200},
        "description": {"type": "string", "maxLength": 1000},
        "code": {
            "type": "string",
            "minLength": 1,
            "maxLength": MAX_CODE_CHARS,
            "description": "The JavaScript code (at most 256 KiB).",
        },
        "code_file": {
            "type": "string",
            "minLength": 1,
            "pattern": "\\.js$",
            "description": (
                "Path of a .js file, relative to this document. Only in YAML: seg sends its "
                "text as code."
            ),
        },
        "settings": {
            "type": "array",
            "maxItems": 100,
            "description": "The settings every instance fills in (encrypted ones are secrets).",
            "items": {
                "type": "object",
                "required": ["name"],
                "additionalProperties": False,
                "properties": {
                    "name": {"type": "string", "pattern": "^[A-Za-z][A-Za-z0-9_]{0,63}$"},
                    "label": {"type": "string", "maxLength": 200},
                    "type": {"enum": list(SETTING_TYPES), "default": "string"},
                    "required": {"type": "boolean", "default": False},
                    "description": {"type": "string", "maxLength": 1000},
                    "encrypted": {"type": "boolean", "default": False},
                },
            },
        },
        "deploy": {
            "description": (
                "Which version the instances run: latest (default; every code change deploys) "
                "or a version number (pinned)."
            ),
            "oneOf": [{"const": "latest"}, {"type": "integer", "minimum": 1}],
            "default": "latest",
        },
    },
}


def instances(name: str, lookup: Lookup) -> list[tuple[str, str]]:
    """The declared resources that run function ``name`` (each once): Sources whose catalog
    is ``function:<name>``, Destinations whose ``function`` or ``insert_function`` is it."""
    return list(dict.fromkeys((kind, address) for kind, address, _ in _uses(lookup, name)))


KIND = Kind(
    name=NAME,
    key="function",
    collection="functions",
    order=20,
    fields=(
        FieldSpec("type", "string", immutable=True),
        FieldSpec("display_name", "string"),
        FieldSpec("description", "string"),
        FieldSpec("code", "string", export_suffix="js"),
        FieldSpec("settings", "array"),
        FieldSpec("deploy", "string"),
    ),
    defaults={"display_name": "", "description": "", "settings": [], "deploy": "latest"},
    access_scope=AccessScope.FUNCTION,
    file_fields=(FileField("code_file", "code", "code"),),
    versioning=Versioning("code", "deploy"),
    instances=instances,
    rules=(_limit, _display_name, _settings, _code),
    delete_rules=(_in_use,),
    spec_schema=SPEC_SCHEMA,
)
