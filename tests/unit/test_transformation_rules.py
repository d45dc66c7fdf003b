"""The Transformation kind's rules as pure functions over an in-memory Lookup: paths, renames,
value transforms, the FQL-defined property, the destination scope, uniqueness, conflicts
between transformations, and the destination's delete rule."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pytest

from seg.kinds import KINDS
from seg.kinds.lookup import IndexLookup
from seg.kinds.transformation import scoped_to, split_path
from seg.model.kinds import Code, Subject, Violation

Fields = dict[str, Any]
DESTINATIONS: dict[tuple[str, str], Fields] = {
    ("Source", "shop"): {"catalog": "javascript"},
    ("Destination", "shop/amplitude"): {"catalog": "amplitude", "connection_mode": "cloud"},
    ("Destination", "shop/pixel"): {"catalog": "facebook-pixel", "connection_mode": "device"},
    ("Destination", "shop/s3"): {"catalog": "s3", "connection_mode": "cloud"},
}


def run(address: str, fields: Fields, others: Mapping[tuple[str, str], Fields] | None = None,
        *, visible: Any = None) -> list[Violation]:  # fmt: skip
    kind = KINDS["Transformation"]
    index = {**DESTINATIONS, **(others or {}), ("Transformation", address): fields}
    subject = Subject(kind, address, fields)
    if visible is not None:
        subject = Subject(kind, address, fields, visible=visible)
    lookup = IndexLookup(index)
    return [v for rule in (*kind.value_rules, *kind.rules) for v in rule(subject, lookup)]


def renames(*pairs: tuple[str, str], event: str = "Order Completed", **extra: Any) -> Fields:
    return {"type": "rename_properties", "event": event,
            "property_renames": [{"from": a, "to": b} for a, b in pairs], **extra}  # fmt: skip


def values(*paths: str, event: str = "Order Completed", **extra: Any) -> Fields:
    return {"type": "transform_values", "event": event,
            "value_transforms": [{"paths": list(paths), "value": "x"}], **extra}  # fmt: skip


def fql(prop: str, text: str, event: str = "Order Completed", **extra: Any) -> Fields:
    return {"type": "fql_defined_properties", "event": event,
            "fql_defined_properties": [{"property": prop, "fql": text}], **extra}  # fmt: skip


# -- paths --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("path", "keys"),
    [
        ("order_id", ["order_id"]),
        ("order.id", ["order", "id"]),
        ("ingredients\\.salad", ["ingredients.salad"]),
        ("a\\.b.c", ["a.b", "c"]),
        ("product 1.price", ["product 1", "price"]),
    ],
)
def test_paths_split_at_unescaped_dots(path: str, keys: list[str]) -> None:
    assert split_path(path) == keys


@pytest.mark.parametrize(
    ("path", "reason"),
    [
        ("products.$.product_id", "array notation"),
        ("$.order", "array notation"),
        ("order.$", "array notation"),
        ("a..b", "no empty keys"),
        (".a", "no empty keys"),
        ("a.", "no empty keys"),
        ("a\\b", "only escapes a dot"),
        ("a\\", "only escapes a dot"),
        ("a\u202eb", "no control, line-break or bidi characters"),
        ("a\nb", "no control, line-break or bidi characters"),
    ],
)
def test_malformed_paths_are_refused(path: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        split_path(path)
    (found,) = run("shop/t", renames((path, "x")))
    assert found.rule == "transformation/path" and reason in found.message
    assert found.path == ("property_renames", "0", "from")
    assert found.message.startswith("property_renames[0].from: ")


def test_paths_name_at_most_four_levels_beneath_properties() -> None:
    assert run("shop/t", renames(("a.b.c.d", "e"))) == []
    assert run("shop/t", renames(("properties.a.b.c.d", "e"))) == []  # the prefix is no level
    (found,) = run("shop/t", renames(("a.b.c.d.e", "f")))
    assert "at most 4 levels beneath properties (this one names 5)" in found.message
    (found,) = run("shop/t", values("properties.a.b.c.d.e"))
    assert found.path == ("value_transforms", "0", "paths", "0")


@pytest.mark.parametrize("field", ["userId", "anonymousId", "messageId", "timestamp", "type",
                                   "event", "context", "context.ip", "integrations",
                                   "properties", "receivedAt"])  # fmt: skip
def test_top_level_fields_of_a_track_call_are_not_transformed(field: str) -> None:
    (found,) = run("shop/t", renames((field, "x")))
    top = field.split(".")[0]
    assert found.message == (
        f"property_renames[0].from: {top} is a top-level field of the track call, which "
        f"transformations cannot change; a property of that name is written "
        f"properties.{field}"
    )
    assert run("shop/t", renames((f"properties.{field}", "x"))) == []  # a property so named


def test_traits_paths_are_relative_to_traits_and_their_top_level_fields_are_refused() -> None:
    identify = {"type": "rename_traits", "event": "identify",
                "property_renames": [{"from": "traits.email", "to": "name"}]}  # fmt: skip
    assert run("shop/t", identify) == []  # `name` is a trait here, not a top-level field
    group = {**identify, "event": "group",
             "property_renames": [{"from": "groupId", "to": "company"}]}  # fmt: skip
    (found,) = run("shop/t", group)
    assert "groupId is a top-level field of the group call" in found.message
    assert "a trait of that name is written traits.groupId" in found.message


def test_a_ten_thousand_character_path_is_refused_without_splitting_it() -> None:
    (found,) = run("shop/t", renames(("a" * 10_000, "b")))
    assert "at most 256 characters" in found.message


# -- renames and value transforms ---------------------------------------------------------


def test_renames_need_distinct_from_paths_and_distinct_to_paths() -> None:
    (found,) = run("shop/t", renames(("a", "b"), ("properties.a", "c")))
    assert found.path == ("property_renames", "1", "from") and found.rule == "transformation/rename"
    assert "a is renamed twice (also at property_renames[0].from)" in found.message
    (found,) = run("shop/t", renames(("a", "c"), ("b", "properties.c")))
    assert found.message == ("property_renames[1].to: two properties are renamed to c (also "
                             "at property_renames[0].to)")  # fmt: skip
    (found,) = run("shop/t", renames(("a", "properties.a")))
    assert found.message == "property_renames[0].to: renames a to itself"
    assert run("shop/t", renames(("a\\.b", "a.b"))) == []  # an escaped dot is another key


def test_value_transforms_name_a_path_once_and_ten_paths_in_all() -> None:
    (found,) = run("shop/t", {"type": "transform_values", "event": "E", "value_transforms": [
        {"paths": ["a", "b"], "value": "1"}, {"paths": ["properties.b"], "value": "2"}]})
    assert found.path == ("value_transforms", "1", "paths", "0")
    assert found.rule == "transformation/conflict"
    assert "b is transformed twice (also at value_transforms[0].paths[1])" in found.message
    eleven = [{"paths": [f"p{i}"], "value": "v"} for i in range(11)]
    (found,) = run("shop/t", {"type": "transform_values", "event": "E",
                              "value_transforms": eleven})  # fmt: skip
    assert found.message == "value_transforms name 11 property paths; the limit is 10"
    assert run("shop/t", {"type": "transform_values", "event": "E",
                          "value_transforms": eleven[:10]}) == []  # fmt: skip


# -- FQL-defined properties ---------------------------------------------------------------


@pytest.mark.parametrize("function", ["lowercase", "uppercase", "snakecase", "kebabcase",
                                      "titlecase"])  # fmt: skip
def test_the_casing_functions_define_a_property(function: str) -> None:
    assert run("shop/t", fql("properties.p", f"{function}(properties.p)")) == []


def test_fql_defined_properties_hold_one_property_whose_fql_parses() -> None:
    (found,) = run("shop/t", fql("properties.p", 'uppercase("United States)'))
    assert found.path == ("fql_defined_properties", "0", "fql")
    assert found.message.startswith("fql_defined_properties[0].fql: invalid FQL: unexpected "
                                    "character")  # fmt: skip
    (found,) = run("shop/t", fql("properties.p", "shout(properties.p)"))
    assert "unknown function 'shout'" in found.message
    two = fql("properties.p", "lowercase(properties.p)")
    two["fql_defined_properties"].append({"property": "q", "fql": "lowercase(properties.q)"})
    (found,) = run("shop/t", two)
    assert found.message == "fql_defined_properties holds exactly one property (it has 2)"
    (found,) = run("shop/t", fql("userId", "lowercase(userId)"))
    assert "userId is a top-level field" in found.message


def test_fql_longer_than_5_kb_is_refused() -> None:
    text = "lowercase(properties.p)" + " " * 5200
    (found,) = run("shop/t", fql("properties.p", text))
    assert "longer than 5 KB" in found.message


# -- the destination scope ----------------------------------------------------------------


def test_the_destination_scope_is_cloud_mode_and_not_storage() -> None:
    base = {"type": "rename_event", "event": "E", "new_event_name": "F"}
    assert run("shop/t", {**base, "destination": "shop/amplitude"}) == []
    (found,) = run("shop/t", {**base, "destination": "shop/pixel"})
    assert found.rule == "transformation/scope" and found.code is Code.FAILED_PRECONDITION
    assert found.message == ("destination shop/pixel is device-mode; a transformation is "
                             "scoped to cloud-mode destinations only")  # fmt: skip
    (found,) = run("shop/t", {**base, "destination": "shop/s3"})
    assert "is Amazon S3, a storage destination" in found.message


def test_a_renamed_event_gets_another_name() -> None:
    (found,) = run("shop/t", {"type": "rename_event", "event": "E", "new_event_name": "E"})
    assert found.rule == "transformation/event" and found.path == ("new_event_name",)


# -- one per source, type, event and destination; conflicts --------------------------------


def test_one_transformation_per_source_type_event_and_destination() -> None:
    first = renames(("a", "b"))
    others = {("Transformation", "shop/first"): first}
    (found,) = run("shop/second", renames(("c", "d")), others)
    assert found.rule == "transformation/unique" and found.code is Code.ALREADY_EXISTS
    assert found.message == (
        "transformation shop/first already has type rename_properties for event 'Order "
        "Completed' at source scope; one transformation per source, type, event and destination"
    )
    assert run("shop/second", renames(("c", "d"), destination="shop/amplitude"), others) == []
    assert run("shop/second", renames(("c", "d"), event="Other"), others) == []
    assert run("app/second", renames(("c", "d")), {("Transformation", "app/first"): {}}) == []
    hidden = run("shop/second", renames(("c", "d")), others, visible=lambda _k, _a: False)
    assert hidden[0].message.startswith("1 transformation you may not read already has type")


def test_a_property_value_is_set_by_one_transformation_and_not_also_renamed() -> None:
    others = {("Transformation", "shop/vals"): values("total", "currency")}
    (found,) = run("shop/fql", fql("properties.total", "lowercase(properties.total)"), others)
    assert found.rule == "transformation/conflict"
    assert found.path == ("fql_defined_properties", "0", "property")
    assert found.message == ("fql_defined_properties[0].property: transformation shop/vals "
                             "already sets the value of total for this event and scope")  # fmt: skip
    (found,) = run("shop/ren", renames(("currency", "cur")), others)
    assert found.path == ("property_renames", "0", "from")
    assert "transformation shop/vals already sets the value of currency" in found.message
    (found,) = run("shop/ren", renames(("cur", "currency")), others)  # the new name too
    assert found.path == ("property_renames", "0", "to")
    renamed = {("Transformation", "shop/ren"): renames(("total", "sum"))}
    (found,) = run("shop/vals", values("total"), renamed)
    assert "transformation shop/ren already renames total" in found.message
    # another event, another scope: no conflict
    assert run("shop/fql", fql("properties.total", "lowercase(properties.total)",
                               event="Other"), others) == []  # fmt: skip
    assert run("shop/fql", fql("properties.total", "lowercase(properties.total)",
                               destination="shop/amplitude"), others) == []  # fmt: skip


# -- the destination's delete rule --------------------------------------------------------


def test_a_destination_with_scoped_transformations_is_not_deleted() -> None:
    kind = KINDS["Destination"]
    index = {**DESTINATIONS,
             ("Transformation", "shop/t1"): renames(("a", "b"), destination="shop/amplitude"),
             ("Transformation", "shop/t2"): renames(("a", "b"))}  # fmt: skip
    lookup = IndexLookup(index)
    assert scoped_to(lookup, "shop/amplitude") == ["shop/t1"]

    def delete(address: str, visible: Any = lambda _k, _a: True) -> list[Violation]:
        subject = Subject(kind, address, index.get(("Destination", address), {}),
                          visible=visible)  # fmt: skip
        return [v for rule in kind.delete_rules for v in rule(subject, lookup)]

    (found,) = delete("shop/amplitude")
    assert found.code is Code.FAILED_PRECONDITION and found.rule == "destination/transformations"
    assert found.message == ("destination shop/amplitude is the scope of transformations (t1); "
                             "delete them first")  # fmt: skip
    (hidden,) = delete("shop/amplitude", lambda _k, _a: False)
    assert "(1 transformation you may not read)" in hidden.message
    assert delete("shop/pixel") == []
