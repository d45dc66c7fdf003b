"""/openapi.json describes every body, error, parameter and the bearer scheme; the models are
the kind registry's; documenting the bodies changes nothing about how requests are parsed."""

from __future__ import annotations

import re
from typing import Any

import pytest

from seg.kinds import KINDS
from tests.conftest import Api
from tests.helpers import error_body

WRITE_METHODS = {"post", "patch", "put"}


@pytest.fixture
def doc(api: Api) -> dict[str, Any]:
    response = api.client(None).get("/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def operations(doc: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [(path, method, op) for path, item in doc["paths"].items()
            for method, op in item.items()]  # fmt: skip


def resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def test_every_operation_has_a_typed_success_response(doc: dict[str, Any]) -> None:
    ops = operations(doc)
    # 5 per kind and 3 per versioned kind (versions, one version, restore), plus workspace,
    # access, compare, rules (4), lock (4), audit, changes, health, ready, the catalog (5),
    # tokens (list, create, revoke, rotate) and apply runs (start, finish, list, get)
    versioned = sum(1 for kind in KINDS.values() if kind.versioning is not None)
    assert len(ops) == 5 * len(KINDS) + 3 * versioned + 16 + 5 + 4 + 4
    for path, method, op in ops:
        [success] = [s for s in op["responses"] if s.startswith("2")]  # one: 200, or 201
        assert success == ("201" if op["operationId"] == "start_apply" else "200")
        schema = op["responses"][success]["content"]["application/json"]["schema"]
        assert schema != {}, (method, path)
        assert resolve(doc, schema).get("type") == "object", (method, path)


def test_every_write_has_a_request_body_schema(doc: dict[str, Any]) -> None:
    for path, method, op in operations(doc):
        if method in WRITE_METHODS:
            schema = op["requestBody"]["content"]["application/json"]["schema"]
            body = resolve(doc, schema)
            # typed, or documented as exactly {} (a restore takes no fields)
            assert body["properties"] or body["additionalProperties"] is False, (method, path)
            # no body reads as {}: required exactly when {} lacks a required field
            assert op["requestBody"]["required"] is bool(body.get("required")), (method, path)


def test_every_api_operation_needs_the_bearer_token_and_documents_errors(doc) -> None:
    scheme = doc["components"]["securitySchemes"]["bearerAuth"]
    assert scheme == {**scheme, "type": "http", "scheme": "bearer"}
    for path, method, op in operations(doc):
        if not path.startswith("/v1beta/"):
            assert "security" not in op
            continue
        assert op["security"] == [{"bearerAuth": []}], (method, path)
        for status in ("400", "401", "403", "404", "429", "503"):
            error = op["responses"][status]["content"]["application/json"]["schema"]
            assert error == {"$ref": "#/components/schemas/Error"}, (method, path, status)
        if method != "get":
            assert {"409", "413", "415"} <= set(op["responses"]), (method, path)
    assert doc["components"]["schemas"]["Error"]["required"] == ["error", "code", "request_id"]


def test_parameters_headers_and_paging_are_documented(doc: dict[str, Any]) -> None:
    paged = {"audit_events", "list_applies"} | {f"list_{k.collection.replace('-', '_')}"
                                                for k in KINDS.values()}  # fmt: skip
    conditional = {f"{verb}_{k.key}" for k in KINDS.values() for verb in ("update", "delete")}
    conditional |= {"replace_rules", "upsert_rules", "delete_rules"}
    seen = set()
    for path, method, op in operations(doc):
        names = {(p["in"], p["name"]) for p in op.get("parameters", [])}
        for placeholder in re.findall(r"{(\w+)}", path):
            assert ("path", placeholder) in names, (method, path)
        if path.startswith("/v1beta/"):
            assert {("header", "Seg-Lock"), ("header", "Seg-Lock-Override")} <= names
        if op["operationId"] in paged:
            assert {("query", "page_size"), ("query", "page_token")} <= names, path
        if op["operationId"] in conditional:
            assert ("header", "If-Match") in names, (method, path)
            assert "412" in op["responses"]
        seen.add(op["operationId"])
    assert paged | conditional <= seen


def test_components_are_the_kind_registry(doc: dict[str, Any]) -> None:
    schemas = doc["components"]["schemas"]
    for kind in KINDS.values():
        fields = schemas[f"{kind.name}Fields"]["properties"]
        assert set(kind.field_names) <= set(fields), kind.name
        assert set(kind.field_names) <= set(schemas[kind.name]["properties"])
        create = schemas[f"{kind.name}Create"]
        assert create["required"] == [kind.key]
        assert create["properties"][kind.key] == {"$ref": f"#/components/schemas/{kind.name}Fields"}
        assert "update_mask" in schemas[f"{kind.name}Update"]["properties"]
        listed = schemas[f"{kind.name}List"]["properties"]
        assert set(listed) == {kind.collection.replace("-", "_"), "next_page_token"}
        returned = set(schemas[kind.name]["required"])
        assert {"name", "etag", "create_time", "update_time", "protect", "manager"} <= returned
    kind_models = {n.removesuffix("Fields") for n in schemas if n.endswith("Fields")}
    assert kind_models - {"Workspace"} == set(KINDS)


def test_kind_constraints_come_from_its_json_schema(doc: dict[str, Any]) -> None:
    fields = doc["components"]["schemas"]
    assert fields["SourceFields"]["properties"]["catalog"]["pattern"] == (
        "^(?:function:)?[a-z][a-z0-9-]{0,62}$")  # a catalog id, or a source function
    assert fields["DestinationFields"]["properties"]["connection_mode"]["enum"] == [
        "cloud", "device"]  # fmt: skip
    # references travel as full resource names, not the YAML's slugs
    assert "pattern" not in fields["MappingFields"]["properties"]["model"]
    assert fields["SourceFields"]["additionalProperties"] is False
    # a field is absent or a value, never null; null reads as absent only where the server
    # has always read it so (ownership metadata, the update mask)
    assert "null" not in str(fields["SourceFields"])
    nullable = {k for k, v in fields["SourceCreate"]["properties"].items() if "null" in str(v)}
    assert nullable == {"managed_paths", "protect", "manager"}


def test_documented_bodies_are_still_parsed_by_the_server_not_by_pydantic(api: Api) -> None:
    """A body the models would refuse gets the service's 400 and message, never a 422."""
    wrong = api.http.post(api.url("/sources"), json={"source": {"name": 7}})
    assert wrong.status_code == 400
    assert error_body(wrong) == {"error": "source.name must be a resource name in "
                            f"workspaces/{api.workspace}/sources", "code": 3}  # fmt: skip
    unknown = api.http.post(api.url("/sources"), json={"sauce": {}})
    assert unknown.status_code == 400 and "unknown top-level field(s) 'sauce'" in unknown.text
    deep = api.http.post(api.url("/lock"), content=b"[" * 100 + b"]" * 100,
                         headers={"content-type": "application/json"})  # fmt: skip
    assert deep.status_code == 400 and deep.json()["code"] == 3
    ok = api.create_source("web")
    assert ok.status_code == 200 and ok.json()["name"].endswith("/sources/web")
