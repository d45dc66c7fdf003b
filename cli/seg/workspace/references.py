"""Rules across documents: unique addresses, parents and references that exist, and the
platform's limits that need more than one resource to check."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable

from seg.model.kinds import KINDS, WAREHOUSE_CATALOGS
from seg.model.limits import (
    MAX_DBT_CLOUD_MAPPINGS,
    MAX_FILTERS_PER_DESTINATION,
    MAX_MAPPINGS_PER_DESTINATION,
    MAX_QUERY_LENGTH,
)
from seg.model.refs import references
from seg.model.resource import DesiredResource, Origin
from seg.model.wording import did_you_mean
from seg.policy.access import LABEL_SCOPED_ROLES
from seg.policy.sql import SqlError, dialect_for, output_columns
from seg.workspace.diagnostics import Diagnostic

__all__ = ["check_references"]


Index = dict[tuple[str, str], DesiredResource]


def _at(res: DesiredResource, path: tuple[str, ...], message: str, rule: str) -> Diagnostic:
    origin = res.marks.get(path) or res.origin or Origin("?", 1, 1)
    return Diagnostic(origin.file, origin.line, origin.col, message, rule)


def _missing(
    res: DesiredResource, path: tuple[str, ...], kind: str, target: str, index: Index
) -> Diagnostic:
    declared = [a for (k, a) in index if k == kind]
    suffix = did_you_mean(target, declared)
    message = (
        f"{res.kind.name} {res.address!r} refers to {kind.lower()} {target!r}, "
        f"which is not declared{suffix}"
    )
    return _at(res, path, message, "reference")


def _duplicates(resources: list[DesiredResource], index: Index) -> list[Diagnostic]:
    problems = []
    for res in resources:
        key = (res.kind.name, res.address)
        if key in index:
            message = (
                f"duplicate address {res.address!r} ({res.kind.name}); "
                f"first declared at {index[key].origin}"
            )
            problems.append(_at(res, ("__name__",), message, "duplicate-address"))
        else:
            index[key] = res
    return problems


def _links(res: DesiredResource, index: Index, broken: set[tuple[str, str]]) -> list[Diagnostic]:
    problems = []
    if res.kind.parent and res.kind.parent_field:
        parent = res.address.rsplit("/", 1)[0]
        if (res.kind.parent, parent) not in index and (res.kind.parent, parent) not in broken:
            problems.append(_missing(res, (res.kind.parent_field,), res.kind.parent, parent, index))
    for kind, target, path in references(res.kind.name, res.fields):
        if res.is_unknown(path):
            continue  # its variable is not set: nothing to look up
        known = (kind, target) in index or (kind, target) in broken
        if not known and target not in KINDS[kind].system_names:
            problems.append(_missing(res, path, kind, target, index))
    return problems


def _binding_rules(res: DesiredResource, _index: Index) -> list[Diagnostic]:
    scope = res.fields.get("scope")
    role = res.fields.get("role")
    if res.is_unknown(("role",)) or res.is_unknown(("scope",)):
        return []
    if isinstance(scope, dict) and "labels" in scope and role not in LABEL_SCOPED_ROLES:
        allowed = ", ".join(sorted(LABEL_SCOPED_ROLES))
        message = f"role {role!r} cannot take a label scope (only {allowed})"
        return [_at(res, ("role",), message, "access/label-scope")]
    return []


def _model_rules(res: DesiredResource, index: Index) -> list[Diagnostic]:
    source = index.get(("Source", res.address.split("/", 1)[0]))
    if source is None or source.is_unknown(("catalog",)):
        return []
    catalog = source.fields.get("catalog")
    if catalog not in WAREHOUSE_CATALOGS:
        message = (
            f"model {res.address!r} needs a warehouse source "
            f"({', '.join(sorted(WAREHOUSE_CATALOGS))}); source catalog is {catalog!r}"
        )
        return [_at(res, ("source",), message, "model/warehouse")]
    if res.is_unknown(("query",)):
        return []
    query = str(res.fields.get("query", ""))
    where = ("query_file",) if res.attachments else ("query",)
    if len(query) > MAX_QUERY_LENGTH:
        return [
            _at(res, where, f"query is longer than {MAX_QUERY_LENGTH} characters", "model/limit")
        ]
    try:
        columns = output_columns(query, dialect_for(str(catalog)))
    except SqlError:
        return []  # the warehouse may accept SQL sqlglot cannot read; policy decides later
    identifier = str(res.fields.get("identifier_column", ""))
    if res.is_unknown(("identifier_column",)):
        return []
    if columns is not None and identifier.lower() not in columns:
        message = (
            f"identifier column {identifier!r} is not among the query's output columns "
            f"({', '.join(columns)})"
        )
        return [_at(res, ("identifier_column",), message, "model/identifier")]
    return []


def _per_destination(resources: list[DesiredResource], kind: str, limit: int, noun: str
                     ) -> list[Diagnostic]:  # fmt: skip
    children = [r for r in resources if r.kind.name == kind]
    problems = []
    for destination, count in sorted(
        Counter(c.address.rsplit("/", 1)[0] for c in children).items()
    ):
        if count > limit:
            first = next(c for c in children if c.address.startswith(destination + "/"))
            message = f"destination {destination!r} has {count} {noun}; the limit is {limit}"
            problems.append(_at(first, ("destination",), message, f"{noun[:-1]}/limit"))
    return problems


def _limits(resources: list[DesiredResource]) -> list[Diagnostic]:
    mappings = [r for r in resources if r.kind.name == "Mapping"]
    problems = _per_destination(resources, "Mapping", MAX_MAPPINGS_PER_DESTINATION, "mappings")
    problems += _per_destination(resources, "DestinationFilter", MAX_FILTERS_PER_DESTINATION,
                                 "filters")  # fmt: skip
    dbt = [m for m in mappings if (m.fields.get("schedule") or {}).get("strategy") == "DBT_CLOUD"]
    if len(dbt) > MAX_DBT_CLOUD_MAPPINGS:
        message = (
            f"{len(dbt)} mappings use the DBT_CLOUD strategy; "
            f"the limit is {MAX_DBT_CLOUD_MAPPINGS} per workspace"
        )
        problems.append(_at(dbt[MAX_DBT_CLOUD_MAPPINGS], ("schedule",), message, "mapping/limit"))
    return problems


def _fql(field: str) -> Callable[[DesiredResource, Index], list[Diagnostic]]:
    """FQL must parse (the platform drops every event when it does not)."""

    def rule(res: DesiredResource, _index: Index) -> list[Diagnostic]:
        text = res.fields.get(field)
        if not isinstance(text, str) or res.is_unknown((field,)):
            return []
        from seg.fql.parser import FqlError, parse  # lark loads only for FQL

        try:
            parse(text)
        except FqlError as exc:
            if (field,) in res.secret_paths:  # never echo a value from the environment
                return [_at(res, (field,), f"{field}: the value from the environment is not "
                                           "valid FQL", "fql")]  # fmt: skip
            return [_at(res, (field,), f"{field}: invalid FQL: {exc}", "fql")]
        return []

    return rule


def _tracking_plan_rules(res: DesiredResource, _index: Index) -> list[Diagnostic]:
    from seg.tracking.rules import schema_problems

    return [
        _at(res, ("rules", str(i), "json_schema") if "json_schema" in res.fields["rules"][i]
            else ("rules", str(i)), message, "tracking-plan/schema")
        for i, message in schema_problems(res.fields.get("rules") or [])
    ]  # fmt: skip


KIND_RULES: dict[str, Callable[[DesiredResource, Index], list[Diagnostic]]] = {
    "RoleBinding": _binding_rules,
    "TrackingPlan": _tracking_plan_rules,
    "Model": _model_rules,
    "DestinationFilter": _fql("if"),
    "Mapping": _fql("trigger"),
}


def check_references(
    resources: list[DesiredResource], broken: set[tuple[str, str]] | None = None
) -> list[Diagnostic]:
    """Cross-document problems; references to documents that failed to load are skipped."""
    index: Index = {}
    problems = _duplicates(resources, index)
    for res in resources:
        problems += _links(res, index, broken or set())
        rule = KIND_RULES.get(res.kind.name)
        if rule is not None:
            problems += rule(res, index)
    return problems + _limits(resources)
