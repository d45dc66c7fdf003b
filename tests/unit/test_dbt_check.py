"""The pure part of `seg check --dbt` (seg.ci.dbt_check): which dbt models changed, which live
seg models are linked to them, and the verdicts."""

from __future__ import annotations

from typing import Any

from seg.ci.dbt_check import check_dbt, dbt_changes, linked_models, manifest_note
from seg.kinds import destination, mapping, model, source
from seg.model.resource import CurrentResource
from seg.policy.dbt import DbtModel, DbtProject
from seg.policy.models import ModelChangePolicy

STRICT, BREAKING = ModelChangePolicy.STRICT, ModelChangePolicy.BREAKING


def dbt(name: str, sql: str, path: str | None = None, columns=("user_id", "email")) -> DbtModel:
    return DbtModel(name, path or f"models/{name}.sql", sql, columns=columns, how="test",
                    from_sql=True)


def project(*models: DbtModel, manifest: bool = False) -> DbtProject:
    return DbtProject("analytics", {m.name: m for m in models}, manifest)


def live(dbt_project: str | None = "analytics", enabled: bool = True) -> list[CurrentResource]:
    fields: dict[str, Any] = {"source": "wh", "dbt_model": "users", "identifier_column": "user_id"}
    if dbt_project is not None:
        fields["dbt_project"] = dbt_project
    return [
        CurrentResource(source.KIND, "wh", {"catalog": "postgres"}),
        CurrentResource(destination.KIND, "wh/braze", {"enabled": True}),
        CurrentResource(model.KIND, "wh/users", fields),
        CurrentResource(mapping.KIND, "wh/braze/sync", {"model": "wh/users", "enabled": enabled,
                                                        "fields": {"e": "email"}}),
    ]  # fmt: skip


BASE = project(dbt("users", "select user_id, email from t"), dbt("orders", "select 1 as o"))


def test_a_left_out_dbt_project_matches_any_and_another_name_none() -> None:
    assert [m.address for m in linked_models(live(None), "analytics", "users")] == ["wh/users"]
    assert [m.address for m in linked_models(live(""), "other", "users")] == ["wh/users"]
    assert linked_models(live("marketing"), "analytics", "users") == []
    assert linked_models(live(), "analytics", "orders") == []


def test_changes_renames_moves_and_removals() -> None:
    head = project(dbt("customers", "select user_id, email from t", "models/customers.sql"),
                   dbt("orders", "select 1 as o", "models/marts/orders.sql"))  # fmt: skip
    changes = dbt_changes(BASE, head, {"models/users.sql": "models/customers.sql",
                                       "models/orders.sql": "models/marts/orders.sql"})  # fmt: skip
    by_name = {c.old.name: c for c in changes}
    assert by_name["users"].change == "renamed" and by_name["users"].renamed_to == "customers"
    assert by_name["orders"].change == "modified"
    assert by_name["orders"].aspects == ("file (models/orders.sql → models/marts/orders.sql)",)
    gone = dbt_changes(BASE, project(dbt("orders", "select 1 as o")), {})
    assert [(c.old.name, c.change) for c in gone] == [("users", "removed")]


def test_verdicts_under_each_policy_and_when_not_in_use() -> None:
    head = project(dbt("users", "select user_id, email, plan from t",
                       columns=("user_id", "email", "plan")), dbt("orders", "select 2 as o"))  # fmt: skip
    strict = check_dbt("analytics", BASE, head, {}, live(), STRICT, lambda p: f"dbt/{p}")
    users, orders = sorted(strict.findings, key=lambda f: f.model != "users")
    assert users.blocked and users.mappings == ("wh/braze/sync",)
    assert users.origin is not None and str(users.origin) == "dbt/models/users.sql:1:1"
    assert not orders.blocked and "not linked to a seg model" in orders.message
    breaking = check_dbt("analytics", BASE, head, {}, live(), BREAKING)
    assert not breaking.blocked
    assert check_dbt("analytics", BASE, head, {}, live(enabled=False), STRICT).blocked == ()
    dropped = project(dbt("users", "select user_id from t", columns=("user_id",)),
                      dbt("orders", "select 1 as o"))  # fmt: skip
    (blocked,) = check_dbt("analytics", BASE, dropped, {}, live(), BREAKING).blocked
    assert "wh/braze/sync maps email, which it no longer returns" in blocked.message
    unknown = project(dbt("users", "select * from x", columns=None), dbt("orders", "select 1 as o"))
    (closed,) = check_dbt("analytics", BASE, unknown, {}, live(), BREAKING).blocked
    assert "cannot be read from its SQL, so seg fails closed" in closed.message


def test_the_manifest_note_names_the_revisions_without_one() -> None:
    with_manifest = project(manifest=True)
    assert manifest_note(with_manifest, with_manifest) is None
    note = manifest_note(project(), with_manifest)
    assert note is not None and note.startswith("no manifest for the base revision:")
    both = manifest_note(project(), project())
    assert both is not None and both.startswith("no manifest for the base and head revisions:")
