"""seg.policy.dbt: dbt SQL rendered without dbt, a project's models and their columns, and
whether a dbt model in use may change (issue 16)."""

from __future__ import annotations

import contextlib
import time

import pytest

from seg.policy.dbt import (
    DbtModel,
    build_project,
    judge_dbt_change,
    project_settings,
    refs_of,
    render_sql,
)
from seg.policy.models import MappingUse, ModelChangePolicy
from seg.policy.sql import SqlError

SETTINGS = {
    "name": "analytics",
    "model-paths": ["models", "more/"],
    "models": {"analytics": {
        "+materialized": "view",
        "tags": ["all"],
        "marts": {"+materialized": "table", "finance": {"+schema": "finance"}},
        "other_package_dir": {"+enabled": False},
    }, "other": {"+materialized": "ephemeral"}},
}  # fmt: skip

USES = [MappingUse("wh/braze/sync", ("email", "user_id"))]


# --- render_sql ------------------------------------------------------------------------------


@pytest.mark.parametrize(("sql", "rendered"), [
    ("select * from {{ ref('users') }}", "select * from users"),
    ('select * from {{ref("users")}}', "select * from users"),
    ("select * from {{ ref('pkg', 'users') }}", "select * from users"),
    ("select * from {{ ref('users', v=2) }}", "select * from users"),
    ("select * from {{ ref('users', version=2) }}", "select * from users"),
    ("select * from {{ ref('pkg', 'users', v='2') }}", "select * from users"),
    ("select * from {{- ref('users') -}} u", "select * from users u"),
    ("select * from {{ source('app', 'users') }}", "select * from app.users"),
    ("select * from {{source( \"app\" , \"users\" )}}", "select * from app.users"),
    ("{{ config(materialized='table') }}\nselect 1", "\nselect 1"),
    ("{{ config(materialized='incremental', unique_key=['a', 'b'], meta={'o': 1},\n"
     "  post_hook=grant('x')) }}\nselect 1", "\n\nselect 1"),
    ("{# a comment {{ my_macro() }} #}select 1", "select 1"),
    ("{#- trimmed -#}\nselect 1 {# two\nlines #} as a", "\nselect 1 \n as a"),
])  # fmt: skip
def test_render_sql(sql: str, rendered: str) -> None:
    assert render_sql(sql) == rendered


@pytest.mark.parametrize(("sql", "line"), [
    ("select {{ cents_to_dollars('a') }}", 1),
    ("select 1\nfrom x\n{% if is_incremental() %}where a > 1{% endif %}", 3),
    ("{# a\nlong\ncomment #}\nselect {{ var('x') }}", 4),
    ("{{ config(\n  materialized='table'\n) }}\nselect {{ ref(users) }}", 4),  # unquoted
    ("select 1 {# never closed", 1),
    ("{{ ref('a') }}\n{{ ref('b') }}\n{{ dbt_utils.star(ref('a')) }}", 3),
])  # fmt: skip
def test_other_jinja_is_refused_at_its_line(sql: str, line: int) -> None:
    with pytest.raises(SqlError, match=rf"^line {line} uses Jinja that only dbt can render"):
        render_sql(sql)


def test_refs_of() -> None:
    sql = "{{ ref('a') }} {{ ref('pkg', 'b') }} {{ ref('c', v=1) }} {{ source('s', 't') }}"
    assert refs_of(sql) == ("a", "b", "c")


@pytest.mark.parametrize("text", [
    "{{ ref(" * 30_000, "{{ ref('a', " * 20_000, "{{ config(" * 20_000,
    "{{ config((" * 20_000, "{#" * 100_000, "{{ source('a', " * 20_000, "{{- " * 50_000,
    "{{ ref('a')" * 20_000, "{{ config(x={" * 20_000, "'" * 200_000,
])  # fmt: skip
def test_hostile_sql_renders_in_linear_time(text: str) -> None:
    started = time.monotonic()
    with contextlib.suppress(SqlError):
        render_sql(text)
    refs_of(text)
    assert time.monotonic() - started < 1.0


# --- projects --------------------------------------------------------------------------------


def test_project_settings() -> None:
    name, paths, block = project_settings(SETTINGS)
    assert (name, paths) == ("analytics", ("models", "more"))
    assert project_settings({"name": "p"})[1] == ("models",)
    assert project_settings({"name": "p", "source-paths": ["src"]})[1] == ("src",)
    for bad in (None, [], {"name": 3}, {"version": 2}):
        with pytest.raises(ValueError, match="no name"):
            project_settings(bad)
    with pytest.raises(ValueError, match="model-paths"):
        project_settings({"name": "p", "model-paths": "models"})


def test_config_resolution_by_directory_and_yaml() -> None:
    files = {"models/a.sql": "select 1 as a", "models/marts/b.sql": "select 1 as b",
             "models/marts/finance/c.sql": "select 1 as c", "more/d.sql": "select 1 as d"}  # fmt: skip
    yaml_docs = [("models/schema.yml", {"models": [{"name": "c", "config": {"tags": ["c"]}}]})]
    project = build_project(SETTINGS, files, yaml_docs)
    config = {name: dict(m.config) for name, m in project.models.items()}
    assert config["a"] == {"materialized": "view", "tags": ["all"]}
    assert config["b"] == {"materialized": "table", "tags": ["all"]}
    assert config["c"] == {"materialized": "table", "schema": "finance", "tags": ["c"]}
    assert config["d"] == {"materialized": "view", "tags": ["all"]}  # the second model path


def test_columns_from_sql_with_star_expanded_through_upstream_models() -> None:
    files = {
        "models/staging/stg_users.sql": "select id as user_id, email from {{ source('a', 'u') }}",
        "models/marts/users.sql": "select * from {{ ref('stg_users') }}",
        "models/marts/wide.sql": "select u.*, 1 as n from {{ ref('users') }} as u",
        "models/marts/unknown.sql": "select * from raw.events",
        "models/marts/macro.sql": "select {{ m() }} as x",
        "models/marts/documented.sql": "select {{ m() }} as x, y",
    }
    docs = [("models/schema.yml", {"models": [
        {"name": "documented", "columns": [{"name": "X"}, {"name": "y"}, "junk"]}]})]  # fmt: skip
    project = build_project({"name": "p"}, files, docs)
    models = project.models
    assert models["stg_users"].columns == ("user_id", "email")
    assert models["users"].columns == ("user_id", "email")
    assert models["wide"].columns == ("user_id", "email", "n")
    assert models["unknown"].columns is None and "selects *" in models["unknown"].how
    assert models["macro"].columns is None and "line 1 uses Jinja" in models["macro"].how
    assert models["documented"].columns == ("x", "y")
    assert models["documented"].how.startswith("the columns documented in YAML")
    assert project.notes[-1].startswith("no manifest")


def test_reference_cycles_end() -> None:
    files = {"models/a.sql": "select * from {{ ref('b') }}",
             "models/b.sql": "select * from {{ ref('a') }}"}  # fmt: skip
    models = build_project({"name": "p"}, files, []).models
    assert models["a"].columns is None and models["b"].columns is None


# --- manifests -------------------------------------------------------------------------------


def node(name: str, package: str = "analytics", code: str | None = "select 1 as a",
         kind: str = "model", raw: str | None = None) -> dict:  # fmt: skip
    """A manifest node compiled from the file models/<name>.sql holding ``raw``."""
    found = {"resource_type": kind, "package_name": package, "name": name,
             "original_file_path": f"models/{name}.sql", "raw_code": raw}  # fmt: skip
    return found if code is None else {**found, "compiled_code": code}


def test_manifest_compiled_sql_wins_and_foreign_packages_are_ignored() -> None:
    files = {"models/users.sql": "select {{ m() }} as x, id"}
    manifest = {"nodes": {
        "model.analytics.users": node("users", code="select 2 as x, id, extra from t",
                                      raw=files["models/users.sql"]),
        "model.dbt_utils.users": node("users", package="dbt_utils", code="select 1 as other"),
        "test.analytics.users": node("users", kind="test", code="select 1 as fail"),
        "model.analytics.gone": node("gone"),  # not among the files: not a model here
        "junk": [1, 2],
    }}  # fmt: skip
    project = build_project({"name": "analytics"}, files, [], manifest)
    assert project.from_manifest and list(project.models) == ["users"]
    users = project.models["users"]
    assert users.columns == ("x", "id", "extra") and users.how == "the compiled SQL in the manifest"
    assert users.compiled == "select 2 as x, id, extra from t"
    assert project.notes == ()


def test_a_parse_only_manifest_says_so_and_falls_back_to_the_sql() -> None:
    files = {"models/users.sql": "select id, email from {{ source('a', 'b') }}"}
    manifest = {"nodes": {"model.analytics.users": node("users", code=None,
                                                        raw=files["models/users.sql"])}}
    project = build_project({"name": "analytics"}, files, [], manifest)
    assert project.notes == ("the manifest holds no compiled SQL (dbt parse); run dbt compile "
                             "for it",)  # fmt: skip
    assert project.models["users"].columns == ("id", "email")
    for bad in ({"nodes": []}, [], "x"):
        notes = build_project({"name": "analytics"}, files, [], bad).notes
        assert notes == ("the manifest has no nodes; it is ignored",)


# --- judging a change of a dbt model in use -------------------------------------------------


def model(sql: str = "select user_id, email from t", columns: tuple[str, ...] | None = (
          "user_id", "email"), **changes: object) -> DbtModel:  # fmt: skip
    base = DbtModel("users", "models/users.sql", sql, columns=columns, from_sql=columns is not None)
    return DbtModel(**{**base.__dict__, **changes})  # type: ignore[arg-type]


@pytest.mark.parametrize("policy", list(ModelChangePolicy))
def test_unused_or_unchanged_models_pass(policy: ModelChangePolicy) -> None:
    assert not judge_dbt_change(policy, "wh/users", "user_id", model(), model(sql="x"), []).blocked
    same = judge_dbt_change(policy, "wh/users", "user_id", model(),
                            model(sql="select   user_id,\n email from t"), USES)  # fmt: skip
    assert not same.blocked


@pytest.mark.parametrize("policy", list(ModelChangePolicy))
def test_removed_or_renamed_is_blocked_under_every_policy(policy: ModelChangePolicy) -> None:
    gone = judge_dbt_change(policy, "wh/users", "user_id", model(), None, USES)
    assert gone.message == ("model wh/users (dbt model users) is in use by wh/braze/sync: the "
                            "dbt model is removed")  # fmt: skip
    moved = judge_dbt_change(policy, "wh/users", "user_id", model(), None, USES, "people")
    assert moved.message.endswith("the dbt model is renamed to people")
    assert moved.mappings == ("wh/braze/sync",)


def test_strict_blocks_any_change() -> None:
    added = model(sql="select user_id, email, plan from t", columns=("user_id", "email", "plan"))
    verdict = judge_dbt_change(ModelChangePolicy.STRICT, "wh/users", "user_id", model(), added,
                               USES)  # fmt: skip
    assert verdict.message.endswith("its SQL change (policy strict blocks any change)")
    config = judge_dbt_change(ModelChangePolicy.STRICT, "wh/users", "user_id", model(),
                              model(config={"materialized": "table"}), USES)  # fmt: skip
    assert config.blocked and "its config change" in config.message
    moved = judge_dbt_change(ModelChangePolicy.STRICT, "wh/users", "user_id", model(),
                             model(path="models/marts/users.sql"), USES)  # fmt: skip
    assert "file (models/users.sql → models/marts/users.sql)" in moved.message


def test_breaking_blocks_only_lost_columns_and_fails_closed() -> None:
    breaking = ModelChangePolicy.BREAKING
    added = model(sql="select user_id, email, plan from t", columns=("user_id", "email", "plan"))
    assert not judge_dbt_change(breaking, "wh/users", "user_id", model(), added, USES).blocked
    lost = model(sql="select id, plan from t", columns=("id", "plan"))
    verdict = judge_dbt_change(breaking, "wh/users", "USER_ID", model(), lost, USES)
    assert verdict.message == (
        "model wh/users (dbt model users) is in use by wh/braze/sync: identifier column USER_ID "
        "is no longer among its columns; wh/braze/sync maps email, user_id, which it no longer "
        "returns")  # fmt: skip
    unknown = model(sql="select {{ m() }}", columns=None, how="the SQL cannot be read: line 1")
    closed = judge_dbt_change(breaking, "wh/users", "user_id", model(), unknown, USES)
    assert closed.message.endswith("its output columns cannot be read from its SQL, so seg fails "
                                   "closed (the SQL cannot be read: line 1)")  # fmt: skip
    compiled = judge_dbt_change(breaking, "wh/users", "user_id", model(compiled="select 1"),
                                model(compiled="select 2"), USES)  # fmt: skip
    assert not compiled.blocked  # a macro's change that keeps the columns


def test_columns_only_from_yaml_docs_fail_closed_under_breaking() -> None:
    """The YAML says what a model should return, not what its SQL does: a change whose new
    columns come only from the docs is not let through, even when the docs list them all."""
    documented = model(sql="select {{ m() }}", columns=("user_id", "email"), from_sql=False,
                       how="the columns documented in YAML (the SQL cannot be read)")  # fmt: skip
    verdict = judge_dbt_change(ModelChangePolicy.BREAKING, "wh/users", "user_id", model(),
                               documented, USES)  # fmt: skip
    assert verdict.blocked
    assert "cannot be read from its SQL, so seg fails closed" in verdict.message
    read = judge_dbt_change(ModelChangePolicy.BREAKING, "wh/users", "user_id", model(),
                            model(sql="select user_id, email, plan from t"), USES)  # fmt: skip
    assert not read.blocked
