"""Parallel apply against the real server (in-process, SQLite and PostgreSQL): the order the
server saw writes in (its audit trail) keeps parents before children and deletes children
first; a failure skips only its dependants; outcomes come back in plan order, the same at
parallelism 10 as at 1; a resource whose checks read an updated resource waits for it."""

from __future__ import annotations

from typing import Any

from seg.apply import NullObserver, StepResult, apply_plan
from seg.engine import compute_plan
from seg.engine.order import plan_steps
from seg.engine.plan import Plan
from seg.kinds import KINDS
from seg.kinds.names import parse_resource_name
from seg.model.resource import DesiredResource
from tests.conftest import Api

SRC, DST, FN = KINDS["Source"], KINDS["Destination"], KINDS["Function"]
CATALOGS = ("amplitude", "mixpanel", "webhook")
SETTINGS = {"amplitude": {"api_key": "k"}, "mixpanel": {"project_token": "t"},
            "webhook": {"url": "https://hooks.example/x"}}  # fmt: skip


def tree(sources: int = 6) -> list[DesiredResource]:
    """``sources`` sources, three destinations under each."""
    out = []
    for s in range(sources):
        out.append(DesiredResource(SRC, f"s{s}", {"catalog": "javascript"}))
        for catalog in CATALOGS:
            out.append(DesiredResource(DST, f"s{s}/{catalog}",
                                       {"catalog": catalog, "settings": SETTINGS[catalog]}))  # fmt: skip
    return out


class Recorder:
    """An ApplyObserver keeping what it was told, in order."""

    def __init__(self) -> None:
        self.told: list[tuple[str, str, str]] = []

    def started(self, total: int) -> None:
        self.told.append(("started", str(total), ""))

    def step_finished(self, result: StepResult) -> None:
        self.told.append((result.step.op, result.step.change.address, result.status))


def plan_for(api: Api, desired: list[DesiredResource]) -> Plan:
    return compute_plan(api.workspace, desired, api.seg_client().read_state())


def writes_in_server_order(api: Api) -> list[tuple[str, str]]:
    """(method, address) of every source and destination write, oldest first, from the
    audit trail."""
    page = api.http.get(api.url("/audit-events"), params={"page_size": 1000}).json()
    prefix = f"workspaces/{api.workspace}/sources/"
    events = sorted((int(e["id"]), e["method"], parse_resource_name(e["resource"])[2])
                    for e in page["audit_events"] if e["resource"].startswith(prefix))  # fmt: skip
    return [(method, address) for _, method, address in events]


def outcomes(results: list[StepResult]) -> list[tuple[str, str, str]]:
    return [(r.step.op, r.step.change.address, r.status) for r in results]


def test_parents_are_written_before_children_and_deleted_after_them(api: Api) -> None:
    client = api.seg_client()
    result = apply_plan(plan_for(api, tree()), client, NullObserver(), parallelism=10)
    assert result.ok and len(result.results) == 24
    order = [address for _, address in writes_in_server_order(api)]
    assert sorted(order) == sorted(r.address for r in tree())
    for address in order:
        if "/" in address:
            assert order.index(address.split("/")[0]) < order.index(address), order
    # Now delete the whole tree at parallelism 10: children go before their source.
    removal = apply_plan(plan_for(api, []), client, NullObserver(), parallelism=10)
    assert removal.ok and {r.step.op for r in removal.results} == {"delete"}
    deletes = [a for method, a in writes_in_server_order(api) if method == "DELETE"]
    assert sorted(deletes) == sorted(order)
    for address in deletes:
        if "/" in address:
            assert deletes.index(address) < deletes.index(address.split("/")[0]), deletes
    assert client.read_state([SRC, DST]) == []


def test_a_failure_skips_only_its_dependants_while_other_branches_complete(api: Api) -> None:
    client = api.seg_client()
    plan = plan_for(api, tree())
    assert api.create_source("s2", catalog="android").status_code == 200  # s2's create fails
    result = apply_plan(plan, client, NullObserver(), parallelism=10)
    status = {(op, address): s for op, address, s in outcomes(result.results)}
    assert status.pop(("create", "s2")) == "failed"
    for catalog in CATALOGS:
        assert status.pop(("create", f"s2/{catalog}")) == "skipped"
    assert set(status.values()) == {"applied"} and len(status) == 20
    assert not result.stopped


def test_outcomes_come_in_plan_order_and_match_the_serial_apply(api: Api) -> None:
    """Two workspaces get the same plan (one failing branch each), at 10 and at 1: the
    observer hears the same thing in the same order, which is the plan's order."""
    serial = Api(api.cp, api.workspace + "s")
    try:
        told, results = [], []
        for target, parallelism in ((api, 10), (serial, 1)):
            plan = plan_for(target, tree())
            assert target.create_source("s4", catalog="android").status_code == 200
            recorder = Recorder()
            result = apply_plan(plan, target.seg_client(), recorder, parallelism=parallelism)
            told.append(recorder.told)
            results.append(outcomes(result.results))
            steps = plan_steps(plan)
            assert [(s.op, s.change.address) for s in steps] == [r[:2] for r in results[-1]]
        assert told[0] == told[1]
        assert results[0] == results[1]
        assert told[0][1:] == results[0]  # every outcome, in plan order
    finally:
        serial.close()


CODE = "async function onRequest(request, settings) {\n  return settings\n}\n"


def function(settings: list[str]) -> DesiredResource:
    fields: dict[str, Any] = {"type": "source", "display_name": "Hook", "code": CODE,
                              "settings": [{"name": n, "type": "string"} for n in settings]}  # fmt: skip
    return DesiredResource(FN, "hook", fields)


def instance(settings: dict[str, str]) -> DesiredResource:
    return DesiredResource(SRC, "hooked", {"catalog": "function:hook", "settings": settings})


def test_a_source_waits_for_the_update_of_the_function_whose_settings_it_uses(
    api: Api,
) -> None:  # fmt: skip
    """The serial loop ran the function's update first (kind order) without saying so: the
    source's new setting exists only once the function declares it. The step says it now, and
    a parallel apply holds to it."""
    client = api.seg_client()
    first = [function(["region"]), instance({"region": "eu"})]
    assert apply_plan(plan_for(api, first), client, NullObserver(), parallelism=10).ok
    fillers = [DesiredResource(SRC, f"f{i}", {"catalog": "javascript"}) for i in range(8)]
    second = [function(["region", "team"]), instance({"region": "eu", "team": "a"}), *fillers]
    plan = plan_for(api, second)
    steps = {(s.op, s.change.address): s for s in plan_steps(plan)}
    source, fn = steps[("update", "hooked")], steps[("update", "hook")]
    assert fn.index in source.after and fn.index not in source.depends_on
    result = apply_plan(plan, client, NullObserver(), parallelism=10)
    assert result.ok, [(r.step.change.address, r.error) for r in result.results if r.error]
    assert plan_for(api, second).changes == ()
