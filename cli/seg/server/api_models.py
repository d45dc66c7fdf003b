"""The API's request and response models (pydantic), generated from the kind registry.

They DOCUMENT the API: ``/openapi.json`` is built from their JSON Schemas. They never parse a
request: bodies are still read by ``strict_json`` and checked by the services, with their own
messages and codes (so no pydantic 422 can appear), and responses are the services' dicts.

Per kind: ``<Kind>Fields`` (what a client may send: the registry's fields with the constraints
of the kind's JSON Schema, references as full resource names), ``<Kind>Create`` and
``<Kind>Update`` (the bodies), ``<Kind>`` (the resource as returned, output-only fields
included) and ``<Kind>List`` (a page). The other bodies (workspace, access, secrets:compare,
rules, lock, audit events, the error) are written out below.
"""

from __future__ import annotations

import keyword
from functools import cache
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, JsonValue, create_model
from pydantic.json_schema import GenerateJsonSchema, JsonSchemaValue, models_json_schema
from pydantic_core import core_schema

from seg.catalog import ID_PATTERN, SECTIONS, SETTING_TYPES
from seg.kinds import kinds_in_order
from seg.kinds.names import MANAGER_RE, SLUG_RE
from seg.kinds.tracking_plan import KIND as TRACKING_PLAN
from seg.model.kinds import PLAN_TIERS, Kind
from seg.model.secrets import DIGEST_PREFIX
from seg.policy.models import POLICIES
from seg.server.apply_service import (
    FINISHED_STATUSES,
    GIT_REVISION_RE,
    MAX_COUNT,
    MAX_ERROR,
    MAX_FAILURES,
    MAX_RESOURCE,
    PLAN_DIGEST_RE,
)
from seg.server.audit import MAX_CHANGES
from seg.server.auth import SCOPES
from seg.server.catalog_service import COLLECTIONS, MAX_IMPORT_ENTRIES
from seg.server.compare import MAX_COMPARE
from seg.server.field_changes import MAX_ENTRIES, MAX_VALUE, MORE_PATH, SECRET_SHOWN
from seg.server.locks import MAX_TTL
from seg.server.token_service import MAX_DESCRIPTION, MAX_EMAIL, MAX_EXPIRES_IN
from seg.server.validation import api_schema

__all__ = [
    "REF_PREFIX",
    "AccessExplanation",
    "ApplyFinish",
    "ApplyRun",
    "ApplyRunDetail",
    "ApplyRunList",
    "ApplyStart",
    "AuditEventList",
    "CatalogEntry",
    "CatalogImport",
    "CatalogImportResult",
    "ChangeList",
    "Empty",
    "Error",
    "KindModels",
    "Lock",
    "LockRenewal",
    "LockRequest",
    "SecretsCompareRequest",
    "SecretsCompareResponse",
    "Status",
    "Token",
    "TokenCreate",
    "TokenList",
    "TokenWithSecret",
    "Workspace",
    "WorkspaceUpdate",
    "component_schemas",
    "kind_models",
    "model",
    "ref",
]

REF_PREFIX = "#/components/schemas/"

_TYPES: dict[str, Any] = {
    "string": str,
    "boolean": bool,
    "integer": int,
    "number": float,
    "object": dict[str, Any],
    "array": list[Any],
}

_SECRET_NOTE = (
    f"A value the resource holds as a secret is returned as its keyed digest, a string "
    f"starting with {DIGEST_PREFIX!r}, whatever the field's type."
)


class _Open(BaseModel):
    """Base of response models: the server may add fields; clients keep what they know."""

    model_config = ConfigDict(extra="allow")


class _Closed(BaseModel):
    """Base of request models: the server refuses a key it does not know (400)."""

    model_config = ConfigDict(extra="forbid")


def _or_null(schema: dict[str, Any]) -> None:
    """Document that ``null`` is accepted (and means "absent"), as the server reads it."""
    inner = dict(schema)
    schema.clear()
    schema["anyOf"] = [inner, {"type": "null"}]


def _nullable(default: Any = None, **kwargs: Any) -> Any:
    return Field(default, json_schema_extra=_or_null, **kwargs)


class Error(_Open):
    """Every refusal: a message (naming the field path when a field is wrong) and a
    gRPC-style code (3 invalid argument, 5 not found, 6 already exists, 7 permission denied,
    8 resource exhausted, 9 failed precondition, 10 aborted, 12 unimplemented,
    13 internal, 14 unavailable, 16 unauthenticated), and the request's id (the
    ``X-Request-Id`` the caller sent when it is safe, else one the server made) to quote to
    the server's operator."""

    error: str
    code: int
    request_id: str


class Empty(_Closed):
    """The empty object a delete (or a lock release) answers with."""


class Status(_Open):
    status: str


class UpdateMask(_Closed):
    """The field paths an update changes, prefixed with the resource key
    (``destination.settings.api_key``); a masked path without a value is cleared."""

    paths: list[str]


_WORKSPACE_PATHS: list[JsonValue] = [
    f"{prefix}{name}" for name in ("display_name", "model_change_policy", "plan_tier")
    for prefix in ("", "workspace.")
]  # fmt: skip


class WorkspaceMask(_Closed):
    """The workspace fields a PATCH changes (``workspace.`` prefix optional)."""

    paths: list[str] = Field(json_schema_extra={"items": {"enum": _WORKSPACE_PATHS}})


class WorkspaceFields(_Closed):
    """A workspace's settings as a PATCH sends them. Only the masked ones change; the server
    ignores (and so accepts) any other key, but none has a meaning."""

    display_name: str | None = Field(None, max_length=200)
    model_change_policy: str | None = Field(None, json_schema_extra={"enum": [*POLICIES]})
    plan_tier: str | None = Field(None, json_schema_extra={"enum": [*PLAN_TIERS]})
    update_mask: WorkspaceMask | None = _nullable()


class WorkspaceUpdate(_Closed):
    workspace: WorkspaceFields | None = _nullable()
    update_mask: WorkspaceMask | None = _nullable()


class Workspace(_Open):
    name: str = Field(description="workspaces/<slug>")
    id: str
    display_name: str
    model_change_policy: str = Field(json_schema_extra={"enum": list(POLICIES)})
    plan_tier: str = Field(json_schema_extra={"enum": list(PLAN_TIERS)})
    create_time: str
    caller_is_owner: bool | None = Field(
        None, description="Whether the calling token acts as a workspace owner."
    )
    revision: int | None = Field(
        None, description="How many resource writes the workspace has had (see /changes)."
    )
    epoch: str | None = Field(
        None, description="The id of the history its revisions count (see /changes)."
    )


class AccessExplanation(_Open):
    """A user's effective access, from the live role bindings, groups and source labels."""

    user: str
    workspace_roles: list[str]
    sources: dict[str, list[str]] = Field(description="source → its roles for the user")


class SecretQuestion(_Closed):
    resource: str = Field(description="Full resource name, in this workspace")
    path: str = Field(description="The secret's field path (settings.api_key)")
    value: Any = Field(description="The value to compare with the sealed secret")


class SecretsCompareRequest(_Closed):
    secrets: list[SecretQuestion] = Field(max_length=MAX_COMPARE)


class SecretsCompareResponse(_Open):
    matches: list[bool] = Field(description="Per question, in order: does the value match?")
    digest: str = Field(description="A keyed digest over the questions about existing resources")


class Change(_Open):
    name: str = Field(description="The resource's full name")
    kind: str
    operation: str = Field(json_schema_extra={"enum": ["create", "update", "delete"]},
                           description="Its last change since the revision asked about")


class ChangeList(_Open):
    """The resources changed since a revision: each once, with its last operation. A client
    holding the live state of revision ``since`` (and of this ``epoch``) is at ``revision``
    once it has fetched them (a delete is gone; anything else, GET it: a 404 means it was
    deleted since)."""

    revision: int = Field(description="The revision these changes lead to (of the first "
                          "page, on every page)")
    epoch: str = Field(description="The history this revision belongs to: a client holding "
                       "another epoch's revision reads the whole state again")
    access: str = Field(description="A digest of a user-bound token's effective access, \"\" "
                        "for other tokens: when it changes, read the whole state again")
    changes: list[Change]
    next_page_token: str = Field(description='"" on the last page')


class LockRequest(_Closed):
    holder: str = Field(pattern=r"\S", description="Who takes the lock (not blank)")
    host: str | None = None
    plan: str | None = None
    ci_run: str | None = None
    ttl_seconds: float | None = Field(None, gt=0, le=MAX_TTL)


class LockRenewal(_Closed):
    ttl_seconds: float | None = Field(None, gt=0, le=MAX_TTL)


class Lock(_Open):
    id: str
    holder: str
    host: str
    plan: str
    ci_run: str
    token_id: str
    acquired_at: str
    expires_in: float
    blocks_writes: bool


class AuditActor(_Open):
    token_id: str
    description: str


def _absent(schema: dict[str, Any]) -> None:
    """Document a key the server leaves out rather than sending a default (or null)."""
    schema.pop("default", None)
    kept = [s for s in schema.pop("anyOf", []) if s != {"type": "null"}]
    if kept:
        [inner] = kept
        schema.update(inner)


_VALUE_NOTE = (f"A secret reads \"{SECRET_SHOWN}\" (at any depth); a value whose compact JSON "
               f"is longer than {MAX_VALUE} characters is replaced by "
               f'{{"truncated": <that length>}}.')


class AuditFieldChange(_Open):
    """One value a write changed: a leaf of the resource's nested maps (a list is one value;
    a tracking plan's rules are one entry each, tracking_plan.rules[<the rule's label>]), or
    its ownership metadata (protect, manager)."""

    path: str = Field(description=f"The field path under the kind's key "
                      f"(destination.settings.apiKey), protect or manager; on the entry that "
                      f"counts the ones left off, {MORE_PATH!r}")  # fmt: skip
    before: Any = Field(None, description="The value before the write; absent when there "
                        f"was none (a create, a key added). {_VALUE_NOTE}",
                        json_schema_extra=_absent)  # fmt: skip
    after: Any = Field(None, description="The value after the write; absent when there is "
                       f"none any more (a delete, a key removed). {_VALUE_NOTE}",
                       json_schema_extra=_absent)  # fmt: skip
    secret: bool = Field(False, description=f"true: the value is a secret, shown only as "
                         f"\"{SECRET_SHOWN}\" (a secret written anew is \"{SECRET_SHOWN}\" on "
                         f"both sides); absent otherwise")  # fmt: skip
    more: int | None = Field(None, ge=1, description=f"Only on the last entry, after "
                             f"{MAX_ENTRIES}: how many further changes were left off",
                             json_schema_extra=_absent)  # fmt: skip


class AuditEvent(_Open):
    id: str
    time: str
    actor: AuditActor
    method: str
    resource: str
    paths: list[str]
    changes: list[AuditFieldChange] = Field(
        max_length=MAX_ENTRIES + 1,
        description=f"What the write did to the resource's fields, value by value (empty for "
        f"events that change none, and for those recorded before values were kept): at most "
        f"{MAX_ENTRIES} entries, then one {{\"path\": \"{MORE_PATH}\", \"more\": <count>}}",
    )
    apply: str | None = Field(description="The id of the apply run the event belongs to "
                              "(its writes, its start and its finish); null outside applies",
                              json_schema_extra=_or_null)  # fmt: skip


class AuditEventList(_Open):
    audit_events: list[AuditEvent]
    next_page_token: str = Field(description='"" on the last page')


_STATUSES: list[JsonValue] = ["running", *FINISHED_STATUSES]


class ApplyStart(_Closed):
    """A ``seg apply`` beginning: the tree's manager and environment, the git commit it
    applies (null: not known, or not committed) and the plan's workspace digest."""

    manager: str = Field(pattern=MANAGER_RE.pattern)
    git_revision: str | None = _nullable(pattern=GIT_REVISION_RE.pattern)
    plan_digest: str | None = _nullable(pattern=PLAN_DIGEST_RE.pattern)
    environment: str | None = _nullable(pattern=SLUG_RE.pattern)


class ApplyCounts(_Closed):
    """What an apply did; a count left out is 0."""

    created: int | None = Field(None, ge=0, le=MAX_COUNT)
    updated: int | None = Field(None, ge=0, le=MAX_COUNT)
    deleted: int | None = Field(None, ge=0, le=MAX_COUNT)
    failed: int | None = Field(None, ge=0, le=MAX_COUNT)


class ApplyFailure(_Closed):
    resource: str = Field(min_length=1, max_length=MAX_RESOURCE, pattern=r"\S",
                          description="The resource, as <Kind> <address> or its full name")
    error: str = Field(max_length=MAX_ERROR)


class ApplyFinish(_Closed):
    """How an apply ended (applied, failed, or noop: the plan had no change)."""

    status: str = Field(json_schema_extra={"enum": list(FINISHED_STATUSES)})
    counts: ApplyCounts | None = _nullable()
    failures: list[ApplyFailure] | None = _nullable(max_length=MAX_FAILURES)


class ApplyRunCounts(_Open):
    created: int
    updated: int
    deleted: int
    failed: int


class ApplyRunFailure(_Open):
    resource: str
    error: str


class ApplyRun(_Open):
    """One ``seg apply`` the control plane recorded."""

    id: str
    manager: str
    environment: str | None = Field(json_schema_extra=_or_null)
    git_revision: str | None = Field(json_schema_extra=_or_null)
    plan_digest: str | None = Field(json_schema_extra=_or_null)
    status: str = Field(json_schema_extra={"enum": _STATUSES})
    started: str
    finished: str | None = Field(description="null while it runs", json_schema_extra=_or_null)
    actor: AuditActor
    counts: ApplyRunCounts
    failures: list[ApplyRunFailure]
    audit_from: str = Field(description="The id of the audit event of its start: the trail "
                            "from there on is what happened since")  # fmt: skip


class ApplyRunDetail(ApplyRun):
    """One apply run and the audit events of its writes."""

    changes: list[AuditEvent] = Field(description=f"The audit events of its writes, oldest "
                                      f"first (at most {MAX_CHANGES})")  # fmt: skip


class ApplyRunList(_Open):
    applies: list[ApplyRun]
    next_page_token: str = Field(description='"" on the last page')


class NewToken(_Closed):
    """A token to mint. A user-bound caller may bind it only to its own user (the default);
    a caller whose token expires must set an expiry no later than its own."""

    description: str = Field(max_length=MAX_DESCRIPTION, pattern=r"\S",
                             description="What the token is for")  # fmt: skip
    scope: str = Field(json_schema_extra={"enum": list(SCOPES)})
    user: str | None = _nullable(max_length=MAX_EMAIL,
                                 description="Act for this user (an email address): their role "
                                 "bindings also apply")  # fmt: skip
    expires_in_seconds: int | None = _nullable(
        ge=1, le=MAX_EXPIRES_IN, description="Seconds from now; absent or null: never expires"
    )


class TokenCreate(_Closed):
    token: NewToken


class Token(_Open):
    """A token as listed: never its secret. Times are "" when unset (never used, never
    expires); last_used_time is recorded at most once a minute."""

    name: str = Field(description="workspaces/<slug>/tokens/<id>")
    id: str
    description: str
    scope: str = Field(json_schema_extra={"enum": list(SCOPES)})
    user: str = Field(description='"" for a token not bound to a user')
    create_time: str
    last_used_time: str
    expire_time: str
    expired: bool


class TokenWithSecret(Token):
    """A token just created or rotated, with its secret: shown this once, never again."""

    secret: str


class TokenList(_Open):
    tokens: list[Token]


class RuleId(_Open):
    """A rule named for deletion: its type, key (TRACK rules) and version."""

    type: str
    key: str | None = _nullable()
    version: int = Field(ge=1)


class RuleIds(_Closed):
    rules: list[RuleId]


_MODES: list[JsonValue] = ["cloud", "device"]


def _names(max_items: int, **names: Any) -> Any:
    """``json_schema_extra`` of a map: its key names' schema and size; ``null`` allowed."""

    def extra(schema: dict[str, Any]) -> None:
        schema.update({"propertyNames": names, "maxProperties": max_items})
        _or_null(schema)

    return extra


class CatalogSettingSpec(_Closed):
    """One setting of a catalog entry: its type, whether it is required (checked on enabled
    resources), its default, allowed values, and whether its value is a secret."""

    type: str = Field("string", json_schema_extra={"enum": list(SETTING_TYPES)})
    required: bool = False
    default: Any = None
    enum: list[Any] | None = Field(None, min_length=1, json_schema_extra=_or_null)
    secret: bool = False
    description: str = ""
    label: str = ""


class CatalogActionField(_Open):
    required: bool = False


class CatalogActionSpec(_Open):
    """An Actions destination's action: its fields and default trigger (FQL)."""

    name: str = ""
    description: str = ""
    default_trigger: str = ""
    custom_fields: str = Field("", description="A regular expression: field names it also "
                               "accepts (Salesforce *__c)",
                               json_schema_extra={"format": "regex"})  # fmt: skip
    fields: dict[str, CatalogActionField] = Field(default_factory=dict)


class CatalogEntrySpec(_Closed):
    """A catalog entry as a catalog file (and an import) writes it."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={
        "if": {"properties": {"section": {"const": "destination"}}},
        "else": {"properties": {"actions": {"maxProperties": 0}}},
    })  # fmt: skip

    id: str = Field(pattern=ID_PATTERN.pattern)
    section: str = Field(json_schema_extra={"enum": list(SECTIONS)})
    display_name: str = ""
    category: str = ""
    description: str = ""
    connection_modes: list[str] = Field(default_factory=lambda: ["cloud"], min_length=1,
                                        json_schema_extra={"items": {"enum": _MODES}})  # fmt: skip
    settings: dict[str, CatalogSettingSpec] | None = Field(
        None, description="null: no settings schema (any keys; secrets guessed from key names)",
        json_schema_extra=_names(200, minLength=1, maxLength=128))  # fmt: skip
    actions: dict[str, CatalogActionSpec] = Field(
        default_factory=dict, description="Only destinations have actions",
        json_schema_extra={"propertyNames": {"pattern": r"^[A-Za-z][A-Za-z0-9_-]{0,127}$"}})
    storage: bool = False
    private: bool = False


class CatalogImport(_Closed):
    """A catalog file: private entries to add or replace (built-in ids are refused)."""

    format_version: int = Field(1, json_schema_extra={"enum": [1]})
    entries: list[CatalogEntrySpec] = Field(max_length=MAX_IMPORT_ENTRIES)


class CatalogEntryKey(_Open):
    section: str
    id: str


class CatalogImportResult(_Open):
    imported: list[CatalogEntryKey]


class CatalogSetting(_Open):
    type: str
    required: bool
    secret: bool
    default: Any = None
    enum: list[Any] | None = None
    description: str | None = None
    label: str | None = None


class CatalogAction(_Open):
    name: str
    description: str
    default_trigger: str
    fields: dict[str, CatalogActionField]
    custom_fields: str | None = None


class CatalogEntry(_Open):
    """A catalog entry: built-in (shipped with the control plane) or private (imported into
    this workspace)."""

    id: str
    section: str
    display_name: str
    category: str
    description: str
    connection_modes: list[str]
    storage: bool
    private: bool
    settings: dict[str, CatalogSetting] | None = Field(
        description="null: no settings schema", json_schema_extra=_or_null)
    actions: dict[str, CatalogAction] | None = None


def _catalog_lists() -> list[type[BaseModel]]:
    """``Catalog<Section>List``: a page of a section's entries under its collection's key."""
    out: list[type[BaseModel]] = []
    for section, collection in COLLECTIONS.items():
        page: dict[str, Any] = {
            collection: (list[CatalogEntry], ...),
            "next_page_token": (str, Field(description='"" on the last page')),
        }
        out.append(create_model(f"Catalog{section.title()}List", __base__=_Open, **page))
    return out


class _NoNull(GenerateJsonSchema):
    """JSON Schemas as the API means them: an optional field is absent, never ``null``."""

    def nullable_schema(self, schema: core_schema.NullableSchema) -> JsonSchemaValue:
        return self.generate_inner(schema["schema"])

    def default_schema(self, schema: core_schema.WithDefaultSchema) -> JsonSchemaValue:
        out = super().default_schema(schema)
        if out.get("default", 0) is None:
            out.pop("default")
        return out


def ref(model: type[BaseModel]) -> dict[str, str]:
    return {"$ref": REF_PREFIX + model.__name__}


class KindModels:
    """The models of one kind (see the module docstring)."""

    def __init__(self, kind: Kind) -> None:
        self.kind = kind
        api = _api_properties(kind)
        self.fields = _fields_model(kind, api)
        self.create = _create_model(kind, self.fields)
        self.update = _update_model(kind, self.fields)
        self.resource = _resource_model(kind, api)
        page: dict[str, Any] = {
            _plural(kind): (list[self.resource], ...),  # type: ignore[name-defined]
            "next_page_token": (str, Field(description='"" on the last page')),
        }
        self.list = create_model(f"{kind.name}List", __base__=_Open, **page)
        self.version, self.versions = _version_models(kind)

    @property
    def all(self) -> list[type[BaseModel]]:
        kept = [m for m in (self.version, self.versions) if m is not None]
        return [self.fields, self.create, self.update, self.resource, self.list, *kept]


def _plural(kind: Kind) -> str:
    return kind.collection.replace("-", "_")


def _api_properties(kind: Kind) -> dict[str, dict[str, Any]]:
    """Each registry field's JSON Schema as the API takes it: the kind's schema property
    (``x-seg-*`` marks and defaults dropped), references as full resource names."""
    properties = api_schema(kind)["properties"]
    out: dict[str, dict[str, Any]] = {}
    for spec in kind.fields:
        prop = properties.get(spec.name, {"type": spec.type})
        prop = {k: v for k, v in prop.items() if not k.startswith("x-seg-") and k != "default"}
        if spec.ref:
            prop["description"] = f"Full resource name of the {spec.ref} it refers to."
        out[spec.name] = prop
    return out


def _attr(name: str) -> str:
    return name + "_" if keyword.iskeyword(name) else name


def _field(name: str, annotation: Any, required: bool, schema: dict[str, Any]) -> Any:
    info = Field(... if required else None, alias=name, json_schema_extra=schema)
    return (annotation if required else annotation | None, info)


def _python_type(kind: Kind, name: str, prop: dict[str, Any]) -> Any:
    """The field's Python type: the registry's, or Any where its schema allows several types
    (RoleBinding.scope: "workspace" or an object)."""
    spec = kind.field(name)
    assert spec is not None
    return _TYPES[spec.type] if "type" in prop else Any


def _fields_model(kind: Kind, api: dict[str, dict[str, Any]]) -> type[BaseModel]:
    """What a client sends under ``<kind.key>``: every field optional (defaults fill them on
    create), plus the name (or ``external_id``) and the parent's name."""
    fields: dict[str, Any] = {}
    if kind.id_prefix:
        fields["external_id"] = _field("external_id", str, False, {
            "pattern": r"^[a-z][a-z0-9-]{0,62}$",
            "description": "The client's name for it (its address in YAML); required on create.",
        })  # fmt: skip
    else:
        fields["name"] = _field("name", str, False, {
            "description": f"Full resource name, in the collection it is created in; the slug "
                           f"matches {kind.name_pattern}. Required on create.",
        })  # fmt: skip
    if kind.parent_field:
        fields[kind.parent_field] = _field(kind.parent_field, str, False, {
            "description": f"Full resource name of the parent {kind.parent} (from the path)."})
    for name, prop in api.items():
        fields[_attr(name)] = _field(name, _python_type(kind, name, prop), False, prop)
    return create_model(f"{kind.name}Fields", __base__=_Closed, **fields)


def _ownership(fields: dict[str, Any]) -> dict[str, Any]:
    """The ownership metadata beside the resource; ``null`` reads as absent (the stored value
    stays), except for secret_paths."""
    return {
        **fields,
        "secret_paths": (list[str] | None, Field(None, description=(
            "Field paths (prefixed with the resource key) whose values are secrets: sealed, "
            "returned only as digests."))),
        "managed_paths": (list[str] | None, _nullable(description=(
            "Field paths (unprefixed) a manager owns on this resource."))),
        "protect": (bool | None, _nullable(description="Refuse deleting or replacing it.")),
        "manager": (str | None, _nullable(description=(
            'The name of the tool managing it, or "" for none.'))),
    }  # fmt: skip


def _create_model(kind: Kind, fields_model: type[BaseModel]) -> type[BaseModel]:
    body = {_attr(kind.key): (fields_model, Field(..., alias=kind.key))}
    return create_model(f"{kind.name}Create", __base__=_Closed, **_ownership(body))


def _update_model(kind: Kind, fields_model: type[BaseModel]) -> type[BaseModel]:
    body = {
        _attr(kind.key): (fields_model | None, _nullable(alias=kind.key, description=(
            "New values; only the paths in update_mask change."))),
        "update_mask": (UpdateMask | None, _nullable()),
    }  # fmt: skip
    return create_model(f"{kind.name}Update", __base__=_Closed, **_ownership(body))


def _resource_model(kind: Kind, api: dict[str, dict[str, Any]]) -> type[BaseModel]:
    """The resource as returned: its fields (types only: a secret comes back as a digest)
    and the server-computed ones."""
    fields: dict[str, Any] = {"name": (str, Field(description="Full resource name"))}
    if kind.parent_field:
        fields[kind.parent_field] = (str, Field(description=f"The parent {kind.parent}"))
    if kind.id_prefix:
        fields["external_id"] = (str | None, None)
    for name, prop in api.items():
        python = _python_type(kind, name, prop)
        if python not in (str, Any):
            python = python | str  # a whole-field secret is a digest string
        description = prop.get("description", "")
        fields[_attr(name)] = (python | None, Field(None, alias=name,
                               description=f"{description} {_SECRET_NOTE}".strip()))  # fmt: skip
    fields.update({
        "create_time": (str, ...),
        "update_time": (str, ...),
        "etag": (str, Field(description="Send it as If-Match to make a write conditional")),
        "managed_paths": (list[str], ...),
        "protect": (bool, ...),
        "manager": (str, ...),
        **_creator_field(kind),
        **_versioned_fields(kind),
    })  # fmt: skip
    return create_model(kind.name, __base__=_Open, **fields)


def _creator_field(kind: Kind) -> dict[str, Any]:
    """Who created a resource of a kind only its creator edits (read-only)."""
    if not kind.creator_edits:
        return {}
    return {"creator": (str, Field(description=(
        "Server-computed, read-only: who created it (user:<email> for a user-bound token, "
        "else token:<id>; empty if made before creators were kept). Only the creator edits "
        "or deletes it; workspace owners may delete it.")))}  # fmt: skip


def _versioned_fields(kind: Kind) -> dict[str, Any]:
    """The read-only version numbers of a versioned kind's resource (never sent in writes)."""
    if kind.versioning is None:
        return {}
    deploy = kind.versioning.deploy_field
    return {
        "latest_version": (int, Field(ge=0, description=(
            f"Server-computed, read-only: the newest version of {kind.versioning.field} "
            "(each change of it makes the next one)."))),
        "deployed_version": (int, Field(ge=0, description=(
            f"Server-computed, read-only: the version the instances run ({deploy}: latest "
            "follows latest_version; a number pins that version)."))),
    }  # fmt: skip


def _version_models(kind: Kind) -> tuple[type[BaseModel] | None, type[BaseModel] | None]:
    """``<Kind>Version`` (one version; its value only when read alone) and
    ``<Kind>VersionList`` (a page, newest first), for kinds with ``versioning``."""
    if kind.versioning is None:
        return None, None
    value = kind.versioning.field
    fields: dict[str, Any] = {
        "version": (int, Field(ge=1, description="1 for the first, then one more per change")),
        "create_time": (str, ...),
        "actor": (str, Field(description="The id of the token that made it")),
        "labels": (list[str], Field(json_schema_extra={"items": {"enum": ["LATEST", "DEPLOYED"]}},
                                    description="LATEST (the newest) and/or DEPLOYED")),
        "size": (int, Field(ge=0, description=f"The {value}'s length in UTF-8 bytes")),
        _attr(value): (str | None, Field(None, alias=value, description=(
            f"The {value} of this version (GET of one version only)"))),
    }  # fmt: skip
    version = create_model(f"{kind.name}Version", __base__=_Open, **fields)
    page: dict[str, Any] = {
        "versions": (list[version], ...),  # type: ignore[valid-type]
        "next_page_token": (str, Field(description='"" on the last page')),
    }
    return version, create_model(f"{kind.name}VersionList", __base__=_Open, **page)


@cache
def kind_models() -> dict[str, KindModels]:
    """The models of every kind, by kind name, in apply order."""
    return {kind.name: KindModels(kind) for kind in kinds_in_order()}


def _rules_models() -> tuple[type[BaseModel], type[BaseModel]]:
    """``{"rules": [...]}`` with the tracking plan's rule schema (request and response)."""
    schema = TRACKING_PLAN.spec_schema
    items = schema["properties"]["rules"]["items"]
    item_schema = {k: v for k, v in items.items() if not k.startswith("x-seg-")}
    rules = (list[dict[str, Any]], Field(json_schema_extra={"items": item_schema}))
    request = create_model("Rules", __base__=_Closed, rules=rules)
    response = create_model("RuleList", __base__=_Open, rules=(list[dict[str, Any]], ...))
    return request, response


@cache
def _other_models() -> dict[str, type[BaseModel]]:
    rules, rule_list = _rules_models()
    listed: list[type[BaseModel]] = [
        Error, Empty, Status, UpdateMask, WorkspaceUpdate, Workspace, AccessExplanation,
        SecretsCompareRequest, SecretsCompareResponse, LockRequest, LockRenewal, Lock,
        AuditEventList, ChangeList, ApplyStart, ApplyFinish, ApplyRun, ApplyRunDetail,
        ApplyRunList, RuleIds, rules, rule_list, CatalogImport, CatalogImportResult,
        CatalogEntry, *_catalog_lists(), TokenCreate, TokenWithSecret, TokenList,
    ]  # fmt: skip
    return {m.__name__: m for m in listed}


def model(name: str) -> type[BaseModel]:
    """A model that is not a kind's, by name (``Rules``, ``Lock``, …)."""
    return _other_models()[name]


@cache
def component_schemas() -> dict[str, Any]:
    """Every model's JSON Schema, for ``components.schemas`` of the OpenAPI document."""
    models = [*_other_models().values()]
    for kind in kind_models().values():
        models += kind.all
    _, top = models_json_schema(
        [(m, "validation") for m in models],
        ref_template=REF_PREFIX + "{model}",
        schema_generator=_NoNull,
    )
    return dict(top.get("$defs", {}))
