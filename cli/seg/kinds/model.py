"""Model: a warehouse SQL query whose rows reverse-ETL mappings send to destinations, and the
one place "models in use" (SPEC §7) is assembled: ``uses`` over any ``Lookup`` serves the
plan's guard, ``seg check`` and the control plane alike."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from seg.kinds import destination, source
from seg.kinds.shared import parent_property
from seg.model.kinds import (
    AccessScope,
    Code,
    DbtColumns,
    FieldSpec,
    FileField,
    Kind,
    Lookup,
    Subject,
    Violation,
)
from seg.model.wording import did_you_mean
from seg.policy.models import (
    MappingUse,
    MappingView,
    ModelChangePolicy,
    ModelState,
    active_uses,
    judge_model_change,
)
from seg.policy.sql import SqlError, dialect_for, output_columns

__all__ = [
    "KIND",
    "MAPPING",
    "MAX_QUERY_LENGTH",
    "NAME",
    "SOURCE",
    "WAREHOUSE_CATALOGS",
    "catalog_of",
    "dbt_columns",
    "model_state",
    "uses",
]

MAX_QUERY_LENGTH = 65_535
WAREHOUSE_CATALOGS = frozenset({"postgres", "snowflake", "bigquery", "redshift", "databricks"})
MAPPING = "Mapping"  # the kind that uses models (its module imports this one)
NAME = "Model"
SOURCE = source.KIND.name


def catalog_of(lookup: Lookup, address: str) -> str | None:
    """The catalog of the source a model (or anything under a source) belongs to."""
    found = lookup.get(SOURCE, address.split("/", 1)[0])
    catalog = found.get("catalog") if found is not None else None
    return None if catalog is None else str(catalog)


def model_state(address: str, fields: Mapping[str, Any], catalog: str | None) -> ModelState:
    dbt = fields.get("dbt_model")
    link = None if dbt is None else (str(fields.get("dbt_project") or ""), str(dbt))
    return ModelState(address, str(fields.get("query", "")),
                      str(fields.get("identifier_column", "")),
                      bool(fields.get("enabled", True)), dialect_for(catalog), link)  # fmt: skip


def _views(lookup: Lookup) -> list[MappingView]:
    return [
        MappingView(address, address.rsplit("/", 1)[0], fields.get("model"),
                    bool(fields.get("enabled")), fields.get("fields") or {})
        for address, fields in lookup.every(MAPPING)
    ]  # fmt: skip


def uses(lookup: Lookup, model_address: str) -> list[MappingUse]:
    """The mappings that make a model in use: enabled, naming it, on an enabled destination."""

    def enabled(address: str) -> bool:
        return bool((lookup.get(destination.KIND.name, address) or {}).get("enabled"))

    return active_uses(model_address, _views(lookup), enabled)


def _warehouse(subject: Subject, lookup: Lookup) -> list[Violation]:
    catalog = catalog_of(lookup, subject.address)
    if catalog is None or catalog in WAREHOUSE_CATALOGS:
        return []  # an unknown catalog (its variable unset) is not judged
    message = (
        f"model {subject.address!r} needs a warehouse source "
        f"({', '.join(sorted(WAREHOUSE_CATALOGS))}); source catalog is {catalog!r}"
    )
    return [Violation(("source",), message, "model/warehouse")]


def _dbt_project(fields: Mapping[str, Any], named: tuple[str, ...]) -> str | Violation:
    """The dbt project a model links to (``dbt_project``, else seg.yaml's only one)."""
    project = fields.get("dbt_project")
    if project is None:
        if len(named) == 1:
            return named[0]
        message = ("dbt_model needs a dbt project, and seg.yaml names none under dbt_projects"
                   if not named else "give dbt_project: seg.yaml names several dbt projects "
                   f"({', '.join(named)})")  # fmt: skip
        return Violation(("dbt_model",), message, "model/dbt-project")
    if project not in named:
        message = (f"unknown dbt project {project!r} (seg.yaml names "
                   f"{', '.join(named) or 'none'})"
                   + did_you_mean(str(project), named))  # fmt: skip
        return Violation(("dbt_project",), message, "model/dbt-project")
    return str(project)


def _dbt_model(lookup: Lookup, fields: Mapping[str, Any]) -> DbtColumns | Violation | None:
    """The dbt model a model links to, as seg validate read it; a violation when the link
    leads nowhere; None when there is no link or nothing is known (the control plane, a
    project that could not be read)."""
    name, links = fields.get("dbt_model"), lookup.dbt
    if name is None or links is None:
        return None
    project = _dbt_project(fields, links.named)
    if isinstance(project, Violation) or project in links.unread:
        return project if isinstance(project, Violation) else None
    models = links.projects.get(project, {})
    found = models.get(str(name))
    if found is None:
        message = (f"dbt project {project} has no model {str(name)!r}"
                   + did_you_mean(str(name), models))  # fmt: skip
        return Violation(("dbt_model",), message, "model/dbt-model")
    return found


def dbt_columns(lookup: Lookup, fields: Mapping[str, Any]) -> DbtColumns | None:
    """The columns of the dbt model a model links to, when seg validate knows them."""
    found = _dbt_model(lookup, fields)
    return found if isinstance(found, DbtColumns) and found.columns is not None else None


def _dbt_link(subject: Subject, lookup: Lookup) -> list[Violation]:
    """A dbt link leads to a model of a project seg.yaml names, whose columns hold the
    identifier column (seg validate only: the control plane never sees the project)."""
    if subject.is_unknown(("dbt_model",)) or subject.is_unknown(("dbt_project",)):
        return []
    found = _dbt_model(lookup, subject.fields)
    if found is None or isinstance(found, Violation):
        return [] if found is None else [found]
    name = subject.fields["dbt_model"]
    if found.columns is None:
        message = (f"the columns of dbt model {name} cannot be determined ({found.how}); its "
                   "identifier column and mapped columns are not checked")  # fmt: skip
        return [Violation(("dbt_model",), message, "model/dbt-columns", warning=True)]
    identifier = str(subject.fields.get("identifier_column", ""))
    if subject.is_unknown(("identifier_column",)) or identifier.lower() in found.columns:
        return []
    message = (f"identifier column {identifier!r} is not among the columns of dbt model {name} "
               f"({', '.join(found.columns)}; from {found.how})")  # fmt: skip
    return [Violation(("identifier_column",), message, "model/identifier")]


def _query(subject: Subject, lookup: Lookup) -> list[Violation]:
    catalog = catalog_of(lookup, subject.address)
    if "dbt_model" in subject.fields:
        return []
    if catalog not in WAREHOUSE_CATALOGS or subject.is_unknown(("query",)):
        return []
    query = str(subject.fields.get("query", ""))
    if len(query) > MAX_QUERY_LENGTH:
        message = f"query is longer than {MAX_QUERY_LENGTH} characters"
        return [Violation(("query",), message, "model/limit")]
    if subject.is_unknown(("identifier_column",)):
        return []
    try:
        columns = output_columns(query, dialect_for(catalog))
    except SqlError:
        return []  # the warehouse may accept SQL sqlglot cannot read; policy decides later
    identifier = str(subject.fields.get("identifier_column", ""))
    if columns is None or identifier.lower() in columns:
        return []
    message = (
        f"identifier column {identifier!r} is not among the query's output columns "
        f"({', '.join(columns)})"
    )
    return [Violation(("identifier_column",), message, "model/identifier")]


def _judge(subject: Subject, lookup: Lookup, gone: bool) -> list[Violation]:
    assert subject.before is not None
    catalog = catalog_of(lookup, subject.address)
    old = model_state(subject.address, subject.before, catalog)
    new = None if gone else model_state(subject.address, subject.fields, catalog)
    policy = ModelChangePolicy.of(subject.policy) or ModelChangePolicy.STRICT
    verdict = judge_model_change(policy, old, new, uses(lookup, subject.address))
    if not verdict.blocked:
        return []
    return [Violation(("query",), verdict.message, "model/in-use", Code.FAILED_PRECONDITION)]


def _in_use(subject: Subject, lookup: Lookup) -> list[Violation]:
    """A change may not break the active mappings of the model (policy strict / breaking)."""
    return [] if subject.before is None else _judge(subject, lookup, gone=False)


def _deleted(subject: Subject, lookup: Lookup) -> list[Violation]:
    """A model goes only when no mapping uses it (an inactive one must be deleted first)."""
    found = _judge(subject, lookup, gone=True)
    if found:
        return found
    users = [address for address, fields in lookup.every(MAPPING)
             if fields.get("model") == subject.address]  # fmt: skip
    if not users:
        return []
    message = (
        f"model {subject.address} is referenced by mappings {', '.join(users)}; "
        "delete them first"
    )
    return [Violation((), message, "model/referenced", Code.FAILED_PRECONDITION)]


# The spec as seg validate and the control plane check it (after interpolation);
# schemas/resolved/ and the published schemas are generated from it.
SPEC_SCHEMA: dict[str, Any] = {
    "title": "Model spec (Reverse ETL)",
    "type": "object",
    "required": ["source", "identifier_column"],
    "additionalProperties": False,
    "x-seg-message": (
        "give exactly one of query, query_file or dbt_model (dbt_project goes with dbt_model)"
    ),
    "oneOf": [
        {"required": ["query"], "not": {"anyOf": [
            {"required": ["query_file"]}, {"required": ["dbt_model"]},
            {"required": ["dbt_project"]}]}},
        {"required": ["query_file"], "not": {"anyOf": [
            {"required": ["query"]}, {"required": ["dbt_model"]},
            {"required": ["dbt_project"]}]}},
        {"required": ["dbt_model"], "not": {"anyOf": [
            {"required": ["query"]}, {"required": ["query_file"]}]}},
    ],  # fmt: skip
    "properties": {
        "source": parent_property(
            source.KIND,
            (
                "The warehouse Source (postgres, snowflake, bigquery, redshift, databricks) the "
                "model reads from."
            ),
        ),
        "description": {"type": "string", "maxLength": 1000},
        "enabled": {"type": "boolean", "default": True},
        "query": {
            "type": "string",
            "minLength": 1,
            "maxLength": 65535,
            "description": "The SQL query (at most 65,535 characters).",
        },
        "query_file": {
            "type": "string",
            "minLength": 1,
            "pattern": "\\.sql$",
            "description": (
                "Path of a .sql file, relative to this document. Only in YAML: seg sends its "
                "text as query."
            ),
        },
        "dbt_model": {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "pattern": "^[A-Za-z0-9_][A-Za-z0-9_-]*$",
            "description": (
                "The dbt model (its name: the SQL file's name without .sql) whose rows the "
                "model reads, instead of a query."
            ),
        },
        "dbt_project": {
            "type": "string",
            "minLength": 1,
            "maxLength": 255,
            "pattern": "^[A-Za-z_][A-Za-z0-9_]*$",
            "description": (
                "The dbt project of dbt_model, as seg.yaml's dbt_projects names it; needed "
                "only when seg.yaml names several."
            ),
        },
        "identifier_column": {
            "type": "string",
            "minLength": 1,
            "maxLength": 191,
            "description": (
                "The unique identifier column; must be one of the query's output columns."
            ),
        },
    },
}

KIND = Kind(
    name=NAME,
    key="model",
    collection="models",
    order=50,
    parent_kind=source.KIND,
    parent_field="source",
    fields=(
        FieldSpec("description", "string"),
        FieldSpec("enabled", "boolean"),
        # exactly one of query and dbt_model: switching clears the other (masked without a
        # value), which must remove it, not leave an empty string the schema refuses
        FieldSpec("query", "string", export_suffix="sql", optional=True),
        FieldSpec("dbt_model", "string", optional=True),
        FieldSpec("dbt_project", "string", optional=True),
        FieldSpec("identifier_column", "string"),
    ),
    defaults={"enabled": True, "description": ""},
    access_scope=AccessScope.SOURCE,
    rules=(_warehouse, _query, _dbt_link, _in_use),
    delete_rules=(_deleted,),
    file_fields=(FileField("query_file", "query", "query"),),
    spec_schema=SPEC_SCHEMA,
    # a query or a dbt model: declaring one clears the other on the server, even where seg
    # did not set it (an adopted or exported model)
    exclusive=(("query",), ("dbt_model", "dbt_project")),
)
