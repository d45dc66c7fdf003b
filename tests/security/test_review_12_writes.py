"""The review of issue 12, findings F4 and F5: the commands that write files into a tree
(`seg import`, `seg export --merge`, `seg init`, `seg schema --write`, `seg fmt`) share one
writer (`seg.commands.safe_write`) that never writes through a symlink below the root — a
dangling file link, a linked directory, a linked `.seg-schema/` — and writes all or none: a
problem anywhere is one error line naming the path, with nothing written in the tree or
outside it, never an internal error half-way."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from seg.commands import safe_write
from seg.commands.safe_write import NewFile, write_files
from seg.errors import ConfigError
from tests.conftest import embedded_call, run_cli

pytestmark = pytest.mark.usefixtures("clean_seg_env")

SEG_YAML = "version: seg/v1\nworkspace: acme\nmanager: growth\n"


def snapshot(*roots: Path) -> dict[str, str]:
    """Every entry under ``roots`` (symlinks as their target, files as their text), without
    following links and without the embedded control plane's ``.seg/``."""
    seen = {}
    for root in roots:
        for dirpath, dirnames, filenames in os.walk(root):
            dirnames[:] = [d for d in dirnames if d != ".seg"]
            for name in dirnames + filenames:
                path = Path(dirpath) / name
                if path.is_symlink():
                    seen[str(path)] = "-> " + os.readlink(path)
                elif path.is_file():
                    seen[str(path)] = path.read_text()
                else:
                    seen[str(path)] = "dir"
    return seen


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A tree (``t1``, beside an empty ``outside``) whose control plane holds a source nobody
    manages, with a secret setting, and a destination under it."""
    root = tmp_path / "t1"
    root.mkdir()
    (tmp_path / "outside").mkdir()
    (root / "seg.yaml").write_text(SEG_YAML)
    source = {"name": "workspaces/acme/sources/uimade", "catalog": "stripe",
              "settings": {"api_key": "k-123"}}  # fmt: skip
    assert embedded_call(root, "POST", "sources", body={"source": source}).status_code == 200
    dest = {"name": "workspaces/acme/sources/uimade/destinations/amp", "catalog": "amplitude"}
    made = embedded_call(root, "POST", "sources/uimade/destinations", body={"destination": dest})
    assert made.status_code == 200
    return root


def refused(args: list[str], path: Path, says: str) -> None:
    """``seg ARGS`` fails with exactly one error line naming ``path``."""
    result = run_cli(*args)
    assert result.exit_code == 1, result.output
    assert result.output.splitlines() == [f"error: {path} {says} (nothing written)"], result.output


SYMLINK = "is a symlink; seg does not write through one"


def test_import_never_writes_through_a_dangling_file_symlink(tree: Path) -> None:
    outside = tree.parent / "outside"
    (tree / "sources").mkdir()
    (tree / "sources" / "uimade.yaml").symlink_to("../../outside/pwned.yaml")
    before = snapshot(tree, outside)
    refused(["import", "-w", str(tree), "Source/uimade", "uimade/amp"],
            tree / "sources" / "uimade.yaml", SYMLINK)  # fmt: skip
    assert snapshot(tree, outside) == before  # not even the destination's file
    assert not (outside / "pwned.yaml").exists()


@pytest.mark.parametrize("target", ["../outside", "real-destinations"])
def test_import_never_writes_through_a_directory_symlink(tree: Path, target: str) -> None:
    """Out of the tree or inside it: a linked directory is refused, not followed."""
    outside = tree.parent / "outside"
    (tree / "real-destinations").mkdir()
    (tree / "destinations").symlink_to(target)
    before = snapshot(tree, outside)
    refused(["import", "-w", str(tree), "Source/uimade", "uimade/amp"], tree / "destinations",
            SYMLINK)  # fmt: skip
    assert snapshot(tree, outside) == before


def test_import_writes_once_the_links_are_gone(tree: Path) -> None:
    result = run_cli("import", "-w", str(tree), "Source/uimade", "uimade/amp")
    assert result.exit_code == 0, result.output
    assert (tree / "sources" / "uimade.yaml").is_file()
    assert (tree / "destinations" / "uimade.amp.yaml").is_file()
    assert (tree / ".seg-schema" / "envelope.schema.json").is_file()


def test_export_merge_never_overwrites_schemas_through_a_linked_schema_directory(tree: Path
                                                                                ) -> None:  # fmt: skip
    outside = tree.parent / "outside"
    (outside / "envelope.schema.json").write_text("precious")
    (tree / ".seg-schema").symlink_to("../outside")
    before = snapshot(tree, outside)
    refused(["export", "-w", str(tree), "--merge"], tree / ".seg-schema", SYMLINK)
    assert snapshot(tree, outside) == before
    assert (outside / "envelope.schema.json").read_text() == "precious"


def test_export_merge_with_a_file_where_a_directory_goes_writes_nothing(tree: Path) -> None:
    """F5: `sources` is a regular file. Before, `destinations/…` and `secrets.env.example`
    were written, then an internal FileExistsError; now every target is checked first."""
    (tree / "sources").write_text("not a directory\n")
    before = snapshot(tree)
    refused(["export", "-w", str(tree), "--merge"], tree / "sources",
            "exists and is not a directory")  # fmt: skip
    assert snapshot(tree) == before
    # the same tree, fixed, exports all of it, the secrets listing included
    (tree / "sources").unlink()
    done = run_cli("export", "-w", str(tree), "--merge")
    assert done.exit_code == 0, done.output
    assert "(3 files)" in done.output and (tree / "secrets.env.example").is_file()


@pytest.mark.parametrize("link", ["README.md", ".gitignore", "sources", ".seg-schema"])
def test_init_never_writes_through_a_symlink(tmp_path: Path, link: str) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "envelope.schema.json").write_text("precious")
    root = tmp_path / "new"
    root.mkdir()
    dangling = link in ("README.md", ".gitignore")
    (root / link).symlink_to(f"../outside/{'pwned' if dangling else ''}")
    before = snapshot(root, outside)
    refused(["init", str(root), "--slug", "acme"], root / link, SYMLINK)
    assert snapshot(root, outside) == before  # no seg.yaml either


def test_schema_write_refuses_a_symlinked_file_before_writing_any(tmp_path: Path) -> None:
    """``seg schema --write DIR`` replaces the files there, but none through a link — and
    checks them all first (before, the files sorted ahead of the link were written)."""
    outside = tmp_path / "outside.json"
    outside.write_text("precious")
    target = tmp_path / "schemas"
    target.mkdir()
    (target / "overlay.schema.json").symlink_to(outside)
    refused(["schema", "--write", str(target)], target / "overlay.schema.json", SYMLINK)
    assert sorted(p.name for p in target.iterdir()) == ["overlay.schema.json"]
    assert outside.read_text() == "precious"
    (target / "overlay.schema.json").unlink()
    (target / "envelope.schema.json").write_text("old")
    (target / "envelope.schema.json").chmod(0o640)
    assert run_cli("schema", "--write", str(target)).exit_code == 0
    envelope = target / "envelope.schema.json"
    assert envelope.read_text().startswith("{") and envelope.stat().st_mode & 0o777 == 0o640
    assert not [p for p in target.iterdir() if p.name.endswith(".tmp")]


def test_hostile_relative_paths_are_refused(tmp_path: Path) -> None:
    for rel in ("../x.yaml", "/etc/x", "a//b", "a/./b", ""):
        with pytest.raises(ConfigError, match="not a plain path"):
            write_files(tmp_path, [NewFile(rel, "x")])
    assert list(tmp_path.iterdir()) == []


def test_a_symlink_swapped_in_after_the_checks_is_not_followed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writes go through directory descriptors opened with O_NOFOLLOW: a directory
    replaced by a link between the checks and the writes fails the batch, and what the batch
    made is removed."""
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "sources").mkdir(parents=True)
    outside.mkdir()
    checked = safe_write._check

    def check_then_swap(at: Path, files: list[NewFile]) -> list[NewFile]:
        todo = checked(at, files)
        (root / "sources").rmdir()
        (root / "sources").symlink_to(outside)
        return todo

    monkeypatch.setattr(safe_write, "_check", check_then_swap)
    files = [NewFile("a/first.yaml", "1"), NewFile("sources/web.yaml", "2")]
    with pytest.raises(ConfigError, match=r"cannot write .*sources/web\.yaml: .*nothing written"):
        write_files(root, files)
    assert list(outside.iterdir()) == []
    assert sorted(p.name for p in root.iterdir()) == ["sources"]  # a/ and a/first.yaml gone


def test_a_failed_write_leaves_replaced_files_as_they_were(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """All or none: a file that appears between the checks and the writes (O_EXCL) undoes
    the batch — new files removed, temporary files removed, replaced files untouched."""
    (tmp_path / "keep.json").write_text("old")
    checked = safe_write._check

    def check_then_race(at: Path, files: list[NewFile]) -> list[NewFile]:
        todo = checked(at, files)
        (tmp_path / "z.yaml").write_text("theirs")
        return todo

    monkeypatch.setattr(safe_write, "_check", check_then_race)
    files = [NewFile("keep.json", "new", "replace"), NewFile("d/new.yaml", "n"),
             NewFile("z.yaml", "mine")]  # fmt: skip
    with pytest.raises(ConfigError, match="z.yaml: File exists"):
        write_files(tmp_path, files)
    assert snapshot(tmp_path) == {str(tmp_path / "keep.json"): "old",
                                  str(tmp_path / "z.yaml"): "theirs"}  # fmt: skip


def test_fmt_rewrites_through_the_same_writer(tmp_path: Path) -> None:
    """seg fmt replaces files in place (mode kept, no temporary file left) and leaves a file
    reached through a linked directory to where it lives."""
    root = tmp_path / "ws"
    (root / "sources").mkdir(parents=True)
    (root / "seg.yaml").write_text("version: seg/v1\nworkspace:   acme\n")
    (root / "sources" / "web.yaml").write_text("kind: Source\nname: web\nspec: {catalog:  js}\n")
    (root / "sources" / "web.yaml").chmod(0o600)
    (root / "linked").symlink_to("sources")
    result = run_cli("fmt", "-w", str(root))
    assert result.exit_code == 0, result.output
    assert "reformatted" in result.output
    web = root / "sources" / "web.yaml"
    assert "catalog: js" in web.read_text() and web.stat().st_mode & 0o777 == 0o600
    assert (root / "linked").is_symlink()
    assert not list(root.rglob("*.tmp"))
