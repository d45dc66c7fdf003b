"""The published JSON Schemas, as editors and `check-jsonschema` use them: every document of
every example and of `workspace/` is valid, a misspelled spec key is not, the files work
offline (relative references only), and the modelines `seg init` writes resolve."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from referencing import Registry, Resource

from seg.editor_schemas import modeline
from seg.kinds import KINDS
from seg.workspace.tree import is_resource_file
from seg.workspace.yamlpos import read_documents
from tests.integration.schema_files import check_jsonschema, modelines
from tests.repo_files import EXAMPLE_WORKSPACES

REPO = Path(__file__).resolve().parents[2]
SEG = [sys.executable, "-m", "seg"]
TREES = [REPO / "workspace", *EXAMPLE_WORKSPACES]


def seg(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*SEG, *args], capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.fixture(scope="module")
def written(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("schemas") / "out"
    result = seg("schema", "--write", str(out))
    assert result.returncode == 0, result.stderr
    return out


def validator(schemas: Path, name: str) -> jsonschema.Draft202012Validator:
    """The python-jsonschema validator for ``name``, its relative references read from the
    directory (nothing fetched)."""

    def retrieve(uri: str) -> Resource[Any]:
        return Resource.from_contents(json.loads((schemas / uri).read_text()))

    return jsonschema.Draft202012Validator(
        json.loads((schemas / name).read_text()), registry=Registry(retrieve=retrieve)
    )


def documents(trees: list[Path]) -> dict[str, list[tuple[str, Any]]]:
    """{schema file: [(label, document value)]} for every YAML document of the trees."""
    found: dict[str, list[tuple[str, Any]]] = {"envelope": [], "overlay": [], "workspace": []}
    for root in trees:
        for path in sorted(root.rglob("*.y*ml")):
            rel = path.relative_to(root).as_posix()
            if rel.startswith(".") or "/." in rel:
                continue
            group = ("workspace" if rel == "seg.yaml" else "overlay" if rel.startswith("envs/")
                     else "envelope" if is_resource_file(rel) else None)  # fmt: skip
            assert group is not None, rel
            for i, doc in enumerate(read_documents(path.read_text())):
                found[group].append((f"{root.name}/{rel}#{i}", doc.value))
    return found


def misspelled(doc: dict[str, Any]) -> dict[str, Any]:
    """``doc`` with its first spec key misspelled (two letters swapped), or a misspelled
    ``description`` added to an empty spec."""
    spec = dict(doc["spec"])
    if spec:
        key = next(iter(spec))
        spec = {key[:-2] + key[-1] + key[-2]: spec.pop(key), **spec}
    else:
        spec["descripton"] = "typo"
    return {**doc, "spec": spec}


def test_the_committed_schemas_are_what_seg_schema_writes(written: Path) -> None:
    committed = {p.name: p.read_text() for p in (REPO / "schemas").glob("*.json")}
    assert committed == {p.name: p.read_text() for p in written.glob("*.json")}
    names = set(committed)
    assert {"envelope.schema.json", "overlay.schema.json", "workspace.schema.json"} <= names
    assert len(names) == 3 + len(KINDS)  # and one per kind


def test_the_schemas_work_offline(written: Path) -> None:
    """No `$id` at all, and every `$ref` is a local fragment or a file beside it."""
    for path in list(written.glob("*.json")) + list((REPO / "schemas" / "resolved").glob("*")):
        text = path.read_text()
        assert '"$id"' not in text, path
        for ref in re.findall(r'"\$ref":\s*"([^"]*)"', text):
            target = ref.split("#", 1)[0]
            assert "://" not in ref and (not target or (written / target).is_file()), ref


def test_every_shipped_document_is_valid_and_a_misspelled_key_is_not(written: Path) -> None:
    groups = documents(TREES)
    assert len(groups["envelope"]) > 30 and groups["overlay"]
    assert len(groups["workspace"]) == len(TREES)
    for group, docs in groups.items():
        check = validator(written, f"{group}.schema.json")
        for label, value in docs:
            assert not list(check.iter_errors(value)), (label, list(check.iter_errors(value)))
    envelope = validator(written, "envelope.schema.json")
    for label, value in groups["envelope"]:
        bad = misspelled(value)
        messages = [e.message for e in envelope.iter_errors(bad)]
        typo = next(k for k in bad["spec"] if k not in value["spec"])
        assert any(repr(typo) in m and "Additional properties" in m for m in messages), label


def test_an_unknown_kind_and_a_bad_name_are_flagged(written: Path) -> None:
    envelope = validator(written, "envelope.schema.json")
    assert list(envelope.iter_errors({"kind": "Sorce", "name": "web", "spec": {}}))
    label = {"kind": "Label", "name": "team:growth", "spec": {}}
    assert not list(envelope.iter_errors(label))
    assert list(envelope.iter_errors({**label, "name": "team"}))  # a label is key:value
    assert list(envelope.iter_errors({**label, "protect": "yes"}))


def test_interpolated_values_are_accepted_only_where_a_string_is(written: Path) -> None:
    envelope = validator(written, "envelope.schema.json")
    doc = {"kind": "Source", "name": "web",
           "spec": {"catalog": "${var:catalog}", "labels": {"env": "${var:env}"}}}  # fmt: skip
    assert not list(envelope.iter_errors(doc))
    doc["spec"]["enabled"] = "${var:enabled}"  # interpolation always gives a string
    assert list(envelope.iter_errors(doc))


def split(trees: list[Path], out: Path, mutate: bool = False) -> dict[str, dict[Path, str]]:
    """Each document of the trees in a file of its own (check-jsonschema reads one per file):
    {group: {file: the misspelled key it holds, or ""}}."""
    files: dict[str, dict[Path, str]] = {}
    for group, docs in documents(trees).items():
        for i, (_, value) in enumerate(docs):
            if mutate and group != "envelope":
                continue
            path = out / group / f"{i}.yaml"
            path.parent.mkdir(parents=True, exist_ok=True)
            bad = misspelled(value) if mutate else value
            path.write_text(yaml.safe_dump(bad))
            typo = next((k for k in bad["spec"] if k not in value["spec"]), "") if mutate else ""
            files.setdefault(group, {})[path] = typo
    return files


def test_check_jsonschema_accepts_the_examples_and_flags_a_misspelled_key(
    written: Path, tmp_path: Path
) -> None:
    for group, files in split(TREES, tmp_path / "good").items():
        result = check_jsonschema(written / f"{group}.schema.json", *files)
        assert result.returncode == 0, result.stdout + result.stderr
    bad = split(TREES, tmp_path / "bad", mutate=True)["envelope"]
    result = check_jsonschema(written / "envelope.schema.json", *bad)
    assert result.returncode == 1, result.stdout
    for path, typo in bad.items():  # every document flagged, at its misspelled key
        expected = f"{path}::$.spec: Additional properties are not allowed ({typo!r} was unexpected)"
        assert expected in result.stdout, (path, typo, result.stdout)


def test_seg_init_writes_modelines_that_resolve_offline(tmp_path: Path) -> None:
    root = tmp_path / "new"
    result = seg("init", str(root))
    assert result.returncode == 0, result.stderr
    found = modelines(root)
    assert {p.relative_to(root).as_posix() for p in found} == {"seg.yaml", "sources/web.yaml"}
    for path, schema in found.items():
        assert schema.is_file() and schema.is_relative_to(root / ".seg-schema"), path
        result = check_jsonschema(schema, path)
        assert result.returncode == 0, result.stdout
    assert (root / ".seg-schema" / "envelope.schema.json").read_text() == (
        REPO / "schemas" / "envelope.schema.json"
    ).read_text()
    web = root / "sources" / "web.yaml"
    web.write_text(web.read_text().replace("enabled:", "enabeld:"))
    result = check_jsonschema(found[web], web)
    assert result.returncode == 1 and "'enabeld' was unexpected" in result.stdout
    assert seg("validate", "-w", str(root)).returncode == 1


@pytest.mark.parametrize("rel", ["seg.yaml", "a.yaml", "sources/web.yaml", "a/b/c/d.yml"])
def test_a_modeline_resolves_from_any_depth(rel: str, tmp_path: Path) -> None:
    root = tmp_path / "ws"
    assert seg("schema", "--write", str(root / ".seg-schema")).returncode == 0
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(modeline(rel) + "kind: Label\nname: a:b\nspec: {}\n")
    (schema,) = modelines(root).values() if rel.endswith(".yml") else [modelines(root)[path]]
    expected = "workspace" if rel == "seg.yaml" else "envelope"
    assert schema == (root / ".seg-schema" / f"{expected}.schema.json").resolve()


def test_the_repo_workspace_modelines_resolve_to_the_published_schemas() -> None:
    found = modelines(REPO / "workspace")  # every YAML file of it has one
    assert len(found) >= 6
    for path, schema in found.items():
        expected = "workspace" if path.name == "seg.yaml" else "envelope"
        assert schema == (REPO / "schemas" / f"{expected}.schema.json").resolve(), path


def test_the_resolved_schemas_are_generated_from_the_kind_modules() -> None:
    """`schemas/resolved/` (what validate and the control plane check) is written from each
    kind's `spec_schema` and the registry's kind list; regenerate with
    `python -m seg.editor_schemas schemas` after changing a kind module."""
    from seg.editor_schemas import resolved_files

    generated = resolved_files()
    committed = {f"resolved/{p.name}": p.read_text(encoding="utf-8")
                 for p in (REPO / "schemas" / "resolved").glob("*.json")}  # fmt: skip
    assert committed == generated
    assert json.loads(generated["resolved/envelope.schema.json"])["properties"]["kind"][
        "enum"
    ] == list(KINDS)
