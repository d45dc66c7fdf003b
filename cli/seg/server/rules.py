"""Rules for particular kinds, checked inside the write's transaction.

Generic rules (names, parents, masks, schemas) live in ``service``; these are the platform's
invariants that involve other resources: references, limits, and models in use (SPEC §7),
judged by the same ``seg.policy`` functions the CLI uses.
"""

from __future__ import annotations

from typing import Any

from seg.fql.parser import FqlError
from seg.fql.parser import parse as parse_fql
from seg.model.kinds import KINDS, WAREHOUSE_CATALOGS, Kind
from seg.model.limits import (
    MAX_DBT_CLOUD_MAPPINGS,
    MAX_FILTERS_PER_DESTINATION,
    MAX_MAPPINGS_PER_DESTINATION,
    MAX_RULES_PER_CALL,
)
from seg.model.names import parse_resource_name, resource_name
from seg.model.refs import references
from seg.model.secrets import is_digest
from seg.policy.access import LABEL_SCOPED_ROLES
from seg.policy.models import MappingView, ModelState, active_uses, judge_model_change
from seg.policy.sql import SqlError, dialect_for, output_columns
from seg.server import errors
from seg.store.base import ResourceRecord, StoreTx, iter_all
from seg.tracking.rules import schema_problems

__all__ = ["check_delete", "check_write"]


def _address(name: str) -> str:
    return parse_resource_name(name)[2]


def _source_of(tx: StoreTx, workspace: str, address: str) -> ResourceRecord | None:
    return tx.get_resource(resource_name(workspace, KINDS["Source"], address.split("/", 1)[0]))


def _check_model(tx: StoreTx, workspace: str, name: str, data: dict[str, Any]) -> None:
    source = _source_of(tx, workspace, _address(name))
    catalog = source.data.get("catalog") if source else None
    if catalog not in WAREHOUSE_CATALOGS:
        raise errors.InvalidArgument(
            f"model.source: models need a warehouse source "
            f"({', '.join(sorted(WAREHOUSE_CATALOGS))}), not {catalog!r}"
        )
    try:
        columns = output_columns(str(data.get("query", "")), dialect_for(str(catalog)))
    except SqlError:
        return
    identifier = str(data.get("identifier_column", ""))
    if columns is not None and identifier.lower() not in columns:
        raise errors.InvalidArgument(
            f"model.identifier_column: {identifier!r} is not among the query's output columns "
            f"({', '.join(columns)})"
        )


def _check_mapping(tx: StoreTx, workspace: str, name: str, data: dict[str, Any]) -> None:
    model = data.get("model")
    if model is not None:
        source = "/".join(name.split("/")[:4])
        if not str(model).startswith(source + "/models/"):
            raise errors.InvalidArgument(f"mapping.model must be a model of {source}")
        if tx.get_resource(str(model)) is None:
            raise errors.NotFound(f"{model} not found")
    _check_fql(data, "trigger", "mapping")
    _check_siblings(tx, workspace, "Mapping", name, MAX_MAPPINGS_PER_DESTINATION, "mappings")
    if (data.get("schedule") or {}).get("strategy") == "DBT_CLOUD":
        others = [
            m.name for m in iter_all(tx, workspace, "Mapping")
            if m.name != name and (m.data.get("schedule") or {}).get("strategy") == "DBT_CLOUD"
        ]  # fmt: skip
        if len(others) >= MAX_DBT_CLOUD_MAPPINGS:
            raise errors.FailedPrecondition(
                f"at most {MAX_DBT_CLOUD_MAPPINGS} mappings may use the DBT_CLOUD strategy"
            )


def _check_fql(data: dict[str, Any], field: str, key: str, secret: bool = False) -> None:
    text = data.get(field)
    if isinstance(text, str) and not is_digest(text):  # a sealed one was checked in clear
        try:
            parse_fql(text)
        except FqlError as exc:
            problem = "the secret value is not valid FQL" if secret else f"invalid FQL: {exc}"
            raise errors.InvalidArgument(f"{key}.{field}: {problem}") from None


_FQL_FIELDS = {"Mapping": ("trigger", "mapping"), "DestinationFilter": ("if", "filter")}


def check_expressions(kind: Kind, data: dict[str, Any], secret_paths: list[str]) -> None:
    """FQL fields must parse; run on the clear values before secrets are sealed, and never
    echoing a secret one."""
    if kind.name in _FQL_FIELDS:
        field, key = _FQL_FIELDS[kind.name]
        _check_fql(data, field, key, field in secret_paths)


def _check_siblings(tx: StoreTx, workspace: str, kind: str, name: str, limit: int, noun: str
                    ) -> None:  # fmt: skip
    """At most ``limit`` resources of ``kind`` under the destination of ``name``."""
    destination = name.rsplit("/", 2)[0]
    siblings = tx.list_resources(workspace, kind, destination, None, limit + 1)
    if len([s for s in siblings if s.name != name]) >= limit:
        raise errors.FailedPrecondition(f"{destination} already has {limit} {noun} (the limit)")


def _check_filter(tx: StoreTx, workspace: str, name: str, data: dict[str, Any]) -> None:
    _check_fql(data, "if", "filter")
    _check_siblings(
        tx, workspace, "DestinationFilter", name, MAX_FILTERS_PER_DESTINATION, "filters"
    )


def check_call_limits(kind: Kind, obj: dict[str, Any]) -> None:
    """Limits on one call's payload (a tracking plan may hold more rules than one call)."""
    rules = obj.get("rules")
    if kind.name == "TrackingPlan" and isinstance(rules, list) and len(rules) > MAX_RULES_PER_CALL:
        raise errors.InvalidArgument(
            f"rules must contain less than or equal to {MAX_RULES_PER_CALL} items"
        )


def check_rules(rules: Any) -> None:
    if not isinstance(rules, list) or not all(isinstance(r, dict) for r in rules):
        raise errors.InvalidArgument("tracking_plan.rules must be a list of rules")
    for index, rule in enumerate(rules):
        if not isinstance(rule.get("json_schema"), dict):
            raise errors.InvalidArgument(f"tracking_plan.rules[{index}].json_schema is required")
    problems = schema_problems(rules)
    if problems:
        index, message = problems[0]
        raise errors.InvalidArgument(f"tracking_plan.rules[{index}]: {message}")


def _check_tracking_plan(tx: StoreTx, workspace: str, data: dict[str, Any],
                         old: ResourceRecord | None) -> None:  # fmt: skip
    check_rules(data.get("rules", []))
    if old is None:
        for plan in iter_all(tx, workspace, "TrackingPlan"):
            if plan.data.get("external_id") == data.get("external_id"):
                raise errors.AlreadyExists(
                    f"a tracking plan with external_id {data.get('external_id')!r} exists "
                    f"({plan.name})"
                )


def _check_source(tx: StoreTx, workspace: str, data: dict[str, Any],
                  old: ResourceRecord | None) -> None:  # fmt: skip
    plan = data.get("tracking_plan")
    if not plan:
        return
    prefix = f"workspaces/{workspace}/tracking-plans/"
    if not str(plan).startswith(prefix) or tx.get_resource(str(plan)) is None:
        raise errors.NotFound(f"tracking plan {plan} not found")
    before = old.data.get("tracking_plan") if old else None
    if before and before != plan:
        raise errors.FailedPrecondition(
            f"the source is already connected to tracking plan {before}; a source has at most "
            "one tracking plan, so disconnect it first"
        )


def _referrers(tx: StoreTx, workspace: str, model_name: str) -> list[ResourceRecord]:
    return [m for m in iter_all(tx, workspace, "Mapping") if m.data.get("model") == model_name]


def _model_state(rec_name: str, data: dict[str, Any], catalog: str | None) -> ModelState:
    return ModelState(
        _address(rec_name),
        str(data.get("query", "")),
        str(data.get("identifier_column", "")),
        bool(data.get("enabled", True)),
        dialect_for(catalog),
    )


def _guard_model(tx: StoreTx, policy: str, rec: ResourceRecord, new: dict[str, Any] | None) -> None:
    mappings = _referrers(tx, rec.workspace, rec.name)
    enabled: dict[str, bool] = {}

    def destination_enabled(address: str) -> bool:
        if address not in enabled:
            dest = tx.get_resource(resource_name(rec.workspace, KINDS["Destination"], address))
            enabled[address] = bool(dest and dest.data.get("enabled"))
        return enabled[address]

    views = [
        MappingView(_address(m.name), _address(m.name).rsplit("/", 1)[0],
                    _address(str(m.data["model"])), bool(m.data.get("enabled")),
                    m.data.get("fields") or {})
        for m in mappings
    ]  # fmt: skip
    uses = active_uses(_address(rec.name), views, destination_enabled)
    source = _source_of(tx, rec.workspace, _address(rec.name))
    catalog = str(source.data.get("catalog")) if source else None
    old = _model_state(rec.name, rec.data, catalog)
    after = _model_state(rec.name, new, catalog) if new is not None else None
    verdict = judge_model_change(policy, old, after, uses)
    if verdict.blocked:
        raise errors.FailedPrecondition(verdict.message)
    if new is None and mappings:
        names = ", ".join(_address(m.name) for m in mappings)
        raise errors.FailedPrecondition(
            f"{rec.name} is referenced by mappings {names}; delete them first"
        )


def check_write(
    tx: StoreTx, kind: Kind, policy: str, name: str, data: dict[str, Any],
    old: ResourceRecord | None,
) -> None:  # fmt: skip
    """Raise a domain error if creating (``old`` None) or updating ``name`` to ``data``
    breaks a rule."""
    workspace = name.split("/")[1]
    _check_refs(tx, workspace, kind, data)
    if kind.name == "TrackingPlan":
        _check_tracking_plan(tx, workspace, data, old)
    elif kind.name == "Source":
        _check_source(tx, workspace, data, old)
    elif kind.name == "Model":
        _check_model(tx, workspace, name, data)
        if old is not None:
            _guard_model(tx, policy, old, data)
    elif kind.name == "Mapping":
        _check_mapping(tx, workspace, name, data)
    elif kind.name == "DestinationFilter":
        _check_filter(tx, workspace, name, data)


def _label_users(tx: StoreTx, workspace: str, label: str) -> list[str]:
    key, _, value = label.partition(":")
    users = [f"source {_address(s.name)}" for s in iter_all(tx, workspace, "Source")
             if (s.data.get("labels") or {}).get(key) == value]  # fmt: skip
    for binding in iter_all(tx, workspace, "RoleBinding"):
        scope = binding.data.get("scope")
        if isinstance(scope, dict) and (scope.get("labels") or {}).get(key) == value:
            users.append(f"role binding {_address(binding.name)}")
    return users


def _check_refs(tx: StoreTx, workspace: str, kind: Kind, data: dict[str, Any]) -> None:
    """Labels on sources, and a binding's group, sources and labels, must exist."""
    for ref_kind, address, path in references(kind.name, data):
        if ref_kind not in ("Label", "Group") and not (kind.name == "RoleBinding"):
            continue
        if tx.get_resource(resource_name(workspace, KINDS[ref_kind], address)) is None:
            where = ".".join([kind.key, *path])
            raise errors.InvalidArgument(f"{where}: {ref_kind.lower()} {address!r} does not exist")
    if kind.name == "RoleBinding":
        scope = data.get("scope")
        if (
            isinstance(scope, dict)
            and "labels" in scope
            and data.get("role") not in LABEL_SCOPED_ROLES
        ):
            raise errors.InvalidArgument(
                f"role_binding.role: {data.get('role')!r} cannot take a label scope"
            )


def check_delete(tx: StoreTx, kind: Kind, policy: str, rec: ResourceRecord) -> None:
    if kind.name == "Model":
        _guard_model(tx, policy, rec, None)
    elif kind.name == "Label":
        users = _label_users(tx, rec.workspace, _address(rec.name))
        if users:
            raise errors.FailedPrecondition(
                f"label {_address(rec.name)} is in use by {', '.join(users)}; "
                "remove it from them first"
            )
    elif kind.name == "Group":
        users = [_address(b.name) for b in iter_all(tx, rec.workspace, "RoleBinding")
                 if (b.data.get("subject") or {}).get("group") == _address(rec.name)]  # fmt: skip
        if users:
            raise errors.FailedPrecondition(
                f"group {_address(rec.name)} is used by role bindings {', '.join(users)}"
            )
    elif kind.name == "TrackingPlan":
        connected = [s for s in iter_all(tx, rec.workspace, "Source")
                     if s.data.get("tracking_plan") == rec.name]  # fmt: skip
        if connected:
            names = ", ".join(_address(s.name) for s in connected)
            raise errors.FailedPrecondition(
                f"tracking plan {rec.data.get('external_id')} is connected to sources {names}; "
                "disconnect them first"
            )
