"""Apply runs through the API (SQLite and PostgreSQL): started (201, audited, under the
workspace lock), finished by the token that started it while it runs, listed newest first
and read with the events its writes made; ``Seg-Apply`` tags resource writes; the audit
trail is filtered after an event, by actor, kind, time and run — each input checked, and a
user-bound token still sees only what it may read. The client's methods over the same."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from seg.client.http import ControlPlaneClient
from seg.kinds import KINDS
from seg.server.clock import ManualClock
from seg.server.service import ControlPlane
from seg.store.sql import SqlStore
from tests.conftest import Api
from tests.helpers import error

REVISION = "0123456789abcdef0123456789abcdef01234567"


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    return response.json()


def start(api: Api, client: httpx.Client | None = None, **body: Any) -> httpx.Response:
    return (client or api.http).post(api.url("/applies"), json={"manager": "default", **body})


def finish(api: Api, run_id: str, client: httpx.Client | None = None, **body: Any
           ) -> httpx.Response:  # fmt: skip
    return (client or api.http).patch(api.url(f"/applies/{run_id}"),
                                      json={"status": "applied", **body})  # fmt: skip


def source(api: Api, slug: str, run_id: str | None = None, client: httpx.Client | None = None,
           **fields: Any) -> httpx.Response:  # fmt: skip
    body = {"name": f"workspaces/{api.workspace}/sources/{slug}", "catalog": "javascript",
            **fields}  # fmt: skip
    headers = {"Seg-Apply": run_id} if run_id else {}
    return (client or api.http).post(api.url("/sources"), json={"source": body}, headers=headers)


def events(api: Api, client: httpx.Client | None = None, **params: Any) -> list[dict[str, Any]]:
    found = ok((client or api.http).get(api.url("/audit-events"), params=params))
    return list(found["audit_events"])


def test_a_run_starts_audited_and_finishes_with_its_counts(api: Api) -> None:
    run = ok(start(api, git_revision=REVISION.upper(), plan_digest="d" * 64,
                   environment="prod"), 201)  # fmt: skip
    assert run["status"] == "running" and run["finished"] is None
    assert (run["manager"], run["environment"], run["git_revision"]) == ("default", "prod",
                                                                         REVISION)
    assert run["counts"] == {"created": 0, "updated": 0, "deleted": 0, "failed": 0}
    assert run["actor"]["description"] == "initial owner token" and run["failures"] == []
    [started] = events(api)
    assert started["id"] == run["audit_from"] and started["apply"] == run["id"]
    assert (started["method"], started["resource"]) == (
        "apply start", f"workspaces/{api.workspace}/applies/{run['id']}")
    assert started["paths"] == ["manager:default", f"git_revision:{REVISION}"]
    failures = [{"resource": "Source web", "error": "boom"}]
    done = ok(finish(api, run["id"], status="failed", counts={"created": 2, "failed": 1},
                     failures=failures))  # fmt: skip
    assert done["status"] == "failed" and done["finished"] >= done["started"]
    assert done["counts"] == {"created": 2, "updated": 0, "deleted": 0, "failed": 1}
    assert done["failures"] == failures
    finished = events(api)[0]
    assert (finished["method"], finished["paths"], finished["apply"]) == (
        "apply finish", ["status:failed"], run["id"])
    assert ok(api.http.get(api.url(f"/applies/{run['id']}"))) == {**done, "changes": []}


def test_a_noop_run_needs_no_counts(api: Api) -> None:
    run = ok(start(api), 201)
    assert run["git_revision"] is None and run["plan_digest"] is None
    done = ok(finish(api, run["id"], status="noop", counts=None, failures=None))
    assert done["status"] == "noop" and done["counts"]["created"] == 0


def test_a_read_token_cannot_start_and_only_the_starter_finishes(api: Api) -> None:
    reader = api.client(api.token("workspace:read"))
    assert "insufficient scope" in error(start(api, reader), 403, 7)
    run = ok(start(api), 201)
    writer = api.client(api.token("workspace:write", "another writer"))
    message = error(finish(api, run["id"], writer), 403, 7)
    assert message == f"permission denied: only the token that started apply run {run['id']} " \
                      "may finish it"
    error(finish(api, run["id"], reader), 403, 7)
    ok(finish(api, run["id"]))
    assert "already finished (applied)" in error(finish(api, run["id"]), 409, 9)
    assert ok(api.http.get(api.url(f"/applies/{run['id']}"), headers={}))["status"] == "applied"
    assert ok(reader.get(api.url("/applies")))["applies"][0]["id"] == run["id"]  # read: allowed


def test_a_user_who_may_write_nothing_cannot_start(api: Api) -> None:
    _, secret = api.cp.workspaces.create_token(api.workspace, "workspace:write", "u", "no@x.io")
    assert "may not write anything" in error(start(api, api.client(secret)), 403, 7)


def test_a_run_starts_only_under_the_lock_rules(api: Api) -> None:
    holder_token = api.token("workspace:write", "ci apply")
    holder = api.client(holder_token)
    lock = ok(holder.post(api.url("/lock"), json={"holder": "ci", "ttl_seconds": 600}))
    assert "locked by ci" in error(start(api), 409, 10)
    leased = api.client(holder_token)
    leased.headers["Seg-Lock"] = lock["id"]
    run = ok(start(api, leased), 201)
    # finishing is the run's own bookkeeping: it never waits for the lock
    ok(holder.delete(api.url("/lock"), params={"id": lock["id"]}))
    ok(api.http.post(api.url("/lock"), json={"holder": "other", "ttl_seconds": 600}))
    ok(finish(api, run["id"], holder))


@pytest.mark.parametrize(("body", "message"), [
    ({}, "manager must be a name"),
    ({"manager": "bad name"}, "manager must be a name"),
    ({"manager": 7}, "manager must be a name"),
    ({"manager": "m", "git_revision": "xyz"}, "git_revision must be a git commit id"),
    ({"manager": "m", "git_revision": "a" * 65}, "git_revision must be a git commit id"),
    ({"manager": "m", "plan_digest": "d" * 129}, "plan_digest must be a digest"),
    ({"manager": "m", "plan_digest": "a b"}, "plan_digest must be a digest"),
    ({"manager": "m", "environment": "Prod"}, "environment must be an environment's name"),
    ({"manager": "m", "holder": "x"}, "unknown top-level field(s) 'holder'"),
])  # fmt: skip
def test_bad_start_bodies_are_400(api: Api, body: dict[str, Any], message: str) -> None:
    assert message in error(api.http.post(api.url("/applies"), json=body), 400, 3)
    assert ok(api.http.get(api.url("/applies")))["applies"] == []


@pytest.mark.parametrize(("body", "message"), [
    ({}, "status must be one of applied, failed, noop"),
    ({"status": "running"}, "status must be one of"),
    ({"status": "applied", "counts": []}, "counts must be an object"),
    ({"status": "applied", "counts": {"made": 1}}, "counts: unknown key 'made'"),
    ({"status": "applied", "counts": {"created": -1}}, "counts.created must be an integer"),
    ({"status": "applied", "counts": {"created": True}}, "counts.created must be an integer"),
    ({"status": "applied", "counts": {"created": 10**12}}, "counts.created must be an integer"),
    ({"status": "applied", "failures": {}}, "failures must be a list"),
    ({"status": "applied", "failures": [{"resource": "x"}]}, "failures[0] must be an object"),
    ({"status": "applied", "failures": [{"resource": " ", "error": ""}]},
     "failures[0].resource must be a name"),
    ({"status": "applied", "failures": [{"resource": "x", "error": "e" * 501}]},
     "failures[0].error must be a string of at most 500"),
    ({"status": "applied", "failures": [{"resource": "x", "error": "e"}] * 101},
     "failures: 101 items; at most 100"),
])  # fmt: skip
def test_bad_finish_bodies_are_400_and_leave_the_run_running(api: Api, body: dict[str, Any],
                                                              message: str) -> None:  # fmt: skip
    run = ok(start(api), 201)
    assert message in error(api.http.patch(api.url(f"/applies/{run['id']}"), json=body), 400, 3)
    assert ok(api.http.get(api.url(f"/applies/{run['id']}")))["status"] == "running"


def test_unknown_and_malformed_run_ids(api: Api) -> None:
    error(api.http.get(api.url("/applies/99999")), 404, 5)
    error(finish(api, "99999"), 404, 5)
    for bad in ("abc", "0", "-1", "99999999999", "1.0"):
        error(api.http.get(api.url(f"/applies/{bad}")), 400, 3)
        error(finish(api, bad), 400, 3)


def test_runs_are_listed_newest_first_paged_and_filtered(api: Api) -> None:
    first = ok(start(api), 201)["id"]
    ok(finish(api, first, status="noop"))
    second = ok(start(api, manager="team-b"), 201)["id"]
    third = ok(start(api), 201)["id"]
    listed = ok(api.http.get(api.url("/applies")))
    assert [r["id"] for r in listed["applies"]] == [third, second, first]
    page = ok(api.http.get(api.url("/applies"), params={"page_size": 2}))
    assert [r["id"] for r in page["applies"]] == [third, second] and page["next_page_token"]
    rest = ok(api.http.get(api.url("/applies"), params={"page_token": page["next_page_token"]}))
    assert [r["id"] for r in rest["applies"]] == [first] and rest["next_page_token"] == ""
    by_manager = ok(api.http.get(api.url("/applies"), params={"manager": "default"}))
    assert [r["id"] for r in by_manager["applies"]] == [third, first]
    running = ok(api.http.get(api.url("/applies"), params={"status": "running"}))
    assert [r["id"] for r in running["applies"]] == [third, second]
    for params in ({"manager": "bad name"}, {"status": "done"}, {"page_token": "nope"},
                   {"page_size": "0"}):  # fmt: skip
        error(api.http.get(api.url("/applies"), params=params), 400, 3)


def test_seg_apply_tags_every_resource_write_of_the_run(api: Api) -> None:
    run = ok(start(api), 201)["id"]
    tag = {"Seg-Apply": run}
    ok(source(api, "web", run))
    patch = {"source": {"display_name": "Web"}, "update_mask": {"paths": ["source.display_name"]}}
    ok(api.http.patch(api.url("/sources/web"), json=patch, headers=tag))
    plan = ok(api.http.post(api.url("/tracking-plans"), json={"tracking_plan": {
        "external_id": "main", "display_name": "Main"}}, headers=tag))  # fmt: skip
    rules = {"rules": [{"type": "TRACK", "key": "Signed Up", "version": 1,
                        "json_schema": {"type": "object"}}]}  # fmt: skip
    ok(api.http.patch(api.url(f"/tracking-plans/{plan['name'].rsplit('/', 1)[1]}/rules"),
                      json=rules, headers=tag))  # fmt: skip
    ok(api.http.delete(api.url("/sources/web"), headers=tag))
    ok(source(api, "outside"))  # no header: outside the run
    ok(api.http.get(api.url("/sources/outside"), headers={"Seg-Apply": "not read on a GET"}))
    ok(finish(api, run, counts={"created": 2, "updated": 2, "deleted": 1}))
    detail = ok(api.http.get(api.url(f"/applies/{run}")))
    assert [(e["method"], e["resource"].split("/", 2)[2]) for e in detail["changes"]] == [
        ("POST", "sources/web"), ("PATCH", "sources/web"), ("POST", plan["name"].split("/", 2)[2]),
        ("PATCH", plan["name"].split("/", 2)[2] + "/rules"), ("DELETE", "sources/web")]
    assert all(e["apply"] == run for e in detail["changes"])
    outside = events(api, kind="source")[0]
    assert outside["resource"].endswith("/sources/outside") and outside["apply"] is None
    tagged = events(api, apply=run)
    assert len(tagged) == len(detail["changes"]) + 2  # and the run's start and finish
    untagged = events(api, apply="none")  # what drift reads: the writes no run made
    assert untagged and all(e["apply"] is None for e in untagged)
    assert "sources/outside" in {e["resource"].split("/", 2)[2] for e in untagged}
    assert not {e["id"] for e in untagged} & {e["id"] for e in tagged}


@pytest.mark.parametrize("header", ["abc", "0", "-1", "1e3", "99999999999", " ", "99999"])
def test_a_bad_seg_apply_header_refuses_the_write(api: Api, header: str) -> None:
    message = error(source(api, "web", header), 400, 3)
    assert "Seg-Apply" in message
    error(api.http.get(api.url("/sources/web")), 404, 5)


def test_a_finished_run_tags_no_more_writes(api: Api) -> None:
    run = ok(start(api), 201)["id"]
    ok(source(api, "web"))
    ok(finish(api, run))
    patch = {"source": {"display_name": "W"}, "update_mask": {"paths": ["source.display_name"]}}
    refused = api.http.patch(api.url("/sources/web"), json=patch, headers={"Seg-Apply": run})
    assert f"Seg-Apply: {run} is not a running apply run" in error(refused, 400, 3)
    # even a write that would change nothing
    same = {"source": {"enabled": True}, "update_mask": {"paths": ["source.enabled"]}}
    error(api.http.patch(api.url("/sources/web"), json=same, headers={"Seg-Apply": run}), 400, 3)
    assert ok(api.http.get(api.url("/sources/web")))["display_name"] == ""


def test_the_audit_trail_is_filtered_and_each_filter_checked(cp: ControlPlane, slug: str
                                                            ) -> None:  # fmt: skip
    clock = ManualClock(1_800_000_000.0)
    timed = ControlPlane(cp.store, clock=clock)
    api = Api(timed, slug)
    try:
        writer_token = api.token("workspace:write", "writer")
        writer = api.client(writer_token)
        ok(source(api, "web"))
        clock.advance(60)
        ok(source(api, "ios", client=writer))
        ok(api.http.post(api.url("/sources/web/destinations"), json={"destination": {
            "name": f"workspaces/{slug}/sources/web/destinations/amp",
            "catalog": "amplitude"}}))  # fmt: skip
        clock.advance(60)
        run = ok(start(api), 201)["id"]
        ok(source(api, "and", run))
        everything = events(api)
        ids = [e["id"] for e in everything]
        assert [e["id"] for e in events(api, after=ids[2])] == ids[:2]
        assert events(api, after="0") == everything
        writer_id = everything[-2]["actor"]["token_id"]
        assert [e["resource"][-3:] for e in events(api, actor=writer_id)] == ["ios"]
        assert [e["resource"][-3:] for e in events(api, kind="destination")] == ["amp"]
        assert [e["resource"][-3:] for e in events(api, kind="source")] == ["and", "ios", "web"]
        assert events(api, kind="tracking_plan") == []
        assert [e["resource"][-3:] for e in events(api, since="2027-01-15T08:01:00Z",
                                                   until="2027-01-15T08:02:00Z")] == ["amp", "ios"]
        assert len(events(api, since="2027-01-15T09:01:00+01:00")) == 4  # offsets count
        assert [e["resource"].rsplit("/", 1)[1] for e in events(api, apply=run)] == ["and", run]
        page = ok(api.http.get(api.url("/audit-events"), params={"kind": "source",
                                                                 "page_size": 2}))  # fmt: skip
        rest = ok(api.http.get(api.url("/audit-events"), params={
            "kind": "source", "page_token": page["next_page_token"]}))  # fmt: skip
        assert [e["resource"][-3:] for e in page["audit_events"] + rest["audit_events"]] == [
            "and", "ios", "web"]  # fmt: skip
        for params in ({"after": "x"}, {"after": "-1"}, {"after": "99999999999"},
                       {"actor": "a b"}, {"actor": "t" * 41}, {"kind": "Source"},
                       {"kind": "sources"}, {"since": "yesterday"},
                       {"since": "2027-01-15"}, {"until": "2027-01-15T08:00:00"},
                       {"until": "2027-13-15T08:00:00Z"}, {"apply": "0"}, {"apply": "x"}):
            error(api.http.get(api.url("/audit-events"), params=params), 400, 3)
    finally:
        api.close()


def test_a_user_bound_token_sees_only_what_it_may_read(api: Api) -> None:
    ok(api.http.post(api.url("/labels"),
                     json={"label": {"name": f"workspaces/{api.workspace}/labels/team:mine"}}))
    body = {"name": f"workspaces/{api.workspace}/role-bindings/sam", "subject": {"user": "sam@x.io"},
            "role": "source_read_only", "scope": {"labels": {"team": "mine"}}}  # fmt: skip
    ok(api.http.post(api.url("/role-bindings"), json={"role_binding": body}))
    run = ok(start(api), 201)["id"]
    ok(source(api, "mine", run, labels={"team": "mine"}))
    ok(source(api, "hidden", run))
    failures = [{"resource": "Source mine", "error": "x"}, {"resource": "Source hidden",
                                                           "error": "y"},
                {"resource": f"workspaces/{api.workspace}/sources/hidden", "error": "z"},
                {"resource": "not a resource", "error": "w"}]  # fmt: skip
    ok(finish(api, run, status="failed", failures=failures))
    sam = api.client(api.cp.workspaces.create_token(api.workspace, "workspace:read", "user",
                                                    "sam@x.io")[1])  # fmt: skip
    seen = ok(sam.get(api.url(f"/applies/{run}")))
    assert [e["resource"][-4:] for e in seen["changes"]] == ["mine"]
    assert seen["failures"] == [{"resource": "Source mine", "error": "x"}]
    assert ok(sam.get(api.url("/applies")))["applies"][0]["failures"] == seen["failures"]
    assert [e["resource"][-4:] for e in events(api, sam, kind="source")] == ["mine"]
    assert [e["method"] for e in events(api, sam, apply=run)] == [
        "apply finish", "POST", "apply start"]  # the run's own events are open
    owner_view = ok(api.http.get(api.url(f"/applies/{run}")))
    assert len(owner_view["changes"]) == 2 and owner_view["failures"] == failures


def test_the_routes_are_documented(api: Api) -> None:
    doc = ok(api.client(None).get("/openapi.json"))
    runs = doc["paths"]["/v1beta/workspaces/{workspace}/applies"]
    assert "201" in runs["post"]["responses"] and "200" not in runs["post"]["responses"]
    assert {"manager", "status", "page_size", "page_token"} <= {
        p["name"] for p in runs["get"]["parameters"]}  # fmt: skip
    one = doc["paths"]["/v1beta/workspaces/{workspace}/applies/{apply}"]
    assert set(one) == {"get", "patch"}
    audit = doc["paths"]["/v1beta/workspaces/{workspace}/audit-events"]["get"]
    assert {"after", "actor", "kind", "since", "until", "apply"} <= {
        p["name"] for p in audit["parameters"]}  # fmt: skip
    kinds = next(p for p in audit["parameters"] if p["name"] == "kind")["schema"]["enum"]
    assert set(kinds) == {kind.key for kind in KINDS.values()}
    tagged = {op["operationId"] for item in doc["paths"].values() for op in item.values()
              if any(p["name"] == "Seg-Apply" for p in op["parameters"])}  # fmt: skip
    writes = {f"{verb}_{kind.key}" for kind in KINDS.values()
              for verb in ("create", "update", "delete")}  # fmt: skip
    assert tagged == writes | {"replace_rules", "upsert_rules", "delete_rules"}
    assert "apply" in doc["components"]["schemas"]["AuditEvent"]["required"]


# -- the client ------------------------------------------------------------------------------


def test_the_client_records_a_run_tags_its_writes_and_follows_the_trail(api: Api) -> None:
    client = api.seg_client()
    before = [e["id"] for e in client.audit_events()]
    run = client.start_apply("default", REVISION, "digest", None)
    client.apply_run = run["id"]
    source_kind = KINDS["Source"]
    client.create(source_kind, "web", {"catalog": "javascript"}, [])
    client.update(source_kind, "web", {"display_name": "Web"}, ["source.display_name"], [],
                  None)  # fmt: skip
    client.apply_run = None
    client.create(source_kind, "ios", {"catalog": "ios"}, [])
    done = client.finish_apply(run["id"], "applied", {"created": 1, "updated": 1},
                               [{"resource": "Source x", "error": "e" * 900}] * 150)
    assert len(done["failures"]) == 100 and len(done["failures"][0]["error"]) == 500
    assert client.list_applies()[0] == done
    assert client.list_applies(manager="other") == []
    assert client.list_applies(status="applied")[0]["id"] == run["id"]
    detail = client.get_apply(run["id"])
    assert [e["method"] for e in detail["changes"]] == ["POST", "PATCH"]
    since = list(client.audit_events(after=run["audit_from"]))
    assert [(e["method"], e["apply"]) for e in since] == [
        ("apply finish", run["id"]), ("POST", None), ("PATCH", run["id"]), ("POST", run["id"])]
    assert [e["apply"] for e in client.audit_events(apply=run["id"], kind=None)] == [
        run["id"]] * 4  # fmt: skip
    assert before == []


def test_the_client_follows_every_page_of_the_trail(cp: ControlPlane, slug: str,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    import seg.client.http as http

    monkeypatch.setattr(http, "PAGE_SIZE", 2)
    api = Api(cp, slug)
    try:
        for i in range(5):
            ok(source(api, f"s{i}"))
        client = api.seg_client()
        assert [e["resource"][-2:] for e in client.audit_events(kind="source")] == [
            "s4", "s3", "s2", "s1", "s0"]  # fmt: skip
        first = list(client.audit_events())[-1]["id"]
        assert len(list(client.audit_events(after=first))) == 4
    finally:
        api.close()


def test_finishing_a_run_survives_a_lost_lock(api: Api, store: SqlStore) -> None:
    client = api.seg_client()
    lock = client.acquire_lock({"holder": "apply"}, 600)
    client.lock_id = lock["id"]
    run = client.start_apply("default", None, None, None)
    client.lock_lost = "the workspace lock was lost: broken"
    done = client.finish_apply(run["id"], "failed", {}, [])
    assert done["status"] == "failed"


def test_a_client_of_a_read_only_token_cannot_start(api: Api) -> None:
    from seg.client.errors import PermissionDenied

    client = ControlPlaneClient(api.client(api.token("workspace:read")), api.workspace)
    with pytest.raises(PermissionDenied):
        client.start_apply("default", None, None, None)
