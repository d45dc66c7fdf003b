"""`seg fmt`: the canonical form (a table), idempotence (a table and hypothesis), comments kept,
values unchanged on every example (loaded by seg before and after), `--check`, refusals and
atomic writes. `seg fmt` runs as a process."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from seg.workspace.canonical import FormatError, canonical_text
from seg.workspace.loader import load_workspace
from seg.workspace.yamlpos import read_documents
from tests.repo_files import EXAMPLE_WORKSPACES

REPO = Path(__file__).resolve().parents[2]
SEG = [sys.executable, "-m", "seg"]
TREES = [REPO / "workspace", *EXAMPLE_WORKSPACES]
ENVIRON = {"AMPLITUDE_API_KEY": "k", "WAREHOUSE_PASSWORD": "p", "BRAZE_API_KEY": "b"}


def seg_fmt(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1"}
    return subprocess.run([*SEG, "fmt", *args], capture_output=True, text=True, timeout=120,
                          cwd=cwd, env=env)  # fmt: skip


def copy_tree(src: Path, dst: Path) -> Path:
    if src.parent.parent == REPO / "examples":
        # a workspace inside an example (examples/dbt/seg, beside the dbt project it names):
        # the whole example, in a git repository as in a clone
        outer = dst.parent / f"{src.parent.name}-example"
        shutil.copytree(src.parent, outer, ignore=shutil.ignore_patterns(".seg", "target", "logs"))
        subprocess.run(["git", "init", "-q", str(outer)], check=True, capture_output=True)
        return outer / src.name
    shutil.copytree(src, dst, ignore=shutil.ignore_patterns(".seg"))
    return dst


CASES = {
    "key order, indentation, quotes": (
        """\
# a comment on top
spec:   # spec comes last
    catalog: "javascript"
    rules:
    - type: TRACK   # one rule
      key: "Order Completed"
    settings: {region: "eu", "url": 'https://x.example/${var:env}'}
protect: true
name: web
kind: Source
""",
        """\
# a comment on top
kind: Source
name: web
protect: true
spec:   # spec comes last
  catalog: javascript
  rules:
    - type: TRACK   # one rule
      key: Order Completed
  settings: {region: eu, url: 'https://x.example/${var:env}'}
""",
    ),
    "documents, strings that need quotes, a missing final newline": (
        "kind: Label\nname: a:b\nspec:\n  description: \"yes\"\n---\n"
        "name: c:d\nkind: Label\nspec: {description: \"it's: true\"}",
        "kind: Label\nname: a:b\nspec:\n  description: 'yes'\n---\n"
        "kind: Label\nname: c:d\nspec: {description: \"it's: true\"}\n",
    ),
    "block scalars, anchors and number spellings stay": (
        "kind: Model\nname: m\nspec:\n  query: |\n    SELECT 1\n      AS id\n"
        "  a: &x {n: 0x1F, f: 1.50}\n  b: *x\n",
        "kind: Model\nname: m\nspec:\n  query: |\n    SELECT 1\n      AS id\n"
        "  a: &x {n: 0x1F, f: 1.50}\n  b: *x\n",
    ),
    "only comments": ("# nothing here yet\n", "# nothing here yet\n"),
}
CONFIG = (
    """\
environments:
  prod: {vars: {region: eu}, workspace: acme-prod}
workspace: acme   # the slug
version: seg/v1
""",
    """\
version: seg/v1
workspace: acme   # the slug
environments:
  prod: {workspace: acme-prod, vars: {region: eu}}
""",
)


@pytest.mark.parametrize("before, after", CASES.values(), ids=CASES.keys())
def test_canonical_form(before: str, after: str) -> None:
    assert canonical_text(before) == after
    assert canonical_text(after) == after  # idempotent
    assert [d.value for d in read_documents(before)] == [d.value for d in read_documents(after)]


def test_seg_yaml_keys_follow_the_schema() -> None:
    before, after = CONFIG
    assert canonical_text(before, config=True) == after
    assert canonical_text(after, config=True) == after


@pytest.mark.parametrize("text, where", [
    ("kind: Source\nname: [web\n", (3, 1)),
    ("kind: Source\nkind: Label\n", (2, 1)),  # a duplicate key, as seg validate says
    ("a: &x {k: 1}\nb: {<<: *x}\n", (2, 5)),  # merge keys are not YAML seg reads
    ("a: !!python/name:os.system x\n", (1, 4)),
])  # fmt: skip
def test_what_seg_cannot_read_is_refused_with_its_position(text: str, where: tuple) -> None:
    with pytest.raises(FormatError) as caught:
        canonical_text(text)
    assert (caught.value.line, caught.value.col) == where


SCALARS = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=12),
    st.integers(-(2**40), 2**40), st.booleans(), st.none(),
    st.floats(allow_nan=False, allow_infinity=False, width=32),
    st.sampled_from(["yes", "on", "0o17", "1e3", "2024-01-01", "${env:X}", "$$", "a #b", "'q'"]),
)  # fmt: skip
KEYS = st.sampled_from(["kind", "name", "spec", "protect", "a", "b", "x y", "1", "true"])
VALUES = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=3)
                      | st.dictionaries(KEYS, inner, max_size=4), max_leaves=12)  # fmt: skip


@settings(max_examples=int(os.environ.get("SEG_FMT_EXAMPLES", "60")), deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(docs=st.lists(st.dictionaries(KEYS, VALUES, min_size=1, max_size=5), min_size=1,
                     max_size=3),
       flow=st.sampled_from([False, None, True]), indent=st.sampled_from([2, 4]))  # fmt: skip
def test_fmt_is_idempotent_and_keeps_values(docs: list, flow: bool | None, indent: int) -> None:
    text = "# top\n" + yaml.safe_dump_all(docs, default_flow_style=flow, indent=indent,
                                          allow_unicode=True, sort_keys=False)  # fmt: skip
    once = canonical_text(text)
    assert canonical_text(once) == once
    assert once.startswith("# top\n") and once.endswith("\n") and not once.endswith("\n\n")
    values = [d.value for d in read_documents(once)]
    assert values == [d.value for d in read_documents(text)]
    for value in values:
        keys = [k for k in value if k in ("kind", "name", "protect", "spec")]
        assert list(value)[: len(keys)] == sorted(keys, key=["kind", "name", "protect",
                                                             "spec"].index)  # fmt: skip


def comment_lines(root: Path) -> list[str]:
    return sorted(
        line.split("#", 1)[1].strip()
        for path in root.rglob("*.y*ml")
        for line in path.read_text().splitlines()
        if line.lstrip().startswith("#") or "  #" in line
    )


def raw_values(root: Path) -> dict[str, list]:
    return {p.relative_to(root).as_posix(): [d.value for d in read_documents(p.read_text())]
            for p in sorted(root.rglob("*.y*ml"))}  # fmt: skip


@pytest.mark.parametrize("tree", TREES, ids=lambda p: p.name)
def test_fmt_keeps_every_example_loading_the_same(tree: Path, tmp_path: Path) -> None:
    root = copy_tree(tree, tmp_path / tree.name)
    envs = [None] + [e for e in ("dev", "prod") if f"  {e}:" in (root / "seg.yaml").read_text()]
    before = {env: load_workspace(root, env, ENVIRON) for env in envs}
    values, comments = raw_values(root), comment_lines(root)

    result = seg_fmt("-w", str(root))
    assert result.returncode == 0, result.stdout + result.stderr
    for env, loaded in before.items():
        after = load_workspace(root, env, ENVIRON)
        assert after.digest == loaded.digest
        assert [(r.address, dict(r.fields), r.secret_paths, r.protect) for r in after.resources] \
            == [(r.address, dict(r.fields), r.secret_paths, r.protect) for r in loaded.resources]
    assert raw_values(root) == values
    assert comment_lines(root) == comments

    snapshot = {p: p.read_bytes() for p in root.rglob("*") if p.is_file()}
    check = seg_fmt("--check", "-w", str(root))
    assert check.returncode == 0 and "All files are formatted." in check.stdout, check.stdout
    assert seg_fmt("-w", str(root)).returncode == 0
    assert {p: p.read_bytes() for p in root.rglob("*") if p.is_file()} == snapshot


@pytest.mark.parametrize("tree", TREES, ids=lambda p: p.name)
def test_the_shipped_trees_are_in_canonical_form(tree: Path, tmp_path: Path) -> None:
    """The seg-fmt pre-commit hook would pass on every tree this repository ships."""
    root = copy_tree(tree, tmp_path / tree.name)
    check = seg_fmt("--check", "-w", str(root))
    assert check.returncode == 0, check.stdout + check.stderr


def test_check_lists_the_files_and_writes_nothing(tmp_path: Path) -> None:
    root = copy_tree(REPO / "examples" / "tracking-plans", tmp_path / "tp")
    (root / "seg.yaml").write_text("workspace: shop\nversion: seg/v1\n")
    plan = root / "tracking-plan.yaml"
    plan.write_text(plan.read_text().replace("description: 'Shop funnel: search, cart, checkout, "
                                             "orders, accounts.'", 'description: "Shop funnel: '
                                             'search, cart, checkout, orders, accounts."'))
    snapshot = {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*.y*ml")}
    result = seg_fmt("--check", cwd=root)  # -w defaults to the current directory
    assert result.returncode == 1
    assert result.stdout.splitlines() == ["would reformat seg.yaml",
                                          "would reformat tracking-plan.yaml"]  # fmt: skip
    assert "2 files would be reformatted; run: seg fmt" in result.stderr
    assert {p: (p.read_bytes(), p.stat().st_mtime_ns) for p in root.rglob("*.y*ml")} == snapshot


def test_a_file_seg_cannot_read_is_one_error_line_and_left_alone(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    (root / "sub").mkdir(parents=True)
    (root / "seg.yaml").write_text("workspace: acme\nversion: seg/v1\n")
    bad = "kind: Source\nname: web\nspec:\n  catalog: [javascript\n"
    (root / "sub" / "bad.yaml").write_text(bad)
    result = seg_fmt("-w", str(root))
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if ": error: " in line]
    assert errors == [f"{root}/sub/bad.yaml:5:1: error: YAML syntax error: did not find "
                      "expected ',' or ']' [fmt]"], result.stderr  # fmt: skip
    assert "Traceback" not in result.stderr
    assert (root / "sub" / "bad.yaml").read_text() == bad
    assert (root / "seg.yaml").read_text() == "version: seg/v1\nworkspace: acme\n"  # the rest


def test_a_rewrite_keeps_the_mode_and_leaves_no_temporary_file(tmp_path: Path) -> None:
    root = tmp_path / "ws"
    root.mkdir()
    (root / "seg.yaml").write_text("workspace: acme\nversion: seg/v1\n")
    (root / "seg.yaml").chmod(0o640)
    assert seg_fmt("-w", str(root)).returncode == 0
    assert (root / "seg.yaml").stat().st_mode & 0o777 == 0o640
    assert sorted(p.name for p in root.iterdir()) == ["seg.yaml"]


def test_a_directory_without_seg_yaml_is_refused(tmp_path: Path) -> None:
    (tmp_path / "a.yaml").write_text("b:    1\n")
    result = seg_fmt("-w", str(tmp_path))
    assert result.returncode == 1 and "holds no seg.yaml" in result.stderr
    assert (tmp_path / "a.yaml").read_text() == "b:    1\n"
