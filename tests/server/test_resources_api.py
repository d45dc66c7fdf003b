"""Standard methods, names, rules and errors of the control-plane API (SPEC §5), on SQLite and
PostgreSQL."""

from __future__ import annotations

from tests.conftest import Api
from tests.helpers import error


def test_create_and_get_source_carries_name_times_and_etag(api: Api) -> None:
    created = api.create_source("web", display_name="Web", settings={"user_cookie_days": 1})
    assert created.status_code == 200, created.text
    body = created.json()
    assert body["name"] == f"workspaces/{api.workspace}/sources/web"
    assert body["display_name"] == "Web" and body["enabled"] is True  # default
    assert body["create_time"].endswith("Z") and body["etag"]
    assert api.http.get(api.url("/sources/web")).json() == body


def test_duplicate_slug_is_already_exists(api: Api) -> None:
    assert api.create_source("web").status_code == 200
    assert "already exists" in error(api.create_source("web"), 409, 6)


def test_slug_rules_are_enforced(api: Api) -> None:
    for bad in ("Web", "1web", "web_site", "w" * 64):
        error(api.create_source(bad), 400, 3)


def test_unknown_field_and_wrong_type_name_the_field(api: Api) -> None:
    assert "source.colour" in error(api.create_source("web", colour="red"), 400, 3)
    assert "source.enabled" in error(api.create_source("web", enabled="yes"), 400, 3)
    api.create_source("web")
    assert "destination.connection_mode" in error(
        api.create_destination("web", "amp", connection_mode="smoke"), 400, 3
    )


def test_destination_needs_its_source(api: Api) -> None:
    assert "sources/nope" in error(api.create_destination("nope", "amp"), 404, 5)


def test_destination_slugs_are_unique_per_source(api: Api) -> None:
    api.create_source("web")
    api.create_source("ios")
    assert api.create_destination("web", "amp").status_code == 200
    assert api.create_destination("ios", "amp").status_code == 200
    error(api.create_destination("web", "amp"), 409, 6)


def test_destination_name_must_sit_in_its_collection(api: Api) -> None:
    api.create_source("web")
    api.create_source("ios")
    body = {"name": f"workspaces/{api.workspace}/sources/ios/destinations/amp", "catalog": "amplitude"}
    r = api.http.post(api.url("/sources/web/destinations"), json={"destination": body})
    error(r, 400, 3)


def test_wildcard_lists_destinations_across_sources(api: Api) -> None:
    for src in ("web", "ios"):
        api.create_source(src)
        api.create_destination(src, "amp")
    api.create_destination("web", "mix")
    r = api.http.get(api.url("/sources/-/destinations"))
    names = [d["name"].split("/sources/")[1] for d in r.json()["destinations"]]
    assert names == ["ios/destinations/amp", "web/destinations/amp", "web/destinations/mix"]
    only_web = api.http.get(api.url("/sources/web/destinations")).json()["destinations"]
    assert [d["source"] for d in only_web] == [f"workspaces/{api.workspace}/sources/web"] * 2


def test_pagination_is_stable_and_ends_with_empty_token(api: Api) -> None:
    for i in range(25):
        api.create_source(f"s{i:02d}")
    seen, token, pages = [], "", 0
    while True:
        params = {"page_size": 10, **({"page_token": token} if token else {})}
        body = api.http.get(api.url("/sources"), params=params).json()
        seen += [s["name"].rsplit("/", 1)[1] for s in body["sources"]]
        token, pages = body["next_page_token"], pages + 1
        if not token:
            break
    assert pages == 3 and seen == sorted(f"s{i:02d}" for i in range(25))
    default = api.http.get(api.url("/sources")).json()
    assert len(default["sources"]) == 25 and default["next_page_token"] == ""


def test_pagination_rejects_bad_tokens_and_sizes(api: Api) -> None:
    error(api.http.get(api.url("/sources"), params={"page_token": "garbage!"}), 400, 3)
    error(api.http.get(api.url("/sources"), params={"page_size": 0}), 400, 3)
    error(api.http.get(api.url("/sources"), params={"page_size": "ten"}), 400, 3)
    api.create_source("web")
    big = api.http.get(api.url("/sources"), params={"page_size": 5000})
    assert big.status_code == 200  # coerced to the maximum (1000), as AIP-158 says


def test_delete_source_with_destinations_is_refused_naming_them(api: Api) -> None:
    api.create_source("web")
    api.create_destination("web", "amp")
    api.create_destination("web", "mix")
    message = error(api.http.delete(api.url("/sources/web")), 409, 9)
    assert "web/amp" in message and "web/mix" in message
    assert api.http.delete(api.url("/sources/web/destinations/amp")).status_code == 200
    assert api.http.delete(api.url("/sources/web/destinations/mix")).status_code == 200
    assert api.http.delete(api.url("/sources/web")).status_code == 200
    error(api.http.get(api.url("/sources/web")), 404, 5)
    error(api.http.delete(api.url("/sources/web")), 404, 5)


def test_unknown_routes_and_versions_are_not_found(api: Api) -> None:
    error(api.http.get("/v2/workspaces/x/sources"), 404, 5)
    error(api.http.get(api.url("/gadgets")), 404, 5)


def test_invalid_json_body_is_invalid_argument(api: Api) -> None:
    r = api.http.post(api.url("/sources"), content=b"{not json",
                      headers={"content-type": "application/json"})  # fmt: skip
    error(r, 400, 3)
    error(api.http.post(api.url("/sources"), json=[1, 2]), 400, 3)


def test_health_and_openapi(api: Api) -> None:
    assert api.client(None).get("/healthz").json() == {"status": "ok"}
    doc = api.client(None).get("/openapi.json").json()
    assert (
        "/v1beta/workspaces/{workspace}/sources/{source}/destinations/{destination}" in doc["paths"]
    )
    assert "patch" in doc["paths"]["/v1beta/workspaces/{workspace}/sources/{source}"]
