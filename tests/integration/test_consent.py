"""The ConsentCategory kind (issue 15, item 3): each rule in `seg validate` (file:line:col) and
on the control plane (the same refusal, on SQLite and PostgreSQL), warnings that refuse
nothing, owner-only writes, case-sensitive ids, apply order with destinations (creating both,
removing a mapping and its destination in one plan), patching each field alone, export and
import round trips (names differing only by case included) and `seg diff`."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import git
import pytest
import yaml

from seg.kinds import KINDS
from seg.kinds.consent_category import MAX_CATEGORIES, MAX_DESTINATIONS
from tests.conftest import Api, embedded_call, live
from tests.conftest import run_cli as seg
from tests.helpers import error
from tests.integration.diagnostics import assert_at, line_of, validate_errors

WS = "acme"
DESTINATIONS = {"amplitude": "amplitude", "amp-eu": "amplitude", "braze": "braze",
                "google-ads": "google-ads", "s3": "s3"}  # fmt: skip


def _destination(name: str, catalog: str) -> str:
    spec = {"source": "shop", "catalog": catalog}
    return yaml.safe_dump({"kind": "Destination", "name": name, "spec": spec}, sort_keys=False)


SHOP = yaml.safe_dump({"kind": "Source", "name": "shop", "spec": {"catalog": "javascript"}})
BASE_DOCS = [SHOP] + [_destination(n, c) for n, c in DESTINATIONS.items()]


def category(name: str = "Advertising", **spec: Any) -> str:
    body: dict[str, Any] = {"display_name": name, "destinations": ["shop/google-ads"]}
    body.update(spec)
    return yaml.safe_dump({"kind": "ConsentCategory", "name": name, "spec": body},
                          sort_keys=False)  # fmt: skip


def tree(root: Path, *docs: str, base: list[str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {WS}\n")
    (root / "resources.yaml").write_text("---\n".join([*(BASE_DOCS if base is None else base),
                                                       *docs]))  # fmt: skip
    return root


@pytest.fixture
def env(clean_seg_env: None) -> None:
    return None


# -- the control plane side --------------------------------------------------------------


@pytest.fixture
def shop(api: Api) -> Api:
    assert api.create_source("shop").status_code == 200
    for name, catalog in DESTINATIONS.items():
        assert api.create_destination("shop", name, catalog=catalog).status_code == 200
    return api


def post(api: Api, name: str = "Advertising", client: Any = None, **fields: Any) -> Any:
    body = {"name": f"workspaces/{api.workspace}/consent-categories/{name}",
            "display_name": name, "destinations": ["shop/google-ads"], **fields}  # fmt: skip
    return (client or api.http).post(api.url("/consent-categories"),
                                     json={"consent_category": body})  # fmt: skip


def patch(api: Api, name: str, field: str, value: Any, client: Any = None) -> Any:
    body = {"consent_category": {field: value},
            "update_mask": {"paths": [f"consent_category.{field}"]}}  # fmt: skip
    return (client or api.http).patch(api.url(f"/consent-categories/{name}"), json=body)


# -- rules: seg validate and the control plane ------------------------------------------------


@pytest.mark.parametrize("name", ["1Advertising", "A" * 35, "Ad.vertising", "_ads"])
def test_the_category_id_is_said_in_words(name: str, tmp_path: Path, env: None,
                                          shop: Api) -> None:  # fmt: skip
    root = tree(tmp_path / "ws", category(name))
    out = validate_errors(root)
    words = ("must start with a letter (not a digit), hold only letters, digits, '_' and '-', "
             "and have fewer than 35 characters (ids are case-sensitive)")  # fmt: skip
    lines = [line for line in out.splitlines() if "resources.yaml" in line]
    found = [line for line in lines if re.match(r".*resources\.yaml:\d+:\d+: error: name: ", line)]
    assert len(found) == 1 and words in found[0], out  # one line, in words, not the pattern
    assert f"resources.yaml:{line_of(root, 'kind: ConsentCategory') + 1}:" in found[0]
    refused = post(shop, name)
    assert words in error(refused, 400, 3)
    assert "consent_category.name" in error(refused, 400, 3)


def test_longest_ids_and_ids_differing_by_case_are_two_categories(tmp_path: Path, env: None,
                                                                 shop: Api) -> None:  # fmt: skip
    longest = "A" + "b" * 33
    root = tree(tmp_path / "ws", category("Advertising"), category("advertising"),
                category(longest))  # fmt: skip
    assert seg("validate", "-w", str(root)).exit_code == 0
    for name in ("Advertising", "advertising", longest):
        assert post(shop, name, display_name=f"{name}!").status_code == 200
    assert post(shop, "Advertising").status_code == 409  # the same id twice
    for name in ("Advertising", "advertising"):
        got = shop.http.get(shop.url(f"/consent-categories/{name}"))
        assert got.json()["display_name"] == f"{name}!"
    assert shop.http.get(shop.url("/consent-categories/ADVERTISING")).status_code == 404
    listed = shop.http.get(shop.url("/consent-categories")).json()["consent_categories"]
    assert sorted(c["name"].rsplit("/", 1)[1] for c in listed) == sorted(
        ["Advertising", "advertising", longest]
    )
    assert shop.http.delete(shop.url("/consent-categories/advertising")).status_code == 200
    assert shop.http.get(shop.url("/consent-categories/Advertising")).status_code == 200


def test_mapped_destinations_must_exist(tmp_path: Path, env: None, shop: Api) -> None:
    root = tree(tmp_path / "ws", category(destinations=["shop/braze", "shop/gone"]))
    out = validate_errors(root)
    assert "refers to destination 'shop/gone', which is not declared" in out
    refused = post(shop, destinations=["shop/braze", "shop/gone"])
    assert "destination 'shop/gone' does not exist" in error(refused, 400, 3)
    assert post(shop, destinations=["shop/braze"]).status_code == 200
    refused = patch(shop, "Advertising", "destinations", ["other/braze"])
    assert "destination 'other/braze' does not exist" in error(refused, 400, 3)


def test_mapping_one_instance_of_a_type_warns_of_the_others(tmp_path: Path, env: None,
                                                            shop: Api) -> None:  # fmt: skip
    root = tree(tmp_path / "ws", category(destinations=["shop/braze", "shop/amplitude"]))
    result = seg("validate", "-w", str(root))
    assert result.exit_code == 0, result.output
    assert_at(result.output, root, "- shop/amplitude",
              "mapping shop/amplitude (amplitude) also maps 1 other destination of that type "
              "(shop/amp-eu)", "consent/every-instance", "warning")  # fmt: skip
    plan = seg("plan", "-w", str(root))
    assert plan.exit_code == 0 and "consent/every-instance" in plan.output, plan.output
    every = tree(tmp_path / "every", category(destinations=["shop/amplitude", "shop/amp-eu"]))
    assert "warning" not in seg("validate", "-w", str(every)).output
    # a warning refuses nothing: the control plane takes it
    assert post(shop, destinations=["shop/amplitude"]).status_code == 200


def test_storage_destinations_do_not_enforce_consent_a_warning(tmp_path: Path, env: None,
                                                               shop: Api) -> None:  # fmt: skip
    root = tree(tmp_path / "ws", category(destinations=["shop/s3"]))
    result = seg("validate", "-w", str(root))
    assert result.exit_code == 0, result.output
    assert_at(result.output, root, "- shop/s3", "is a storage destination: storage destinations "
              "do not enforce consent", "consent/not-enforced", "warning")  # fmt: skip
    assert post(shop, destinations=["shop/s3"]).status_code == 200


def test_at_most_200_destinations_per_category(tmp_path: Path, env: None, shop: Api) -> None:
    many = [f"shop/d{i}" for i in range(MAX_DESTINATIONS + 1)]
    root = tree(tmp_path / "ws", category(destinations=many))
    out = validate_errors(root)
    at = line_of(root, "destinations:") + 1  # where the list starts
    assert (f"resources.yaml:{at}:3: error: spec.destinations: 201 items; at most 200 are "
            "allowed [schema/maxItems]") in out, out  # fmt: skip
    refused = post(shop, destinations=many)
    assert error(refused, 400, 3) == (
        "consent_category.destinations: 201 items; at most 200 are allowed"
    )


def test_destinations_are_listed_once(tmp_path: Path, env: None, shop: Api) -> None:
    root = tree(tmp_path / "ws", category(destinations=["shop/braze", "shop/braze"]))
    assert "has non-unique elements [schema/uniqueItems]" in validate_errors(root)
    refused = post(shop, destinations=["shop/braze", "shop/braze"])
    assert "non-unique" in error(refused, 400, 3)


def test_at_most_50_categories_per_workspace(tmp_path: Path, env: None, shop: Api) -> None:
    docs = [category(f"C{i}", destinations=[]) for i in range(MAX_CATEGORIES + 1)]
    out = validate_errors(tree(tmp_path / "ws", *docs))
    assert "a workspace has at most 50 consent categories; it would have 51" in out
    for i in range(MAX_CATEGORIES):
        assert post(shop, f"C{i}", destinations=[]).status_code == 200
    refused = post(shop, "C50", destinations=[])
    assert error(refused, 409, 9) == (
        "a workspace has at most 50 consent categories; it would have 51"
    )


def test_only_workspace_owners_write_categories(shop: Api) -> None:
    writer = shop.client(shop.token("workspace:write"))
    assert error(post(shop, client=writer), 403, 7) == "insufficient scope"
    assert post(shop).status_code == 200
    assert error(patch(shop, "Advertising", "enabled", False, writer), 403, 7)
    assert error(writer.delete(shop.url("/consent-categories/Advertising")), 403, 7)
    # a user-bound owner token whose user holds no workspace_owner role
    member = shop.cp.workspaces.create_token(shop.workspace, "workspace:owner", "m",
                                             "mo@x.io")[1]  # fmt: skip
    bound = shop.client(member)
    assert "workspace_owner" in error(patch(shop, "Advertising", "enabled", False, bound), 403, 7)
    assert patch(shop, "Advertising", "enabled", False).json()["enabled"] is False


def test_a_mapped_destination_is_not_deleted(shop: Api) -> None:
    assert post(shop, destinations=["shop/braze", "shop/google-ads"]).status_code == 200
    assert post(shop, "Functional", destinations=["shop/braze"]).status_code == 200
    refused = shop.http.delete(shop.url("/sources/shop/destinations/braze"))
    assert error(refused, 409, 9) == (
        "destination shop/braze is mapped by consent categories Advertising, Functional; remove "
        "it from their destinations before deleting it"
    )
    assert patch(shop, "Functional", "destinations", []).status_code == 200
    assert patch(shop, "Advertising", "destinations", ["shop/google-ads"]).status_code == 200
    assert shop.http.delete(shop.url("/sources/shop/destinations/braze")).status_code == 200


# -- plans: order, convergence, owner-only ---------------------------------------------------


def test_one_apply_creates_destinations_then_categories_and_then_removes_both(
    tmp_path: Path, env: None
) -> None:
    root = tree(tmp_path / "ws", category(destinations=["shop/braze", "shop/google-ads"]),
                category("Functional", destinations=["shop/braze"]))  # fmt: skip
    applied = seg("apply", "-w", str(root), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    lines = applied.output.splitlines()
    made = [i for i, line in enumerate(lines) if line.startswith("created ")]
    dests = [i for i in made if "Destination" in lines[i]]
    cats = [i for i in made if "ConsentCategory" in lines[i]]
    assert len(cats) == 2 and max(dests) < min(cats), applied.output
    assert seg("plan", "-w", str(root), "--detailed-exitcode").exit_code == 0
    refused = embedded_call(root, "DELETE", "sources/shop/destinations/braze")
    assert "mapped by consent categories Advertising, Functional" in error(refused, 409, 9)
    # one plan: the categories let go of braze, then braze is deleted
    base = [d for d in BASE_DOCS if "name: braze" not in d]
    tree(root, category(destinations=["shop/google-ads"]),
         category("Functional", destinations=[]), base=base)  # fmt: skip
    applied = seg("apply", "-w", str(root), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    lines = applied.output.splitlines()
    deleted = next(i for i, line in enumerate(lines) if line == "deleted Destination shop/braze")
    updated = [i for i, line in enumerate(lines) if line.startswith("updated ConsentCategory")]
    assert len(updated) == 2 and max(updated) < deleted, applied.output
    assert seg("plan", "-w", str(root), "--detailed-exitcode").exit_code == 0
    assert live(root, "consent-categories/Functional")["destinations"] == []


def test_removing_a_destination_a_category_keeps_is_refused_by_validate(
    tmp_path: Path, env: None
) -> None:
    base = [d for d in BASE_DOCS if "name: braze" not in d]
    root = tree(tmp_path / "ws", category(destinations=["shop/braze"]), base=base)
    assert "refers to destination 'shop/braze', which is not declared" in validate_errors(root)


def test_destination_order_carries_no_meaning(tmp_path: Path, env: None) -> None:
    root = tree(tmp_path / "ws", category(destinations=["shop/braze", "shop/google-ads"]))
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    tree(root, category(destinations=["shop/google-ads", "shop/braze"]))
    assert seg("plan", "-w", str(root), "--detailed-exitcode").exit_code == 0


BASE: dict[str, Any] = {"display_name": "Advertising", "destinations": ["shop/google-ads"],
                        "enabled": True}  # fmt: skip
FIELD_EDITS: dict[str, Any] = {
    "display_name": "Ads",
    "destinations": ["shop/google-ads", "shop/braze"],
    "enabled": False,
}


def test_every_mutable_field_has_an_edit() -> None:
    assert set(FIELD_EDITS) == {f.name for f in KINDS["ConsentCategory"].fields
                                if not f.immutable}  # fmt: skip


@pytest.mark.parametrize("field", sorted(FIELD_EDITS))
def test_each_field_is_patched_alone(field: str, tmp_path: Path, env: None) -> None:
    root = tree(tmp_path / "ws", category(**BASE))
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    before = live(root, "consent-categories/Advertising")
    tree(root, category(**{**BASE, field: FIELD_EDITS[field]}))
    plan = seg("plan", "-w", str(root))
    assert plan.exit_code == 0 and "1 to change" in plan.output, plan.output
    assert f"update_mask: consent_category.{field}\n" in plan.output, plan.output
    applied = seg("apply", "-w", str(root), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    assert seg("plan", "-w", str(root), "--detailed-exitcode").exit_code == 0
    after = live(root, "consent-categories/Advertising")
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert changed <= {field, "etag", "update_time", "managed_paths"}, changed
    assert field in changed


# -- export, import, diff -------------------------------------------------------------------


def test_export_round_trips_ids_differing_by_case(tmp_path: Path, env: None) -> None:
    root = tree(tmp_path / "ws", category("Advertising", destinations=["shop/braze"]),
                category("advertising", destinations=["shop/google-ads"], enabled=False),
                category("Analytics", destinations=[]))  # fmt: skip
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    (root / "resources.yaml").unlink()  # the tree forgets; the control plane remembers
    exported = seg("export", "-w", str(root), "--merge")
    assert exported.exit_code == 0, exported.output
    files = sorted(p.name for p in (root / "consent-categories").iterdir())
    assert len({f.casefold() for f in files}) == 3, files  # safe on case-insensitive disks
    assert "Analytics.yaml" in files
    docs = {d["name"]: d for d in (yaml.safe_load(p.read_text())
                                   for p in (root / "consent-categories").iterdir())}  # fmt: skip
    assert docs["advertising"]["spec"] == {"display_name": "advertising",
                                           "destinations": ["shop/google-ads"],
                                           "enabled": False}  # fmt: skip
    assert docs["Advertising"]["spec"]["destinations"] == ["shop/braze"]
    again = seg("plan", "-w", str(root), "--detailed-exitcode")
    assert again.exit_code == 0, again.output


def test_seg_diff_shows_category_changes(tmp_path: Path, env: None) -> None:
    root = tree(tmp_path / "repo" / "ws", category(**BASE))
    repo = git.Repo.init(tmp_path / "repo", initial_branch="main")
    with repo.config_writer() as cfg:
        cfg.set_value("user", "name", "t")
        cfg.set_value("user", "email", "t@example.com")
    repo.git.add("-A")
    repo.index.commit("base")
    tree(root, category(**{**BASE, "destinations": ["shop/braze", "shop/google-ads"],
                           "enabled": False}))  # fmt: skip
    repo.git.add("-A")
    repo.index.commit("head")
    result = seg("diff", "-w", str(root), "--base", "HEAD~1", "-o", "json")
    assert result.exit_code == 2, result.output
    (change,) = [c for c in json.loads(result.stdout)["changes"]
                 if c["kind"] == "ConsentCategory"]  # fmt: skip
    assert change["action"] == "update"
    assert sorted(change["update_mask"]) == ["consent_category.destinations",
                                             "consent_category.enabled"]  # fmt: skip


def test_plans_list_first_where_a_category_starts_dropping_events(tmp_path: Path,
                                                                  env: None) -> None:  # fmt: skip
    root = tree(tmp_path / "ws", category(destinations=["shop/braze"], enabled=False))
    plan = seg("plan", "-w", str(root))
    assert "Changes that drop data" not in plan.output, plan.output  # created disabled
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    tree(root, category(destinations=["shop/braze", "shop/google-ads"], enabled=True))
    plan = seg("plan", "-w", str(root))
    assert "Changes that drop data (1)" in plan.output, plan.output
    assert ("ConsentCategory Advertising: events that do not consent to this category stop "
            "reaching shop/braze, shop/google-ads") in plan.output  # fmt: skip
