"""The types a kind is made of: fields, the kind itself, and the rule protocol.

Stdlib only and no registry: each kind is one module of ``seg.kinds`` that builds a ``Kind``
from these types, and ``seg.kinds`` collects them. A rule is a pure function
``(subject, lookup) -> [Violation]``; the CLI (diagnostics at file:line:col) and the control
plane (API errors) run the same rules through two thin adapters.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from seg.catalog import Catalog

__all__ = [
    "AccessScope",
    "Code",
    "FieldSpec",
    "FileField",
    "Kind",
    "Lookup",
    "PLAN_TIERS",
    "Ref",
    "Rule",
    "Subject",
    "Versioning",
    "Violation",
]

EMPTY_VALUES: dict[str, Any] = {
    "string": "",
    "boolean": False,
    "integer": 0,
    "number": 0,
    "object": {},
    "array": [],
}

# A workspace's plan tiers, least first: what the plan allows (warehouses, selective sync).
PLAN_TIERS = ("free", "team", "business")

Path = tuple[str, ...]
AnyPath = tuple[str | int, ...]
Ref = tuple[str, str, Path]  # (kind, address, field path it is written at)


class Code(StrEnum):
    """What kind of refusal a violation is (the control plane maps it to an API error)."""

    INVALID_ARGUMENT = "invalid_argument"
    NOT_FOUND = "not_found"
    FAILED_PRECONDITION = "failed_precondition"
    ALREADY_EXISTS = "already_exists"


class AccessScope(StrEnum):
    """Who may read and write a kind (SPEC §6): roles on the source it belongs to, the
    tracking-plan, warehouse or functions roles, or workspace owners only (IAM)."""

    SOURCE = "source"
    TRACKING_PLAN = "tracking_plan"
    WAREHOUSE = "warehouse"
    FUNCTION = "function"
    OWNER = "owner"


@dataclass(frozen=True)
class Violation:
    """A broken rule: where (a field path of the subject), what, which rule, which refusal."""

    path: Path
    message: str
    rule: str
    code: Code = Code.INVALID_ARGUMENT
    # A warning is shown (seg validate, plan) but refuses nothing: the control plane ignores it.
    warning: bool = False
    # Where in the value (1-based line, column) the problem is, for a text value such as a
    # function's code: ``seg validate`` points into the file the value was read from.
    at: tuple[int, int] | None = None


@dataclass(frozen=True)
class Subject:
    """The resource a rule judges: its fields after the write (addresses in reference
    fields), the stored fields before it (None on a create, and in ``seg validate``), the
    paths whose ``${env:…}`` variable is unset, and the secret paths."""

    kind: Kind
    address: str
    fields: Mapping[str, Any]
    before: Mapping[str, Any] | None = None
    unknown_paths: frozenset[AnyPath] = frozenset()
    secret_paths: frozenset[AnyPath] = frozenset()
    # The workspace's models-in-use policy (strict / breaking), for rules that judge changes.
    policy: str = "strict"
    # Whether the caller may read a resource (kind name, address): a refusal names only those
    # and counts the others (validate and tokens not bound to a user read everything).
    visible: Callable[[str, str], bool] = lambda _kind, _address: True

    def is_unknown(self, path: AnyPath) -> bool:
        """Whether a value at, beneath or above ``path`` is unknown (its variable not set)."""
        return any(u[: len(path)] == path or path[: len(u)] == u for u in self.unknown_paths)


@dataclass(frozen=True)
class DbtColumns:
    """A dbt model's output columns as seg validate read them (None: they cannot be known),
    and where they came from (or why they are unknown)."""

    columns: tuple[str, ...] | None
    how: str


@dataclass(frozen=True)
class DbtLinks:
    """The dbt projects ``seg.yaml`` names, as ``seg validate`` read them: per project, each
    model's columns; ``unread``: the projects that could not be read (reported elsewhere)."""

    projects: Mapping[str, Mapping[str, DbtColumns]]
    unread: frozenset[str] = frozenset()
    # where seg.yaml names the projects, for messages
    named: tuple[str, ...] = ()


class Lookup(Protocol):
    """The other resources a rule may read, by kind name and address (``web/amplitude``);
    reference fields hold addresses. The subject itself is included as it will be."""

    def get(self, kind_name: str, address: str) -> Mapping[str, Any] | None: ...
    def under(self, kind_name: str, parent_address: str
              ) -> Sequence[tuple[str, Mapping[str, Any]]]: ...  # fmt: skip
    def every(self, kind_name: str) -> Iterable[tuple[str, Mapping[str, Any]]]: ...
    # The catalog the workspace's types come from (built-in and private entries).
    @property
    def catalog(self) -> Catalog: ...
    # The workspace's plan tier (free, team, business); None when unknown (seg validate
    # without ``plan_tier:`` in seg.yaml): rules that depend on it are skipped.
    @property
    def plan_tier(self) -> str | None: ...
    # The workspace's dbt projects as seg validate read them; None on the control plane,
    # which never sees a dbt project (rules that need one are skipped there).
    @property
    def dbt(self) -> DbtLinks | None: ...


Rule = Callable[[Subject, Lookup], list[Violation]]


def warns_only(rule: Rule) -> Rule:
    """Mark ``rule`` as one whose every violation is a warning. The control plane refuses on
    errors only, so it does not run such a rule at all (a warning that reads every resource
    of a kind would otherwise cost every write that much, inside the workspace's lock)."""
    rule.warns_only = True  # type: ignore[attr-defined]
    return rule


def only_warns(rule: Rule) -> bool:
    return bool(getattr(rule, "warns_only", False))


@dataclass(frozen=True)
class FieldSpec:
    """One API/spec field of a kind."""

    name: str
    type: str
    immutable: bool = False
    # Map-like fields (settings) are diffed and masked per key, so keys the YAML does not
    # declare stay untouched on the server.
    map_like: bool = False
    # A map-like field the YAML declares whole: diffed and masked per leaf, but keys the YAML
    # does not declare are cleared, not left alone, and an absent field stands for its default
    # (``Kind.defaults``, which the kind's ``normalize`` fills in key by key). Exports leave
    # out the keys at their default (Source.schema_settings: an absent forwarding target
    # means disabled).
    closed: bool = False
    # A reference to another kind, written in YAML as a name under the same source and sent
    # to the API as a full resource name (Mapping.model → a Model of the mapping's source).
    ref: str | None = None
    # Whoever may write this resource may name the target without reading it (a function is
    # a catalog entry to the source admins who deploy it; SPEC §6 "refer to").
    open_ref: bool = False
    # Optional fields are removed (not set to their empty value) when masked without a value.
    optional: bool = False
    # Switching the value from one non-empty value to another needs a clear first
    # (Source.tracking_plan: a source is connected to at most one plan at a time).
    reconnect: bool = False
    # Arrays whose item order carries no meaning (TrackingPlan.rules, identified by type, key
    # and version): compared as multisets, so a reordering is not a change.
    unordered: bool = False
    # At most this many items per API call (TrackingPlan.rules: 200); longer lists travel in
    # batches through the field's own endpoints.
    max_per_call: int | None = None
    # Items are tracking-plan rules: plans show them as rule diffs (added, removed, changed).
    rule_items: bool = False
    # Each item may name a file for one of its keys (``json_schema_file`` → ``json_schema``).
    item_file: FileField | None = None
    # The value is written to a file of its own on export (``<stem>.<suffix>``) and read back
    # through ``file_field``; such values are not interpolated.
    export_suffix: str | None = None
    # Only workspace owners may set it (on a create) or change it (an update whose mask
    # touches it), whatever else the caller may do (Warehouse.selective_sync).
    owner_only: bool = False
    # The kind's ``references`` hook names resources inside this field (Source.schema_settings:
    # its forwarding targets): pointing one at a resource needs read access on it, as a
    # ``ref`` field does (SPEC §6 "refer to").
    refers: bool = False
    # Referring to a resource through this field connects it (Warehouse.sources): adding or
    # removing a reference needs write access on the resource too (not only read).
    connects: bool = False
    # Every value of this field, at any depth, is a secret (Alert.slack_webhook_url): sealed
    # by the control plane, shown as (sensitive) in plans, never echoed. In YAML it must come
    # from ``${env:…}`` (seg validate refuses a literal: it would live in git).
    secret: bool = False

    @property
    def empty(self) -> Any:
        value = EMPTY_VALUES[self.type]
        return type(value)() if isinstance(value, dict | list) else value


@dataclass(frozen=True)
class FileField:
    """A ``*_file`` key whose file's content becomes another key (``query_file`` → ``query``).
    ``structured``: the file holds one JSON/YAML object rather than text."""

    file_key: str
    value_key: str
    noun: str
    structured: bool = False


@dataclass(frozen=True)
class Versioning:
    """A field whose every change the control plane keeps as a new version (a function's
    ``code``), and the field that picks the deployed version (``latest`` or a number)."""

    field: str
    deploy_field: str


def _no_refs(_fields: Mapping[str, Any]) -> list[Ref]:
    return []


@dataclass(frozen=True)
class Kind:
    """A resource kind: how it is named, nested, stored, ordered, checked and shown."""

    name: str
    key: str
    collection: str
    order: int
    fields: tuple[FieldSpec, ...]
    parent_kind: Kind | None = None
    parent_field: str | None = None
    defaults: dict[str, Any] = field(default_factory=dict)
    # Groups of fields that exclude each other: declaring a field of one group clears the
    # fields of the others that are set on the server (Mapping: trigger vs model + schedule).
    exclusive: tuple[tuple[str, ...], ...] = ()
    # Resources whose API names use server-generated ids (``tp_…``); the YAML name travels as
    # ``external_id`` and is their address.
    id_prefix: str | None = None
    # The pattern a name must match whole (slugs by default; labels are ``key:value``).
    name_pattern: str = r"^[a-z][a-z0-9-]{0,62}$"
    # The pattern in words, after the quoted name (``is not a consent category id: …``): what
    # validate and the control plane say of a name that does not match (empty: the pattern).
    name_hint: str = ""
    # Names the control plane creates itself (built-in labels): never deleted by a plan.
    system_names: frozenset[str] = frozenset()
    # The fields those built-in resources are created with.
    system_fields: dict[str, Any] = field(default_factory=dict)
    # Mutations need a workspace:owner token (IAM: labels, groups, role bindings).
    owner_only: bool = False
    # Changes to it change who can access what: plans call them out first.
    access: bool = False
    # Whose roles grant access to it (a user-bound token is held to them).
    access_scope: AccessScope = AccessScope.OWNER
    # Rules on the resource with the others (run by validate and by the control plane's
    # writes), rules on the clear values alone (also run before secrets are sealed), and
    # rules on deleting it (the control plane; a plan blocks such deletes itself).
    rules: tuple[Rule, ...] = ()
    value_rules: tuple[Rule, ...] = ()
    delete_rules: tuple[Rule, ...] = ()
    # References beyond ``FieldSpec.ref`` (a source's labels, a binding's group and scope).
    references: Callable[[Mapping[str, Any]], list[Ref]] = _no_refs
    # ``*_file`` keys of the spec read into a field (Model ``query_file`` → ``query``).
    file_fields: tuple[FileField, ...] = ()
    # One line saying what a change grants or revokes (access kinds), given the action's
    # symbol and verb, the address and the (redacted) fields; the renderer escapes it.
    summary: Callable[[str, str, str, str, Mapping[str, Any]], str] | None = None
    # The catalog section its ``catalog`` field names an entry of (source, destination,
    # warehouse): its ``settings`` are checked against that entry, whose secret settings
    # are sealed.
    catalog_section: str | None = None
    # Versions kept by the control plane (Function code) and which one is deployed.
    versioning: Versioning | None = None
    # The resources that run a resource of this kind, given its name and the declared
    # workspace: (kind name, address) pairs (a function's sources and destinations). Plans
    # name them as receiving a new version.
    instances: Callable[[str, Lookup], list[tuple[str, str]]] | None = None
    # The canonical form of its fields (the docs' spellings of an enum value → one): applied
    # by the loader to what the YAML declares and by the control plane to what it stores,
    # so a plan compares canonical values with canonical values.
    normalize: Callable[[Mapping[str, Any]], dict[str, Any]] | None = None
    # Lines a reviewer must not miss, given the fields before and after a change (None: it
    # does not exist): a change that makes the platform drop data. Plans list them first.
    notices: Callable[[Mapping[str, Any] | None, Mapping[str, Any] | None], list[str]] | None = (
        None
    )
    # Its spec's JSON Schema (draft 2020-12) as seg checks it after interpolation: the source
    # of ``schemas/resolved/<key>.schema.json`` and of the published schemas (generated).
    spec_schema: Mapping[str, Any] = field(default_factory=dict)
    # Only the identity that created a resource (``creator``, recorded by the control plane:
    # ``user:<email>`` or ``token:<id>``) may edit or delete it; workspace owners may delete
    # it too. Resources without a recorded creator (made before it was kept) are anyone's
    # with write access.
    creator_edits: bool = False

    @property
    def parent(self) -> str | None:
        """The parent kind's name."""
        return self.parent_kind.name if self.parent_kind else None

    def canonical(self, fields: Mapping[str, Any]) -> dict[str, Any]:
        """``fields`` in canonical form (``normalize``; a copy either way)."""
        return self.normalize(fields) if self.normalize is not None else dict(fields)

    def field(self, name: str) -> FieldSpec | None:
        for spec in self.fields:
            if spec.name == name:
                return spec
        return None

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(f.name for f in self.fields)

    @property
    def javascript_fields(self) -> tuple[str, ...]:
        """The fields holding JavaScript (exported as ``.js`` files: a function's code)."""
        return tuple(f.name for f in self.fields if f.export_suffix == "js")

    @property
    def noun(self) -> str:
        """The kind in words (``tracking plan``), for messages."""
        return self.key.replace("_", " ")

    @property
    def schema_file(self) -> str:
        """Its spec's schema file, generated from ``spec_schema`` (``schemas/resolved/``)."""
        return f"resolved/{self.key.replace('_', '-')}.schema.json"

    def cleared_by(self, declared: Iterable[str]) -> tuple[str, ...]:
        """The fields of the exclusive groups that the ``declared`` fields do not touch:
        declaring one side of a group clears the others (none when nothing is declared)."""
        names = set(declared)
        chosen = [g for g in self.exclusive if names.intersection(g)]
        if not chosen:
            return ()
        return tuple(name for group in self.exclusive if group not in chosen for name in group)

    def chain(self) -> list[Kind]:
        """This kind's ancestors, outermost first, ending with the kind itself."""
        chain = [self]
        while chain[0].parent_kind is not None:
            chain.insert(0, chain[0].parent_kind)
        return chain
