"""``set_path``/``remove_path`` (the one writer at a field path) and ``json_equal`` (the one
JSON equality)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from seg.model.paths import MISSING, PathError, get_path, remove_path, replaced_at, set_path
from seg.model.values import json_equal, json_key, same_items


def test_set_path_replaces_a_map_key_and_a_list_element() -> None:
    data: dict[str, Any] = {"settings": {"hosts": [{"name": "a"}, {"name": "b"}], "x": 1}}
    set_path(data, ("settings", "x"), 2)
    set_path(data, ("settings", "hosts", 1, "name"), "c")
    set_path(data, ("settings", "hosts", 0), "whole")
    assert data == {"settings": {"hosts": ["whole", {"name": "c"}], "x": 2}}


def test_set_path_adds_a_key_to_an_existing_map() -> None:
    data: dict[str, Any] = {"settings": {}}
    set_path(data, ("settings", "region"), "eu")
    assert data == {"settings": {"region": "eu"}}


def test_set_path_creates_missing_maps_only_when_asked() -> None:
    data: dict[str, Any] = {}
    with pytest.raises(PathError, match="a missing key at key 'settings'"):
        set_path(data, ("settings", "a", "b"), 1)
    assert data == {}  # nothing half-made
    set_path(data, ("settings", "a", "b"), 1, create=True)
    assert data == {"settings": {"a": {"b": 1}}}


@pytest.mark.parametrize("scalar", ["text", 3, None, True])
def test_set_path_refuses_to_descend_into_a_scalar(scalar: Any) -> None:
    data = {"settings": {"a": scalar}}
    with pytest.raises(PathError, match="cannot descend into"):
        set_path(data, ("settings", "a", "b"), 1)
    assert data == {"settings": {"a": scalar}}


def test_set_path_with_create_replaces_a_scalar_by_the_map_the_path_needs() -> None:
    data: dict[str, Any] = {"settings": {"a": "text", "keep": 1}}
    set_path(data, ("settings", "a", "b"), 1, create=True)
    assert data == {"settings": {"a": {"b": 1}, "keep": 1}}


def test_set_path_refuses_list_indices_out_of_range_and_keys_in_lists() -> None:
    data: dict[str, Any] = {"hosts": ["a"]}
    with pytest.raises(PathError):
        set_path(data, ("hosts", 1), "b")
    with pytest.raises(PathError):
        set_path(data, ("hosts", 3, "name"), "b")
    with pytest.raises(PathError):
        set_path(data, ("hosts", "name"), "b")
    with pytest.raises(PathError):
        set_path(data, (), "b")
    assert data == {"hosts": ["a"]}


def test_remove_path_drops_a_key_and_ignores_what_is_not_there() -> None:
    data: dict[str, Any] = {"settings": {"a": 1, "b": 2}, "name": "x"}
    remove_path(data, ("settings", "a"))
    remove_path(data, ("settings", "zzz"))
    remove_path(data, ("name", "deeper"))
    remove_path(data, ("missing", "a"))
    assert data == {"settings": {"b": 2}, "name": "x"}


PATHS = st.lists(st.sampled_from(["a", "b", "c"]), min_size=1, max_size=4).map(tuple)


@given(path=PATHS, value=st.integers())
@settings(max_examples=100, deadline=None)
def test_a_created_path_reads_back(path: tuple[str, ...], value: int) -> None:
    data: dict[str, Any] = {"a": {"b": "scalar"}, "c": 1}
    set_path(data, path, value, create=True)
    assert get_path(data, path) == value
    remove_path(data, path)
    assert get_path(data, path) is MISSING


def test_json_equal_follows_json_not_python() -> None:
    assert not json_equal(True, 1) and not json_equal(1, True)
    assert not json_equal(False, 0) and not json_equal([True], [1])
    assert not json_equal({"a": True}, {"a": 1})
    assert json_equal(1, 1.0) and json_equal({"a": [1, 2.0]}, {"a": [1.0, 2]})
    assert json_equal({"a": 1, "b": 2}, {"b": 2, "a": 1})  # key order is irrelevant
    assert not json_equal([1, 2], [2, 1])  # list order is not
    assert not json_equal({"a": 1}, {"a": 1, "b": None})
    assert not json_equal("1", 1) and not json_equal(None, 0) and not json_equal([], {})
    assert json_equal(None, None) and json_equal("x", "x")


def _nested(leaf: Any, depth: int) -> Any:
    for _ in range(depth):
        leaf = [{"k": leaf}]
    return leaf


def test_json_equal_takes_any_depth() -> None:
    assert json_equal(_nested(1, 20_000), _nested(1.0, 20_000))  # no recursion limit
    assert not json_equal(_nested(1, 20_000), _nested(True, 20_000))


def test_same_items_ignores_order_but_counts_repeats() -> None:
    assert same_items([{"a": 1}, 2], [2, {"a": 1.0}])
    assert not same_items([1, 1, 2], [1, 2, 2])
    assert not same_items([True], [1])


JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-3, 3) | st.sampled_from([0.0, 1.0, 2.5, -1.0])
    | st.sampled_from(["", "a", "1", "true"]),
    lambda inner: st.lists(inner, max_size=3)
    | st.dictionaries(st.sampled_from(["a", "b", "c"]), inner, max_size=3),
    max_leaves=8,
)  # fmt: skip


def _canonical(value: Any) -> str:
    """The reference: the JSON text with sorted keys, numbers as floats unless bool."""

    def norm(v: Any) -> Any:
        if isinstance(v, bool) or v is None or isinstance(v, str):
            return v
        if isinstance(v, int | float):
            return float(v)
        if isinstance(v, list):
            return [norm(x) for x in v]
        return {k: norm(x) for k, x in v.items()}

    return json.dumps(norm(json.loads(json.dumps(value))), sort_keys=True)


@given(a=JSON, b=JSON)
@settings(max_examples=300, deadline=None)
def test_json_equal_agrees_with_canonical_json_text(a: Any, b: Any) -> None:
    assert json_equal(a, b) == (_canonical(a) == _canonical(b))
    assert (json_key(a) == json_key(b)) == json_equal(a, b)
    assert json_equal(a, json.loads(json.dumps(a)))


def test_replaced_at_copies_only_the_containers_on_the_paths() -> None:
    shared = {"deep": {"k": "secret"}}
    data = {"a": shared, "b": [{"t": "x"}, {"t": "y"}], "c": {"untouched": 1}}
    out = replaced_at(data, [("a", "deep", "k"), ("b", 1, "t"), ("a", "gone"), ("c", "no", "x")],
                      None)  # fmt: skip
    assert out == {"a": {"deep": {"k": None}}, "b": [{"t": "x"}, {"t": None}],
                   "c": {"untouched": 1}}  # fmt: skip
    assert data == {"a": {"deep": {"k": "secret"}}, "b": [{"t": "x"}, {"t": "y"}],
                    "c": {"untouched": 1}}  # the original is left alone  # fmt: skip
    assert out["c"] is data["c"] and out["b"][0] is data["b"][0]  # off the paths: shared
    twice = replaced_at(data, [("a", "deep", "k"), ("a", "deep", "k2")], "R")
    assert twice["a"]["deep"] == {"k": "R"}  # a missing leaf is skipped, the copy kept once
