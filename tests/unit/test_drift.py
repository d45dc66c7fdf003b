"""The drift engine: a plan's differences split into drift (the control plane changed),
pending (git changed) and conflicts (both), with who and when from the outside writes."""

from __future__ import annotations

from seg.engine import compute_plan
from seg.engine.drift import OutsideEdit, Side, Since, What, find_drift
from seg.engine.ownership import Ownership
from seg.kinds import KINDS
from seg.model.paths import MISSING
from seg.model.resource import CurrentResource, DesiredResource
from seg.render.drift_view import drift_json, drift_lines, drift_markdown

SRC, DST = KINDS["Source"], KINDS["Destination"]
OURS = Ownership("default")


def want(kind, address, **fields):
    return DesiredResource(kind, address, fields)


def have(kind, address, manager="default", **fields):
    return CurrentResource(kind, address, fields, "e1", manager=manager)


def drift(desired, current, base, edits=(), since=Since()):
    plan = compute_plan("ws", desired, current, ownership=OURS)
    keyed = None if base is None else {(r.kind.name, r.address): r for r in base}
    return find_drift(plan, current, keyed, edits, since)


def edit(method, kind, address, *paths, actor="ana", time="2026-12-04T10:00:00Z", id="9"):
    return OutsideEdit(id, time, actor, method, kind.name, address, tuple(paths))


def dst(address="web/amp", **settings):
    return {"catalog": "amplitude", "settings": settings}


def test_a_field_changed_on_the_control_plane_is_drift_with_who_and_when() -> None:
    base = [want(DST, "web/amp", **dst(region="US"))]
    live = [have(DST, "web/amp", **dst(region="EU"))]
    report = drift(base, live, base, [edit("PATCH", DST, "web/amp", ("settings", "region"))])
    (res,) = report.resources
    assert (res.what, res.side) == (What.CHANGED, Side.DRIFT)
    (f,) = res.fields
    assert (f.path, f.live, f.declared, f.base) == (("settings", "region"), "EU", "US", "US")
    assert (f.who, f.when) == ("ana", "2026-12-04T10:00:00Z")
    assert report.pending == 0 and report.conflicts == []


def test_a_field_changed_in_git_only_is_pending_not_drift() -> None:
    base = [want(DST, "web/amp", **dst(region="US"))]
    head = [want(DST, "web/amp", **dst(region="EU"))]
    live = [have(DST, "web/amp", **dst(region="US"))]
    report = drift(head, live, base)
    assert report.resources == () and report.pending == 1
    assert not report.has_drift


def test_a_field_changed_on_both_sides_is_a_conflict_with_three_values() -> None:
    base = [want(DST, "web/amp", **dst(region="US", other="x"))]
    head = [want(DST, "web/amp", **dst(region="EU", other="x"))]
    live = [have(DST, "web/amp", **dst(region="DE", other="y"))]
    report = drift(head, live, base, [edit("PATCH", DST, "web/amp", ("settings", "region"))])
    (res,) = report.resources
    sides = {f.path: f.side for f in res.fields}
    assert sides == {("settings", "region"): Side.CONFLICT, ("settings", "other"): Side.DRIFT}
    ((_, conflict),) = report.conflicts
    assert conflict is not None
    assert (conflict.base, conflict.declared, conflict.live) == ("US", "EU", "DE")


def test_without_a_base_the_audit_trail_decides() -> None:
    head = [want(DST, "web/amp", **dst(region="US", mode="a"))]
    live = [have(DST, "web/amp", **dst(region="EU", mode="b"))]
    report = drift(head, live, None, [edit("PATCH", DST, "web/amp", ("settings", "region"))])
    (res,) = report.resources
    assert [f.path for f in res.fields] == [("settings", "region")]
    assert report.pending == 1  # mode: no outside write touched it
    # an edit of the whole map counts for the leaves beneath it
    report = drift(head, live, None, [edit("PATCH", DST, "web/amp", ("settings",))])
    assert len(report.resources[0].fields) == 2


def test_deleted_outside_seg_and_new_in_git_are_told_apart() -> None:
    base = [want(SRC, "web", catalog="javascript")]
    head = base + [want(SRC, "app", catalog="ios")]
    report = drift(head, [], base, [edit("DELETE", SRC, "web")])
    (res,) = report.resources
    assert (res.address, res.what, res.side, res.who) == ("web", What.DELETED, Side.DRIFT, "ana")
    assert report.pending == 1  # app: new in git


def test_deleted_outside_while_changed_in_git_is_a_conflict() -> None:
    base = [want(SRC, "web", catalog="javascript", enabled=True)]
    head = [want(SRC, "web", catalog="javascript", enabled=False)]
    report = drift(head, [], base)
    (res,) = report.resources
    assert (res.what, res.side) == (What.DELETED, Side.CONFLICT)
    assert report.conflicts == [(res, None)]


def test_created_outside_seg_is_drift_and_removed_in_git_is_pending() -> None:
    base = [want(SRC, "old", catalog="javascript")]
    live = [have(SRC, "old", catalog="javascript"),
            have(SRC, "ui", "", catalog="ios")]  # fmt: skip
    report = drift([], live, base, [edit("POST", SRC, "ui", ("catalog",))])
    (res,) = report.resources
    assert (res.address, res.what, res.live is not None) == ("ui", What.CREATED, True)
    assert report.pending == 1  # old: removed in git, the apply deletes it


def test_a_resource_nobody_manages_from_before_the_last_apply_is_not_drift() -> None:
    live = [have(SRC, "legacy", "", catalog="ios")]
    assert drift([], live, []).resources == ()


def test_the_newest_outside_write_of_a_path_is_named() -> None:
    base = [want(DST, "web/amp", **dst(region="US"))]
    live = [have(DST, "web/amp", **dst(region="EU"))]
    edits = [edit("PATCH", DST, "web/amp", ("settings", "region"), actor="old", id="3",
                  time="2026-12-01T00:00:00Z"),
             edit("PATCH", DST, "web/amp", ("settings", "other"), actor="other", id="5",
                  time="2026-12-05T00:00:00Z"),
             edit("PATCH", DST, "web/amp", ("settings", "region"), actor="new", id="4",
                  time="2026-12-02T00:00:00Z")]  # fmt: skip
    (f,) = drift(base, live, base, edits).resources[0].fields
    assert f.who == "new"


def test_views_never_show_a_secret_and_name_every_side() -> None:
    base = [DesiredResource(DST, "web/amp", dst(key="a", region="US"),
                            frozenset({("settings", "key")}))]
    live = [have(DST, "web/amp", **dst(key="secret:hmac:" + "0" * 64, region="EU"))]
    edits = [edit("PATCH", DST, "web/amp", ("settings", "key"), ("settings", "region"))]
    report = drift(base, live, base, edits, Since("7", "2026-12-04T09:00:00Z", "ab" * 20, True))
    text = "\n".join(drift_lines(report))
    assert "hmac" not in text and "(sensitive)" in text and '"EU"' in text
    assert "since apply 7 of abababababab" in text
    data = drift_json(report)
    (res,) = data["drift"]
    fields = {f["path"]: f for f in res["fields"]}
    assert fields["settings.key"]["live"] == "(sensitive)" and fields["settings.key"]["sensitive"]
    assert fields["settings.region"]["live"] == "EU"
    assert data["summary"] == {"drifted": 1, "conflicts": 0, "pending": 0}
    md = drift_markdown(report)
    assert "hmac" not in md and "settings.region" in md and "ana" in md


def test_missing_stays_missing_in_the_report() -> None:
    base = [want(DST, "web/amp", **dst(region="US"))]
    live = [CurrentResource(DST, "web/amp", dst(), "e1", managed=frozenset({"settings.region"}),
                            manager="default")]  # fmt: skip
    report = drift(base, live, base, [edit("PATCH", DST, "web/amp", ("settings", "region"))])
    (f,) = report.resources[0].fields
    assert f.live is MISSING
    assert "settings.region: (not set) on the control plane" in "\n".join(drift_lines(report))
