"""The catalog on the control plane (SQLite and PostgreSQL): the GET routes (paginated by id,
built-in and private entries merged), importing private entries (owner only, audited, an
upsert), private entries per workspace, and the rules and secret sealing that see them."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa

from seg.catalog import builtin
from seg.model.secrets import is_digest
from seg.server.service import ControlPlane
from seg.store.migrate import migrate
from seg.store.sql import SqlStore, open_store
from tests.conftest import Api
from tests.helpers import error

CRM = {
    "id": "acme-crm",
    "section": "destination",
    "display_name": "Acme CRM",
    "connection_modes": ["cloud"],
    "settings": {
        "api_token": {"type": "string", "required": True, "secret": True},
        "region": {"type": "string", "enum": ["us", "eu"], "default": "us"},
    },
    "actions": {"upsertContact": {"name": "Upsert Contact", "default_trigger": 'type = "identify"',
                                  "fields": {"email": {"required": True}}}},
}  # fmt: skip


def doc(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"format_version": 1, "entries": list(entries)}


def entry(entry_id: str, section: str = "destination", **extra: Any) -> dict[str, Any]:
    return {"id": entry_id, "section": section, **extra}


def import_(api: Api, body: Any, token: str | None = None) -> Any:
    http = api.http if token is None else api.client(token)
    return http.post("/v1beta/catalog:import", json=body)


def ids(api: Api, collection: str, page_size: int, token: str | None = None) -> list[str]:
    """Every id of a section, read page by page; each page holds at most ``page_size``."""
    http = api.http if token is None else api.client(token)
    out: list[str] = []
    page_token = ""
    while True:
        params: dict[str, Any] = {"page_size": page_size}
        if page_token:
            params["page_token"] = page_token
        body = http.get(f"/v1beta/catalog/{collection}", params=params).json()
        assert len(body[collection]) <= page_size
        out += [e["id"] for e in body[collection]]
        page_token = body["next_page_token"]
        if not page_token:
            return out


def test_each_section_lists_the_built_in_entries_in_id_order(api: Api) -> None:
    for section, collection in (("source", "sources"), ("destination", "destinations"),
                                ("warehouse", "warehouses")):  # fmt: skip
        listed = ids(api, collection, 1000)
        assert listed == builtin().ids(section) and listed
        first = api.http.get(f"/v1beta/catalog/{collection}").json()[collection][0]
        assert first == builtin().get(section, listed[0]).to_json()  # type: ignore[union-attr]


def test_private_entries_merge_into_pages_by_id(api: Api) -> None:
    private = ["a-first", "amplitude-eu", "b", "zz-last"]  # around and between built-in ids
    assert import_(api, doc(*(entry(i) for i in private))).status_code == 200
    expected = sorted([*builtin().ids("destination"), *private])
    for size in (1, 2, 3, 1000):
        assert ids(api, "destinations", size) == expected
    body = api.http.get("/v1beta/catalog/destinations/amplitude-eu").json()
    assert body["private"] is True and body["display_name"] == "amplitude-eu"
    assert api.http.get("/v1beta/catalog/destinations/amplitude").json()["private"] is False
    assert ids(api, "sources", 1000) == builtin().ids("source")  # other sections unchanged


def test_a_page_token_belongs_to_its_section(api: Api) -> None:
    token = api.http.get("/v1beta/catalog/destinations", params={"page_size": 1}).json()
    assert token["next_page_token"]
    wrong = api.http.get("/v1beta/catalog/sources",
                         params={"page_token": token["next_page_token"]})  # fmt: skip
    assert error(wrong, 400, 3) == "page_token is invalid"
    assert error(api.http.get("/v1beta/catalog/sources", params={"page_size": 0}), 400, 3)


def test_get_one_entry_and_404s(api: Api) -> None:
    amplitude = api.http.get("/v1beta/catalog/destinations/amplitude").json()
    assert amplitude["settings"]["api_key"] == {"type": "string", "required": True,
                                                "secret": True,
                                                "description": "Your Amplitude API key."}  # fmt: skip
    assert "not found" in error(api.http.get("/v1beta/catalog/sources/amplitude"), 404, 5)
    assert error(api.http.get("/v1beta/catalog/destinations/nope"), 404, 5)
    assert "no catalog section" in error(api.http.get("/v1beta/catalog/kinds/amplitude"), 404, 5)


def test_import_returns_the_ids_audits_once_and_upserts(api: Api) -> None:
    made = import_(api, doc(CRM, entry("acme-db", "source")))
    assert made.status_code == 200, made.text
    assert made.json() == {"imported": [{"section": "destination", "id": "acme-crm"},
                                        {"section": "source", "id": "acme-db"}]}  # fmt: skip
    events = api.http.get(api.url("/audit-events")).json()["audit_events"]
    assert [e for e in events if e["resource"].endswith("/catalog")] == [events[0]]
    assert events[0]["method"] == "POST"
    assert events[0]["paths"] == ["destination/acme-crm", "source/acme-db"]
    shown = api.http.get("/v1beta/catalog/destinations/acme-crm").json()
    assert shown["private"] is True and shown["actions"]["upsertContact"]["fields"] == {
        "email": {"required": True}}  # fmt: skip
    # importing the same id again replaces the entry
    again = import_(api, doc({**CRM, "display_name": "Acme CRM v2", "settings": None}))
    assert again.status_code == 200
    shown = api.http.get("/v1beta/catalog/destinations/acme-crm").json()
    assert shown["display_name"] == "Acme CRM v2" and shown["settings"] is None
    assert ids(api, "destinations", 1000).count("acme-crm") == 1


def test_only_owner_tokens_import_and_every_token_reads(api: Api) -> None:
    for scope in ("workspace:read", "workspace:write"):
        token = api.token(scope)
        assert error(import_(api, doc(CRM), token), 403, 7) == "insufficient scope"
        assert api.client(token).get("/v1beta/catalog/destinations").status_code == 200
    assert error(api.http.get("/v1beta/catalog/destinations/acme-crm"), 404, 5)  # nothing written
    assert error(api.client(None).get("/v1beta/catalog/sources"), 401, 16)
    assert error(api.client("nope").post("/v1beta/catalog:import", json=doc(CRM)), 401, 16)
    reader = api.token("workspace:read")
    assert import_(api, doc(CRM)).status_code == 200
    assert api.client(reader).get("/v1beta/catalog/destinations/acme-crm").status_code == 200


def test_private_entries_belong_to_their_workspace(cp: ControlPlane, api: Api, slug: str) -> None:
    other = Api(cp, slug + "x")
    try:
        assert import_(api, doc(CRM)).status_code == 200
        assert "acme-crm" not in ids(other, "destinations", 1000)
        assert error(other.http.get("/v1beta/catalog/destinations/acme-crm"), 404, 5)
        assert other.create_source("web").status_code == 200
        refused = other.create_destination("web", "crm", catalog="acme-crm")
        assert "unknown destination catalog id 'acme-crm'" in error(refused, 400, 3)
        # the other workspace's own entry of that id is its own
        mine = {**CRM, "display_name": "Other CRM", "settings": {}}
        assert import_(other, doc(mine)).status_code == 200
        got = other.http.get("/v1beta/catalog/destinations/acme-crm").json()["display_name"]
        assert got == "Other CRM"
        assert api.http.get("/v1beta/catalog/destinations/acme-crm").json()["display_name"] == (
            "Acme CRM")  # fmt: skip
    finally:
        other.close()


def test_the_server_knows_a_private_id_only_after_its_import(api: Api) -> None:
    assert api.create_source("web").status_code == 200
    body = {"catalog": "acme-crm", "enabled": True, "settings": {"api_token": "t0ken-VALUE"}}
    before = api.create_destination("web", "crm", **body)
    assert "unknown destination catalog id 'acme-crm'" in error(before, 400, 3)
    assert import_(api, doc(CRM)).status_code == 200
    after = api.create_destination("web", "crm", **body)
    assert after.status_code == 200, after.text
    # the rules see the entry's schema: a misspelled or missing required setting is refused
    typo = api.create_destination("web", "crm2", catalog="acme-crm",
                                  settings={"api_tokn": "x"})  # fmt: skip
    assert "unknown setting 'api_tokn' for destination 'acme-crm' (did you mean 'api_token'?)" in (
        error(typo, 400, 3))  # fmt: skip
    missing = api.create_destination("web", "crm3", catalog="acme-crm", enabled=True,
                                     settings={"region": "eu"})  # fmt: skip
    assert "requires the setting 'api_token'" in error(missing, 400, 3)
    bad_enum = api.create_destination("web", "crm4", catalog="acme-crm",
                                      settings={"region": "mars"})  # fmt: skip
    assert "is one of 'us', 'eu'" in error(bad_enum, 400, 3)


def test_secrets_a_private_entry_marks_are_sealed(api: Api) -> None:
    assert import_(api, doc(CRM)).status_code == 200
    assert api.create_source("web").status_code == 200
    # no secret_paths from the client: the entry's schema marks api_token secret
    made = api.create_destination("web", "crm", catalog="acme-crm",
                                  settings={"api_token": "PLAIN-VALUE-1", "region": "eu"})
    assert made.status_code == 200, made.text
    settings = made.json()["settings"]
    assert is_digest(settings["api_token"]) and settings["region"] == "eu"
    stored = api.http.get(api.url("/sources/web/destinations/crm")).json()
    assert is_digest(stored["settings"]["api_token"])
    assert "PLAIN-VALUE-1" not in str(stored)
    with api.cp.store.tx() as tx:
        rec = tx.get_resource(f"workspaces/{api.workspace}/sources/web/destinations/crm")
    assert rec is not None and "settings.api_token" in rec.secret_paths
    assert "PLAIN-VALUE-1" not in str(rec.data) + rec.secret_values


def test_store_pages_private_entries_by_id(store: SqlStore, api: Api) -> None:
    assert import_(api, doc(*(entry(i) for i in ("b-b", "bb", "b", "b-a")))).status_code == 200
    with store.tx() as tx:
        first = tx.list_catalog_entries(api.workspace, "destination", None, 2)
        rest = tx.list_catalog_entries(api.workspace, "destination", first[-1].id, 10)
        assert tx.catalog_keys(api.workspace) == {("destination", i)
                                                  for i in ("b-b", "bb", "b", "b-a")}  # fmt: skip
        assert tx.get_catalog_entry(api.workspace, "source", "b") is None
    # byte order on both databases (a locale collation would sort b-b after bb)
    assert [r.id for r in first + rest] == ["b", "b-a", "b-b", "bb"]


def test_a_database_from_before_the_catalog_gets_the_table(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    store = open_store(url, create=False)
    migrate(store.engine, "0001")  # the baseline: the last release without versions
    with store.engine.begin() as conn:
        conn.execute(sa.text("DROP TABLE catalog_entries"))
        conn.execute(sa.text("DROP TABLE alembic_version"))
    store.create_schema()  # what `seg server migrate` does
    cp = ControlPlane(store)
    api = Api(cp, "acme")
    try:
        assert import_(api, doc(CRM)).status_code == 200
        assert api.http.get("/v1beta/catalog/destinations/acme-crm").status_code == 200
    finally:
        api.close()
        store.close()


@pytest.mark.parametrize("name", ["list_catalog_sources", "list_catalog_destinations",
                                  "list_catalog_warehouses", "get_catalog_entry",
                                  "import_catalog"])  # fmt: skip
def test_the_routes_are_documented(api: Api, name: str) -> None:
    document = api.client(None).get("/openapi.json").json()
    ops = {op["operationId"]: op for item in document["paths"].values() for op in item.values()}
    op = ops[name]
    assert op["security"] == [{"bearerAuth": []}]
    assert set(op["responses"]) >= {"200", "400", "401", "403", "404"}
    schemas = document["components"]["schemas"]
    if name == "import_catalog":
        body = schemas["CatalogImport"]
        assert op["requestBody"]["required"] is True and body["required"] == ["entries"]
        assert schemas["CatalogEntrySpec"]["additionalProperties"] is False
        assert {"409", "413", "415"} <= set(op["responses"])
    if name.startswith("list_"):
        names = {p["name"] for p in op["parameters"]}
        assert {"page_size", "page_token"} <= names
