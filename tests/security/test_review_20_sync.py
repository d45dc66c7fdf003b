"""Review of issue 20 (``seg drift`` / ``seg sync``): attacks by someone who can write to the
control plane (a write token, the web app) on the tree that ``seg sync`` writes back and CI
later plans and applies with its secrets in the environment."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from seg.workspace.loader import load_workspace
from tests.conftest import run_cli
from tests.outside_edits import edit_outside

SLUG = "hostile"
WEB = "kind: Source\nname: web\nspec:\n  catalog: javascript\n  display_name: Web\n"
HOOK_KEY = "SEG_SECRET_WEB_AMP_SETTINGS_API_KEY"  # as seg export names it
HOOK = ("kind: Destination\nname: amp\nspec:\n  source: web\n  catalog: amplitude\n"
        f"  settings:\n    api_key: ${{env:{HOOK_KEY}}}\n")  # fmt: skip


@pytest.fixture
def tree(tmp_path: Path, clean_seg_env: None, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv(HOOK_KEY, "the-hooks-real-api-key")  # CI's secret
    root = tmp_path / "ws"
    root.mkdir()
    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {SLUG}\n")
    (root / "web.yaml").write_text(WEB)
    (root / "amp.yaml").write_text(HOOK)
    applied = run_cli("apply", "-w", str(root), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    return root


def outside(root: Path, files: dict[str, str], tmp: Path, environ: dict[str, str] | None = None
            ) -> None:  # fmt: skip
    """An edit made outside seg (``environ``: the editor's own values besides CI's secret)."""
    edit_outside(root, SLUG, files, tmp, {HOOK_KEY: "the-hooks-real-api-key", **(environ or {})})


def test_a_new_resources_secret_never_reads_a_variable_the_tree_uses(
        tree: Path, tmp_path: Path) -> None:  # fmt: skip
    """A source named ``web-amp`` made through the API with a secret ``settings.api_key``:
    ``seg export`` names its variable SEG_SECRET_WEB_AMP_SETTINGS_API_KEY — the variable the
    tree already reads for destination web/amp's key. Written back as is, the next apply in
    CI would copy the hook's key into a resource the API writer designed."""
    evil = ("kind: Source\nname: web-amp\nspec:\n  catalog: stripe\n  settings:\n"
            "    api_key: ${env:MINE}\n")  # fmt: skip
    outside(tree, {"evil.yaml": evil}, tmp_path, {"MINE": "attackers-own-value"})
    synced = run_cli("sync", "-w", str(tree))
    ws = load_workspace(tree, environ={HOOK_KEY: "the-hooks-real-api-key"})
    made = [r for r in ws.resources if r.address == "web-amp"]
    for res in made:  # written: never with the hook's key
        assert res.fields.get("settings", {}).get("api_key") != "the-hooks-real-api-key"
    assert HOOK_KEY not in "".join(p.read_text() for p in tree.rglob("*.yaml")
                                   if p.name != "amp.yaml"), synced.output  # fmt: skip
    assert "web-amp" in synced.output  # refused, and said so


def test_drift_markdown_for_the_pull_request_body_holds_no_link_or_mention(
        tree: Path, tmp_path: Path) -> None:  # fmt: skip
    """The drift workflow pastes ``seg drift -o markdown`` into the pull request it opens as
    the repository's bot: a value set through the API must not become a link whose text
    hides its target, an image fetched on view, or a mention that pings a team."""
    shown = "[Approve: reviewed by security](https://evil.example/x) ![i](https://evil.example/p) @acme/admins"  # noqa: E501
    outside(tree, {"web.yaml": WEB.replace("Web", json.dumps(shown))}, tmp_path)
    drift = run_cli("drift", "-w", str(tree), "-o", "markdown")
    assert drift.exit_code == 2, drift.output
    assert "evil.example" in drift.output  # the value is shown ...
    for syntax in ("](", "[Approve", "![", "@acme"):  # ... as text, not markdown
        assert syntax not in drift.output, drift.output


WAREHOUSE = ("kind: Source\nname: warehouse\nspec:\n  catalog: postgres\n"
             "  settings: {host: db.internal, database: analytics}\n")  # fmt: skip
USERS = ("kind: Model\nname: users\nspec:\n  source: warehouse\n  identifier_column: id\n"
         "  query_file: warehouse.orders.sql\n")  # fmt: skip


def test_a_new_models_query_never_lands_in_a_file_the_tree_reads(
        tree: Path, tmp_path: Path) -> None:  # fmt: skip
    """``seg export`` writes model warehouse/orders's query to ``models/warehouse.orders.sql``;
    when the tree already holds that file (model users reads it), sync must not append the
    new model's query to it as a YAML document — that changes users' query."""
    (tree / "warehouse.yaml").write_text(WAREHOUSE)
    (tree / "models").mkdir()
    (tree / "models" / "users.yaml").write_text(USERS)
    (tree / "models" / "warehouse.orders.sql").write_text("select 1 as id\n")
    applied = run_cli("apply", "-w", str(tree), "--auto-approve")
    assert applied.exit_code == 0, applied.output
    orders = ("kind: Model\nname: orders\nspec:\n  source: warehouse\n  identifier_column: id\n"
              "  query: select 2 as id\n")  # fmt: skip
    outside(tree, {"models/orders.yaml": orders}, tmp_path)
    synced = run_cli("sync", "-w", str(tree))
    assert (tree / "models" / "warehouse.orders.sql").read_text() == "select 1 as id\n"
    ws = load_workspace(tree, environ={HOOK_KEY: "k"})
    queries = {r.address: r.fields.get("query") for r in ws.resources if r.kind.name == "Model"}
    assert queries["warehouse/users"] == "select 1 as id\n", synced.output
    assert queries.get("warehouse/orders") in (None, "select 2 as id"), synced.output


class _CirclingPages(httpx.BaseTransport):
    """A control plane (broken, or hostile) whose audit trail pages in a circle."""

    def __init__(self) -> None:
        self.requests = 0

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.requests += 1
        body = {"audit_events": [], "next_page_token": "same" if self.requests % 2 else "other"}
        return httpx.Response(200, json=body, request=request)


def test_an_audit_trail_that_pages_in_a_circle_ends_in_one_error() -> None:
    from seg.client.http import ControlPlaneClient
    from seg.errors import TransportError

    transport = _CirclingPages()
    client = ControlPlaneClient(httpx.Client(transport=transport, base_url="http://cp"), "acme",
                                retries=0)  # fmt: skip
    with pytest.raises(TransportError, match="same page token twice"):
        list(client.audit_events(after="1"))
    assert transport.requests == 3
