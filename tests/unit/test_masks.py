"""Update-mask application as a pure function, plus the read-write consistency property."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from seg.kinds import KINDS
from seg.model.paths import format_path, parse_path
from seg.server.masks import MaskError, apply_update_mask

DEST = KINDS["Destination"]
CURRENT = {"enabled": True, "display_name": "A", "connection_mode": "cloud", "catalog": "x",
           "settings": {"a": 1, "nested": {"b": 2, "c": 3}}}  # fmt: skip


def test_only_masked_paths_change() -> None:
    values = {"enabled": False, "display_name": "ignored"}
    result = apply_update_mask(DEST, CURRENT, values, ["destination.enabled"])
    assert result == {**CURRENT, "enabled": False}
    assert CURRENT["enabled"] is True  # input untouched


def test_absent_values_become_empty_or_removed() -> None:
    paths = ["destination.display_name", "destination.enabled", "destination.settings.nested.b"]
    result = apply_update_mask(DEST, CURRENT, {}, paths)
    assert result["display_name"] == "" and result["enabled"] is False
    assert result["settings"] == {"a": 1, "nested": {"c": 3}}


def test_nested_set_creates_intermediate_maps() -> None:
    result = apply_update_mask(DEST, CURRENT, {"settings": {"x": {"y": 1}}},
                               ["destination.settings.x.y"])  # fmt: skip
    assert result["settings"]["x"] == {"y": 1} and result["settings"]["a"] == 1


@pytest.mark.parametrize("path", ["destination.catalog", "destination.nope", "source.enabled",
                                  "destination", "destination.enabled.x", "destination.etag"])  # fmt: skip
def test_bad_paths_raise(path: str) -> None:
    with pytest.raises(MaskError):
        apply_update_mask(DEST, CURRENT, {}, [path])


keys = st.text(alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1,
               max_size=8)  # fmt: skip
leaves = st.one_of(st.none(), st.booleans(), st.integers(), st.text(max_size=5))
settings = st.recursive(leaves, lambda c: st.dictionaries(keys, c, max_size=3), max_leaves=8)


@given(st.lists(keys, min_size=1, max_size=4))
def test_paths_round_trip(path: list[str]) -> None:
    assert parse_path(format_path(tuple(path))) == tuple(path)


@given(st.dictionaries(keys, settings, max_size=4), st.booleans(), st.text(max_size=5))
def test_get_then_patch_with_same_data_changes_nothing(
    s: dict[str, object], enabled: bool, name: str
) -> None:
    current = {"enabled": enabled, "display_name": name, "connection_mode": "cloud",
               "catalog": "x", "settings": s}  # fmt: skip
    paths = ["destination.enabled", "destination.display_name", "destination.settings"]
    paths += [f"destination.{format_path(('settings', k))}" for k in s]
    assert apply_update_mask(DEST, current, current, paths) == current
