"""Destination: where a source's events go (a catalog integration with settings)."""

from __future__ import annotations

from typing import Any

from seg.kinds import source
from seg.kinds.catalogs import catalog_id, catalog_rule, entry_for
from seg.kinds.shared import parent_property, readable_names
from seg.model.kinds import AccessScope, Code, FieldSpec, Kind, Lookup, Rule, Subject, Violation

FUNCTION = "Function"


def _insert_function(subject: Subject, lookup: Lookup) -> list[Violation]:
    """An insert function is a Function of type insert, on a cloud-mode destination that is
    not a storage destination (one per destination: the field holds one)."""
    name = subject.fields.get("insert_function")
    if not isinstance(name, str) or not name:
        return []
    path = ("insert_function",)
    if subject.fields.get("connection_mode") == "device":
        return [Violation(path, "insert functions run on cloud-mode destinations only; this "
                          "one is device-mode", "destination/insert-function")]  # fmt: skip
    entry_id = catalog_id(subject.fields)
    entry = entry_for(lookup, "destination", entry_id) if entry_id is not None else None
    if entry is not None and entry.storage:
        message = (f"{entry.display_name} is a storage destination; insert functions cannot "
                   "connect to it")  # fmt: skip
        return [Violation(path, message, "destination/insert-function")]
    function = lookup.get(FUNCTION, name)
    if function is not None and function.get("type") != "insert":
        kind = str(function.get("type"))
        article = "an" if kind[:1] in "aeiou" else "a"
        message = (f"function {name!r} is {article} {kind} function; insert_function "
                   "names an insert function")  # fmt: skip
        return [Violation(path, message, "function/type")]
    return []


def _referred_by(kind_name: str, noun: str, verb: str, rule: str) -> Rule:
    """A destination is not deleted while a resource of ``kind_name`` under the same source
    names it in its ``destination`` field (a plan changes or deletes that resource first);
    only those the caller may read are named."""

    def check(subject: Subject, lookup: Lookup) -> list[Violation]:
        source_address = subject.address.split("/", 1)[0]
        found = [(kind_name, address, address.rsplit("/", 1)[1])
                 for address, fields in lookup.under(kind_name, source_address)
                 if fields.get("destination") == subject.address]  # fmt: skip
        if not found:
            return []
        names = readable_names(subject, found, noun)
        message = f"destination {subject.address} is {verb} {noun}s ({names}); delete them first"
        return [Violation((), message, rule, Code.FAILED_PRECONDITION)]

    return check


def _consent_mapped(subject: Subject, lookup: Lookup) -> list[Violation]:
    """A destination a consent category maps is removed from the category (its
    ``destinations``) before it is deleted; only categories the caller may read are named."""
    consent = "ConsentCategory"
    found = [(consent, name, name) for name, fields in lookup.every(consent)
             if subject.address in (fields.get("destinations") or [])]  # fmt: skip
    if not found:
        return []
    names = readable_names(subject, found, "consent category")
    message = (f"destination {subject.address} is mapped by consent categories {names}; "
               "remove it from their destinations before deleting it")  # fmt: skip
    return [Violation((), message, "destination/consent-mapped", Code.FAILED_PRECONDITION)]


__all__ = ["KIND"]

# The spec as seg validate and the control plane check it (after interpolation);
# schemas/resolved/ and the published schemas are generated from it.
SPEC_SCHEMA: dict[str, Any] = {
    "title": "Destination spec",
    "type": "object",
    "required": ["source"],
    "additionalProperties": False,
    "x-seg-message": "give exactly one of catalog or function",
    "oneOf": [
        {"required": ["catalog"], "not": {"required": ["function"]}},
        {"required": ["function"], "not": {"required": ["catalog"]}},
    ],
    "properties": {
        "source": parent_property(
            source.KIND, "Name of the Source this destination receives events from (its parent)."
        ),
        "display_name": {"type": "string", "maxLength": 200},
        "catalog": {
            "type": "string",
            "pattern": "^[a-z][a-z0-9-]{0,62}$",
            "description": (
                "Catalog id of the destination (amplitude, mixpanel, webhook, ...). Immutable: a "
                "change replaces the destination."
            ),
            "x-seg-immutable": True,
        },
        "function": {
            "type": "string",
            "pattern": "^[a-z][a-z0-9-]{0,62}$",
            "description": (
                "Name of the destination Function this destination deploys (instead of "
                "catalog). Immutable: a change replaces the destination."
            ),
            "x-seg-immutable": True,
        },
        "insert_function": {
            "type": "string",
            "pattern": "^[a-z][a-z0-9-]{0,62}$",
            "description": (
                "Name of the insert Function that transforms or drops events before they reach "
                "this destination (at most one; cloud-mode, not storage destinations)."
            ),
        },
        "insert_function_enabled": {
            "type": "boolean",
            "default": True,
            "description": "Whether the insert function runs (off: events pass unchanged).",
        },
        "enabled": {"type": "boolean", "default": False},
        "connection_mode": {"type": "string", "enum": ["cloud", "device"], "default": "cloud"},
        "settings": {
            "type": "object",
            "description": (
                "Catalog settings; keys the YAML does not declare are left alone on the server."
            ),
        },
    },
}

KIND = Kind(
    name="Destination",
    key="destination",
    collection="destinations",
    order=40,
    parent_kind=source.KIND,
    parent_field="source",
    fields=(
        FieldSpec("display_name", "string"),
        FieldSpec("catalog", "string", immutable=True, optional=True),
        FieldSpec("function", "string", immutable=True, ref=FUNCTION, optional=True,
                  open_ref=True),
        FieldSpec("enabled", "boolean"),
        FieldSpec("connection_mode", "string"),
        FieldSpec("settings", "object", map_like=True),
        FieldSpec("insert_function", "string", ref=FUNCTION, optional=True, open_ref=True),
        FieldSpec("insert_function_enabled", "boolean", optional=True),
    ),
    defaults={"enabled": False, "connection_mode": "cloud", "settings": {}, "display_name": ""},
    access_scope=AccessScope.SOURCE,
    rules=(catalog_rule, _insert_function),
    delete_rules=(
        _referred_by("Transformation", "transformation", "the scope of",
                     "destination/transformations"),
        _referred_by("Alert", "delivery-rate alert", "watched by", "destination/alerted"),
        _consent_mapped,
    ),
    catalog_section="destination",
    spec_schema=SPEC_SCHEMA,
)
