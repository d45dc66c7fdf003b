"""The Transformation kind (issue 15, item 2): each rule in `seg validate` (file:line:col) and on
the control plane (the same refusal, SQLite and PostgreSQL), the destination scope and the
destination's delete rule, plan/apply order (one apply creating source, destination and a scoped
transformation; one deleting both), immutable fields as replacements, export → empty plan, and
examples/protocols applied and exported back."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Api, embedded_call, live
from tests.conftest import run_cli as seg
from tests.helpers import error
from tests.integration.diagnostics import assert_at, line_of, validate_errors

WS = "acme"
BASE = """\
kind: Source
name: shop
spec: {catalog: javascript}
---
kind: Source
name: app
spec: {catalog: javascript}
---
kind: Destination
name: amplitude
spec: {source: shop, catalog: amplitude}
---
kind: Destination
name: pixel
spec: {source: shop, catalog: facebook-pixel, connection_mode: device}
---
kind: Destination
name: archive
spec: {source: shop, catalog: s3}
---
kind: Destination
name: mixpanel
spec: {source: app, catalog: mixpanel}
"""


def transformation(name: str = "t", **spec: Any) -> str:
    body: dict[str, Any] = {"source": "shop"}
    body.update(spec)
    return yaml.safe_dump({"kind": "Transformation", "name": name, "spec": body},
                          sort_keys=False, allow_unicode=True)  # fmt: skip


def rename_event(name: str = "t", **spec: Any) -> str:
    return transformation(name, **{"type": "rename_event", "event": "Order Completed",
                                   "new_event_name": "Order Placed", **spec})  # fmt: skip


def tree(root: Path, *docs: str, base: str = BASE) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {WS}\n")
    (root / "resources.yaml").write_text("---\n".join([base, *docs]))
    return root


def applied(root: Path) -> None:
    result = seg("apply", "-w", str(root), "--auto-approve")
    assert result.exit_code == 0, result.output
    again = seg("plan", "-w", str(root), "--detailed-exitcode")
    assert again.exit_code == 0, again.output


# -- the control plane --------------------------------------------------------------------


@pytest.fixture
def shop(api: Api) -> Api:
    """A workspace with the sources and destinations of BASE."""
    for source in ("shop", "app"):
        assert api.create_source(source).status_code == 200
    for source, slug, fields in (("shop", "amplitude", {}),
                                 ("shop", "pixel", {"catalog": "facebook-pixel",
                                                    "connection_mode": "device"}),
                                 ("shop", "archive", {"catalog": "s3"}),
                                 ("app", "mixpanel", {"catalog": "mixpanel"})):  # fmt: skip
        assert api.create_destination(source, slug, **fields).status_code == 200
    return api


def post(api: Api, name: str = "t", source: str = "shop", **fields: Any) -> Any:
    body = {"name": f"workspaces/{api.workspace}/sources/{source}/transformations/{name}",
            **fields}  # fmt: skip
    if isinstance(body.get("destination"), str) and "/" not in body["destination"]:
        body["destination"] = (f"workspaces/{api.workspace}/sources/{source}/destinations/"
                               f"{body['destination']}")  # fmt: skip
    return api.http.post(api.url(f"/sources/{source}/transformations"),
                         json={"transformation": body})  # fmt: skip


RENAME = {"type": "rename_event", "event": "Order Completed", "new_event_name": "Order Placed"}


def test_a_valid_transformation_is_created_with_its_defaults(shop: Api) -> None:
    made = post(shop, **RENAME, destination="amplitude")
    assert made.status_code == 200, made.text
    body = made.json()
    assert body["enabled"] is True and body["display_name"] == ""
    assert body["destination"] == (f"workspaces/{shop.workspace}/sources/shop/destinations/"
                                   "amplitude")  # fmt: skip
    listed = shop.http.get(shop.url("/sources/shop/transformations")).json()
    assert [t["name"].rsplit("/", 1)[1] for t in listed["transformations"]] == ["t"]


# -- one per source + type + event + destination (INV-TR-1) -------------------------------


def test_one_transformation_per_source_type_event_and_destination(tmp_path: Path,
                                                                  shop: Api) -> None:  # fmt: skip
    root = tree(tmp_path / "ws", rename_event("first"), rename_event("second"))
    out = validate_errors(root)
    message = ("transformation shop/first already has type rename_event for event 'Order "
               "Completed' at source scope; one transformation per source, type, event and "
               "destination")  # fmt: skip
    assert_at(out, root, line_of(root, "type: rename_event", "name: second"), message,
              "transformation/unique")  # fmt: skip
    assert post(shop, "first", **RENAME).status_code == 200
    assert message in error(post(shop, "second", **RENAME), 409, 6)
    # another scope, another event or another source: allowed
    assert post(shop, "second", **RENAME, destination="amplitude").status_code == 200
    assert post(shop, "third", **{**RENAME, "event": "Cart Viewed"}).status_code == 200
    assert post(shop, "first", source="app", **RENAME).status_code == 200
    scoped = tree(tmp_path / "ok", rename_event("first"), rename_event("second",
                                                                       destination="amplitude"))
    assert seg("validate", "-w", str(scoped)).exit_code == 0


# -- paths (INV-TR-3), renames, top-level fields ------------------------------------------


@pytest.mark.parametrize(
    ("path", "message"),
    [
        ("products.$.product_id", "array notation ($, .$.) is not supported"),
        ("a.b.c.d.e", "a path names at most 4 levels beneath properties (this one names 5)"),
        ("order..id", "a path has no empty keys"),
        ("order\\id", "a backslash only escapes a dot"),
        ("userId", "userId is a top-level field of the track call, which transformations "
                   "cannot change; a property of that name is written properties.userId"),
        ("context.ip", "context is a top-level field of the track call"),
    ],
)
def test_paths_the_platform_does_not_take_are_refused(path: str, message: str, tmp_path: Path,
                                                      shop: Api) -> None:  # fmt: skip
    spec = {"type": "rename_properties", "event": "Order Completed",
            "property_renames": [{"from": "ok", "to": "fine"}, {"from": path, "to": "x"}]}
    root = tree(tmp_path / "ws", transformation(**spec))
    out = validate_errors(root)
    assert_at(out, root, line_of(root, "- from: ") + 2,  # the second item's from
              f"property_renames[1].from: {message}", "transformation/path")  # fmt: skip
    assert message in error(post(shop, **spec), 400, 3)
    assert shop.http.get(shop.url("/sources/shop/transformations/t")).status_code == 404


def test_accepted_paths(tmp_path: Path, shop: Api) -> None:
    renames = [{"from": "order.id", "to": "order_id"},
               {"from": "ingredients\\.salad", "to": "salad"},
               {"from": "properties.userId", "to": "user_id"},
               {"from": "a.b.c.d", "to": "properties.w.x.y.z"}]  # fmt: skip
    spec = {"type": "rename_properties", "event": "Order Completed", "property_renames": renames}
    root = tree(tmp_path / "ws", transformation(**spec))
    assert seg("validate", "-w", str(root)).exit_code == 0
    made = post(shop, **spec)
    assert made.status_code == 200, made.text
    assert made.json()["property_renames"] == renames  # stored as written


def test_renames_need_distinct_from_paths(tmp_path: Path, shop: Api) -> None:
    spec = {"type": "rename_properties", "event": "Order Completed",
            "property_renames": [{"from": "sku", "to": "a"}, {"from": "properties.sku",
                                                              "to": "b"}]}  # fmt: skip
    root = tree(tmp_path / "ws", transformation(**spec))
    message = ("property_renames[1].from: sku is renamed twice (also at "
               "property_renames[0].from); each property is renamed once")  # fmt: skip
    assert_at(validate_errors(root), root, line_of(root, "from: properties.sku"), message,
              "transformation/rename")  # fmt: skip
    assert message in error(post(shop, **spec), 400, 3)


# -- value transforms and their conflicts (§1.8) ------------------------------------------


def test_a_value_transform_names_a_path_once(tmp_path: Path, shop: Api) -> None:
    spec = {"type": "transform_values", "event": "Order Completed",
            "value_transforms": [{"paths": ["currency", "region"], "value": "EUR"},
                                 {"paths": ["properties.currency"], "value": "USD"}]}  # fmt: skip
    root = tree(tmp_path / "ws", transformation(**spec))
    message = ("value_transforms[1].paths[0]: currency is transformed twice (also at "
               "value_transforms[0].paths[0]); each property value is set once")  # fmt: skip
    assert_at(validate_errors(root), root, line_of(root, "- properties.currency"), message,
              "transformation/conflict")  # fmt: skip
    assert message in error(post(shop, **spec), 400, 3)


def test_value_transforms_name_at_most_ten_paths(tmp_path: Path, shop: Api) -> None:
    spec = {"type": "transform_values", "event": "Order Completed",
            "value_transforms": [{"paths": [f"a{i}", f"b{i}"], "value": "v"}
                                 for i in range(6)]}  # fmt: skip
    root = tree(tmp_path / "ws", transformation(**spec))
    message = "value_transforms name 12 property paths; the limit is 10"
    assert_at(validate_errors(root), root, line_of(root, "value_transforms:") + 1, message,
              "transformation/limit")  # fmt: skip
    assert message in error(post(shop, **spec), 400, 3)
    spec["value_transforms"] = spec["value_transforms"][:5]
    assert post(shop, **spec).status_code == 200


def test_conflicts_between_transformations_of_one_event_and_scope(tmp_path: Path,
                                                                  shop: Api) -> None:  # fmt: skip
    values = {"type": "transform_values", "event": "Order Completed",
              "value_transforms": [{"paths": ["total"], "value": "0"}]}
    defined = {"type": "fql_defined_properties", "event": "Order Completed",
               "fql_defined_properties": [{"property": "properties.total",
                                           "fql": "lowercase(properties.total)"}]}  # fmt: skip
    renamed = {"type": "rename_properties", "event": "Order Completed",
               "property_renames": [{"from": "total", "to": "sum"}]}
    root = tree(tmp_path / "ws", transformation("vals", **values),
                transformation("fql", **defined), transformation("ren", **renamed))
    out = validate_errors(root)
    assert_at(out, root, line_of(root, "- property: properties.total"),
              "fql_defined_properties[0].property: transformation shop/vals already sets the "
              "value of total for this event and scope", "transformation/conflict")  # fmt: skip
    assert_at(out, root, line_of(root, "- from: total"),
              "property_renames[0].from: transformation shop/vals, transformation shop/fql "
              "already sets the value of total for this event and scope",
              "transformation/conflict")  # fmt: skip
    assert post(shop, "vals", **values).status_code == 200
    assert "already sets the value of total" in error(post(shop, "fql", **defined), 409, 9)
    assert "already sets the value of total" in error(post(shop, "ren", **renamed), 409, 9)
    # at another scope nothing conflicts
    assert post(shop, "fql", **defined, destination="amplitude").status_code == 200
    assert post(shop, "ren", **renamed, destination="amplitude").status_code == 409  # the fql


# -- fql_defined_properties ---------------------------------------------------------------


def test_fql_defined_properties_hold_one_property(tmp_path: Path, shop: Api) -> None:
    spec = {"type": "fql_defined_properties", "event": "Order Completed",
            "fql_defined_properties": [{"property": "properties.a", "fql": "lowercase(properties.a)"},
                                       {"property": "properties.b", "fql": "uppercase(properties.b)"}]}  # fmt: skip
    root = tree(tmp_path / "ws", transformation(**spec))
    message = "fql_defined_properties holds exactly one property (it has 2)"
    assert_at(validate_errors(root), root, line_of(root, "fql_defined_properties:", "type:") + 1,
              message, "transformation/fql")  # fmt: skip
    assert message in error(post(shop, **spec), 400, 3)


def test_fql_defined_properties_parse_as_fql(tmp_path: Path, shop: Api) -> None:
    spec = {"type": "fql_defined_properties", "event": "Order Completed",
            "fql_defined_properties": [{"property": "properties.country",
                                        "fql": 'uppercase("United States)'}]}  # fmt: skip
    root = tree(tmp_path / "ws", transformation(**spec))
    message = "fql_defined_properties[0].fql: invalid FQL: unexpected character '\"'"
    assert_at(validate_errors(root), root, line_of(root, "fql: uppercase"), message,
              "transformation/fql")  # fmt: skip
    assert message in error(post(shop, **spec), 400, 3)
    spec["fql_defined_properties"][0]["fql"] = 'uppercase("United States")'
    assert post(shop, **spec).status_code == 200


@pytest.mark.parametrize("extra", [{"property_renames": [{"from": "a", "to": "b"}]},
                                   {"new_event_name": "X"},
                                   {"value_transforms": [{"paths": ["a"], "value": "b"}]}])
def test_fql_defined_properties_are_not_combined(extra: dict[str, Any], tmp_path: Path,
                                                 shop: Api) -> None:  # fmt: skip
    spec = {"type": "fql_defined_properties", "event": "Order Completed",
            "fql_defined_properties": [{"property": "p", "fql": "lowercase(properties.p)"}],
            **extra}  # fmt: skip
    root = tree(tmp_path / "ws", transformation(**spec))
    key = next(iter(extra))
    assert_at(validate_errors(root), root, line_of(root, f"{key}:"), f"unknown key {key!r}",
              "schema/unknown-key")  # fmt: skip
    error(post(shop, **spec), 400, 3)


# -- event names and types ----------------------------------------------------------------


def test_new_event_name_only_renames_a_track_event(tmp_path: Path, shop: Api) -> None:
    spec = {"type": "rename_properties", "event": "Order Completed", "new_event_name": "X",
            "property_renames": [{"from": "a", "to": "b"}]}
    root = tree(tmp_path / "ws", transformation(**spec))
    assert_at(validate_errors(root), root, line_of(root, "new_event_name:"),
              "unknown key 'new_event_name'", "schema/unknown-key")  # fmt: skip
    error(post(shop, **spec), 400, 3)
    same = {**RENAME, "new_event_name": "Order Completed"}
    root = tree(tmp_path / "same", transformation(**same))
    message = "new_event_name: 'Order Completed' is the event's own name; a rename changes it"
    assert_at(validate_errors(root), root, line_of(root, "new_event_name:"), message,
              "transformation/event")  # fmt: skip
    assert message in error(post(shop, **same), 400, 3)
    missing = {"type": "rename_event", "event": "Order Completed"}
    root = tree(tmp_path / "missing", transformation(**missing))
    assert "'new_event_name' is a required property" in validate_errors(root)
    assert "new_event_name" in error(post(shop, **missing), 400, 3)


def test_rename_traits_is_for_identify_and_group_only(tmp_path: Path, shop: Api) -> None:
    spec = {"type": "rename_traits", "event": "Order Completed",
            "property_renames": [{"from": "email", "to": "mail"}]}
    root = tree(tmp_path / "ws", transformation(**spec))
    assert_at(validate_errors(root), root, line_of(root, "event: Order Completed"),
              "spec.event: 'Order Completed' is not one of ['identify', 'group']",
              "schema/enum")  # fmt: skip
    error(post(shop, **spec), 400, 3)
    for event in ("identify", "group"):
        assert post(shop, event, **{**spec, "event": event}).status_code == 200


# -- the destination scope (INV-TR-4) -----------------------------------------------------


@pytest.mark.parametrize(
    ("destination", "message"),
    [
        ("pixel", "destination shop/pixel is device-mode; a transformation is scoped to "
                  "cloud-mode destinations only"),
        ("archive", "destination shop/archive is Amazon S3, a storage destination; "
                    "transformations are not scoped to storage destinations or warehouses"),
    ],
)
def test_the_scope_is_a_cloud_mode_destination_that_is_not_storage(
    destination: str, message: str, tmp_path: Path, shop: Api
) -> None:
    root = tree(tmp_path / "ws", rename_event(destination=destination))
    assert_at(validate_errors(root), root, line_of(root, f"destination: {destination}"),
              message, "transformation/scope")  # fmt: skip
    assert message in error(post(shop, **RENAME, destination=destination), 409, 9)


def test_the_scope_is_a_destination_of_the_same_source(tmp_path: Path, shop: Api) -> None:
    root = tree(tmp_path / "ws", rename_event(destination="mixpanel"))
    out = validate_errors(root)
    assert "refers to destination 'shop/mixpanel', which is not declared" in out, out
    other = f"workspaces/{shop.workspace}/sources/app/destinations/mixpanel"
    refused = error(post(shop, **RENAME, destination=other), 400, 3)
    assert refused == (f"transformation.destination must be a destination of "
                       f"workspaces/{shop.workspace}/sources/shop")  # fmt: skip
    gone = f"workspaces/{shop.workspace}/sources/shop/destinations/nope"
    assert "not found" in error(post(shop, **RENAME, destination=gone), 404, 5)


# -- the destination's delete rule; plan/apply order --------------------------------------


def test_a_scoped_destination_is_not_deleted_while_the_transformation_stays(shop: Api) -> None:
    assert post(shop, **RENAME, destination="amplitude").status_code == 200
    path = shop.url("/sources/shop/destinations/amplitude")
    message = "destination shop/amplitude is the scope of transformations (t); delete them first"
    assert message == error(shop.http.delete(path), 409, 9)
    assert shop.http.delete(shop.url("/sources/shop/transformations/t")).status_code == 200
    assert shop.http.delete(path).status_code == 200


def test_one_apply_creates_source_destination_and_a_scoped_transformation_and_one_deletes_them(
    tmp_path: Path, clean_seg_env: None
) -> None:
    root = tree(tmp_path / "ws", rename_event(destination="amplitude"))
    plan = seg("plan", "-w", str(root), "-o", "json")
    order = [(c["kind"], c["address"]) for c in json.loads(plan.stdout)["changes"]]
    at = order.index
    assert at(("Transformation", "shop/t")) > at(("Destination", "shop/amplitude"))
    assert at(("Transformation", "shop/t")) > at(("Source", "shop"))
    applied(root)
    assert live(root, "sources/shop/transformations/t")["new_event_name"] == "Order Placed"
    # deleting the destination alone is refused by the plan's own check (validate)
    base = BASE.replace("kind: Destination\nname: amplitude\nspec: {source: shop, catalog: "
                        "amplitude}\n---\n", "")  # fmt: skip
    tree(root, rename_event(destination="amplitude"), base=base)
    assert "refers to destination 'shop/amplitude'" in validate_errors(root)
    # both in one apply: the transformation goes first, then the destination
    tree(root, base=base)
    plan = seg("plan", "-w", str(root), "-o", "json")
    changes = json.loads(plan.stdout)["changes"]
    assert {(c["kind"], c["action"]) for c in changes} == {("Transformation", "delete"),
                                                           ("Destination", "delete")}  # fmt: skip
    applied(root)
    assert embedded_call(root, "GET", "sources/shop/destinations/amplitude").status_code == 404


def test_the_delete_waits_for_the_transformation_through_its_reference() -> None:
    """The plan orders a scoped destination's delete after the transformation's (references,
    engine/guards.order_disconnects), not by kind order alone."""
    from seg.engine.guards import order_disconnects
    from seg.engine.plan import Action, Change
    from seg.kinds import KINDS
    from seg.model.resource import CurrentResource

    dest = CurrentResource(KINDS["Destination"], "shop/amplitude", {}, etag="e1")
    trans = CurrentResource(KINDS["Transformation"], "shop/t",
                            {"destination": "shop/amplitude"}, etag="e2")  # fmt: skip
    changes = [Change("shop/amplitude", KINDS["Destination"], Action.DELETE),
               Change("shop/t", KINDS["Transformation"], Action.DELETE)]  # fmt: skip
    have = {("Destination", "shop/amplitude"): dest, ("Transformation", "shop/t"): trans}
    ordered = order_disconnects(changes, have)
    assert ordered[0].waits_for == (("Transformation", "shop/t"),)


# -- immutable fields, export, the example ------------------------------------------------


@pytest.mark.parametrize(
    ("before", "after", "reason"),
    [
        ({}, {"event": "Order Refunded"}, "event is immutable ('Order Completed' → 'Order Refunded')"),
        ({}, {"destination": "amplitude"}, "destination is immutable (absent → set)"),
        ({"destination": "amplitude"}, {}, "destination is immutable (set → absent)"),
        ({"destination": "amplitude"}, {"destination": "braze"},
         "destination is immutable ('shop/amplitude' → 'shop/braze')"),
    ],
)
def test_an_immutable_field_changed_or_a_scope_set_or_dropped_is_a_replacement(
    before: dict[str, str], after: dict[str, str], reason: str, tmp_path: Path,
    clean_seg_env: None
) -> None:
    braze = "---\nkind: Destination\nname: braze\nspec: {source: shop, catalog: braze}\n"
    root = tree(tmp_path / "ws", rename_event(**before), base=BASE + braze)
    applied(root)
    tree(root, rename_event(**after), base=BASE + braze)
    plan = seg("plan", "-w", str(root), "-o", "json")
    (change,) = json.loads(plan.stdout)["changes"]
    assert (change["action"], change["reason"]) == ("replace", reason), change
    applied(root)
    scope = live(root, "sources/shop/transformations/t").get("destination")
    assert (scope or "").endswith(after.get("destination", "")), scope


def test_export_round_trips_to_an_empty_plan(tmp_path: Path, clean_seg_env: None) -> None:
    docs = [rename_event("ev", destination="amplitude", display_name="Order → placed",
                         enabled=False),
            transformation("vals", type="transform_values", event="Cart Viewed",
                           value_transforms=[{"paths": ["a\\.b", "c"], "value": "$5"}]),
            transformation("traits", type="rename_traits", event="identify",
                           property_renames=[{"from": "traits.e-mail", "to": "email"}]),
            transformation("fql", type="fql_defined_properties", event="Signed Up",
                           fql_defined_properties=[{"property": "properties.plan",
                                                    "fql": "titlecase(properties.plan)"}])]  # fmt: skip
    root = tree(tmp_path / "ws", *docs)
    applied(root)
    (root / "resources.yaml").unlink()
    exported = seg("export", "-w", str(root), "--merge")
    assert exported.exit_code == 0, exported.output
    doc = yaml.safe_load((root / "transformations" / "shop.ev.yaml").read_text())
    assert doc["spec"] == {"source": "shop", "display_name": "Order → placed",
                           "type": "rename_event", "event": "Order Completed",
                           "destination": "amplitude", "new_event_name": "Order Placed",
                           "enabled": False}  # fmt: skip
    vals = yaml.safe_load((root / "transformations" / "shop.vals.yaml").read_text())
    assert vals["spec"]["value_transforms"] == [{"paths": ["a\\.b", "c"], "value": "$$5"}]
    plan = seg("plan", "-w", str(root), "--detailed-exitcode")
    assert plan.exit_code == 0, plan.output



def test_seg_diff_shows_transformation_changes(tmp_path: Path, clean_seg_env: None) -> None:
    import git

    root = tree(tmp_path / "repo" / "ws", rename_event(),
                rename_event("scoped", event="Cart Viewed", destination="amplitude"))
    repo = git.Repo.init(tmp_path / "repo", initial_branch="main")
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", "t")
        cfg.set_value("user", "email", "t@example.com")
    repo.git.add("-A")
    repo.index.commit("base")
    tree(root, rename_event(new_event_name="Order Done"),
         rename_event("scoped", event="Cart Viewed"))
    repo.git.add("-A")
    repo.index.commit("head")
    result = seg("diff", "-w", str(root), "--base", "HEAD~1", "-o", "json")
    assert result.exit_code == 2, result.output
    changes = {c["address"]: c for c in json.loads(result.stdout)["changes"]}
    assert changes["shop/t"]["action"] == "update"
    assert changes["shop/t"]["update_mask"] == ["transformation.new_event_name"]
    assert changes["shop/scoped"]["action"] == "replace"
