"""An alert's Slack webhook URL is a secret whatever the client declares
(``FieldSpec.secret``): a raw API write of a clear URL is sealed, never returned, listed,
audited or echoed in a refusal, and hostile values are one 400 — on SQLite and PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.conftest import Api
from tests.helpers import error

HOOK = "https://hooks.slack.com/services/T000/B000/raw-secret-1"


def post(api: Api, url: Any, name: str = "rate", **extra: Any) -> Any:
    body = {"name": f"workspaces/{api.workspace}/sources/shop/alerts/{name}",
            "type": "source_volume", "threshold_percent": 5, "channels": ["slack"],
            "slack_webhook_url": url, **extra}  # fmt: skip
    return api.http.post(api.url("/sources/shop/alerts"), json={"alert": body})


@pytest.fixture
def shop(api: Api) -> Api:
    assert api.create_source("shop").status_code == 200
    return api


def test_an_undeclared_clear_url_is_sealed(shop: Api) -> None:
    made = post(shop, HOOK)
    assert made.status_code == 200, made.text
    assert made.json()["slack_webhook_url"].startswith("secret:hmac:")
    texts = [made.text, shop.http.get(shop.url("/sources/shop/alerts/rate")).text,
             shop.http.get(shop.url("/sources/-/alerts")).text,
             shop.http.get(shop.url("/audit-events"), params={"page_size": 1000}).text]
    assert not [t for t in texts if "raw-secret" in t]
    path = "alert.slack_webhook_url"
    asked = shop.http.post(shop.url("/secrets:compare"), json={"secrets": [
        {"resource": made.json()["name"], "path": "slack_webhook_url", "value": HOOK}]})
    assert asked.status_code == 200, asked.text
    assert asked.json()["matches"] == [True]
    # an edit of another field keeps it sealed; an edit of it seals the new value
    other = shop.http.patch(shop.url("/sources/shop/alerts/rate"), json={
        "alert": {"threshold_percent": 7}, "update_mask": {"paths": ["alert.threshold_percent"]}})
    assert other.json()["slack_webhook_url"] == made.json()["slack_webhook_url"]
    rotated = shop.http.patch(shop.url("/sources/shop/alerts/rate"), json={
        "alert": {"slack_webhook_url": HOOK + "x"}, "update_mask": {"paths": [path]}})
    assert rotated.status_code == 200, rotated.text
    assert rotated.json()["slack_webhook_url"] not in (made.json()["slack_webhook_url"], HOOK)
    assert "raw-secret" not in rotated.text


@pytest.mark.parametrize(
    "value",
    [["https://a.example/raw-secret"], {"u": "https://a.example/raw-secret"}, 42, True, "",
     "https://a.example/raw-secret\u0000", "https://a.example/raw-secret\n", "javascript:raw-secret",
     "https://a.example/raw-secret" + "x" * 3000, "ftp://a.example/raw-secret"],
)  # fmt: skip
def test_hostile_urls_are_one_400_never_echoed(shop: Api, value: Any) -> None:
    refused = post(shop, value)
    assert refused.status_code == 400, refused.text
    assert refused.json()["code"] == 3
    assert "raw-secret" not in refused.text
    audit = shop.http.get(shop.url("/audit-events"), params={"page_size": 1000}).text
    assert "raw-secret" not in audit


def test_hostile_patches_are_one_400_never_echoed(shop: Api) -> None:
    assert post(shop, HOOK).status_code == 200
    for value in ("http://a.example/raw-secret", ["raw-secret"], "raw-secret" * 300):
        refused = shop.http.patch(shop.url("/sources/shop/alerts/rate"), json={
            "alert": {"slack_webhook_url": value},
            "update_mask": {"paths": ["alert.slack_webhook_url"]}})  # fmt: skip
        assert "raw-secret" not in error(refused, 400, 3)
