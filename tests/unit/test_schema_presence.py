"""The schema check's fast path decides a top-level "which keys are present" combinator
(``oneOf``/``anyOf``/``not``/``allOf`` of ``required`` lists: "exactly one of catalog and
function") itself instead of through fastjsonschema's exceptions: it must say exactly what
the schema says, for every combination of the keys involved, in every kind's schema."""

from __future__ import annotations

import itertools
import json
from typing import Any

import pytest

from seg.schemas import schema_dir, schema_validator
from seg.workspace.schema_check import _expression, _fast_check, _is_valid, _presence_only

SCHEMAS = sorted(path.name for path in (schema_dir() / "resolved").glob("*.schema.json"))


def _keys(schema: Any) -> set[str]:
    """Every key a presence-only schema names."""
    if isinstance(schema, list):
        return set().union(*(_keys(part) for part in schema))
    if not isinstance(schema, dict):
        return set()
    found = set(schema.get("required", []))
    for word in ("not", "anyOf", "oneOf", "allOf"):
        if word in schema:
            found |= _keys(schema[word])
    return found


@pytest.mark.parametrize("name", SCHEMAS)
def test_the_key_test_says_what_the_schema_says_for_every_combination(name: str) -> None:
    schema = json.loads((schema_dir() / "resolved" / name).read_text())
    keyed = {word: schema[word] for word in ("not", "anyOf", "oneOf", "allOf")
             if word in schema and _presence_only({word: schema[word]})}  # fmt: skip
    _, test = _fast_check(f"resolved/{name}")
    assert (test is None) == (not keyed)
    if test is None:
        return
    reference = schema_validator(keyed)
    keys = sorted(_keys(keyed))
    assert keys, "a presence test names keys"
    for size in range(len(keys) + 1):
        for present in itertools.combinations(keys, size):
            value = dict.fromkeys(present, "x")
            assert test(value) == reference.is_valid(value), (name, present)


def test_the_kinds_with_one_of_their_keys_use_the_key_test() -> None:
    with_test = {name for name in SCHEMAS if _fast_check(f"resolved/{name}")[1] is not None}
    assert {"destination.schema.json", "function.schema.json", "mapping.schema.json",
            "model.schema.json"} <= with_test  # fmt: skip


def test_presence_only_refuses_anything_else() -> None:
    assert _presence_only({"oneOf": [{"required": ["a"]}, {"required": ["b"]}]})
    assert not _presence_only({"oneOf": [{"required": ["a"]}, {"type": "object"}]})
    assert not _presence_only({"not": {"properties": {"a": {"const": 1}}}})
    assert not _presence_only({"anyOf": []})
    assert not _presence_only({"required": "a"})
    assert not _presence_only({})
    assert _expression({"required": ["it's"]}) == """(("it's" in value))"""  # a literal


@pytest.mark.parametrize(("spec", "valid"), [
    ({"source": "web", "catalog": "amplitude"}, True),
    ({"source": "web", "function": "fn"}, True),
    ({"source": "web", "catalog": "amplitude", "function": "fn"}, False),
    ({"source": "web"}, False),
    ({"source": "web", "catalog": "amplitude", "bogus": 1}, False),  # the rest still checked
    (["catalog"], False),  # no object
])  # fmt: skip
def test_a_destination_is_judged_as_the_schema_judges_it(spec: Any, valid: bool) -> None:
    schema = json.loads((schema_dir() / "resolved" / "destination.schema.json").read_text())
    assert schema_validator(schema).is_valid(spec) is valid
    assert _is_valid("resolved/destination.schema.json", spec) is valid



@pytest.mark.parametrize("schema", [
    {"oneOf": [{"required": ["a"]}, {"required": ["b"]}]},  # both present: not one
    {"anyOf": [{"required": ["a", "b"]}, {"not": {"required": ["c"]}}]},
    {"allOf": [{"required": ["a"]}, {"not": {"anyOf": [{"required": ["b"]}, {"required": ["c"]}]}}]},
    {"not": {"oneOf": [{"required": ["a"]}, {"required": ["b"]}, {"required": ["c"]}]}},
    {"required": ["a"], "oneOf": [{"required": ["b"]}, {"not": {"required": ["c"]}}]},
])  # fmt: skip
def test_each_combinator_is_written_as_the_schema_means_it(schema: dict[str, Any]) -> None:
    assert _presence_only(schema)
    test = eval(f"lambda value: {_expression(schema)}")  # noqa: S307 - the code under test
    reference = schema_validator(schema)
    for size in range(4):
        for present in itertools.combinations("abc", size):
            value = dict.fromkeys(present, 1)
            assert test(value) == reference.is_valid(value), (schema, present)
