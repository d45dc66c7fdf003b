"""dbt-linked models on the control plane (issue 16): it cannot see a dbt project, so any
change of the link of a model in use is refused under every policy, as is a switch between a
query and a dbt model; GET shows the link."""

from __future__ import annotations

import pytest

from tests.conftest import Api
from tests.dbt_linked import Linked
from tests.helpers import error

POLICIES = ("strict", "breaking")


@pytest.fixture(params=POLICIES)
def linked(request: pytest.FixtureRequest, api: Api) -> Linked:
    return Linked(api, request.param)


def test_get_shows_the_link_and_no_query(linked: Linked) -> None:
    live = linked.live()
    assert live["dbt_model"] == "users" and live["dbt_project"] == "analytics"
    assert "query" not in live and live["identifier_column"] == "user_id"


def test_a_new_link_of_a_model_in_use_is_refused_under_every_policy(linked: Linked) -> None:
    message = error(linked.patch(dbt_model="stg_users"), 409, 9)
    assert message == ("model wh/users is in use by wh/braze/sync: it would read dbt model "
                       "stg_users of project analytics instead of dbt model users of project "
                       "analytics")  # fmt: skip
    assert "instead of dbt model users" in error(linked.patch(dbt_project="shop"), 409, 9)
    assert "identifier column changes (user_id → email)" in error(
        linked.patch(identifier_column="email"), 409, 9)  # fmt: skip
    assert linked.live()["dbt_model"] == "users"


def test_leaving_the_project_out_is_a_new_link(linked: Linked) -> None:
    # the control plane cannot see which project a left-out one stands for (review 16)
    assert "instead of dbt model users of project analytics" in error(
        linked.patch(clear=("dbt_project",)), 409, 9)  # fmt: skip
    linked.enable_mapping(False)
    assert linked.patch(clear=("dbt_project",)).status_code == 200
    assert "dbt_project" not in linked.live()
    assert linked.patch(dbt_project="analytics").status_code == 200


def test_switching_to_a_query_and_back_is_refused_while_in_use(linked: Linked) -> None:
    to_query = linked.patch(clear=("dbt_model", "dbt_project"), query="SELECT user_id, email "
                            "FROM analytics.users")  # fmt: skip
    message = error(to_query, 409, 9)
    assert "it would read its SQL instead of dbt model users of project analytics" in message
    linked.enable_mapping(False)
    assert linked.patch(clear=("dbt_model", "dbt_project"),
                        query="SELECT user_id, email FROM analytics.users").status_code == 200
    live = linked.live()
    assert live["query"].startswith("SELECT") and "dbt_model" not in live
    linked.enable_mapping(True)
    back = error(linked.patch(clear=("query",), dbt_model="users"), 409, 9)
    assert "it would read dbt model users instead of its SQL" in back


def test_metadata_changes_pass_and_disabling_the_mapping_releases_the_link(linked: Linked
                                                                          ) -> None:  # fmt: skip
    assert linked.patch(description="from dbt").status_code == 200
    linked.enable_mapping(False)
    assert linked.patch(dbt_model="stg_users").status_code == 200
    assert linked.live()["dbt_model"] == "stg_users"


def test_deleting_a_linked_model_in_use_is_refused(api: Api, linked: Linked) -> None:
    assert "in use by wh/braze/sync" in error(api.http.delete(linked.model_url), 409, 9)
    linked.enable_mapping(False)
    assert api.http.delete(linked.mapping_url).status_code == 200
    assert api.http.delete(linked.model_url).status_code == 200


def test_query_and_dbt_model_together_are_refused(api: Api, linked: Linked) -> None:
    message = error(linked.patch(query="SELECT 1 AS user_id"), 400, 3)
    assert message == ("model: give exactly one of query, query_file or dbt_model (dbt_project "
                       "goes with dbt_model)")  # fmt: skip
    for bad in ("../users", "a/b", "users\n", "x\x00", "", "u" * 256):
        error(linked.patch(dbt_model=bad), 400, 3)
    error(linked.patch(dbt_project="../x"), 400, 3)
