"""Hostile transformations (issue 15, item 2): huge and pathological paths, deep `\\.` escapes,
FQL blowups, wrong types and oversized lists are a 4xx with the API's error shape on the control
plane (never a 500, in bounded time, nothing written) and one diagnostic with file:line:col in
`seg validate`; another workspace's or another source's destination cannot be named as a
scope; immutable fields are not reached by a PATCH."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from seg.server.service import ControlPlane
from tests.conftest import Api
from tests.conftest import run_cli as seg
from tests.helpers import error

BOUND = 10.0  # seconds; each refusal takes milliseconds
HUGE = "a" * 10_000
ESCAPES = "\\." * 5_000  # ten thousand characters of escaped dots: one key of dots
DOTS = ".".join(["a"] * 5_000)
NESTED_FQL = "lowercase(" * 2_000 + "properties.p" + ")" * 2_000
WIDE_FQL = "lowercase(properties.p" + " or x" * 2_000 + ")"
LONG_FQL = "lowercase(properties.p)" + " " * 6_000


def renames(path: str) -> dict[str, Any]:
    return {"type": "rename_properties", "event": "E",
            "property_renames": [{"from": path, "to": "x"}]}  # fmt: skip


def defined(fql: Any, prop: Any = "properties.p") -> dict[str, Any]:
    return {"type": "fql_defined_properties", "event": "E",
            "fql_defined_properties": [{"property": prop, "fql": fql}]}  # fmt: skip


HOSTILE: list[dict[str, Any]] = [
    renames(HUGE),
    renames(ESCAPES),
    renames("a" + "\\" * 9_999),
    renames(DOTS[:255]),  # within the size limit: refused for its depth, not its length
    renames("a.$.b"),
    renames("a.\u202eb"),  # a bidi control inside a key
    renames("a\nb"),
    renames(""),
    {"type": "rename_properties", "event": "E", "property_renames": [{"from": 1, "to": "x"}]},
    {"type": "rename_properties", "event": "E", "property_renames": ["a"]},
    {"type": "rename_properties", "event": "E", "property_renames": []},
    {"type": "rename_properties", "event": "E",
     "property_renames": [{"from": f"p{i}", "to": f"q{i}"} for i in range(5_000)]},
    {"type": "transform_values", "event": "E",
     "value_transforms": [{"paths": [f"p{i}" for i in range(5_000)], "value": "v"}]},
    {"type": "transform_values", "event": "E",
     "value_transforms": [{"paths": ["p"], "value": HUGE}]},
    {"type": "transform_values", "event": "E", "value_transforms": [{"paths": ["p"], "value": 1}]},
    defined(NESTED_FQL),
    defined(WIDE_FQL),
    defined(LONG_FQL),
    defined("(" * 5_000),
    defined(["lowercase(properties.p)"]),
    defined("lowercase(properties.p)", HUGE),
    {"type": "rename_event", "event": HUGE, "new_event_name": "x"},
    {"type": "rename_event", "event": "E", "new_event_name": {"a": 1}},
    {"type": "rename_event", "event": ["E"], "new_event_name": "x"},
    {"type": "teleport", "event": "E"},
    {"type": "rename_traits", "event": "track", "property_renames": [{"from": "a", "to": "b"}]},
]  # fmt: skip
IDS = [f"case{i}" for i in range(len(HOSTILE))]


@pytest.fixture
def shop(api: Api) -> Api:
    assert api.create_source("shop").status_code == 200
    return api


def post(api: Api, fields: dict[str, Any], source: str = "shop") -> Any:
    body = {"name": f"workspaces/{api.workspace}/sources/{source}/transformations/t", **fields}
    return api.http.post(api.url(f"/sources/{source}/transformations"),
                         json={"transformation": body})  # fmt: skip


@pytest.mark.parametrize("fields", HOSTILE, ids=IDS)
def test_hostile_fields_are_a_4xx_quickly_and_nothing_is_written(fields: dict[str, Any],
                                                                 shop: Api) -> None:  # fmt: skip
    started = time.monotonic()
    response = post(shop, fields)
    assert time.monotonic() - started < BOUND
    assert 400 <= response.status_code < 500, response.text
    body = response.json()
    assert set(body) == {"error", "code", "request_id"} and len(body["error"]) < 2_000, body
    assert shop.http.get(shop.url("/sources/shop/transformations/t")).status_code == 404


@pytest.mark.parametrize("fields", HOSTILE, ids=IDS)
def test_hostile_files_are_one_diagnostic_with_a_position(fields: dict[str, Any],
                                                          tmp_path: Path) -> None:  # fmt: skip
    root = tmp_path / "ws"
    root.mkdir()
    (root / "seg.yaml").write_text("version: seg/v1\nworkspace: acme\n")
    docs = [{"kind": "Source", "name": "shop", "spec": {"catalog": "javascript"}},
            {"kind": "Transformation", "name": "t", "spec": {"source": "shop", **fields}}]
    (root / "resources.yaml").write_text(yaml.safe_dump_all(docs, sort_keys=False, width=10**6))
    started = time.monotonic()
    result = seg("validate", "-w", str(root))
    assert time.monotonic() - started < BOUND
    assert result.exit_code == 1, result.output
    errors = [line for line in result.output.splitlines() if ": error: " in line]
    assert errors and all(line.startswith(f"{root}/resources.yaml:") for line in errors), \
        result.output  # fmt: skip
    assert len(errors) <= 2 and all(len(line) < 2_000 for line in errors), result.output


def test_a_patch_does_not_reach_immutable_fields(shop: Api) -> None:
    made = post(shop, {"type": "rename_event", "event": "E", "new_event_name": "F"})
    assert made.status_code == 200, made.text
    path = shop.url("/sources/shop/transformations/t")
    for field, value in (("type", "rename_properties"), ("event", "Other"),
                         ("destination", "x")):  # fmt: skip
        for mask in (f"transformation.{field}", field):
            body = {"transformation": {field: value}, "update_mask": {"paths": [mask]}}
            response = shop.http.patch(path, json=body)
            assert response.status_code == 400, response.text
    assert shop.http.get(path).json()["event"] == "E"


def test_a_patch_is_checked_by_the_same_rules(shop: Api) -> None:
    made = post(shop, {"type": "rename_event", "event": "E", "new_event_name": "F"})
    assert made.status_code == 200, made.text
    path = shop.url("/sources/shop/transformations/t")
    same = {"transformation": {"new_event_name": "E"},
            "update_mask": {"paths": ["transformation.new_event_name"]}}  # fmt: skip
    assert "is the event's own name" in error(shop.http.patch(path, json=same), 400, 3)
    smuggled = {"transformation": {"property_renames": [{"from": "a", "to": "b"}]},
                "update_mask": {"paths": ["transformation.property_renames"]}}  # fmt: skip
    error(shop.http.patch(path, json=smuggled), 400, 3)  # not a rename_event field
    assert shop.http.get(path).json()["new_event_name"] == "F"


def test_another_workspaces_or_sources_destination_is_no_scope(cp: ControlPlane,
                                                               shop: Api) -> None:  # fmt: skip
    other = Api(cp, shop.workspace + "x")
    try:
        assert other.create_source("shop").status_code == 200
        assert other.create_destination("shop", "amplitude").status_code == 200
        assert shop.create_source("app").status_code == 200
        assert shop.create_destination("app", "amplitude").status_code == 200
        base = {"type": "rename_event", "event": "E", "new_event_name": "F"}
        for ref in (f"workspaces/{other.workspace}/sources/shop/destinations/amplitude",
                    f"workspaces/{shop.workspace}/sources/app/destinations/amplitude",
                    f"workspaces/{shop.workspace}/sources/shop/destinations/../../app",
                    "amplitude", "shop/amplitude", ""):  # fmt: skip
            refused = post(shop, {**base, "destination": ref})
            assert 400 <= refused.status_code < 500, (ref, refused.text)
            assert other.workspace not in refused.text or other.workspace in ref
    finally:
        other.close()


def test_the_delete_rule_is_not_a_way_round_the_parent_check(shop: Api) -> None:
    """Deleting the source under a scoped transformation is refused as any parent with
    children is (409/9); the transformation keeps its scope."""
    assert shop.create_destination("shop", "amplitude").status_code == 200
    name = f"workspaces/{shop.workspace}/sources/shop/destinations/amplitude"
    made = post(shop, {"type": "rename_event", "event": "E", "new_event_name": "F",
                       "destination": name})  # fmt: skip
    assert made.status_code == 200, made.text
    error(shop.http.delete(shop.url("/sources/shop")), 409, 9)
    error(shop.http.delete(shop.url("/sources/shop/destinations/amplitude")), 409, 9)
