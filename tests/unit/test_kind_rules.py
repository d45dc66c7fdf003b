"""Each kind's rules as pure functions over an in-memory Lookup."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from seg.kinds import KINDS
from seg.kinds.lookup import IndexLookup
from seg.kinds.model import uses
from seg.kinds.role_binding import effective_access
from seg.model.kinds import Code, Kind, Subject, Violation

Fields = dict[str, Any]


def run(kind_name: str, address: str, fields: Fields, others: Mapping[tuple[str, str], Fields],
        *, before: Fields | None = None, delete: bool = False, policy: str = "strict",
        unknown: frozenset[tuple[str | int, ...]] = frozenset(),
        secret: frozenset[tuple[str | int, ...]] = frozenset()) -> list[Violation]:  # fmt: skip
    """Run the kind's rules (or its delete rules) the way both adapters do."""
    kind: Kind = KINDS[kind_name]
    index = {**others, (kind_name, address): fields}
    subject = Subject(kind, address, fields, before, unknown, secret, policy)
    rules = kind.delete_rules if delete else (*kind.value_rules, *kind.rules)
    return [v for rule in rules for v in rule(subject, IndexLookup(index))]


WAREHOUSE = {("Source", "wh"): {"catalog": "postgres"},
             ("Destination", "wh/braze"): {"enabled": True}}  # fmt: skip
MODEL = {"query": "SELECT id, email FROM users", "identifier_column": "id", "enabled": True}


def mapping(model: str | None = "wh/users", enabled: bool = True, strategy: str = "MANUAL"
            ) -> Fields:  # fmt: skip
    return {"model": model, "enabled": enabled, "fields": {"e": "email"},
            "schedule": {"strategy": strategy}}  # fmt: skip


def test_a_label_in_use_by_a_source_or_a_binding_cannot_go() -> None:
    others = {("Source", "web"): {"labels": {"team": "x"}},
              ("RoleBinding", "b"): {"scope": {"labels": {"team": "x"}}},
              ("Source", "app"): {"labels": {"team": "y"}}}  # fmt: skip
    (found,) = run("Label", "team:x", {}, others, delete=True)
    assert found.code is Code.FAILED_PRECONDITION and found.rule == "label/in-use"
    assert found.message == (
        "label team:x is in use by source web, role binding b; remove it from them first"
    )
    assert run("Label", "team:z", {}, others, delete=True) == []


def test_a_group_used_by_a_binding_cannot_go() -> None:
    others = {("RoleBinding", "b"): {"subject": {"group": "ops"}}}
    (found,) = run("Group", "ops", {}, others, delete=True)
    assert found.message == "group ops is used by role bindings b"
    assert run("Group", "dev", {}, others, delete=True) == []


def test_label_scopes_take_only_some_roles_and_unknown_roles_are_not_judged() -> None:
    scope = {"labels": {"team": "x"}}
    (found,) = run("RoleBinding", "b", {"role": "workspace_owner", "scope": scope}, {})
    assert found.path == ("role",) and found.code is Code.INVALID_ARGUMENT
    assert run("RoleBinding", "b", {"role": "source_admin", "scope": scope}, {}) == []
    assert run("RoleBinding", "b", {"role": "workspace_owner", "scope": "workspace"}, {}) == []
    unknown = frozenset({("role",)})
    assert run("RoleBinding", "b", {"role": "${env:R}", "scope": scope}, {},
               unknown=unknown) == []  # fmt: skip


def test_tracking_plan_schemas_identities_and_connections() -> None:
    bad = {"type": "TRACK", "key": "e", "version": 1, "json_schema": {"type": "objekt"}}
    (found,) = run("TrackingPlan", "tp", {"rules": [bad]}, {})
    assert found.path == ("rules", "0", "json_schema") and found.rule == "tracking-plan/schema"
    assert found.message.startswith("rules[0]: TRACK 'e' v1: json_schema is not a valid draft-07")
    twice = {**bad, "json_schema": {}}
    (found,) = run("TrackingPlan", "tp", {"rules": [twice, twice]}, {})
    assert "declared twice" in found.message
    # the external id is unique among plans, checked on a create only
    others = {("TrackingPlan", "tp_1"): {"external_id": "web"}}
    (found,) = run("TrackingPlan", "tp_2", {"external_id": "web"}, others)
    assert found.code is Code.ALREADY_EXISTS
    assert run("TrackingPlan", "tp_2", {"external_id": "web"}, others, before={}) == []
    # a connected plan cannot go
    sources = {("Source", "web"): {"tracking_plan": "tp_1"}}
    (found,) = run("TrackingPlan", "tp_1", {"external_id": "web"}, sources, delete=True)
    assert found.message == "tracking plan web is connected to sources web; disconnect them first"


def test_a_source_switches_its_tracking_plan_only_through_a_clear() -> None:
    (found,) = run("Source", "web", {"tracking_plan": "b"}, {}, before={"tracking_plan": "a"})
    assert found.code is Code.FAILED_PRECONDITION and found.path == ("tracking_plan",)
    assert "already connected to tracking plan a" in found.message
    assert run("Source", "web", {"tracking_plan": "b"}, {}, before={"tracking_plan": None}) == []
    assert run("Source", "web", {"tracking_plan": "b"}, {}) == []  # validate: no before


def test_models_need_a_warehouse_a_bounded_query_and_their_identifier() -> None:
    web = {("Source", "web"): {"catalog": "javascript"}}
    (found,) = run("Model", "web/m", MODEL, web)
    assert found.rule == "model/warehouse" and found.path == ("source",)
    assert run("Model", "web/m", MODEL, {("Source", "web"): {}}) == []  # catalog unknown
    (found,) = run("Model", "wh/m", {**MODEL, "query": "SELECT 1 -- " + "x" * 65_535}, WAREHOUSE)
    assert found.message == "query is longer than 65535 characters"
    (found,) = run("Model", "wh/m", {**MODEL, "identifier_column": "user_id"}, WAREHOUSE)
    assert found.path == ("identifier_column",)
    assert "'user_id' is not among the query's output columns (id, email)" in found.message
    assert run("Model", "wh/m", {**MODEL, "query": "SELECT * FROM u"}, WAREHOUSE) == []
    assert run("Model", "wh/m", {**MODEL, "identifier_column": "x"}, WAREHOUSE,
               unknown=frozenset({("identifier_column",)})) == []  # fmt: skip


def test_models_in_use_are_assembled_from_any_lookup() -> None:
    state = {**WAREHOUSE, ("Mapping", "wh/braze/a"): mapping(),
             ("Mapping", "wh/braze/off"): mapping(enabled=False),
             ("Mapping", "wh/braze/other"): mapping("wh/other"),
             ("Destination", "wh/quiet"): {"enabled": False},
             ("Mapping", "wh/quiet/b"): mapping()}  # fmt: skip
    assert [(u.address, u.columns) for u in uses(IndexLookup(state), "wh/users")] == [
        ("wh/braze/a", ("email",))
    ]


def test_a_model_in_use_blocks_breaking_changes_and_deletes() -> None:
    state = {**WAREHOUSE, ("Mapping", "wh/braze/a"): mapping()}
    changed = {**MODEL, "query": "SELECT id, email, plan FROM users"}
    (found,) = run("Model", "wh/users", changed, state, before=MODEL, policy="strict")
    assert found.code is Code.FAILED_PRECONDITION and found.rule == "model/in-use"
    assert "model wh/users is in use by wh/braze/a" in found.message
    assert run("Model", "wh/users", changed, state, before=MODEL, policy="breaking") == []
    assert run("Model", "wh/users", changed, state) == []  # a create (or validate) judges nothing
    (found,) = run("Model", "wh/users", MODEL, state, before=MODEL, delete=True)
    assert found.message == "model wh/users is deleted while in use by wh/braze/a"
    idle = {**WAREHOUSE, ("Mapping", "wh/braze/a"): mapping(enabled=False)}
    (found,) = run("Model", "wh/users", MODEL, idle, before=MODEL, delete=True)
    assert found.message == "model wh/users is referenced by mappings wh/braze/a; delete them first"


def test_limits_count_through_the_lookup() -> None:
    many = {("Mapping", f"wh/braze/m{i}"): mapping() for i in range(50)}
    assert run("Mapping", "wh/braze/m49", mapping(), many) == []
    (found,) = run("Mapping", "wh/braze/new", mapping(), many)
    assert found.message == "destination 'wh/braze' has 51 mappings; the limit is 50"
    assert (found.rule, found.path, found.code) == (
        "mapping/limit", ("destination",), Code.FAILED_PRECONDITION)  # fmt: skip
    dbt = {("Mapping", f"wh/braze/d{i}"): mapping(strategy="DBT_CLOUD") for i in range(5)}
    (found,) = run("Mapping", "wh/braze/d5", mapping(strategy="DBT_CLOUD"), dbt)
    assert found.message == "6 mappings use the DBT_CLOUD strategy; the limit is 5 per workspace"
    assert run("Mapping", "wh/braze/x", mapping(), dbt) == []  # not DBT_CLOUD itself
    filters = {("DestinationFilter", f"web/amp/f{i}"): {"if": "all"} for i in range(10)}
    (found,) = run("DestinationFilter", "web/amp/f10", {"if": "all"}, filters)
    assert found.message == "destination 'web/amp' has 11 filters; the limit is 10"


def test_fql_must_parse_and_a_secret_is_never_echoed() -> None:
    (found,) = run("DestinationFilter", "web/amp/f", {"if": "userId = "}, {})
    assert found.path == ("if",) and found.message.startswith("filter.if: invalid FQL: ")
    (found,) = run("Mapping", "web/amp/m", {"trigger": "oops-secret ="}, {},
                   secret=frozenset({("trigger",)}))  # fmt: skip
    assert found.message == "mapping.trigger: the value from the environment (a secret) is not valid FQL"
    assert "oops" not in found.message
    sealed = "secret:hmac:" + "0" * 64
    assert run("DestinationFilter", "web/amp/f", {"if": sealed}, {}) == []
    assert run("DestinationFilter", "web/amp/f", {"if": "${env:X}"}, {},
               unknown=frozenset({("if",)})) == []  # fmt: skip


def test_effective_access_reads_bindings_groups_and_labels_through_the_lookup() -> None:
    state = {("RoleBinding", "a"): {"subject": {"group": "ops"}, "role": "source_admin",
                                    "scope": {"labels": {"team": "x"}}},
             ("RoleBinding", "b"): {"subject": {"user": "someone@else.io"},
                                    "role": "workspace_owner", "scope": "workspace"},
             ("Group", "ops"): {"members": ["Ann@Example.com"]},
             ("Source", "web"): {"labels": {"team": "x"}},
             ("Source", "app"): {}}  # fmt: skip
    assert effective_access("ann@example.com", IndexLookup(state)) == {
        "user": "ann@example.com",
        "workspace_roles": [],
        "sources": {"app": [], "web": ["source_admin"]},
    }


class CountingLookup(IndexLookup):
    """An IndexLookup that counts how often a rule walks a whole kind."""

    def __init__(self, index: Mapping[tuple[str, str], Fields]) -> None:
        super().__init__(index)
        self.walks = 0

    def every(self, kind_name: str) -> Iterable[tuple[str, Mapping[str, Any]]]:
        self.walks += 1
        return super().every(kind_name)


def test_a_workspace_wide_count_is_made_once_per_lookup() -> None:
    """Validating N resources must not count the workspace N times (quadratic)."""
    index = {("Mapping", f"wh/d{i % 10}/m{i}"): mapping(strategy="DBT_CLOUD") for i in range(300)}
    lookup = CountingLookup(index)
    kind = KINDS["Mapping"]
    found = [v for (_, address), fields in index.items() for rule in kind.rules
             for v in rule(Subject(kind, address, fields), lookup)]  # fmt: skip
    assert len(found) == 300 and lookup.walks == 1
    assert {v.message for v in found} == {
        "300 mappings use the DBT_CLOUD strategy; the limit is 5 per workspace"
    }
