"""Hostile consent categories (issue 15, item 3): names that look like ids but are not
(unicode look-alikes, 35+ characters, traversal, control characters, huge), names differing
only by case, hostile mapped destinations — each a 4xx with the API's error shape on the
control plane (never a 500, never the whole value echoed) and one diagnostic with
file:line:col in `seg validate`."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import Api
from tests.conftest import run_cli as seg
from tests.helpers import error

HOSTILE_NAMES = [
    "Advertising\u0430",  # a Cyrillic 'а' at the end
    "\u0410dvertising",  # a Cyrillic 'А' first
    "Ａdvertising",  # fullwidth
    "Adverti\u200bsing",  # a zero-width space
    "Advertising\u202e",  # a right-to-left override
    "A" * 35,
    "1Advertising",
    "../labels/team:x",
    "..",
    "Ads/../../x",
    "Ads\x00",
    "Ads\n",
    "Ads Ads",
    "Ads%2F..",
    "A" * 100_000,
]
WORDS = "is not a consent category id"


def create(api: Api, name: str, **fields: Any) -> Any:
    body = {"name": f"workspaces/{api.workspace}/consent-categories/{name}",
            "display_name": "x", "destinations": [], **fields}  # fmt: skip
    return api.http.post(api.url("/consent-categories"), json={"consent_category": body})


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
def test_hostile_names_are_400_in_words_and_never_echoed_whole(name: str, api: Api) -> None:
    refused = create(api, name)
    if "/" in name:  # not a name in the collection at all
        assert "must be a resource name in" in error(refused, 400, 3) or WORDS in refused.text
    elif "\x00" in name:  # refused before any kind reads it
        assert "contains a NUL character" in error(refused, 400, 3)
    else:
        message = error(refused, 400, 3)
        assert WORDS in message and len(message) < 600, message
    listed = api.http.get(api.url("/consent-categories")).json()
    assert listed["consent_categories"] == []  # nothing written


# (a bare ".." never reaches the server: the client resolves it, as browsers do)
@pytest.mark.parametrize("path", ["Advertising\u0430", "..%2F..%2Flabels",
                                  "%2e%2e", "Ads%00", "A" * 5000, "Ads%0A"])  # fmt: skip
def test_hostile_names_in_urls_are_4xx(path: str, api: Api) -> None:
    assert create(api, "Advertising").status_code == 200
    for method in ("GET", "PATCH", "DELETE"):
        body = {"consent_category": {"enabled": False},
                "update_mask": {"paths": ["consent_category.enabled"]}}  # fmt: skip
        response = api.http.request(method, api.url(f"/consent-categories/{path}"),
                                    json=body if method == "PATCH" else None)  # fmt: skip
        assert 400 <= response.status_code < 500, (method, path, response.text)
        assert set(response.json()) == {"error", "code", "request_id"}
    assert api.http.get(api.url("/consent-categories/Advertising")).json()["enabled"] is True


def test_names_differing_by_case_never_reach_each_other(api: Api) -> None:
    assert create(api, "Ads", display_name="upper").status_code == 200
    assert api.http.get(api.url("/consent-categories/ads")).status_code == 404
    assert api.http.delete(api.url("/consent-categories/ADS")).status_code == 404
    body = {"consent_category": {"display_name": "x"},
            "update_mask": {"paths": ["consent_category.display_name"]}}  # fmt: skip
    assert api.http.patch(api.url("/consent-categories/aDs"), json=body).status_code == 404
    assert api.http.get(api.url("/consent-categories/Ads")).json()["display_name"] == "upper"


@pytest.mark.parametrize(
    "destinations",
    [
        "shop/braze",
        [{"name": "shop/braze"}],
        ["shop"],
        ["../shop/braze"],
        ["shop/braze/filters/x"],
        ["workspaces/other/sources/shop/destinations/braze"],
        ["shop/bra\u0437e"],
        ["shop/" + "b" * 10_000],
        [f"shop/d{i}" for i in range(100_000)],
    ],
    ids=range(9),
)
def test_hostile_destinations_are_400_quickly(destinations: Any, api: Api) -> None:
    assert api.create_source("shop").status_code == 200
    assert api.create_destination("shop", "braze", catalog="braze").status_code == 200
    started = time.monotonic()
    message = error(create(api, "Ads", destinations=destinations), 400, 3)
    assert time.monotonic() - started < 10 and len(message) < 600, message


def test_another_workspaces_destination_is_not_mappable(api: Api) -> None:
    other = Api(api.cp, api.workspace + "x")
    try:
        assert other.create_source("shop").status_code == 200
        assert other.create_destination("shop", "braze", catalog="braze").status_code == 200
        refused = create(api, "Ads", destinations=["shop/braze"])
        assert "destination 'shop/braze' does not exist" in error(refused, 400, 3)
    finally:
        other.close()


@pytest.mark.parametrize("name", [n for n in HOSTILE_NAMES if "\x00" not in n and len(n) < 1000]
                         + ["A" * 5000], ids=lambda n: str(len(n)))  # fmt: skip
def test_hostile_names_are_one_validate_line(name: str, tmp_path: Path,
                                             clean_seg_env: None) -> None:  # fmt: skip
    (tmp_path / "seg.yaml").write_text("version: seg/v1\nworkspace: acme\n")
    doc = {"kind": "ConsentCategory", "name": name, "spec": {"display_name": "x"}}
    (tmp_path / "c.yaml").write_text(yaml.safe_dump(doc, allow_unicode=True, width=10**6))
    result = seg("validate", "-w", str(tmp_path))
    assert result.exit_code == 1, result.output
    lines = [line for line in result.output.splitlines() if re.search(r"c\.yaml:\d+:\d+:", line)]
    assert len(lines) == 1 and WORDS in lines[0], result.output
    assert len(lines[0]) < 600
