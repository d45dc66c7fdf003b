"""Models in use: the pure verdict both the CLI and the control plane use."""

from __future__ import annotations

import pytest

from seg.policy import (
    POLICIES,
    MappingUse,
    ModelChangePolicy,
    ModelState,
    SqlError,
    judge_model_change,
    output_columns,
    stricter,
)

OLD = ModelState("wh/users", "SELECT id, email, plan FROM users", "id", True, "postgres")
USES = [MappingUse("wh/braze/sync", ("email", "id"))]


def new(query: str = OLD.query, identifier: str = "id", enabled: bool = True) -> ModelState:
    return ModelState("wh/users", query, identifier, enabled, "postgres")


def test_output_columns() -> None:
    assert output_columns("select u.id as user_id, email from users u", "postgres") == (
        "user_id",
        "email",
    )
    assert output_columns("with a as (select 1 as x) select x from a union all select 2") == ("x",)
    assert output_columns("select * from t") is None
    assert output_columns("select count(*) from t") is None
    with pytest.raises(SqlError):
        output_columns("selec id frm t")
    with pytest.raises(SqlError):
        output_columns("select 1 as a; select 2 as b")


def test_unused_models_may_change_freely() -> None:
    for policy in ModelChangePolicy:
        assert not judge_model_change(policy, OLD, None, []).blocked
        assert not judge_model_change(policy, OLD, new("garbage"), []).blocked


@pytest.mark.parametrize("policy", list(ModelChangePolicy))
def test_deleting_disabling_or_rekeying_an_in_use_model_is_blocked(policy: str) -> None:
    assert judge_model_change(policy, OLD, None, USES).mappings == ("wh/braze/sync",)
    assert "disabled" in judge_model_change(policy, OLD, new(enabled=False), USES).message
    rekeyed = judge_model_change(
        policy, OLD, new("SELECT id, email, plan, uid FROM users", "uid"), USES
    )
    assert rekeyed.blocked and "identifier column changes (id → uid)" in rekeyed.message


def test_strict_blocks_any_query_change_but_not_whitespace() -> None:
    verdict = judge_model_change(
        ModelChangePolicy.STRICT, OLD, new("SELECT id, email, plan, country FROM users"), USES
    )
    assert verdict.blocked and "wh/braze/sync" in verdict.message and "strict" in verdict.message
    assert not judge_model_change(
        ModelChangePolicy.STRICT, OLD, new("SELECT id,  email,\n plan FROM users"), USES
    ).blocked


def test_breaking_lets_additive_changes_pass() -> None:
    added = new("SELECT id, email, plan, country FROM users WHERE active")
    assert not judge_model_change(ModelChangePolicy.BREAKING, OLD, added, USES).blocked
    dropped_unmapped = new("SELECT id, email FROM users")
    assert not judge_model_change(ModelChangePolicy.BREAKING, OLD, dropped_unmapped, USES).blocked


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        (
            "SELECT id, plan FROM users",
            "wh/braze/sync maps email, which the new query no longer returns",
        ),
        ("SELECT id, mail AS e_mail, plan FROM users", "maps email"),
        ("SELECT email, plan FROM users", "identifier column id is not in the new query's output"),
        ("SELEC id email FRM users", "cannot be parsed, so seg fails closed"),
        ("SELECT * FROM users", "cannot be determined (SELECT *), so seg fails closed"),
    ],
)
def test_breaking_blocks_what_breaks_a_mapping(query: str, expected: str) -> None:
    verdict = judge_model_change(ModelChangePolicy.BREAKING, OLD, new(query), USES)
    assert verdict.blocked and expected in verdict.message, verdict.message


def test_who_is_an_owner_and_who_may_write_anything() -> None:
    from seg.policy.access import explain, is_owner, may_write_any

    sources = {"web": {"team": "a"}, "ios": {}}
    bindings = [
        {"subject": {"user": "o@x.io"}, "role": "workspace_owner", "scope": "workspace"},
        {"subject": {"user": "t@x.io"}, "role": "tracking_plan_admin", "scope": "workspace"},
        {"subject": {"user": "s@x.io"}, "role": "source_admin", "scope": {"labels": {"team": "a"}}},
        {"subject": {"user": "w@x.io"}, "role": "source_admin", "scope": "workspace"},
        {"subject": {"user": "r@x.io"}, "role": "source_read_only", "scope": "workspace"},
        {"subject": {"user": "m@x.io"}, "role": "workspace_member", "scope": "workspace"},
    ]

    def access(email: str, known: dict[str, dict[str, str]] = sources) -> dict:
        return explain(email, bindings, {}, known)

    assert [is_owner(access(u)) for u in ("o@x.io", "t@x.io", "s@x.io")] == [True, False, False]
    writers = [u for u in ("o", "t", "s", "w", "r", "m", "n") if may_write_any(access(f"{u}@x.io"))]
    assert writers == ["o", "t", "s", "w"]
    assert may_write_any(access("w@x.io", {}))  # a workspace-wide admin, before any source
    assert not may_write_any(access("s@x.io", {"ios": {}}))  # no source carries the label


def test_the_policy_names_are_an_enum_whose_values_stay_the_wire_strings() -> None:
    assert POLICIES == ("strict", "breaking")
    assert [p.value for p in ModelChangePolicy] == list(POLICIES)
    assert ModelChangePolicy.of("breaking") is ModelChangePolicy.BREAKING
    assert ModelChangePolicy.of("Strict") is None and ModelChangePolicy.of(1) is None
    assert ModelChangePolicy.of(None) is None
    assert stricter("breaking", "strict") is ModelChangePolicy.STRICT
    assert stricter(ModelChangePolicy.BREAKING, "breaking") is ModelChangePolicy.BREAKING
    assert f"{ModelChangePolicy.STRICT}" == "strict"  # as messages and JSON show it
