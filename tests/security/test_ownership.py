"""Ownership under attack (issue 12, item 1): hostile manager names in requests and in
seg.yaml, hostile `external:` entries and `seg import` arguments, and a tree that tries to take
or delete what is not its own. Every bad input is a 4xx or one error line with
file:line:col; nothing is written; nothing another manager owns is touched."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import Api, WriteWorkspace, embedded_call, live, run_cli
from tests.helpers import error

pytestmark = pytest.mark.usefixtures("clean_seg_env")

SOURCE = "kind: Source\nname: {name}\nspec:\n  catalog: javascript\n"


@pytest.mark.parametrize("value", [
    "x" * 100_000, "team\u202eb", "team\u200bb", "a\tb", "../etc", "a" * 64 + "b", "é",
])  # fmt: skip
def test_hostile_manager_names_are_refused_and_never_stored(api: Api, value: str) -> None:
    api.create_source("web")
    error(api.http.patch(api.url("/sources/web"), json={"manager": value}), 400, 3)
    assert api.http.get(api.url("/sources/web")).json()["manager"] == ""
    events = api.http.get(api.url("/audit-events")).json()["audit_events"]
    assert [e["method"] for e in events] == ["POST"]  # the refused PATCH left no trace


def test_a_write_token_sets_managers_but_not_on_iam_kinds(api: Api) -> None:
    writer = api.client(api.token("workspace:write"))
    body = {"name": api.url("/groups/g")[8:], "members": []}
    assert api.http.post(api.url("/groups"), json={"group": body}).status_code == 200
    error(writer.patch(api.url("/groups/g"), json={"manager": "mine"}), 403, 7)
    api.create_source("web")
    assert writer.patch(api.url("/sources/web"), json={"manager": "mine"}).status_code == 200


@pytest.mark.parametrize(("seg_yaml", "where", "says"), [
    ("manager: 'growth team'\n", "seg.yaml:3:10", "does not match"),
    ("manager: \"a\\nb\"\n", "seg.yaml:3:10", "does not match"),
    ("manager: " + "m" * 65 + "\n", "seg.yaml:3:10", "does not match"),
    ("unmanaged: purge\n", "seg.yaml:3:12", "is not one of"),
    ("external: [Sorce/web]\n", "seg.yaml:3:12", "did you mean 'Source'?"),
    ("external: [Destination/web]\n", "seg.yaml:3:12", "has 2 part(s)"),
    ("external: [../../etc/passwd]\n", "seg.yaml:3:12", "does not match"),
])  # fmt: skip
def test_hostile_ownership_settings_are_one_error_line(
    write_workspace: WriteWorkspace, seg_yaml: str, where: str, says: str
) -> None:
    root = write_workspace({"web.yaml": SOURCE.format(name="web")},
                           seg_yaml="version: seg/v1\nworkspace: acme\n" + seg_yaml)  # fmt: skip
    result = run_cli("validate", "-w", str(root))
    assert result.exit_code == 1
    first = result.output.splitlines()[0]
    assert first.startswith(f"{root / where}:"), result.output
    assert says in result.output


def test_a_resource_is_managed_or_external_not_both(write_workspace: WriteWorkspace) -> None:
    root = write_workspace({"web.yaml": SOURCE.format(name="web")},
                           seg_yaml="version: seg/v1\nworkspace: acme\nexternal: [Source/web]\n")
    result = run_cli("validate", "-w", str(root))
    assert result.exit_code == 1
    assert result.output.startswith(f"{root / 'web.yaml'}:2:7: error: Source 'web' is declared")


def _apply(root: Path, *args: str) -> str:
    result = run_cli("apply", "-w", str(root), "--auto-approve", *args)
    assert result.exit_code == 0, result.output
    return result.output


def test_a_tree_cannot_take_or_delete_another_managers_resource(
    write_workspace: WriteWorkspace, tmp_path: Path
) -> None:
    root = write_workspace({"web.yaml": SOURCE.format(name="web")},
                           seg_yaml="version: seg/v1\nworkspace: acme\nmanager: team-a\n")  # fmt: skip
    _apply(root)
    # another manager's resource, as a second tree on the same control plane would leave it
    assert embedded_call(root, "PATCH", "sources/web", body={"manager": "team-b"}).status_code == 200
    body = {"source": {"name": "workspaces/acme/sources/theirs", "catalog": "ios"},
            "manager": "team-b"}  # fmt: skip
    assert embedded_call(root, "POST", "sources", body=body).status_code == 200
    # the tree declares team-b's source with other values, and wants the unmanaged gone
    (root / "web.yaml").write_text(SOURCE.format(name="web") + "  enabled: false\n")
    (root / "seg.yaml").write_text("version: seg/v1\nworkspace: acme\nmanager: team-a\n"
                                   "unmanaged: delete\n")  # fmt: skip
    result = run_cli("apply", "-w", str(root), "--auto-approve")
    assert result.exit_code == 3, result.output
    assert "managed by 'team-b'" in result.output and "theirs" not in result.output
    web = live(root, "sources/web")
    assert (web["manager"], web["enabled"]) == ("team-b", True)
    assert live(root, "sources/theirs")["manager"] == "team-b"


@pytest.mark.parametrize("address", [
    "../../etc/passwd", "Source/../../x", "/abs", "x" * 5000, "Source/", "", "web\n",
])  # fmt: skip
def test_hostile_import_arguments_write_nothing(write_workspace: WriteWorkspace,
                                                address: str) -> None:  # fmt: skip
    root = write_workspace({"web.yaml": SOURCE.format(name="web")})
    _apply(root)
    before = sorted(p for p in root.rglob("*") if ".seg" not in p.parts)
    result = run_cli("import", "-w", str(root), address)
    assert result.exit_code == 1, result.output
    assert result.output.startswith("error: ") and len(result.output.splitlines()) == 1
    assert sorted(p for p in root.rglob("*") if ".seg" not in p.parts) == before
