"""Review of issue 13 (kind rules run by the control plane through ``server/rules.py``):
a rule's refusal must not name a resource the user-bound caller may not read.

``seg.kinds.tracking_plan._connected`` (a delete rule) lists every source connected to the
plan. A ``tracking_plan_admin`` user with no role on those sources deletes the plan and the
409 names them — sources that ``GET /sources`` hides from the same token (the rest of the
API returns 403 without revealing whether a hidden name exists). The rule behaved the same
in the old ``server/rules.py``; the move kept the leak rather than adding it.
"""

from __future__ import annotations

from tests.conftest import Api


def _bind(api: Api, slug: str, email: str, role: str) -> None:
    name = f"workspaces/{api.workspace}/role-bindings/{slug}"
    body = {"name": name, "subject": {"user": email}, "role": role, "scope": "workspace"}
    response = api.http.post(api.url("/role-bindings"), json={"role_binding": body})
    assert response.status_code == 200, response.text


def test_deleting_a_connected_plan_does_not_name_sources_the_caller_may_not_read(
    api: Api,
) -> None:
    """Attack: a tracking-plan admin without source roles learns the names of hidden sources
    by deleting (or trying to delete) a plan they are connected to."""
    plan = api.http.post(api.url("/tracking-plans"),
                         json={"tracking_plan": {"external_id": "orders", "rules": []}})  # fmt: skip
    assert plan.status_code == 200, plan.text
    plan_name = plan.json()["name"]
    assert api.create_source("payroll-secret", tracking_plan=plan_name).status_code == 200
    _bind(api, "tina", "tina@x.io", "tracking_plan_admin")
    _, secret = api.cp.workspaces.create_token(api.workspace, "workspace:write", "t", "tina@x.io")
    tina = api.client(secret)
    assert tina.get(api.url("/sources")).json()["sources"] == []  # hidden from her
    assert tina.get(api.url("/sources/payroll-secret")).status_code == 403
    plan_path = "/" + plan_name.split("/", 2)[2]
    response = tina.delete(api.url(plan_path))
    assert response.status_code == 409 and response.json()["code"] == 9, response.text
    assert "payroll-secret" not in response.json()["error"], response.json()["error"]
