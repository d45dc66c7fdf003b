"""Review of issue 15: consent category ids are case-sensitive, file systems may not be. An
export that adds to a tree (``seg export --merge``, ``seg import``) never writes a file whose
name differs only by case from one the tree holds already (on macOS or Windows the second
would overwrite the first on checkout)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from tests.conftest import embedded_call
from tests.conftest import run_cli as seg

WS = "acme"


def category(name: str) -> str:
    return yaml.safe_dump({"kind": "ConsentCategory", "name": name,
                           "spec": {"display_name": name, "destinations": []}})  # fmt: skip


def tree(root: Path) -> Path:
    root.mkdir(parents=True)
    (root / "seg.yaml").write_text(f"version: seg/v1\nworkspace: {WS}\n")
    (root / "resources.yaml").write_text(category("Advertising"))
    return root


def add_live(root: Path, name: str) -> None:
    body = {"consent_category": {"name": f"workspaces/{WS}/consent-categories/{name}",
                                 "display_name": name, "destinations": []}}  # fmt: skip
    made = embedded_call(root, "POST", "consent-categories", body=body)
    assert made.status_code == 200, made.text


def folded(root: Path) -> list[str]:
    return sorted(p.name.casefold() for p in (root / "consent-categories").iterdir())


@pytest.mark.parametrize("how", ["export", "import"])
def test_adding_to_a_tree_never_writes_a_name_differing_only_by_case(
    how: str, tmp_path: Path, clean_seg_env: None
) -> None:
    root = tree(tmp_path / "ws")
    assert seg("apply", "-w", str(root), "--auto-approve").exit_code == 0
    (root / "resources.yaml").unlink()
    first = seg("export", "-w", str(root), "--merge")  # the tree now holds Advertising.yaml
    assert first.exit_code == 0, first.output
    assert folded(root) == ["advertising.yaml"]
    add_live(root, "advertising")  # made in the UI: another category
    args = ("--merge",) if how == "export" else ("ConsentCategory/advertising",)
    added = seg(how, "-w", str(root), *args)
    assert added.exit_code == 0, added.output
    names = folded(root)
    assert len(names) == len(set(names)) == 2, names  # no two files differ only by case
    adopted = seg("apply", "-w", str(root), "--auto-approve")  # adopts what the UI made
    assert adopted.exit_code == 0, adopted.output
    again = seg("plan", "-w", str(root), "--detailed-exitcode")
    assert again.exit_code == 0, again.output
