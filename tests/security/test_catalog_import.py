"""Attacks on private catalog entries.

Through the API (``POST /v1beta/catalog:import``): documents of every wrong shape, huge ones,
ids that clash with built-in entries, tokens that may not import, a user-bound owner token
without the role, another workspace's entries, the workspace lock — each a 4xx with the API's
error shape and no partial write. Through a workspace tree (seg.yaml ``catalog:``): files that
lead outside the workspace, are too large, not regular, or alias bombs — one diagnostic at
seg.yaml's entry and the file never read. Through the CLI: a private entry holding control
characters cannot drive the terminal of ``seg catalog show``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seg.errors import WorkspaceInvalid
from seg.server.catalog_service import MAX_ENTRY_BYTES, MAX_IMPORT_ENTRIES, MAX_PRIVATE_ENTRIES
from seg.server.service import ControlPlane
from seg.workspace import load_workspace
from seg.workspace.linked import MAX_LINKED_FILE_BYTES
from tests.conftest import Api, run_cli
from tests.helpers import error

GOOD = {"id": "acme-crm", "section": "destination",
        "settings": {"token": {"type": "string", "secret": True}}}  # fmt: skip
MARKER = "OUTSIDE-CATALOG-MARKER-5d2e"


def post(api: Api, body: Any, token: str | None = None, **kwargs: Any) -> Any:
    http = api.http if token is None else api.client(token)
    if "content" in kwargs:
        return http.post("/v1beta/catalog:import", headers={"content-type": "application/json"},
                         **kwargs)  # fmt: skip
    return http.post("/v1beta/catalog:import", json=body)


def private_ids(api: Api) -> list[str]:
    out = []
    for collection in ("sources", "destinations", "warehouses"):
        body = api.http.get(f"/v1beta/catalog/{collection}", params={"page_size": 1000}).json()
        out += [e["id"] for e in body[collection] if e["private"]]
    return out


def doc(*entries: Any) -> dict[str, Any]:
    return {"format_version": 1, "entries": list(entries)}


WRONG_SHAPES: list[tuple[Any, str]] = [
    ([GOOD], "request body must be a JSON object"),
    ({}, "entries: a list of at most"),
    ({"entries": {"acme-crm": GOOD}}, "entries: a list of at most"),
    ({"entries": [GOOD], "extra": 1}, "unknown top-level field(s) 'extra'"),
    (doc(7), "entries[0]: an entry is an object"),
    (doc({**GOOD, "owner": "me"}), "unknown key 'owner'"),
    (doc({**GOOD, "id": "Acme_CRM"}), "entries[0].id: a catalog id"),
    (doc({**GOOD, "id": "../../etc"}), "entries[0].id: a catalog id"),
    (doc({**GOOD, "id": 12}), "entries[0].id: a catalog id"),
    (doc({**GOOD, "section": "workspace"}), "section: one of source, destination, warehouse"),
    (doc({**GOOD, "section": ["source"]}), "section: one of source, destination, warehouse"),
    (doc({**GOOD, "settings": []}), "settings: an object of at most 200 settings"),
    (doc({**GOOD, "settings": {f"s{i}": {} for i in range(201)}}), "at most 200 settings"),
    (doc({**GOOD, "settings": {"t": {"type": "date"}}}), ".t.type: one of string"),
    (doc({**GOOD, "settings": {"t": {"secret": "yes"}}}), ".t.secret: a boolean"),
    (doc({**GOOD, "settings": {"t": {"enum": []}}}), ".t.enum: a non-empty list"),
    (doc({**GOOD, "settings": {"t": {"hidden": True}}}), "unknown key 'hidden'"),
    (doc({**GOOD, "settings": {"": {}}}), "a setting name is a string"),
    (doc({**GOOD, "connection_modes": ["fax"]}), "connection_modes: a list of cloud and device"),
    (doc({**GOOD, "connection_modes": []}), "connection_modes: a list of cloud and device"),
    (doc({**GOOD, "connection_modes": [{}]}), "connection_modes: a list of cloud and device"),
    (doc({**GOOD, "connection_modes": [["cloud"]]}), "connection_modes: a list of cloud"),
    (doc({**GOOD, "private": {}}), "private: a boolean"),
    (doc({**GOOD, "settings": {"t": {"enum": [{}], "default": [[]]}}, "storage": {}}),
     "storage: a boolean"),
    (doc({**GOOD, "section": "source", "actions": {"a": {}}}), "only destinations have actions"),
    (doc({**GOOD, "actions": {"1bad": {}}}), "an action id is a name"),
    (doc({**GOOD, "actions": {"a": {"custom_fields": "(("}}}), "not a regular expression"),
    (doc({**GOOD, "actions": {"a": {"fields": {"f": {"required": "no"}}}}}),
     "an object with a boolean 'required'"),
    (doc({**GOOD, "storage": "yes"}), "storage: a boolean"),
    (doc({**GOOD, "display_name": ["x"]}), "display_name: a string"),
    ({"format_version": 2, "entries": [GOOD]}, "format_version: must be 1"),
    ({"format_version": True, "entries": [GOOD]}, "format_version: must be 1"),
    (doc(GOOD, GOOD), "destination 'acme-crm' appears twice"),
]  # fmt: skip


@pytest.mark.parametrize(("body", "message"), WRONG_SHAPES)
def test_a_document_of_the_wrong_shape_is_400_and_writes_nothing(api: Api, body, message) -> None:
    assert message in error(post(api, body), 400, 3)
    assert private_ids(api) == []


SCALARS = st.none() | st.booleans() | st.text(max_size=12) | st.integers() | st.floats(
    allow_nan=False, allow_infinity=False)
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=8)
FIELDS = ["id", "section", "display_name", "category", "description", "connection_modes",
          "settings", "actions", "storage", "private"]
SHAPED = st.fixed_dictionaries({"id": st.sampled_from(["acme-a", "acme-b"]) | VALUES,
                                "section": st.sampled_from(["source", "destination"]) | VALUES},
                               optional={**dict.fromkeys(FIELDS[2:], VALUES),
                                         "connection_modes": st.lists(VALUES, min_size=1,
                                                                      max_size=3)})  # fmt: skip


@settings(max_examples=120, deadline=None, suppress_health_check=[
    HealthCheck.function_scoped_fixture, HealthCheck.too_slow])  # fmt: skip
@given(entries=st.lists(SHAPED, max_size=3))
def test_random_entries_are_a_4xx_or_all_imported(api: Api, entries: list[Any]) -> None:
    response = post(api, doc(*entries))
    assert response.status_code in (200, 400, 409), response.text
    if response.status_code != 200:
        assert set(response.json()) == {"error", "code", "request_id"}
        return
    for item in response.json()["imported"]:
        one = api.http.get(f"/v1beta/catalog/{item['section']}s/{item['id']}")
        assert one.status_code == 200 and one.json()["private"] is True


def test_bytes_that_are_no_json_object_are_400(api: Api) -> None:
    for raw in (b"[" * 200 + b"]" * 200, b'{"entries": [NaN]}', b'{"entries": "\\u0000"}',
                b"\xff\xfe", b'{"entries": [1e999]}'):  # fmt: skip
        assert error(post(api, None, content=raw), 400, 3)
    sent = api.http.post("/v1beta/catalog:import", content=b"entries: []",
                         headers={"content-type": "text/yaml"})  # fmt: skip
    assert error(sent, 415, 3)
    assert private_ids(api) == []


def test_a_clash_with_a_built_in_id_is_409_and_the_valid_entries_are_not_written(api) -> None:
    body = doc(GOOD, {"id": "javascript", "section": "source"})
    message = error(post(api, body), 409, 6)
    assert message == ("source 'javascript' is a built-in catalog entry; a private entry needs "
                       "an id of its own")  # fmt: skip
    assert private_ids(api) == []  # acme-crm, before the clash, is not written either
    # the same id in another section is no clash
    assert post(api, doc({"id": "javascript", "section": "warehouse"})).status_code == 200
    assert api.http.get("/v1beta/catalog/sources/javascript").json()["private"] is False


def test_huge_imports_are_refused_before_any_write(api: Api) -> None:
    many = doc(*({"id": f"e{i}", "section": "source"} for i in range(MAX_IMPORT_ENTRIES + 1)))
    assert f"at most {MAX_IMPORT_ENTRIES} entries per import" in error(post(api, many), 400, 3)
    big = doc({**GOOD, "description": "x" * MAX_ENTRY_BYTES})
    assert "an entry is at most" in error(post(api, big), 400, 3)
    body = json.dumps(doc({**GOOD, "description": "x" * (5 * 1024 * 1024)})).encode()
    assert error(post(api, None, content=body), 413, 8)
    assert private_ids(api) == []


def test_the_workspace_holds_a_bounded_number_of_private_entries(api: Api) -> None:
    full = doc(*({"id": f"e{i}", "section": "source"} for i in range(MAX_PRIVATE_ENTRIES)))
    assert post(api, full).status_code == 200
    # replacing existing ones is fine; one more is not
    assert post(api, doc({"id": "e0", "section": "source", "display_name": "E0"})).status_code == 200
    message = error(post(api, doc(GOOD)), 409, 9)
    assert f"the limit is {MAX_PRIVATE_ENTRIES}" in message
    assert "acme-crm" not in private_ids(api)


def test_only_an_owner_imports(api: Api) -> None:
    for scope in ("workspace:read", "workspace:write"):
        assert error(post(api, doc(GOOD), api.token(scope)), 403, 7) == "insufficient scope"
    # a user-bound owner token also needs its user's workspace_owner role
    _, bound = api.cp.workspaces.create_token(api.workspace, "workspace:owner", "bound",
                                              "someone@example.com")  # fmt: skip
    assert "workspace_owner role" in error(post(api, doc(GOOD), bound), 403, 7)
    assert private_ids(api) == []


def test_an_import_respects_the_workspace_lock(api: Api) -> None:
    writer = api.client(api.token("workspace:write"))
    held = writer.post(api.url("/lock"), json={"holder": "ci"})
    assert held.status_code == 200
    assert "lock" in error(post(api, doc(GOOD)), 409, 10)
    assert private_ids(api) == []
    forced = api.http.post("/v1beta/catalog:import", json=doc(GOOD),
                           headers={"Seg-Lock-Override": "true"})  # fmt: skip
    assert forced.status_code == 200 and private_ids(api) == ["acme-crm"]


def test_no_token_reaches_another_workspaces_entries(cp: ControlPlane, api: Api, slug) -> None:
    other = Api(cp, slug + "o")
    try:
        assert post(other, doc({**GOOD, "display_name": "OTHER-SECRET-NAME"})).status_code == 200
        for token in (api.owner_token, api.token("workspace:read")):
            client = api.client(token)
            for collection in ("sources", "destinations", "warehouses"):
                listed = client.get(f"/v1beta/catalog/{collection}").text
                assert "OTHER-SECRET-NAME" not in listed and "acme-crm" not in listed
            assert error(client.get("/v1beta/catalog/destinations/acme-crm"), 404, 5)
        # a page token made for the other workspace shows this one's pages only
        page = other.http.get("/v1beta/catalog/destinations", params={"page_size": 1}).json()
        mine = api.http.get("/v1beta/catalog/destinations",
                            params={"page_token": page["next_page_token"]}).text  # fmt: skip
        assert "OTHER-SECRET-NAME" not in mine
    finally:
        other.close()


# --- tree catalog files ---------------------------------------------------------------------

SEG_YAML = "version: seg/v1\nworkspace: acme\ncatalog:\n  - {path}\n"  # the path: line 4, col 5


def _refused(root: Path, reason: str) -> str:
    with pytest.raises(WorkspaceInvalid) as info:
        load_workspace(root, environ={})
    (problem,) = info.value.diagnostics
    assert (problem.file.endswith("seg.yaml"), problem.line, problem.col) == (True, 4, 5)
    assert reason in problem.message, problem.message
    assert MARKER not in problem.message
    return problem.message


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    path = tmp_path / "outside.json"
    path.write_text(json.dumps(doc({**GOOD, "display_name": MARKER})))
    return path


def test_catalog_files_outside_the_workspace_are_never_read(write_workspace, outside) -> None:
    for value, reason in ((str(outside), "it is an absolute path"),
                          ("../outside.json", "it leads outside the workspace")):  # fmt: skip
        root = write_workspace({}, seg_yaml=SEG_YAML.format(path=value))
        _refused(root, reason)
    root = write_workspace({}, seg_yaml=SEG_YAML.format(path="catalog.json"))
    os.symlink(outside, root / "catalog.json")
    _refused(root, "it leads outside the workspace (through a symlink)")
    os.unlink(root / "catalog.json")
    (root / "link").symlink_to(outside.parent, target_is_directory=True)
    (root / "seg.yaml").write_text(SEG_YAML.format(path="link/outside.json"))
    _refused(root, "it leads outside the workspace")
    result = run_cli("validate", "-w", str(root), "-o", "json")
    assert result.exit_code == 1 and MARKER not in result.output


def test_catalog_files_are_bounded_and_regular(write_workspace) -> None:
    root = write_workspace({}, seg_yaml=SEG_YAML.format(path="big.json"))
    (root / "big.json").write_text(" " * (MAX_LINKED_FILE_BYTES + 1))
    _refused(root, "it is larger than")
    os.mkfifo(root / "fifo.json")
    (root / "seg.yaml").write_text(SEG_YAML.format(path="fifo.json"))
    _refused(root, "it is not a regular file")  # and no hang
    (root / "seg.yaml").write_text(SEG_YAML.format(path="."))
    _refused(root, "cannot use catalog file")


def test_hostile_yaml_in_a_catalog_file_is_refused(write_workspace) -> None:
    bomb = "a: &a [x, x, x, x, x, x, x, x, x, x]\n" + "".join(
        f"{c}: &{c} [*{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}, *{p}]\n"
        for p, c in zip("abcdefg", "bcdefgh", strict=True)
    )
    for text in (bomb, "entries: !!python/object:os.system [echo]\n", "[" * 200 + "]" * 200):
        root = write_workspace({"catalog.yaml": text}, seg_yaml=SEG_YAML.format(path="catalog.yaml"))
        _refused(root, "cannot use catalog file 'catalog.yaml'")


def test_a_private_entry_cannot_drive_the_terminal(write_workspace) -> None:
    from seg.embedded import open_embedded

    root = write_workspace({})
    client = open_embedded(root, "acme")
    try:
        evil = {"id": "evil", "section": "destination", "display_name": "\x1b[2J\x1b]0;pwned\x07",
                "description": "line\nfake: plan\u202e", "category": "\x9b31m",
                "settings": {"k\x1b[31m": {"description": "\x1b[5m"}},
                "actions": {"a": {"name": "\r\x1b[K", "fields": {"f\x1b": {}}}}}  # fmt: skip
        assert client.http.post("/v1beta/catalog:import", json=doc(evil)).status_code == 200
    finally:
        client.close()
    for args in (("catalog", "show", "evil"), ("catalog", "list", "--section", "destination")):
        result = run_cli(*args, "-w", str(root))
        assert result.exit_code == 0, result.output
        for unsafe in ("\x1b", "\x07", "\x9b", "\u202e", "\r"):
            assert unsafe not in result.output
    shown = run_cli("catalog", "show", "evil", "-w", str(root)).output
    assert "\\u001b[2J" in shown and len(shown.splitlines()) == 10


def test_the_admin_import_refuses_a_bad_file_in_one_line(tmp_path: Path, monkeypatch) -> None:
    monkeypatch.setenv("SEG_DATABASE_URL", f"sqlite:///{tmp_path / 'cp.db'}")
    monkeypatch.setenv("SEG_SECRET_KEY_FILE", str(tmp_path / "key"))
    assert run_cli("server", "init", "--slug", "acme").exit_code == 0
    cases = {
        "bad.json": ('{"entries": [{"id": "x\\u001b[2J", "section": "source"}]}',
                     "entries[0].id: a catalog id"),
        "clash.yaml": ("entries:\n  - {id: javascript, section: source}\n",
                       "source 'javascript' is a built-in catalog entry"),
        "bomb.yaml": ("a: &a [x]\nb: *a\nc: !!python/name:os.system\n", "catalog file"),
    }
    for name, (text, message) in cases.items():
        (tmp_path / name).write_text(text)
        result = run_cli("server", "catalog", "import", str(tmp_path / name), "--slug", "acme")
        assert result.exit_code == 1, result.output
        assert len(result.output.strip().splitlines()) == 1 and message in result.output
        assert "\x1b" not in result.output
    big = tmp_path / "big.json"
    big.write_text(" " * (4 * 1024 * 1024 + 1))
    result = run_cli("server", "catalog", "import", str(big), "--slug", "acme")
    assert result.exit_code == 1 and "larger than" in result.output
