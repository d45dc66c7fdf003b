"""Labels and access: label rules, groups, role bindings, explain, and plan prominence."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from seg.embedded import open_embedded
from seg.policy.access import explain
from tests.conftest import Api
from tests.conftest import run_cli as seg
from tests.helpers import error, error_body
from tests.repo_files import copy_repo_dir

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "access"


@pytest.fixture
def root(tmp_path: Path, clean_seg_env: None) -> Path:
    target = tmp_path / "access"
    copy_repo_dir(EXAMPLE, target)
    assert seg("apply", "-w", str(target), "--auto-approve").exit_code == 0
    return target


def explained(root: Path, email: str) -> dict:
    result = seg("access", "explain", "-w", str(root), "--user", email, "-o", "json")
    assert result.exit_code == 0, result.output
    data = json.loads(result.stdout)
    assert data.pop("format_version") == "1.0"
    return data


def test_explain_follows_the_documented_semantics(root: Path) -> None:
    alice = explained(root, "Alice@Example.com")
    assert alice == {"user": "alice@example.com", "workspace_roles": ["workspace_member"],
                     "sources": {"ios": [], "staging-web": ["source_read_only"],
                                 "web": ["source_admin", "source_read_only"]}}  # fmt: skip
    bob = explained(root, "bob@example.com")  # own binding + group bindings add up
    assert bob["sources"] == {"ios": ["source_read_only"], "staging-web": ["source_read_only"],
                              "web": ["source_admin", "source_read_only"]}  # fmt: skip
    dana = explained(root, "dana@example.com")
    assert dana["workspace_roles"] == ["workspace_owner"]
    assert set(map(tuple, dana["sources"].values())) == {("workspace_owner",)}
    carol = explained(root, "carol@example.com")
    assert carol["workspace_roles"] == ["tracking_plan_admin"]
    assert all(not roles for roles in carol["sources"].values())
    assert explained(root, "nobody@example.com")["workspace_roles"] == []
    text = seg("access", "explain", "-w", str(root), "--user", "alice@example.com").output
    assert "web: source_admin, source_read_only" in text and "ios: no access" in text


def test_label_and_combination_semantics_unit() -> None:
    sources = {"a": {"team": "x", "env": "prod"}, "b": {"team": "x"}, "c": {"env": "prod"}}
    bindings = [{"subject": {"group": "g"}, "role": "source_admin",
                 "scope": {"labels": {"team": "x", "env": "prod"}}}]  # fmt: skip
    result = explain("u@x.io", bindings, {"g": ["U@x.io"]}, sources)
    assert result["sources"] == {"a": ["source_admin"], "b": [], "c": []}


def test_built_in_labels_exist_and_are_never_deleted(root: Path) -> None:
    client = open_embedded(root, "access")
    labels = client.http.get("/v1beta/workspaces/access/labels").json()["labels"]
    client.close()
    names = {label["name"].rsplit("/", 1)[1] for label in labels}
    assert {"environment:dev", "environment:prod", "team:growth"} <= names
    assert seg("plan", "-w", str(root), "--detailed-exitcode").exit_code == 0


def test_label_in_use_cannot_be_deleted_and_rename_orders_create_reassign_delete(
    root: Path,
) -> None:
    client = open_embedded(root, "access")
    refused = client.http.delete("/v1beta/workspaces/access/labels/team:growth")
    client.close()
    assert refused.status_code == 409 and refused.json()["code"] == 9
    message = refused.json()["error"]
    assert "source web" in message and "source staging-web" in message
    assert "role binding growth-read" in message
    # "Rename" region:eu → region:europe: create the new label, reassign, delete the old one.
    for name in ("labels.yaml", "sources.yaml"):
        path = root / name
        path.write_text(path.read_text().replace("region:eu", "region:europe").replace(
            "region: eu", "region: europe"))  # fmt: skip
    applied = seg("apply", "-w", str(root), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    steps = [line for line in applied.output.splitlines()
             if line.startswith(("created", "updated", "deleted"))]  # fmt: skip
    assert steps == ["created Label region:europe", "updated Source web", "deleted Label region:eu"]


def test_label_rules_in_validate(root: Path) -> None:
    (root / "bad.yaml").write_text("kind: Label\nname: team_x:growth\nspec: {}\n---\n"
                                   "kind: Source\nname: extra\nspec:\n  catalog: python\n"
                                   "  labels: {team: unknown}\n---\n"
                                   "kind: RoleBinding\nname: wrong\nspec:\n"
                                   "  subject: {group: nobody}\n  role: workspace_owner\n"
                                   "  scope: {labels: {team: growth}}\n")  # fmt: skip
    result = seg("validate", "-w", str(root))
    assert result.exit_code == 1
    out = result.output
    assert "bad.yaml:2:7: error: name: 'team_x:growth' does not match" in out
    assert "refers to label 'team:unknown', which is not declared" in out
    assert "refers to group 'nobody', which is not declared" in out
    assert "role 'workspace_owner' cannot take a label scope" in out


def test_access_changes_lead_the_plan(root: Path) -> None:
    (root / "more.yaml").write_text("kind: RoleBinding\nname: eve-owner\nspec:\n"
                                    "  subject: {user: eve@example.com}\n  role: workspace_owner\n"
                                    "  scope: workspace\n")  # fmt: skip
    text = seg("plan", "-w", str(root)).output
    assert text.splitlines()[0] == "Access changes (1) — review these first:"
    assert "+ grants workspace_owner to user eve@example.com on the whole workspace" in text
    markdown = seg("plan", "-w", str(root), "-o", "markdown").output
    assert markdown.index("Access changes") < markdown.index("| kind |")
    data = json.loads(seg("plan", "-w", str(root), "-o", "json").stdout)
    assert data["changes"][0]["access_change"] is True


def test_iam_needs_the_owner_scope(api: Api) -> None:
    writer = api.client(api.token("workspace:write"))
    label = {"label": {"name": f"workspaces/{api.workspace}/labels/team:x"}}
    assert error_body(writer.post(api.url("/labels"), json=label)) == {
        "error": "insufficient scope",
        "code": 7,
    }
    group = {"group": {"name": f"workspaces/{api.workspace}/groups/g", "members": []}}
    assert error_body(writer.post(api.url("/groups"), json=group)) == {
        "error": "insufficient scope",
        "code": 7,
    }
    assert api.http.post(api.url("/labels"), json=label).status_code == 200
    binding = {"role_binding": {"name": f"workspaces/{api.workspace}/role-bindings/b",
               "subject": {"user": "a@b.io"}, "role": "workspace_owner",
               "scope": {"labels": {"team": "x"}}}}  # fmt: skip
    assert "cannot take a label scope" in error(
        api.http.post(api.url("/role-bindings"), json=binding), 400, 3
    )
    error(
        api.http.post(
            api.url("/labels"),
            json={"label": {"name": f"workspaces/{api.workspace}/labels/team_x:y"}},
        ),
        400,
        3,
    )
    assert writer.get(api.url("/labels")).status_code == 200  # reading is open to every scope


def test_the_server_enforces_what_explain_says(root: Path) -> None:
    from seg.server.app import create_app
    from seg.server.crypto import SecretBox
    from seg.server.inprocess import InProcessTransport
    from seg.server.service import ControlPlane
    from seg.store.sql import open_store

    state = root / ".seg"
    cp = ControlPlane(open_store(f"sqlite:///{state / 'control-plane.db'}"),
                      secret_box=SecretBox((state / "secret.key").read_bytes().strip()))  # fmt: skip
    transport = InProcessTransport(create_app(cp))
    base = "/v1beta/workspaces/access"

    def client_for(user: str):
        _, secret = cp.workspaces.create_token("access", "workspace:write", f"{user} laptop", user)
        import httpx

        return httpx.Client(transport=transport, base_url="http://embedded",
                            headers={"Authorization": f"Bearer {secret}"})  # fmt: skip

    alice, bob = client_for("alice@example.com"), client_for("bob@example.com")
    patch = {"source": {"enabled": False}, "update_mask": {"paths": ["source.enabled"]}}
    assert alice.patch(f"{base}/sources/web", json=patch).status_code == 200  # source_admin
    denied = alice.patch(f"{base}/sources/ios", json=patch)
    assert denied.status_code == 403 and denied.json()["code"] == 7
    assert alice.get(f"{base}/sources/ios").status_code == 403  # no access to ios at all
    listed = [s["name"].rsplit("/", 1)[1] for s in alice.get(f"{base}/sources").json()["sources"]]
    assert listed == ["staging-web", "web"]  # explain: ios: no access
    assert bob.get(f"{base}/sources/ios").status_code == 200  # source_read_only
    assert bob.patch(f"{base}/sources/ios", json=patch).status_code == 403
    label = {"label": {"name": f"{base[7:]}/labels/team:new"}}
    assert alice.post(f"{base}/labels", json=label).status_code == 403  # owners only
    for c in (alice, bob):
        c.close()
    transport.close()


def test_documented_label_examples() -> None:
    """The docs' worked example (Sally, Bob, Jane), the OR-through-groups recipe, and the
    label format examples."""
    import re

    from seg.kinds.label import LABEL_PATTERN

    sources = {"a": {"environment": "prod", "product": "car"},
               "b": {"environment": "prod", "product": "truck"},
               "c": {"environment": "dev", "product": "car"}}  # fmt: skip

    def admin_of(labels: dict[str, str], email: str) -> list[str]:
        binding = {"subject": {"user": email}, "role": "source_admin", "scope": {"labels": labels}}
        result = explain(email, [binding], {}, sources)["sources"]
        return sorted(s for s, roles in result.items() if roles)

    assert admin_of({"environment": "prod"}, "sally@x.io") == ["a", "b"]
    assert admin_of({"environment": "prod", "product": "truck"}, "bob@x.io") == ["b"]
    assert admin_of({"product": "car"}, "jane@x.io") == ["a", "c"]
    brands = {"s1": {"brand": "a"}, "s2": {"brand": "b"}, "s3": {"brand": "c"}}
    groups = {"brand-a": ["u@x.io"], "brand-b": ["u@x.io"]}
    bindings = [{"subject": {"group": g}, "role": "source_admin", "scope": {"labels": {"brand": g[-1]}}}
                for g in groups]  # fmt: skip
    result = explain("u@x.io", bindings, groups, brands)["sources"]
    assert result == {"s1": ["source_admin"], "s2": ["source_admin"], "s3": []}
    for good in ("environment:production", "region:apac", "brand:A", "brand:a", "team-x:v2"):
        assert re.match(LABEL_PATTERN, good)
    for bad in ("product: car", "team_x:a", "1team:a", "team:", "team", "team:a:b"):
        assert not re.match(LABEL_PATTERN, bad)
