"""Attacks on targets and on checks without secrets (issue 12, items 2 and 3).

A pull-request author controls the YAML (and, in some setups, the plan's --target); CI may
run without secrets (a fork) or with them. None of this may publish a value from the
environment, read a file it names, crash seg, or get a plan that left values out applied.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from seg.commands.app import app
from tests.conftest import live

TOKEN = "ci-SEG-TOKEN-value-4711-secret"

SOURCE = "kind: Source\nname: web\nspec: {catalog: javascript}\n"


def seg(root: Path, *args: str, env: dict[str, str] | None = None):
    result = CliRunner().invoke(app, [args[0], "-w", str(root), *args[1:]], env=env)
    assert "Traceback" not in result.output
    return result


@pytest.fixture(autouse=True)
def _no_seg_settings(clean_seg_env: None, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AMP_KEY", "HOOK", "SEG_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.parametrize(
    ("document", "where"),
    [
        # The parent is part of the address, printed in clear in every plan: a secret there
        # would be published (or would break every output through the filter).
        ("kind: Destination\nname: leak\nspec:\n  source: ${env:SEG_TOKEN}\n  catalog: a\n",
         "b.yaml:4:11: error: source: the value from the environment (${env:…}) cannot be used here"),
        # A file named by the environment is read before anything is sent.
        ("kind: Model\nname: leak\nspec:\n  source: web\n  query_file: ${env:SEG_TOKEN}\n"
         "  identifier_column: id\n",
         "b.yaml:5:15: error: query_file: the value from the environment (${env:…}) cannot be used here"),
    ],
)  # fmt: skip
def test_an_address_or_a_file_from_the_environment_is_refused(
    write_workspace, document: str, where: str
) -> None:
    root = write_workspace({"a.yaml": SOURCE.replace("javascript", "postgres"), "b.yaml": document})
    (root / TOKEN).write_text("SELECT id FROM secrets")  # what the path would name
    for command in ("validate", "plan"):
        for env in ({"SEG_TOKEN": TOKEN}, {}):  # with the secret, and without it
            result = seg(root, command, env=env)
            assert result.exit_code == 1, result.output
            assert where in result.output
            assert TOKEN not in result.output
    assert not (root / ".seg" / "control-plane.db").exists()  # refused before any control plane was opened


def test_a_plan_saved_with_skip_stays_unappliable_when_its_marks_are_removed(
    write_workspace, tmp_path: Path
) -> None:
    dest = ("kind: Destination\nname: amp\nspec:\n  source: web\n  catalog: amplitude\n"
            "  settings: {api_key: '${env:AMP_KEY}', region: eu}\n")  # fmt: skip
    root = write_workspace({"a.yaml": SOURCE, "b.yaml": dest})
    assert seg(root, "apply", "--auto-approve", env={"AMP_KEY": "first-key"}).exit_code == 0
    (root / "b.yaml").write_text(dest.replace("region: eu", "region: us"))
    planfile = tmp_path / "plan.json"
    saved = seg(root, "plan", "--missing-secrets=skip", "--out", str(planfile))
    assert saved.exit_code == 0, saved.output
    # Forge it: drop every sign that values were left out.
    data = json.loads(planfile.read_text())
    data["plan"]["missing_variables"] = []
    data["plan"]["not_compared"] = []
    data["options"]["missing_secrets"] = "fail"
    for change in data["plan"]["changes"]:
        change["not_compared"] = []
    planfile.write_text(json.dumps(data))
    # The skip plan never compared the secret: whatever it is now (even unchanged), the
    # workspace digest cannot match one made with every value, so the plan never runs.
    for key in ("rotated-key", "first-key"):
        applied = seg(root, "apply", str(planfile), env={"AMP_KEY": key})
        assert applied.exit_code == 4, applied.output
        assert "the workspace files or their secret values changed" in applied.output
    assert live(root, "sources/web/destinations/amp")["settings"]["region"] == "eu"


def test_hostile_targets_give_one_bounded_line(write_workspace) -> None:
    root = write_workspace({"a.yaml": SOURCE})
    for targets in (["w" * 200_000], ["web\nerror: forged line"], [f"t{i}" for i in range(2000)]):
        args = [a for t in targets for a in ("--target", t)]
        result = seg(root, "plan", *args)
        assert result.exit_code == 1, result.output
        (line,) = result.output.strip().splitlines()
        assert line.startswith("error: unknown target")
        assert len(line) <= 1_100
        assert "forged line" not in line or "\\n" in line  # the newline stays escaped


def test_validate_without_secrets_never_echoes_them_when_they_are_set_elsewhere(
    write_workspace,
) -> None:
    # One document's variable is set (a CI secret), the other's is not: validate reports the
    # second document's real mistake and never prints the first one's value.
    docs = ("kind: Destination\nname: a\nspec:\n  source: web\n  catalog: x\n"
            "  display_name: ${env:SEG_TOKEN}\n---\n"
            "kind: Destination\nname: b\nspec:\n  source: web\n  catalog: y\n"
            "  settings: {k: '${env:HOOK}'}\n  enabeld: true\n")  # fmt: skip
    root = write_workspace({"a.yaml": SOURCE, "b.yaml": docs})
    result = seg(root, "validate", env={"SEG_TOKEN": TOKEN})
    assert result.exit_code == 1
    assert "b.yaml:14:3: error: unknown key 'enabeld'" in result.output
    assert TOKEN not in result.output


def test_a_huge_unset_variable_name_is_cut_wherever_it_is_named(
    write_workspace, tmp_path: Path
) -> None:
    # An unset variable is no validate error any more, so the name is quoted by validate's
    # note, plan's refusal, a skip plan (text, JSON, saved) and apply's refusal of it.
    name = "A" * 1_000_000
    document = SOURCE.replace("{catalog: javascript}",
                              "{catalog: javascript, settings: {a: '${env:NAME}'}}")  # fmt: skip
    root = write_workspace({"a.yaml": document.replace("NAME", name)})
    planfile = tmp_path / "plan.json"
    outputs = [seg(root, "validate"), seg(root, "plan"), seg(root, "apply", "--auto-approve"),
               seg(root, "plan", "--missing-secrets=skip", "--out", str(planfile)),
               seg(root, "plan", "--missing-secrets=skip", "-o", "json"),
               seg(root, "apply", str(planfile))]  # fmt: skip
    assert [r.exit_code for r in outputs] == [0, 1, 1, 0, 0, 4]  # a skip plan is stale
    for result in outputs:
        assert "A" * 81 not in result.output
        assert "A" * 80 + "…" in result.output
    assert "A" * 81 not in planfile.read_text()
